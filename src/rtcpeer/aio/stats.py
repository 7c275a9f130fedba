"""``getStats()``: W3C ``RTCStatsReport`` built from the sans-IO layers' counters.

Stats objects are read both ways a browser programmer expects: ``s.type`` and
``s["type"]``. Field names are the W3C ones (webrtc-stats).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rtcpeer.aio.rtp import negotiated_codecs
from rtcpeer.media.codecs import VideoEncoder

if TYPE_CHECKING:
    from rtcpeer.aio.peerconnection import RTCPeerConnection
    from rtcpeer.ice.agent import CandidatePair, LocalCandidate, RemoteCandidate

__all__ = ["RTCStats", "RTCStatsReport", "collect_stats"]


class RTCStats(dict[str, Any]):
    """One stats object: a dict whose keys are also attributes (``s.bytesSent``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class RTCStatsReport:
    """Mapping of stats id to :class:`RTCStats` (W3C ``RTCStatsReport``, a maplike)."""

    def __init__(self, stats: dict[str, RTCStats]) -> None:
        self._stats = stats

    def __getitem__(self, key: str) -> RTCStats:
        return self._stats[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stats)

    def __len__(self) -> int:
        return len(self._stats)

    def __contains__(self, key: object) -> bool:
        return key in self._stats

    def get(self, key: str, default: Any = None) -> Any:
        return self._stats.get(key, default)

    def keys(self) -> Any:
        return self._stats.keys()

    def values(self) -> Any:
        return self._stats.values()

    def items(self) -> Any:
        return self._stats.items()

    def forEach(self, callback: Any) -> None:
        """JS-style iteration: ``callback(stats)`` for each object."""
        for value in self._stats.values():
            callback(value)

    @property
    def size(self) -> int:
        return len(self._stats)


def _local_stats(local: LocalCandidate, timestamp: float, transport_id: str) -> RTCStats:
    sid = _local_id(local)
    stats = _candidate_stats("local-candidate", local.candidate, timestamp, transport_id, sid)
    if local.url is not None:
        stats["url"] = local.url
    if local.relay_protocol is not None:
        stats["relayProtocol"] = local.relay_protocol
    return stats


def _candidate_stats(
    kind: str, candidate: Any, timestamp: float, transport_id: str, stats_id: str
) -> RTCStats:
    return RTCStats(
        id=stats_id,
        type=kind,
        timestamp=timestamp,
        transportId=transport_id,
        address=candidate.address,
        port=candidate.port,
        protocol=candidate.transport,
        candidateType=candidate.type,
        priority=candidate.priority,
        foundation=candidate.foundation,
        relatedAddress=candidate.related_address,
        relatedPort=candidate.related_port,
        usernameFragment=candidate.ufrag,
    )


def _local_id(local: LocalCandidate) -> str:
    return f"I{local.candidate.foundation}-{local.base[0]}-{local.base[1]}"


def _remote_id(remote: RemoteCandidate) -> str:
    return f"I{remote.candidate.foundation}-{remote.address[0]}-{remote.address[1]}-r"


def _pair_id(pair: CandidatePair) -> str:
    return f"CP{_local_id(pair.local)}_{_remote_id(pair.remote)}"


def collect_stats(pc: RTCPeerConnection, timestamp: float) -> RTCStatsReport:
    """Snapshot every counter of ``pc`` at ``timestamp`` (ms since the epoch)."""
    connection = pc._connection
    agent = connection.ice
    dtls = connection.dtls
    channels = connection.channels
    sctp = connection.sctp
    out: dict[str, RTCStats] = {}
    transport_id = "T01"

    out["P"] = RTCStats(
        id="P",
        type="peer-connection",
        timestamp=timestamp,
        dataChannelsOpened=channels.opened_total,
        dataChannelsClosed=channels.closed_total,
    )
    selected = agent.selected
    for local in agent.local_candidates:
        out[_local_id(local)] = _local_stats(local, timestamp, transport_id)
    for remote in agent.remote_candidates:
        sid = _remote_id(remote)
        out[sid] = _candidate_stats(
            "remote-candidate", remote.candidate, timestamp, transport_id, sid
        )
    pairs = list(agent.pairs)
    if selected is not None and selected not in pairs:
        pairs.append(selected)
    for pair in pairs:
        sid = _pair_id(pair)
        local_sid, remote_sid = _local_id(pair.local), _remote_id(pair.remote)
        if local_sid not in out:
            out[local_sid] = _local_stats(pair.local, timestamp, transport_id)
        if remote_sid not in out:
            out[remote_sid] = _candidate_stats(
                "remote-candidate", pair.remote.candidate, timestamp, transport_id, remote_sid
            )
        stats = RTCStats(
            id=sid,
            type="candidate-pair",
            timestamp=timestamp,
            transportId=transport_id,
            localCandidateId=local_sid,
            remoteCandidateId=remote_sid,
            state=pair.state,
            nominated=pair.nominated,
            priority=pair.priority,
            packetsSent=pair.packets_sent,
            packetsReceived=pair.packets_received,
            bytesSent=pair.bytes_sent,
            bytesReceived=pair.bytes_received,
            totalRoundTripTime=pair.total_round_trip_time,
            responsesReceived=pair.responses_received,
            requestsSent=pair.requests_sent,
            requestsReceived=pair.requests_received,
            responsesSent=pair.responses_sent,
            consentRequestsSent=pair.consent_requests_sent,
        )
        if pair.current_round_trip_time is not None:
            stats["currentRoundTripTime"] = pair.current_round_trip_time
        rtp = pc._connection.rtp
        if pair is selected and rtp.bwe.feedback_received:
            # Media with transport-wide feedback: the congestion controller's estimate.
            stats["availableOutgoingBitrate"] = float(rtp.bwe.target_bitrate)
        elif pair is selected and sctp is not None and sctp.srtt:
            # What the congestion window allows per round trip: an honest bound on
            # the outgoing rate while only data channels use the transport.
            stats["availableOutgoingBitrate"] = sctp.cwnd * 8 / sctp.srtt
        if pair.last_packet_sent is not None:
            stats["lastPacketSentTimestamp"] = timestamp
        out[sid] = stats

    bytes_sent = sum(p.bytes_sent for p in pairs)
    bytes_received = sum(p.bytes_received for p in pairs)
    transport = RTCStats(
        id=transport_id,
        type="transport",
        timestamp=timestamp,
        bytesSent=bytes_sent,
        bytesReceived=bytes_received,
        packetsSent=sum(p.packets_sent for p in pairs),
        packetsReceived=sum(p.packets_received for p in pairs),
        iceState=agent.state,
        iceRole="controlling" if agent.controlling else "controlled",
        iceLocalUsernameFragment=agent.local_ufrag,
        dtlsState=dtls.state,
        selectedCandidatePairChanges=pc._selected_pair_changed,
        # rtcpeer's own counters of what could not be delivered (documented in README):
        # RTP streams no m-section claims (no a=ssrc, no MID, a payload type shared
        # by several sections), and datagrams ICE had no pair for.
        rtcpeerUnroutedRtpStreams=sum(
            1 for ssrc in connection.rtp.streams if ssrc not in pc._stream_owner
        ),
        rtcpeerUnroutedRtpPackets=sum(
            s.packets_received_total
            for ssrc, s in connection.rtp.streams.items()
            if ssrc not in pc._stream_owner
        ),
        rtcpeerUnsendableDatagrams=agent.dropped_unsendable,
        rtcpeerUnknownSourceDatagrams=agent.dropped_unknown_source,
        rtcpeerEarlyPacketsDropped=connection.early_dropped,
    )
    if selected is not None:
        transport["selectedCandidatePairId"] = _pair_id(selected)
    if dtls.role is not None:
        transport["dtlsRole"] = dtls.role
    if dtls.cipher_name:
        transport["dtlsCipher"] = dtls.cipher_name
    if dtls.srtp_profile is not None:
        transport["srtpCipher"] = dtls.srtp_profile.name
    local_fp = dtls.certificate.get_fingerprints()[0]
    cert_id = f"CF{local_fp[1]}"
    transport["localCertificateId"] = cert_id
    out[cert_id] = RTCStats(
        id=cert_id,
        type="certificate",
        timestamp=timestamp,
        fingerprint=local_fp[1],
        fingerprintAlgorithm=local_fp[0],
        base64Certificate=dtls.certificate.certificate_pem()
        .decode()
        .replace("-----BEGIN CERTIFICATE-----", "")
        .replace("-----END CERTIFICATE-----", "")
        .replace("\n", ""),
    )
    out[transport_id] = transport

    _media_stats(pc, out, timestamp, transport_id)

    for channel in channels.channels:
        if channel.id is None:
            continue
        sid = f"D{channel.id}"
        out[sid] = RTCStats(
            id=sid,
            type="data-channel",
            timestamp=timestamp,
            label=channel.label,
            protocol=channel.protocol,
            dataChannelIdentifier=channel.id,
            state=channel.state,
            messagesSent=channel.messages_sent,
            bytesSent=channel.bytes_sent,
            messagesReceived=channel.messages_received,
            bytesReceived=channel.bytes_received,
        )
    return RTCStatsReport(out)


def select_stats(report: RTCStatsReport, roots: list[str]) -> RTCStatsReport:
    """W3C §8.5 stats selection: ``roots`` and every stats object they reference,
    directly or not (``transportId``, ``codecId``, ``remoteId``...)."""
    chosen: dict[str, RTCStats] = {}
    pending = [r for r in roots if r in report]
    while pending:
        sid = pending.pop()
        if sid in chosen:
            continue
        stats = report[sid]
        chosen[sid] = stats
        for key, value in stats.items():
            if key.endswith("Id") and isinstance(value, str) and value in report:
                pending.append(value)
    return RTCStatsReport(chosen)


def _media_stats(
    pc: RTCPeerConnection, out: dict[str, RTCStats], timestamp: float, transport_id: str
) -> None:
    """codec, inbound-rtp and remote-outbound-rtp for every remote stream received."""
    rtp = pc._connection.rtp
    for each in pc.getTransceivers():
        negotiated = each._core.negotiated
        if negotiated is None:
            continue
        for codec in negotiated_codecs(negotiated):
            cid = f"CIT{transport_id}_{codec['payloadType']}"
            out[cid] = RTCStats(
                id=cid, type="codec", timestamp=timestamp, transportId=transport_id, **codec
            )
    for ssrc, stream in rtp.streams.items():
        transceiver = pc._stream_owner.get(ssrc)
        sid = f"IT{transport_id}{ssrc}"
        inbound = RTCStats(
            id=sid,
            type="inbound-rtp",
            timestamp=timestamp,
            ssrc=ssrc,
            # (A stream no transceiver claimed yet: its clock rate says which kind.)
            kind=transceiver._core.kind
            if transceiver is not None
            else ("video" if stream.clock_rate == 90000 else "audio"),
            transportId=transport_id,
            codecId=f"CIT{transport_id}_{stream.payload_type}",
            packetsReceived=stream.packets_received_total,
            packetsLost=stream.packets_lost,
            bytesReceived=stream.bytes_received,
            headerBytesReceived=stream.header_bytes_received,
            jitter=stream.jitter / stream.clock_rate if stream.clock_rate else 0.0,
            lastPacketReceivedTimestamp=timestamp
            - (pc._driver_now() - stream.last_arrival) * 1000.0,
        )
        if stream.rid is not None:
            inbound["rid"] = stream.rid
        if transceiver is not None:
            inbound["mid"] = transceiver.mid
            inbound["trackIdentifier"] = transceiver.receiver.track.id
            pipe = transceiver.receiver._pipe
            decoded = pipe.ssrc == ssrc  # simulcast: one of the streams is decoded
            if transceiver._core.kind == "video" and not decoded:
                inbound.update(framesReceived=stream.frames_received, framesDecoded=0)
            elif transceiver._core.kind == "video":
                inbound.update(
                    framesReceived=stream.frames_received,
                    framesDecoded=pipe.frames_decoded,
                    keyFramesDecoded=pipe.key_frames_decoded,
                    framesDropped=transceiver.receiver.track.frames_dropped,
                    pliCount=stream.pli_count,
                )
                if pipe.width is not None:
                    inbound.update(frameWidth=pipe.width, frameHeight=pipe.height)
            else:
                inbound["totalSamplesReceived"] = pipe.total_samples_received
                if pipe.energy.level is not None:
                    inbound.update(
                        audioLevel=pipe.energy.level,
                        totalAudioEnergy=pipe.energy.total_energy,
                        totalSamplesDuration=pipe.energy.total_duration,
                    )
        if stream.nack:
            inbound["nackCount"] = stream.nack_count
        if stream.payload_type in rtp.rtx_payload_types.values():
            # W3C: only where RTX was negotiated can retransmissions be told apart.
            inbound.update(
                retransmittedPacketsReceived=stream.retransmitted_packets_received,
                retransmittedBytesReceived=stream.retransmitted_bytes_received,
            )
        sender = stream.sender
        if sender is not None:
            rid = f"ROA{ssrc}"
            inbound["remoteId"] = rid
            out[rid] = RTCStats(
                id=rid,
                type="remote-outbound-rtp",
                timestamp=timestamp,
                ssrc=ssrc,
                kind=inbound["kind"],
                transportId=transport_id,
                localId=sid,
                packetsSent=sender.packets_sent,
                bytesSent=sender.bytes_sent,
                remoteTimestamp=_ntp_to_ms(sender.ntp_timestamp),
                reportsSent=sender.reports_received,
            )
        out[sid] = inbound
    _outbound_stats(pc, out, timestamp, transport_id)


def _outbound_stats(
    pc: RTCPeerConnection, out: dict[str, RTCStats], timestamp: float, transport_id: str
) -> None:
    """media-source, outbound-rtp and remote-inbound-rtp for every stream we send."""
    rtp = pc._connection.rtp
    for each in pc.getTransceivers():
        pipe = each.sender._pipe
        track = each.sender.track
        kind = each._core.kind
        source_id = None
        if track is not None:
            source_id = f"SO{track.id}"
            source = RTCStats(
                id=source_id, type="media-source", timestamp=timestamp,
                trackIdentifier=track.id, kind=kind,
            )  # fmt: skip
            if kind == "video":
                source.update(frames=pipe.frames)
                if pipe.width is not None:
                    source.update(width=pipe.width, height=pipe.height)
            else:
                source.update(totalSamplesDuration=pipe.total_samples_duration)
                if pipe.energy.level is not None:
                    source.update(
                        audioLevel=pipe.energy.level, totalAudioEnergy=pipe.energy.total_energy
                    )
            out[source_id] = source
        for layer in pipe.layers:
            stream = layer.stream
            oid = f"OT{transport_id}{stream.ssrc}"
            outbound = RTCStats(
                id=oid,
                type="outbound-rtp",
                timestamp=timestamp,
                ssrc=stream.ssrc,
                kind=kind,
                transportId=transport_id,
                codecId=f"CIT{transport_id}_{stream.payload_type}",
                mid=each.mid,
                packetsSent=stream.packets_sent,
                bytesSent=stream.bytes_sent,
                headerBytesSent=stream.header_bytes_sent,
                retransmittedPacketsSent=stream.retransmitted_packets_sent,
                retransmittedBytesSent=stream.retransmitted_bytes_sent,
                nackCount=stream.nack_count,
                active=pipe._encoding(layer).get("active", True) is not False,
            )
            if layer.rid is not None:
                outbound["rid"] = layer.rid
            if source_id is not None:
                outbound["mediaSourceId"] = source_id
            if stream.rtx_ssrc is not None:
                outbound["rtxSsrc"] = stream.rtx_ssrc
            if kind == "video":
                outbound.update(
                    targetBitrate=float(pipe._bitrate(layer)),
                    framesEncoded=stream.frames_encoded,
                    keyFramesEncoded=stream.key_frames_encoded,
                    framesSent=stream.frames_encoded,
                    pliCount=stream.pli_count,
                    firCount=stream.fir_count,
                )
                size = layer.encoder.size if isinstance(layer.encoder, VideoEncoder) else None
                if size is not None:
                    outbound.update(frameWidth=size[0], frameHeight=size[1])
            report = rtp.remote_reports.get(stream.ssrc)
            if report is not None:
                rid = f"RIA{stream.ssrc}"
                outbound["remoteId"] = rid
                block = report.block
                remote = RTCStats(
                    id=rid,
                    type="remote-inbound-rtp",
                    timestamp=timestamp,
                    ssrc=stream.ssrc,
                    kind=kind,
                    transportId=transport_id,
                    codecId=outbound["codecId"],
                    localId=oid,
                    packetsLost=block.packets_lost,
                    fractionLost=block.fraction_lost / 256.0,
                    jitter=block.jitter / stream.clock_rate,
                    reportsReceived=report.reports_received,
                    roundTripTimeMeasurements=report.round_trip_time_measurements,
                    totalRoundTripTime=report.total_round_trip_time,
                )
                if report.round_trip_time is not None:
                    remote["roundTripTime"] = report.round_trip_time
                out[rid] = remote
            out[oid] = outbound


def _ntp_to_ms(ntp: int) -> float:
    """64-bit NTP time (seconds since 1900) in ms since the Unix epoch."""
    return ((ntp >> 32) - 2208988800 + (ntp & 0xFFFFFFFF) / 2**32) * 1000.0
