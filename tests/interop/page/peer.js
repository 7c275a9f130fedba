// The page side of the interop harness: RTCPeerConnections driven from Python.
// Every function returns plain JSON; events go back through window.rtcpeerEvent
// (exposed by Playwright), tagged with the connection's id.
"use strict";

const pcs = new Map();
const channels = new Map();   // "pcId/label#n" -> RTCDataChannel
let nextChannel = 0;

function emit(pcId, type, data) {
  window.rtcpeerEvent(JSON.stringify({ pc: pcId, type, ...data }));
}

function watchChannel(pcId, dc) {
  const key = `${pcId}/${nextChannel++}`;
  channels.set(key, dc);
  dc.binaryType = "arraybuffer";
  const info = () => ({
    channel: key, label: dc.label, id: dc.id, ordered: dc.ordered, protocol: dc.protocol,
    maxRetransmits: dc.maxRetransmits, maxPacketLifeTime: dc.maxPacketLifeTime,
    negotiated: dc.negotiated, readyState: dc.readyState,
  });
  dc.onopen = () => emit(pcId, "channelopen", info());
  dc.onclose = () => emit(pcId, "channelclose", info());
  dc.onclosing = () => emit(pcId, "channelclosing", info());
  dc.onerror = (e) => emit(pcId, "channelerror", { channel: key, error: String(e.error || e) });
  dc.onmessage = (e) => {
    if (typeof e.data === "string") {
      emit(pcId, "message", { channel: key, text: e.data });
    } else {
      emit(pcId, "message", { channel: key, binary: bytesToBase64(new Uint8Array(e.data)) });
    }
  };
  return { key, info: info() };
}

function bytesToBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function base64ToBytes(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

window.rtcpeer = {
  async warmUpMedia() {
    // With a camera/microphone grant Chromium offers plain 127.0.0.1 host candidates
    // instead of mDNS names.
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    window.localStream = stream;
    return stream.getTracks().length;
  },

  create(pcId, config) {
    const pc = new RTCPeerConnection(config || {});
    pcs.set(pcId, pc);
    pc.onicecandidate = (e) => emit(pcId, "icecandidate", {
      candidate: e.candidate ? e.candidate.toJSON() : null,
    });
    for (const name of ["signalingState", "iceGatheringState", "iceConnectionState", "connectionState"]) {
      pc["on" + name.toLowerCase() + "change"] = () => emit(pcId, name.toLowerCase() + "change", { state: pc[name] });
    }
    pc.ondatachannel = (e) => emit(pcId, "datachannel", watchChannel(pcId, e.channel).info);
    pc.onnegotiationneeded = () => emit(pcId, "negotiationneeded", {});
    pc.ontrack = (e) => {
      if (e.track.kind === "audio") {
        // Play remote audio out, so Chromium decodes it (totalSamplesReceived counts
        // what playout pulled; an unplayed track is only buffered and discarded).
        const sink = new Audio();
        sink.srcObject = new MediaStream([e.track]);
        sink.play().catch(() => {});
        document.body.appendChild(sink);
      }
      emit(pcId, "track", { kind: e.track.kind, mid: e.transceiver.mid });
    };
    return true;
  },

  async createOffer(pcId, options) {
    const d = await pcs.get(pcId).createOffer(options || {});
    return { type: d.type, sdp: d.sdp };
  },
  async createAnswer(pcId) {
    const d = await pcs.get(pcId).createAnswer();
    return { type: d.type, sdp: d.sdp };
  },
  async setLocalDescription(pcId, desc) {
    const pc = pcs.get(pcId);
    await (desc ? pc.setLocalDescription(desc) : pc.setLocalDescription());
    return { type: pc.localDescription.type, sdp: pc.localDescription.sdp };
  },
  async setRemoteDescription(pcId, desc) {
    await pcs.get(pcId).setRemoteDescription(desc);
    return pcs.get(pcId).signalingState;
  },
  async addIceCandidate(pcId, candidate) {
    await pcs.get(pcId).addIceCandidate(candidate);
    return true;
  },
  localDescription(pcId) {
    const d = pcs.get(pcId).localDescription;
    return d ? { type: d.type, sdp: d.sdp } : null;
  },
  states(pcId) {
    const pc = pcs.get(pcId);
    return {
      signalingState: pc.signalingState, iceGatheringState: pc.iceGatheringState,
      iceConnectionState: pc.iceConnectionState, connectionState: pc.connectionState,
    };
  },
  createDataChannel(pcId, label, options) {
    return watchChannel(pcId, pcs.get(pcId).createDataChannel(label, options || {}));
  },
  send(channelKey, payload) {
    const dc = channels.get(channelKey);
    if (payload.text !== undefined) dc.send(payload.text);
    else dc.send(base64ToBytes(payload.binary));
    return dc.bufferedAmount;
  },
  async sendPattern(channelKey, total, chunk) {
    // Sends `total` bytes of a known pattern (byte i = i % 251) in `chunk`-sized
    // messages with bufferedAmountLowThreshold flow control; resolves when all are queued.
    const dc = channels.get(channelKey);
    const pattern = new Uint8Array(chunk + 251);
    for (let i = 0; i < pattern.length; i++) pattern[i] = i % 251;
    dc.bufferedAmountLowThreshold = 1 << 20;
    let sent = 0;
    const t0 = performance.now();
    while (sent < total) {
      if (dc.bufferedAmount > 4 << 20) {
        await new Promise((r) => { dc.onbufferedamountlow = () => { dc.onbufferedamountlow = null; r(); }; });
        continue;
      }
      const n = Math.min(chunk, total - sent);
      dc.send(pattern.subarray(sent % 251, (sent % 251) + n));
      sent += n;
    }
    return { sent, ms: performance.now() - t0 };
  },
  sink(channelKey, expected) {
    // Count and verify incoming binary bytes against the sendPattern pattern instead of
    // shipping them to Python; reports "sinkdone" once `expected` bytes have arrived.
    const dc = channels.get(channelKey);
    let received = 0, errors = 0, messages = 0;
    const t0 = performance.now();
    dc.onmessage = (e) => {
      const bytes = new Uint8Array(e.data);
      for (let i = 0; i < bytes.length; i++) {
        if (bytes[i] !== (received + i) % 251) { errors++; break; }
      }
      received += bytes.length;
      messages++;
      if (received >= expected) {
        emit(channelKey.split("/")[0], "sinkdone", { channel: channelKey, received, errors, messages, ms: performance.now() - t0 });
      }
    };
    return true;
  },
  channelState(channelKey) {
    const dc = channels.get(channelKey);
    return { readyState: dc.readyState, bufferedAmount: dc.bufferedAmount };
  },
  closeChannel(channelKey) {
    channels.get(channelKey).close();
    return true;
  },
  addMedia(pcId, kind) {
    // What the SDP interop scenarios offer: tracks from the fake camera/microphone,
    // simulcast with three rids, or recvonly transceivers. Returns the mids so far.
    const pc = pcs.get(pcId);
    const stream = window.localStream;
    const audio = stream.getAudioTracks()[0];
    const video = stream.getVideoTracks()[0];
    if (kind === "audio-video") {
      pc.addTrack(audio, stream);
      pc.addTrack(video, stream);
    } else if (kind === "simulcast") {
      pc.addTransceiver(video.clone(), {
        direction: "sendonly",
        streams: [stream],
        sendEncodings: [
          { rid: "h" },
          { rid: "m", scaleResolutionDownBy: 2 },
          { rid: "l", scaleResolutionDownBy: 4 },
        ],
      });
    } else if (kind === "recvonly") {
      pc.addTransceiver("audio", { direction: "recvonly" });
      pc.addTransceiver("video", { direction: "recvonly" });
    } else if (kind === "second-video") {
      pc.addTrack(video.clone(), stream);
    } else {
      throw new Error("unknown media kind " + kind);
    }
    return pc.getTransceivers().map((t) => t.mid);
  },
  syncSources(pcId) {
    // What each receiver says of its sources (RTCRtpSynchronizationSource).
    return pcs.get(pcId).getReceivers().map((r) => ({
      kind: r.track.kind,
      sources: r.getSynchronizationSources().map((s) => ({
        source: s.source, audioLevel: s.audioLevel, rtpTimestamp: s.rtpTimestamp,
      })),
    }));
  },
  transceivers(pcId) {
    return pcs.get(pcId).getTransceivers().map((t) => ({
      mid: t.mid, direction: t.direction, currentDirection: t.currentDirection,
      kind: t.receiver.track.kind, stopped: t.stopped,
    }));
  },
  async stats(pcId) {
    const out = [];
    (await pcs.get(pcId).getStats()).forEach((s) => out.push(s));
    return out;
  },
  close(pcId) {
    pcs.get(pcId).close();
    return true;
  },
};
