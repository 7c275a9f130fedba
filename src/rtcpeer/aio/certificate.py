"""W3C ``RTCCertificate`` and ``RTCPeerConnection.generateCertificate`` (WebRTC §4.9).

The key material and X.509 work live in :mod:`rtcpeer.dtls.certificate`; this module
gives them the browser's names: ``await RTCCertificate.generateCertificate({"name":
"ECDSA", "namedCurve": "P-256"})``, ``cert.expires``, ``cert.getFingerprints()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rtcpeer.dtls.certificate import DEFAULT_EXPIRES_MS, Certificate
from rtcpeer.errors import NotSupportedError

__all__ = ["RTCCertificate", "generate_certificate"]

_RSA_NAME = "RSASSA-PKCS1-v1_5"
_F4 = 65537


class RTCCertificate(Certificate):
    """A certificate for the ``certificates`` configuration option (W3C
    ``RTCCertificate``). One instance may back any number of peer connections, so a
    persisted identity (``to_pem()``/``from_pem()``) keeps its fingerprint across runs.
    """

    __slots__ = ()

    @staticmethod
    async def generateCertificate(
        keygenAlgorithm: str | Mapping[str, Any],
    ) -> RTCCertificate:
        """Generate a certificate, like ``RTCPeerConnection.generateCertificate``.

        ``keygenAlgorithm`` is a WebCrypto algorithm dict: ``{"name": "ECDSA",
        "namedCurve": "P-256"}`` or ``{"name": "RSASSA-PKCS1-v1_5", "modulusLength":
        2048, "publicExponent": bytes([1, 0, 1]), "hash": "SHA-256"}``, optionally
        with ``"expires"`` (milliseconds, W3C ``RTCCertificateExpiration``). Raises
        ``TypeError`` for a malformed dict and ``NotSupportedError`` for an algorithm
        browsers do not generate. Key generation runs in a worker thread.
        """
        options = _parse_algorithm(keygenAlgorithm)
        return await asyncio.to_thread(generate_certificate, **options)

    def getFingerprints(self) -> list[dict[str, str]]:
        """``[{"algorithm": "sha-256", "value": "AB:CD:..."}]`` (W3C
        ``RTCDtlsFingerprint``), the fingerprint put in ``a=fingerprint``."""
        return [{"algorithm": alg, "value": value} for alg, value in self.get_fingerprints()]


def generate_certificate(
    *, key_type: str, expires: int, rsa_modulus_length: int = 2048
) -> RTCCertificate:
    cert = RTCCertificate.generate(
        not_before=datetime.now(UTC),
        key_type="rsa" if key_type == "rsa" else "ecdsa",
        expires=expires,
        rsa_modulus_length=rsa_modulus_length,
    )
    assert isinstance(cert, RTCCertificate)
    return cert


def _parse_algorithm(algorithm: str | Mapping[str, Any]) -> dict[str, Any]:
    raw: Mapping[str, Any] = {"name": algorithm} if isinstance(algorithm, str) else algorithm
    if not isinstance(raw, Mapping):
        raise TypeError(
            "keygenAlgorithm is a dict such as {'name': 'ECDSA', 'namedCurve': 'P-256'}"
        )
    name = raw.get("name")
    if not isinstance(name, str):
        raise TypeError("keygenAlgorithm needs a 'name' ('ECDSA' or 'RSASSA-PKCS1-v1_5')")
    expires = raw.get("expires", DEFAULT_EXPIRES_MS)
    if isinstance(expires, bool) or not isinstance(expires, int) or expires < 0:
        raise TypeError("expires is a non-negative number of milliseconds")
    if name.upper() == "ECDSA":
        curve = raw.get("namedCurve")
        if not isinstance(curve, str):
            raise TypeError("ECDSA needs 'namedCurve': 'P-256'")
        if curve != "P-256":
            raise NotSupportedError(f"namedCurve {curve!r} is not supported; use 'P-256'")
        return {"key_type": "ecdsa", "expires": expires}
    if name.upper() == _RSA_NAME.upper():
        length = raw.get("modulusLength")
        exponent = raw.get("publicExponent")
        hash_name = raw.get("hash")
        if isinstance(length, bool) or not isinstance(length, int):
            raise TypeError("RSASSA-PKCS1-v1_5 needs an integer 'modulusLength', e.g. 2048")
        if exponent is None or hash_name is None:
            raise TypeError(
                "RSASSA-PKCS1-v1_5 needs 'publicExponent' (bytes([1, 0, 1])) and 'hash' ('SHA-256')"
            )
        if int.from_bytes(bytes(exponent), "big") != _F4:
            raise NotSupportedError(
                "only the public exponent 65537 (bytes([1, 0, 1])) is supported"
            )
        if isinstance(hash_name, Mapping):
            hash_name = hash_name.get("name")
        if not isinstance(hash_name, str) or hash_name.upper() != "SHA-256":
            raise NotSupportedError(f"hash {hash_name!r} is not supported; use 'SHA-256'")
        if length < 2048:
            raise NotSupportedError("modulusLength below 2048 bits is not supported")
        return {"key_type": "rsa", "expires": expires, "rsa_modulus_length": length}
    raise NotSupportedError(
        f"keygenAlgorithm {name!r} is not supported; use 'ECDSA' (P-256) or 'RSASSA-PKCS1-v1_5'"
    )
