"""W3C RTCCertificate: generateCertificate, getFingerprints, expires, and the
``certificates`` option (one persisted identity shared by many connections)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

from rtcpeer import NotSupportedError, RTCCertificate, RTCPeerConnection

ECDSA = {"name": "ECDSA", "namedCurve": "P-256"}
RSA = {
    "name": "RSASSA-PKCS1-v1_5",
    "modulusLength": 2048,
    "publicExponent": bytes([1, 0, 1]),
    "hash": "SHA-256",
}


def sdp_fingerprint(sdp: str) -> str:
    match = re.search(r"^a=fingerprint:sha-256 (\S+)", sdp, re.M)
    assert match is not None
    return match.group(1)


async def connect(a: RTCPeerConnection, b: RTCPeerConnection) -> None:
    a.onicecandidate = lambda e: (
        e.candidate and asyncio.ensure_future(b.addIceCandidate(e.candidate))
    )
    b.onicecandidate = lambda e: (
        e.candidate and asyncio.ensure_future(a.addIceCandidate(e.candidate))
    )
    channel = a.createDataChannel("check")
    opened = asyncio.get_running_loop().create_future()
    channel.onopen = lambda e: opened.done() or opened.set_result(None)
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription)
    await asyncio.wait_for(opened, 20)


async def test_generate_ecdsa_and_fingerprints() -> None:
    cert = await RTCPeerConnection.generateCertificate(ECDSA)
    assert isinstance(cert, RTCCertificate)
    assert cert.key_type == "ecdsa"
    (fingerprint,) = cert.getFingerprints()
    assert fingerprint["algorithm"] == "sha-256"
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", fingerprint["value"])
    # expires: ms since the epoch, 30 days ahead by default (W3C leaves the default to us).
    days = (cert.expires / 1000 - time.time()) / 86400
    assert 29.9 < days < 30.1


async def test_generate_rsa_with_expires() -> None:
    cert = await RTCCertificate.generateCertificate({**RSA, "expires": 3600_000})
    assert cert.key_type == "rsa"
    assert cert.private_key.key_size == 2048  # type: ignore[union-attr]
    assert 3500 < cert.expires / 1000 - time.time() <= 3600


@pytest.mark.parametrize(
    ("algorithm", "error"),
    [
        ({"namedCurve": "P-256"}, TypeError),
        ({"name": "ECDSA"}, TypeError),
        ({"name": "ECDSA", "namedCurve": "P-384"}, NotSupportedError),
        ("ECDSA", TypeError),
        ({"name": "Ed25519"}, NotSupportedError),
        ({**RSA, "hash": "SHA-1"}, NotSupportedError),
        ({**RSA, "publicExponent": bytes([3])}, NotSupportedError),
        ({**RSA, "modulusLength": 1024}, NotSupportedError),
        ({k: v for k, v in RSA.items() if k != "modulusLength"}, TypeError),
        ({**ECDSA, "expires": -1}, TypeError),
        (42, TypeError),
    ],
)
async def test_generate_refuses_bad_algorithms(algorithm: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        await RTCPeerConnection.generateCertificate(algorithm)


async def test_one_certificate_backs_many_connections() -> None:
    """The W3C certificates option: every connection presents the given certificate,
    the fingerprint in each offer is its fingerprint, and connections succeed."""
    cert = await RTCPeerConnection.generateCertificate(ECDSA)
    value = cert.getFingerprints()[0]["value"]
    a1 = RTCPeerConnection({"certificates": [cert]})
    a2 = RTCPeerConnection({"certificates": [cert]})
    b1, b2 = RTCPeerConnection(), RTCPeerConnection()
    try:
        await connect(a1, b1)
        await connect(a2, b2)
        for pc in (a1, a2):
            assert sdp_fingerprint(pc.localDescription.sdp) == value  # type: ignore[union-attr]
            assert pc.getConfiguration().certificates == (cert,)
        for pc in (b1, b2):
            assert sdp_fingerprint(pc.remoteDescription.sdp) == value  # type: ignore[union-attr]
        stats = await a1.getStats()
        certs = [s for s in stats.values() if s.type == "certificate"]
        assert value in {s["fingerprint"] for s in certs}
    finally:
        for pc in (a1, a2, b1, b2):
            await pc.close()


async def test_persisted_certificate_keeps_its_fingerprint() -> None:
    cert = await RTCPeerConnection.generateCertificate(ECDSA)
    loaded = RTCCertificate.from_pem(cert.to_pem())
    assert isinstance(loaded, RTCCertificate)
    assert loaded.getFingerprints() == cert.getFingerprints()
    assert loaded.expires == cert.expires
    a, b = RTCPeerConnection({"certificates": [loaded]}), RTCPeerConnection()
    try:
        await connect(a, b)
        assert sdp_fingerprint(b.remoteDescription.sdp) == cert.getFingerprints()[0]["value"]  # type: ignore[union-attr]
    finally:
        await a.close()
        await b.close()
