"""Self-signed DTLS certificates and their fingerprints (W3C ``RTCCertificate``).

WebRTC authenticates DTLS with self-signed certificates whose fingerprint travels in
the signalled SDP (``a=fingerprint``, RFC 8122 §5). :class:`Certificate` generates one
(ECDSA P-256 by default, like browsers; RSA as an option), reports its fingerprints in
the SDP syntax, persists as PEM, and can be shared by any number of DTLS transports.

The core reads no clock: :meth:`Certificate.generate` takes the wall-clock time as
``not_before`` and :meth:`Certificate.is_expired` takes it as an argument.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from rtcpeer.errors import InvalidSyntaxError, NotSupportedError

__all__ = [
    "DEFAULT_EXPIRES_MS",
    "FINGERPRINT_ALGORITHMS",
    "MAX_EXPIRES_MS",
    "Certificate",
    "compute_fingerprint",
    "normalize_fingerprint",
]

#: W3C default lifetime of a generated certificate: 30 days, in milliseconds.
DEFAULT_EXPIRES_MS: Final = 30 * 24 * 3600 * 1000
#: Longest lifetime accepted (a year; browsers cap ``expires`` the same way).
MAX_EXPIRES_MS: Final = 365 * 24 * 3600 * 1000
# Browsers back-date ``notBefore`` so a peer with a slow clock still accepts the cert.
_BACKDATE: Final = timedelta(days=1)

#: SDP hash function names (RFC 8122 §5, IANA "Hash Function Textual Names") -> hashlib.
FINGERPRINT_ALGORITHMS: Final[dict[str, str]] = {
    "sha-1": "sha1",
    "sha-224": "sha224",
    "sha-256": "sha256",
    "sha-384": "sha384",
    "sha-512": "sha512",
}
_HEX: Final = frozenset("0123456789ABCDEF")

KeyType = Literal["ecdsa", "rsa"]
_PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def compute_fingerprint(der: bytes, algorithm: str = "sha-256") -> str:
    """The RFC 8122 fingerprint of a DER certificate: upper-case hex pairs joined by ``:``.

    ``algorithm`` is an SDP hash name (``"sha-256"``...), case-insensitive.
    """
    name = FINGERPRINT_ALGORITHMS.get(algorithm.lower())
    if name is None:
        raise NotSupportedError(
            f"fingerprint algorithm {algorithm!r} is not supported; "
            f"use one of {', '.join(FINGERPRINT_ALGORITHMS)}"
        )
    digest = hashlib.new(name, der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def normalize_fingerprint(algorithm: str, value: str) -> tuple[str, str]:
    """Validate an ``a=fingerprint`` pair and bring it to canonical form.

    Returns ``(algorithm in lower case, value in upper-case colon-separated hex)``.
    Raises :class:`~rtcpeer.errors.NotSupportedError` for an unknown hash and
    :class:`~rtcpeer.errors.InvalidSyntaxError` when ``value`` is not hex pairs of the
    hash's length (RFC 8122 §5: ``2UHEX *(":" 2UHEX)``; lower case is accepted, as
    browsers do).
    """
    alg = algorithm.lower()
    name = FINGERPRINT_ALGORITHMS.get(alg)
    if name is None:
        raise NotSupportedError(
            f"fingerprint algorithm {algorithm!r} is not supported; "
            f"use one of {', '.join(FINGERPRINT_ALGORITHMS)}"
        )
    pairs = value.strip().upper().split(":")
    size = hashlib.new(name).digest_size
    if len(pairs) != size or any(len(p) != 2 or not _HEX.issuperset(p) for p in pairs):
        raise InvalidSyntaxError(
            f"fingerprint {value!r} is not {size} colon-separated hex bytes as {alg} needs"
        )
    return alg, ":".join(pairs)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware; pass datetime.now(timezone.utc)")


class Certificate:
    """A private key and its self-signed X.509 certificate (W3C ``RTCCertificate``).

    Build one with :meth:`generate` or :meth:`from_pem`. Immutable; one instance may
    back any number of :class:`~rtcpeer.dtls.transport.DtlsTransport` objects.
    """

    __slots__ = ("_cert", "_der", "_expires", "_fingerprints", "_key")

    def __init__(self, key: _PrivateKey, certificate: x509.Certificate) -> None:
        if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
            raise NotSupportedError("only ECDSA and RSA keys are supported")
        spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
            raise ValueError("the private key does not belong to the certificate")
        self._key = key
        self._cert = certificate
        self._der = certificate.public_bytes(serialization.Encoding.DER)
        self._expires = _ms(certificate.not_valid_after_utc)
        self._fingerprints: dict[str, str] = {}

    # -- creation -----------------------------------------------------------------

    @classmethod
    def generate(
        cls,
        *,
        not_before: datetime,
        key_type: KeyType = "ecdsa",
        expires: int = DEFAULT_EXPIRES_MS,
        rsa_modulus_length: int = 2048,
    ) -> Certificate:
        """Generate a key pair and a self-signed certificate for it.

        ``not_before`` is the current wall-clock time (timezone-aware); the certificate
        is valid from a day before it (clock-skew margin) until ``expires``
        milliseconds after it (W3C ``RTCCertificateExpiration.expires``, default 30
        days, at most a year). ``key_type`` is ``"ecdsa"`` (P-256, ECDSA-SHA256, the
        browser default) or ``"rsa"`` (RSASSA-PKCS1-v1_5 with SHA-256, exponent 65537,
        ``rsa_modulus_length`` bits). The subject CN is random and the serial number a
        random 64-bit value, as browsers make them.
        """
        _require_aware(not_before, "not_before")
        if isinstance(expires, bool) or not isinstance(expires, int):
            raise TypeError("expires must be an int (milliseconds)")
        if expires < 0:
            raise ValueError("expires must be a non-negative number of milliseconds")
        expires = min(expires, MAX_EXPIRES_MS)
        key: _PrivateKey
        if key_type == "ecdsa":
            key = ec.generate_private_key(ec.SECP256R1())
        elif key_type == "rsa":
            if not 2048 <= rsa_modulus_length <= 8192:
                raise NotSupportedError("RSA modulus length must be 2048..8192 bits")
            key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_modulus_length)
        else:
            raise NotSupportedError(f"key_type {key_type!r}: use 'ecdsa' or 'rsa'")
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(8))])
        start = not_before.astimezone(UTC).replace(microsecond=0)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            # RFC 5280 §4.1.2.2: positive, at most 20 octets; 63 bits keeps it positive.
            .serial_number(secrets.randbits(63) | 1)
            .not_valid_before(start - _BACKDATE)
            .not_valid_after(start + timedelta(milliseconds=expires))
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def from_pem(
        cls, key_pem: bytes | str, certificate_pem: bytes | str | None = None
    ) -> Certificate:
        """Load a certificate saved with :meth:`to_pem` (or the two separate PEM parts).

        ``key_pem`` holds an unencrypted private key (PKCS#8 or traditional) and, when
        ``certificate_pem`` is omitted, the certificate too. Raises ``ValueError`` when
        either part is missing or malformed, or when they don't belong together.
        """
        key_data = key_pem.encode() if isinstance(key_pem, str) else bytes(key_pem)
        if certificate_pem is None:
            cert_data = key_data
        elif isinstance(certificate_pem, str):
            cert_data = certificate_pem.encode()
        else:
            cert_data = bytes(certificate_pem)
        key_block = _pem_block(key_data, b"PRIVATE KEY")
        cert_block = _pem_block(cert_data, b"CERTIFICATE")
        try:
            key = serialization.load_pem_private_key(key_block, password=None)
            cert = x509.load_pem_x509_certificate(cert_block)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"malformed PEM: {exc}") from None
        if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
            raise ValueError("the PEM key is neither ECDSA nor RSA")
        return cls(key, cert)

    # -- export -------------------------------------------------------------------

    def private_key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM. Keep it secret."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def certificate_pem(self) -> bytes:
        """The certificate as PEM."""
        return self._cert.public_bytes(serialization.Encoding.PEM)

    def to_pem(self) -> bytes:
        """Key then certificate, one PEM file that :meth:`from_pem` reads back."""
        return self.private_key_pem() + self.certificate_pem()

    # -- properties ---------------------------------------------------------------

    @property
    def expires(self) -> int:
        """Expiry (``notAfter``) in milliseconds since the Unix epoch (W3C ``expires``)."""
        return self._expires

    @property
    def key_type(self) -> KeyType:
        """``"ecdsa"`` or ``"rsa"``."""
        return "ecdsa" if isinstance(self._key, ec.EllipticCurvePrivateKey) else "rsa"

    @property
    def der(self) -> bytes:
        """The certificate in DER."""
        return self._der

    @property
    def x509(self) -> x509.Certificate:
        """The certificate as a ``cryptography`` object."""
        return self._cert

    @property
    def private_key(self) -> _PrivateKey:
        """The private key as a ``cryptography`` object."""
        return self._key

    def is_expired(self, wall_time: datetime) -> bool:
        """Whether the certificate has expired at ``wall_time`` (timezone-aware)."""
        _require_aware(wall_time, "wall_time")
        return _ms(wall_time) >= self._expires

    def fingerprint(self, algorithm: str = "sha-256") -> str:
        """The fingerprint with one SDP hash algorithm, ``"AB:CD:..."``."""
        alg = algorithm.lower()
        value = self._fingerprints.get(alg)
        if value is None:
            value = self._fingerprints[alg] = compute_fingerprint(self._der, alg)
        return value

    def get_fingerprints(self, algorithms: Iterable[str] = ("sha-256",)) -> list[tuple[str, str]]:
        """``(algorithm, value)`` pairs for ``a=fingerprint`` (W3C ``getFingerprints()``).

        sha-256 by default; ``"sha-1"``, ``"sha-224"``, ``"sha-384"`` and ``"sha-512"``
        are accepted too. Values are upper-case hex pairs joined by colons.
        """
        if isinstance(algorithms, str):
            raise TypeError("algorithms must be an iterable of names, e.g. ('sha-256',)")
        return [(a.lower(), self.fingerprint(a)) for a in algorithms]

    def __repr__(self) -> str:
        return f"<Certificate {self.key_type} sha-256 {self.fingerprint()} expires={self._expires}>"


def _pem_block(data: bytes, label: bytes) -> bytes:
    """The first PEM block whose label ends with ``label`` (``PRIVATE KEY`` matches the
    ``EC``/``RSA`` variants); ``ValueError`` if there is none."""
    start = 0
    while True:
        begin = data.find(b"-----BEGIN ", start)
        if begin < 0:
            break
        head_end = data.find(b"-----", begin + 11)
        if head_end < 0:
            break
        block_label = data[begin + 11 : head_end]
        end_marker = b"-----END " + block_label + b"-----"
        end = data.find(end_marker, head_end)
        if end < 0:
            break
        if block_label.endswith(label):
            return data[begin : end + len(end_marker)] + b"\n"
        start = end + len(end_marker)
    raise ValueError(f"no PEM block labelled {label.decode()!r} found")
