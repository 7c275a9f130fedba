"""rtcpeer.dtls: DTLS 1.2 transport, certificates and DTLS-SRTP keying, sans-IO.

* :class:`Certificate` — self-signed ECDSA/RSA certificates (W3C ``RTCCertificate``),
  fingerprints for ``a=fingerprint`` (RFC 8122), PEM persistence.
* :class:`DtlsTransport` — DTLS over OpenSSL memory BIOs (W3C ``RTCDtlsTransport``):
  role from ``a=setup``, fingerprint verification, retransmission timer as a deadline,
  application data records, close_notify, DTLS-SRTP key export (RFC 5764).
* :func:`is_dtls` — RFC 7983 demultiplexing test.
"""

from rtcpeer.dtls.certificate import (
    DEFAULT_EXPIRES_MS,
    FINGERPRINT_ALGORITHMS,
    MAX_EXPIRES_MS,
    Certificate,
    compute_fingerprint,
    normalize_fingerprint,
)
from rtcpeer.dtls.transport import (
    CIPHER_LIST,
    DEFAULT_MTU,
    DEFAULT_SRTP_PROFILES,
    DtlsErrorEvent,
    DtlsEvent,
    DtlsRole,
    DtlsState,
    DtlsStateChangeEvent,
    DtlsTransport,
    is_dtls,
)

__all__ = [
    "CIPHER_LIST",
    "DEFAULT_EXPIRES_MS",
    "DEFAULT_MTU",
    "DEFAULT_SRTP_PROFILES",
    "FINGERPRINT_ALGORITHMS",
    "MAX_EXPIRES_MS",
    "Certificate",
    "DtlsErrorEvent",
    "DtlsEvent",
    "DtlsRole",
    "DtlsState",
    "DtlsStateChangeEvent",
    "DtlsTransport",
    "compute_fingerprint",
    "is_dtls",
    "normalize_fingerprint",
]
