"""Capture real SDP offers and answers from headless Debian Chromium.

Run from the repository root (never ``playwright install``: the browser is Debian's
``chromium`` package)::

    .venv/bin/python tests/vectors/sdp/capture_chromium.py

Each scenario runs in the page as two ``RTCPeerConnection`` objects talking to each
other; the resulting descriptions are written beside this script as
``chromium_<scenario>_<offer|answer>.sdp`` exactly as the browser produced them
(CRLF line ends kept). ``getUserMedia`` is called first so that Chromium, holding a
camera/microphone grant, emits plain ``127.0.0.1`` host candidates instead of
mDNS ``.local`` names.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--allow-loopback-in-peer-connection",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]

PAGE_URL = "http://localhost/capture.html"
PAGE = "<!doctype html><title>rtcpeer SDP capture</title>"

# One async function run in the page; it returns {name: sdp_text}.
CAPTURE_JS = r"""
async () => {
  const out = {};
  const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
  const audio = () => stream.getAudioTracks()[0];
  const video = () => stream.getVideoTracks()[0];

  // Resolves once ICE gathering is complete, so localDescription carries candidates.
  const gathered = (pc) => new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") { resolve(); return; }
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
  const pair = () => [new RTCPeerConnection(), new RTCPeerConnection()];

  // Full offer/answer with candidates gathered; returns the answerer for reuse.
  async function exchange(a, b, name, offerOptions) {
    const offer = await a.createOffer(offerOptions);
    await a.setLocalDescription(offer);
    await gathered(a);
    out[name + "_offer"] = a.localDescription.sdp;
    await b.setRemoteDescription(a.localDescription);
    const answer = await b.createAnswer();
    await b.setLocalDescription(answer);
    await gathered(b);
    out[name + "_answer"] = b.localDescription.sdp;
    await a.setRemoteDescription(b.localDescription);
  }

  // 1. audio + video + data channel, then renegotiation and ICE restart on the same pair.
  {
    const [a, b] = pair();
    a.addTrack(audio(), stream);
    a.addTrack(video(), stream);
    a.createDataChannel("chat");
    await exchange(a, b, "av_data");

    // 2. renegotiation: a second video transceiver added after the first exchange.
    a.addTransceiver(video().clone(), {direction: "sendonly"});
    await exchange(a, b, "renegotiated");

    // 3. ICE restart.
    await exchange(a, b, "ice_restart", {iceRestart: true});
    a.close(); b.close();
  }

  // 4. simulcast with rids h/m/l.
  {
    const [a, b] = pair();
    a.addTransceiver(audio(), {direction: "sendrecv", streams: [stream]});
    a.addTransceiver(video(), {
      direction: "sendonly",
      streams: [stream],
      sendEncodings: [
        {rid: "h", maxBitrate: 1200000},
        {rid: "m", maxBitrate: 600000, scaleResolutionDownBy: 2},
        {rid: "l", maxBitrate: 300000, scaleResolutionDownBy: 4},
      ],
    });
    await exchange(a, b, "simulcast");
    a.close(); b.close();
  }

  // 5. data channel only.
  {
    const [a, b] = pair();
    a.createDataChannel("data", {ordered: false, maxRetransmits: 0});
    await exchange(a, b, "data_only");
    a.close(); b.close();
  }

  // 6. recvonly transceivers (no local media); the answerer answers with its tracks.
  {
    const [a, b] = pair();
    a.addTransceiver("audio", {direction: "recvonly"});
    a.addTransceiver("video", {direction: "recvonly"});
    const offer = await a.createOffer();
    out["recvonly_offer"] = offer.sdp;
    await a.setLocalDescription(offer);
    await b.setRemoteDescription(offer);
    const tr = b.getTransceivers();
    await tr[0].sender.replaceTrack(audio());
    tr[0].direction = "sendonly";
    await tr[1].sender.replaceTrack(video());
    tr[1].direction = "sendonly";
    const answer = await b.createAnswer();
    out["recvonly_answer"] = answer.sdp;
    a.close(); b.close();
  }

  stream.getTracks().forEach((t) => t.stop());
  return out;
}
"""


def main() -> int:
    executable = shutil.which("chromium")
    if executable is None:
        print("chromium not found on PATH (apt-get install chromium)", file=sys.stderr)
        return 1
    with (
        tempfile.TemporaryDirectory(prefix="rtcpeer-sdp-capture-") as profile,
        sync_playwright() as p,
    ):
        context = p.chromium.launch_persistent_context(
            user_data_dir=profile,
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            permissions=["camera", "microphone"],
        )
        try:
            # getUserMedia needs a secure context, which about:blank is not; a page at
            # http://localhost is one. Playwright answers the request itself, so nothing
            # is listening and nothing leaves the process.
            context.route(
                PAGE_URL,
                lambda route: route.fulfill(status=200, content_type="text/html", body=PAGE),
            )
            page = context.new_page()
            page.goto(PAGE_URL)
            version = context.browser.version if context.browser else "unknown"
            captured: dict[str, str] = page.evaluate(CAPTURE_JS)
        finally:
            context.close()
    for name, sdp in sorted(captured.items()):
        path = HERE / f"chromium_{name}.sdp"
        # newline="" keeps Chromium's CRLF line ends byte for byte.
        with path.open("w", encoding="utf-8", newline="") as f:
            f.write(sdp)
        print(f"wrote {path.name} ({len(sdp)} bytes)")
    print(f"captured from Chromium {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
