"""The interop harness: foreign WebRTC peers behind one small interface.

A scenario is written once against :class:`Peer` and run with each foreign peer in
each role. Peers:

- :class:`ChromiumPeer`: an ``RTCPeerConnection`` in headless Debian Chromium, driven
  through Python Playwright (never ``playwright install``: the browser is Debian's).
- :class:`AiortcPeer`: aiortc from PyPI, in this process.

Signaling is relayed by :func:`negotiate` (offer/answer) and :class:`CandidateRelay`
(trickle ICE, queueing candidates until the remote description is set, as the seed's
"Mistake 3" advises). Traffic stays on loopback: Chromium is given a camera/microphone
grant so it offers 127.0.0.1 host candidates (not mDNS names), aiortc's gathering is
limited to 127.0.0.1, and every non-loopback candidate is removed from descriptions and
trickle before the other peer sees it, so no peer ever targets another address.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

PAGE_DIR = Path(__file__).parent / "page"

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-loopback-in-peer-connection",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",  # remote audio plays out (page/peer.js)
]


def require_or_skip(what: str, reason: str) -> None:
    """Skip with ``reason``, or fail when CI demands every foreign peer
    (``RTCPEER_REQUIRE_INTEROP=1``, set by ``.ci/run``)."""
    if os.environ.get("RTCPEER_REQUIRE_INTEROP") == "1":
        pytest.fail(f"{what} is required in CI but unavailable: {reason}")
    pytest.skip(reason)


class EventLog:
    """Events from a peer, kept in order; ``wait`` finds a past or future one."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()

    def push(self, event: dict[str, Any]) -> None:
        self.events.append(event)

        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(notify())

    async def wait(
        self,
        type_: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda e: True,
        timeout: float = 20.0,
        start: int = 0,
    ) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            async with self._changed:
                while True:
                    for event in self.events[start:]:
                        if event["type"] == type_ and predicate(event):
                            return event
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(find(), timeout)
        except TimeoutError:
            seen = [e["type"] for e in self.events][-30:]
            raise AssertionError(
                f"no {type_!r} event within {timeout}s; last events: {seen}"
            ) from None

    def states(self, type_: str) -> list[str]:
        """The sequence of ``state`` values of every ``type_`` event so far."""
        return [e["state"] for e in self.events if e["type"] == type_]


class Channel:
    """A data channel handle on a foreign peer."""

    def __init__(self, peer: Peer, key: Any, info: dict[str, Any]) -> None:
        self.peer = peer
        self.key = key
        self.info = info

    async def send(self, data: str | bytes) -> None:
        await self.peer._send(self, data)

    async def wait_open(self, timeout: float = 20.0) -> None:
        await self.peer.log.wait("channelopen", lambda e: e["channel"] == self.key, timeout)

    async def messages(self, count: int, timeout: float = 20.0) -> list[str | bytes]:
        await self.peer.log.wait(
            "message",
            lambda e: e["channel"] == self.key and e["index"] == count - 1,
            timeout,
        )
        return [
            e["data"]
            for e in self.peer.log.events
            if e["type"] == "message" and e["channel"] == self.key
        ][:count]


class Peer:
    """What every foreign peer offers to a scenario."""

    name = "peer"

    def __init__(self) -> None:
        self.log = EventLog()
        self.candidates: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._message_counts: dict[Any, int] = {}

    def _event(self, event: dict[str, Any]) -> None:
        if event["type"] == "icecandidate":
            self.candidates.put_nowait(event["candidate"])
        if event["type"] == "message":
            index = self._message_counts.get(event["channel"], 0)
            self._message_counts[event["channel"]] = index + 1
            event["index"] = index
        self.log.push(event)

    async def create_offer(self, ice_restart: bool = False) -> dict[str, str]:
        raise NotImplementedError

    async def create_answer(self) -> dict[str, str]:
        raise NotImplementedError

    async def set_local_description(self, desc: dict[str, str] | None = None) -> dict[str, str]:
        raise NotImplementedError

    async def local_description(self) -> dict[str, str]:
        raise NotImplementedError

    async def set_remote_description(self, desc: dict[str, str]) -> None:
        raise NotImplementedError

    async def add_ice_candidate(self, candidate: dict[str, Any] | None) -> None:
        raise NotImplementedError

    async def create_data_channel(self, label: str, **options: Any) -> Channel:
        raise NotImplementedError

    async def _send(self, channel: Channel, data: str | bytes) -> None:
        raise NotImplementedError

    async def stats(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def channel_from_event(self, label: str, timeout: float = 20.0) -> Channel:
        event = await self.log.wait("datachannel", lambda e: e["label"] == label, timeout)
        return Channel(self, event["channel"], event)


# -- Chromium -----------------------------------------------------------------------------


class ChromiumBrowser:
    """Headless Debian Chromium with the harness page loaded from a local server."""

    def __init__(self) -> None:
        self._peers: dict[str, ChromiumPeer] = {}
        self._count = 0
        self.page: Any = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ChromiumBrowser]:
        executable = shutil.which("chromium")
        if executable is None:
            require_or_skip(
                "chromium", "Debian's chromium is not installed (apt-get install chromium)"
            )
        try:
            from playwright.async_api import async_playwright
        except ImportError:
            require_or_skip(
                "playwright", "Python playwright is not installed (pip install '.[test]')"
            )
        from aiohttp import web

        app = web.Application()
        app.router.add_static("/", PAGE_DIR)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        with tempfile.TemporaryDirectory(prefix="rtcpeer-chromium-") as profile:
            async with async_playwright() as playwright:
                context = await playwright.chromium.launch_persistent_context(
                    profile,
                    executable_path=executable,
                    headless=True,
                    args=CHROMIUM_FLAGS,
                    permissions=["camera", "microphone"],
                )
                try:
                    self.page = context.pages[0] if context.pages else await context.new_page()
                    await self.page.expose_function("rtcpeerEvent", self._on_event)
                    await self.page.goto(f"http://127.0.0.1:{port}/index.html")
                    await self.page.evaluate("rtcpeer.warmUpMedia()")
                    yield self
                finally:
                    await context.close()
                    await runner.cleanup()

    def _on_event(self, payload: str) -> None:
        event = json.loads(payload)
        peer = self._peers.get(event["pc"])
        if peer is not None:
            if event["type"] == "message":
                if "text" in event:
                    event["data"] = event.pop("text")
                else:
                    event["data"] = base64.b64decode(event.pop("binary"))
            peer._event(event)

    async def call(self, function: str, *args: Any) -> Any:
        return await self.page.evaluate(f"(args) => rtcpeer.{function}(...args)", list(args))

    async def peer(self, config: dict[str, Any] | None = None) -> ChromiumPeer:
        self._count += 1
        peer = ChromiumPeer(self, f"pc{self._count}")
        self._peers[peer.pc_id] = peer
        await self.call("create", peer.pc_id, config or {})
        return peer


class ChromiumPeer(Peer):
    name = "chromium"

    def __init__(self, browser: ChromiumBrowser, pc_id: str) -> None:
        super().__init__()
        self.browser = browser
        self.pc_id = pc_id

    async def create_offer(self, ice_restart: bool = False) -> dict[str, str]:
        result: dict[str, str] = await self.browser.call(
            "createOffer", self.pc_id, {"iceRestart": ice_restart}
        )
        return result

    async def create_answer(self) -> dict[str, str]:
        result: dict[str, str] = await self.browser.call("createAnswer", self.pc_id)
        return result

    async def set_local_description(self, desc: dict[str, str] | None = None) -> dict[str, str]:
        result: dict[str, str] = await self.browser.call("setLocalDescription", self.pc_id, desc)
        return result

    async def set_remote_description(self, desc: dict[str, str]) -> None:
        await self.browser.call("setRemoteDescription", self.pc_id, desc)

    async def add_ice_candidate(self, candidate: dict[str, Any] | None) -> None:
        await self.browser.call("addIceCandidate", self.pc_id, candidate)

    async def states(self) -> dict[str, str]:
        result: dict[str, str] = await self.browser.call("states", self.pc_id)
        return result

    async def local_description(self) -> dict[str, str]:
        result: dict[str, str] = await self.browser.call("localDescription", self.pc_id)
        return result

    async def create_data_channel(self, label: str, **options: Any) -> Channel:
        result = await self.browser.call("createDataChannel", self.pc_id, label, options)
        return Channel(self, result["key"], result["info"])

    async def _send(self, channel: Channel, data: str | bytes) -> None:
        payload = (
            {"text": data} if isinstance(data, str) else {"binary": base64.b64encode(data).decode()}
        )
        await self.browser.call("send", channel.key, payload)

    async def send_pattern(self, channel: Channel, total: int, chunk: int) -> dict[str, Any]:
        result: dict[str, Any] = await self.browser.call("sendPattern", channel.key, total, chunk)
        return result

    async def sink(self, channel: Channel, expected: int) -> None:
        await self.browser.call("sink", channel.key, expected)

    async def stats(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.browser.call("stats", self.pc_id)
        return result

    async def add_media(self, kind: str) -> list[str | None]:
        """Add tracks or transceivers (``audio-video``, ``simulcast``, ``recvonly``,
        ``second-video``) from the fake devices; the transceivers' mids."""
        result: list[str | None] = await self.browser.call("addMedia", self.pc_id, kind)
        return result

    async def transceivers(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.browser.call("transceivers", self.pc_id)
        return result

    async def sync_sources(self) -> list[dict[str, Any]]:
        """Per receiver: its kind and getSynchronizationSources()."""
        result: list[dict[str, Any]] = await self.browser.call("syncSources", self.pc_id)
        return result

    async def close(self) -> None:
        await self.browser.call("close", self.pc_id)


def channel_info(channel: Any) -> dict[str, Any]:
    """The W3C attributes of a data channel object (aiortc's or ours), as the page
    reports them for Chromium's."""
    return {
        "label": channel.label,
        "id": channel.id,
        "ordered": channel.ordered,
        "protocol": channel.protocol,
        "maxRetransmits": channel.maxRetransmits,
        "maxPacketLifeTime": channel.maxPacketLifeTime,
        "negotiated": channel.negotiated,
    }


# -- aiortc -------------------------------------------------------------------------------


def limit_aiortc_to_loopback() -> None:
    """aioice gathers every interface but loopback; tests may only use loopback."""
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


class AiortcPeer(Peer):
    name = "aiortc"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__()
        try:
            import aiortc
        except ImportError:
            require_or_skip("aiortc", "aiortc is not installed (pip install '.[test]')")
        limit_aiortc_to_loopback()
        ice_servers = [
            aiortc.RTCIceServer(
                urls=server["urls"],
                username=server.get("username"),
                credential=server.get("credential"),
            )
            for server in (config or {}).get("iceServers", [])
        ]
        self.pc = aiortc.RTCPeerConnection(aiortc.RTCConfiguration(iceServers=ice_servers))
        self._channels = 0
        for name in (
            "signalingState",
            "iceGatheringState",
            "iceConnectionState",
            "connectionState",
        ):
            self._watch_state(name)

        @self.pc.on("datachannel")
        def on_datachannel(channel: Any) -> None:
            key = self._watch_channel(channel)
            self._event({"type": "datachannel", "channel": key, **channel_info(channel)})

    def _watch_state(self, name: str) -> None:
        event_type = name.lower() + "change"

        @self.pc.on(event_type)
        def changed() -> None:
            self._event({"type": event_type, "state": getattr(self.pc, name)})

    def _watch_channel(self, channel: Any) -> Any:
        key = channel
        self._channels += 1

        @channel.on("open")
        def on_open() -> None:
            self._event({"type": "channelopen", "channel": key, "label": channel.label})

        @channel.on("close")
        def on_close() -> None:
            self._event({"type": "channelclose", "channel": key, "label": channel.label})

        @channel.on("message")
        def on_message(data: str | bytes) -> None:
            self._event({"type": "message", "channel": key, "data": data})

        if channel.readyState == "open":
            self._event({"type": "channelopen", "channel": key, "label": channel.label})
        return key

    async def create_offer(self, ice_restart: bool = False) -> dict[str, str]:
        if ice_restart:
            pytest.skip("aiortc does not implement ICE restart")
        d = await self.pc.createOffer()
        return {"type": d.type, "sdp": d.sdp}

    async def create_answer(self) -> dict[str, str]:
        d = await self.pc.createAnswer()
        return {"type": d.type, "sdp": d.sdp}

    async def set_local_description(self, desc: dict[str, str] | None = None) -> dict[str, str]:
        import aiortc

        if desc is None:
            made = await (
                self.pc.createOffer()
                if self.pc.signalingState == "stable"
                else self.pc.createAnswer()
            )
            desc = {"type": made.type, "sdp": made.sdp}
        await self.pc.setLocalDescription(aiortc.RTCSessionDescription(**desc))
        # aiortc gathers inside setLocalDescription and does not trickle.
        self.candidates.put_nowait(None)
        local = self.pc.localDescription
        return {"type": local.type, "sdp": local.sdp}

    async def local_description(self) -> dict[str, str]:
        local = self.pc.localDescription
        return {"type": local.type, "sdp": local.sdp}

    async def set_remote_description(self, desc: dict[str, str]) -> None:
        import aiortc

        await self.pc.setRemoteDescription(aiortc.RTCSessionDescription(**desc))

    async def add_ice_candidate(self, candidate: dict[str, Any] | None) -> None:
        from aiortc.sdp import candidate_from_sdp

        if candidate is None or not candidate.get("candidate"):
            return  # aiortc has no end-of-candidates
        parsed = candidate_from_sdp(candidate["candidate"].removeprefix("candidate:"))
        parsed.sdpMid = candidate.get("sdpMid")
        parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
        await self.pc.addIceCandidate(parsed)

    async def create_data_channel(self, label: str, **options: Any) -> Channel:
        channel = self.pc.createDataChannel(label, **options)
        key = self._watch_channel(channel)
        return Channel(self, key, {"label": label})

    async def _send(self, channel: Channel, data: str | bytes) -> None:
        channel.key.send(data)

    async def stats(self) -> list[dict[str, Any]]:
        report = await self.pc.getStats()
        return [vars(s) | {"type": s.type} for s in report.values()]

    async def close(self) -> None:
        await self.pc.close()


# -- rtcpeer ------------------------------------------------------------------------------


class RtcpeerPeer(Peer):
    """rtcpeer's own RTCPeerConnection behind the same interface (loopback only)."""

    name = "rtcpeer"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__()
        os.environ.setdefault("RTCPEER_HOST_ADDRESSES", "127.0.0.1")
        from rtcpeer import RTCPeerConnection

        self.pc = RTCPeerConnection(config)
        for attribute in (
            "signalingState",
            "iceGatheringState",
            "iceConnectionState",
            "connectionState",
        ):
            self._watch_state(attribute)
        self.pc.onicecandidate = lambda e: self._event(
            {"type": "icecandidate", "candidate": e.candidate.toJSON() if e.candidate else None}
        )

        def on_datachannel(event: Any) -> None:
            key = self._watch_channel(event.channel)
            self._event({"type": "datachannel", "channel": key, **channel_info(event.channel)})

        self.pc.ondatachannel = on_datachannel

    def _watch_state(self, attribute: str) -> None:
        event_type = attribute.lower() + "change"
        self.pc.addEventListener(
            event_type,
            lambda e: self._event({"type": event_type, "state": getattr(self.pc, attribute)}),
        )

    def _watch_channel(self, channel: Any) -> Any:
        key = channel
        channel.onopen = lambda e: self._event(
            {"type": "channelopen", "channel": key, "label": channel.label}
        )
        channel.onclose = lambda e: self._event(
            {"type": "channelclose", "channel": key, "label": channel.label}
        )
        channel.onmessage = lambda e: self._event(
            {"type": "message", "channel": key, "data": e.data}
        )
        if channel.readyState == "open":
            self._event({"type": "channelopen", "channel": key, "label": channel.label})
        return key

    async def create_offer(self, ice_restart: bool = False) -> dict[str, str]:
        d = await self.pc.createOffer({"iceRestart": ice_restart})
        return {"type": d.type, "sdp": d.sdp}

    async def create_answer(self) -> dict[str, str]:
        d = await self.pc.createAnswer()
        return {"type": d.type, "sdp": d.sdp}

    async def set_local_description(self, desc: dict[str, str] | None = None) -> dict[str, str]:
        await self.pc.setLocalDescription(desc)
        local = self.pc.localDescription
        assert local is not None
        return {"type": local.type, "sdp": local.sdp}

    async def local_description(self) -> dict[str, str]:
        local = self.pc.localDescription
        assert local is not None
        return {"type": local.type, "sdp": local.sdp}

    async def set_remote_description(self, desc: dict[str, str]) -> None:
        await self.pc.setRemoteDescription(desc)

    async def add_ice_candidate(self, candidate: dict[str, Any] | None) -> None:
        await self.pc.addIceCandidate(candidate)

    async def create_data_channel(self, label: str, **options: Any) -> Channel:
        channel = self.pc.createDataChannel(label, options)
        return Channel(self, self._watch_channel(channel), {"label": label})

    async def _send(self, channel: Channel, data: str | bytes) -> None:
        channel.key.send(data)

    async def stats(self) -> list[dict[str, Any]]:
        report = await self.pc.getStats()
        return [dict(s) for s in report.values()]

    async def close(self) -> None:
        await self.pc.close()


# -- signaling ----------------------------------------------------------------------------


def _is_loopback_candidate(candidate_line: str) -> bool:
    fields = candidate_line.removeprefix("a=").removeprefix("candidate:").split()
    if len(fields) < 5:
        return False
    address = fields[4]
    return address.startswith("127.") or address == "::1"


def loopback_only(desc: dict[str, str]) -> dict[str, str]:
    """Remove every non-loopback candidate from a description. Chromium gathers on
    every interface; tests may only ever target loopback addresses."""
    lines = desc["sdp"].split("\r\n")
    kept = [
        line
        for line in lines
        if not line.startswith("a=candidate:") or _is_loopback_candidate(line)
    ]
    return {"type": desc["type"], "sdp": "\r\n".join(kept)}


class CandidateRelay:
    """Relays trickled candidates from one peer to another, holding them until the
    receiver has a remote description."""

    def __init__(self, source: Peer, sink: Peer) -> None:
        self.source = source
        self.sink = sink
        self.remote_set = asyncio.Event()
        self.relayed: list[dict[str, Any] | None] = []
        self.filtered = 0
        self.rejected: list[tuple[dict[str, Any] | None, Exception]] = []
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            candidate = await self.source.candidates.get()
            text = candidate.get("candidate") if candidate is not None else None
            if text and not _is_loopback_candidate(text):
                self.filtered += 1
                continue
            await self.remote_set.wait()
            try:
                await self.sink.add_ice_candidate(candidate)
            except Exception as exc:
                # A candidate of the previous ICE generation arriving after a restart
                # is rejected with OperationError (W3C addIceCandidate, ufrag check),
                # in Chromium and here alike; an application logs it and goes on.
                if "OperationError" not in f"{type(exc).__name__} {exc}":
                    raise
                self.rejected.append((candidate, exc))
                continue
            self.relayed.append(candidate)

    def stop(self) -> None:
        self._task.cancel()


ROLES = ["rtcpeer-offers", "rtcpeer-answers"]


async def foreign_peer(kind: str, chromium: ChromiumBrowser | None) -> Peer:
    """A new foreign peer: a Chromium page's connection, or aiortc."""
    if kind == "chromium":
        assert chromium is not None
        return await chromium.peer()
    return AiortcPeer()


async def pair(
    kind: str, role: str, chromium: ChromiumBrowser | None
) -> tuple[Peer, Peer, Peer, Peer]:
    """``(offerer, answerer, ours, theirs)`` for a role of ``ROLES``."""
    ours: Peer = RtcpeerPeer()
    theirs = await foreign_peer(kind, chromium)
    if role == "rtcpeer-offers":
        return ours, theirs, ours, theirs
    return theirs, ours, ours, theirs


#: Signaling shapes: trickle both ways; full descriptions (every candidate, no
#: trickle); the offer with every candidate and the answer sent before gathering,
#: never trickled (aiortc's server shape, WHIP's).
SHAPES = ["trickle", "full", "answer-first"]


async def gathered_description(peer: Peer) -> dict[str, str]:
    """The peer's local description once its gathering completed."""
    await peer.log.wait("icegatheringstatechange", lambda e: e["state"] == "complete")
    return await peer.local_description()


async def negotiate(
    offerer: Peer, answerer: Peer, *, ice_restart: bool = False, shape: str = "trickle"
) -> tuple[CandidateRelay, CandidateRelay]:
    """One offer/answer exchange in a signaling ``shape`` of :data:`SHAPES` (stop the
    relays of a previous exchange before renegotiating)."""
    if shape != "trickle":
        return await _negotiate_without_trickle(offerer, answerer, shape)
    to_answerer = CandidateRelay(offerer, answerer)
    to_offerer = CandidateRelay(answerer, offerer)
    offer = await offerer.set_local_description(await offerer.create_offer(ice_restart))
    await answerer.set_remote_description(loopback_only(offer))
    to_answerer.remote_set.set()
    answer = await answerer.set_local_description(await answerer.create_answer())
    await offerer.set_remote_description(loopback_only(answer))
    to_offerer.remote_set.set()
    return to_answerer, to_offerer


async def _negotiate_without_trickle(
    offerer: Peer, answerer: Peer, shape: str
) -> tuple[CandidateRelay, CandidateRelay]:
    relays = (CandidateRelay(offerer, answerer), CandidateRelay(answerer, offerer))
    for relay in relays:
        relay.stop()  # nothing is trickled in these shapes
    await offerer.set_local_description(await offerer.create_offer())
    offer = await gathered_description(offerer)
    await answerer.set_remote_description(loopback_only(offer))
    answer = await answerer.create_answer()
    await answerer.set_local_description(answer)
    if shape == "full":
        answer = await gathered_description(answerer)
    else:
        assert shape == "answer-first", shape
        answer = _without_candidates(answer)
    await offerer.set_remote_description(loopback_only(answer))
    return relays


def _without_candidates(desc: dict[str, str]) -> dict[str, str]:
    lines = desc["sdp"].split("\r\n")
    kept = [line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates"))]
    return {"type": desc["type"], "sdp": "\r\n".join(kept)}


async def collide(ours: Peer, theirs: Peer, polite: str) -> tuple[CandidateRelay, CandidateRelay]:
    """Perfect negotiation's glare: both make an offer at once; the impolite one
    (``polite`` names the other, "rtcpeer" or the foreign peer's name) ignores the
    incoming offer, the polite one rolls back implicitly by taking it, answers, and
    then offers its own change again. Returns the candidate relays (to stop)."""
    polite_peer, impolite_peer = (ours, theirs) if polite == "rtcpeer" else (theirs, ours)
    offer_ours, offer_theirs = await asyncio.gather(
        ours.set_local_description(), theirs.set_local_description()
    )
    assert offer_ours["type"] == offer_theirs["type"] == "offer"
    impolite_offer = offer_theirs if polite == "rtcpeer" else offer_ours
    to_polite = CandidateRelay(impolite_peer, polite_peer)
    to_impolite = CandidateRelay(polite_peer, impolite_peer)
    await polite_peer.set_remote_description(loopback_only(impolite_offer))
    to_polite.remote_set.set()
    answer = await polite_peer.set_local_description()
    assert answer["type"] == "answer"
    await impolite_peer.set_remote_description(loopback_only(answer))
    to_impolite.remote_set.set()
    again = await polite_peer.set_local_description()
    assert again["type"] == "offer"  # its own change, rolled back, offered again
    await impolite_peer.set_remote_description(loopback_only(again))
    reply = await impolite_peer.set_local_description()
    await polite_peer.set_remote_description(loopback_only(reply))
    for peer in (ours, theirs):
        assert await signaling_state(peer) == "stable"
    return to_polite, to_impolite


async def signaling_state(peer: Peer) -> str:
    """The peer's W3C signalingState, whichever stack it is."""
    if isinstance(peer, RtcpeerPeer):
        return str(peer.pc.signalingState)
    if isinstance(peer, ChromiumPeer):
        return str((await peer.states())["signalingState"])
    return str(peer.pc.signalingState)  # type: ignore[attr-defined]
