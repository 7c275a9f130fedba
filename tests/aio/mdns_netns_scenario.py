"""Run inside a network namespace made by test_mdns.py (never on the host's network):
two peer connections, one signalling its host candidates as mDNS names, the other
resolving them. Prints one JSON line with what happened."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from rtcpeer import RTCPeerConnection
from rtcpeer.aio.mdns import MdnsService
from tests.helpers import nominated_pair


async def main() -> dict[str, Any]:
    hidden = RTCPeerConnection({"hostAddresses": ["10.77.0.1"], "mdnsHostCandidates": True})
    plain = RTCPeerConnection({"hostAddresses": ["10.77.0.2"]})
    signalled: list[str] = []
    tasks = set()

    def forward(src: RTCPeerConnection, dst: RTCPeerConnection, record: bool) -> None:
        def on_candidate(event: Any) -> None:
            if event.candidate is None:
                return
            if record:
                signalled.append(event.candidate.candidate)
            task = asyncio.ensure_future(dst.addIceCandidate(event.candidate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        src.onicecandidate = on_candidate

    forward(hidden, plain, True)
    forward(plain, hidden, False)
    channel = hidden.createDataChannel("mdns")
    opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    channel.onopen = lambda e: opened.set_result(None)
    got: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_channel(event: Any) -> None:
        event.channel.onmessage = lambda m: got.done() or got.set_result(m.data)

    plain.ondatachannel = on_channel
    await hidden.setLocalDescription()
    await plain.setRemoteDescription(hidden.localDescription)
    await plain.setLocalDescription()
    await hidden.setRemoteDescription(plain.localDescription)
    await asyncio.wait_for(opened, 15)
    channel.send("resolved over mDNS")
    message = await asyncio.wait_for(got, 10)
    pair, stats = await nominated_pair(plain)
    remote = stats[pair["remoteCandidateId"]]
    # Both connections share this loop's service, which knows its own names: ask over
    # the wire too, from a second querier on its own socket, as another host would.
    service = MdnsService.for_loop()
    name = next(c.split()[4] for c in signalled if " typ host" in c)
    stranger = MdnsService(asyncio.get_running_loop(), ["10.77.0.2"])
    wire = await stranger.resolve(name)
    missing = await stranger.resolve("00000000-0000-4000-8000-000000000000.local", timeout=0.5)
    result = {
        "signalled": signalled,
        "sdp_has_ip": "10.77.0.1" in hidden.localDescription.sdp,  # type: ignore[union-attr]
        "message": message,
        "remote_address": remote["address"],
        "wire_resolved": wire,
        "missing": missing,
        "queries": stranger.queries_sent,
        "responses": service.responses_sent,
    }
    await hidden.close()
    await plain.close()
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
    sys.exit(0)
