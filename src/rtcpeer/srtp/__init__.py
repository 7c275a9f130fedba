"""rtcpeer.srtp: SRTP/SRTCP protection with libsrtp (pylibsrtp), keyed by DTLS-SRTP.

:class:`SrtpSession` holds the outbound and inbound libsrtp contexts of one transport;
:class:`SrtpKeys` the master keys and salts split from the DTLS exporter (RFC 5764
§4.2); :class:`SrtpError` is the one error unprotecting raises (counted).
"""

from rtcpeer.srtp.session import (
    PROFILES,
    SRTP_AEAD_AES_128_GCM,
    SRTP_AEAD_AES_256_GCM,
    SRTP_AES128_CM_SHA1_32,
    SRTP_AES128_CM_SHA1_80,
    SrtpError,
    SrtpKeys,
    SrtpProfile,
    SrtpSession,
)

__all__ = [
    "PROFILES",
    "SRTP_AEAD_AES_128_GCM",
    "SRTP_AEAD_AES_256_GCM",
    "SRTP_AES128_CM_SHA1_32",
    "SRTP_AES128_CM_SHA1_80",
    "SrtpError",
    "SrtpKeys",
    "SrtpProfile",
    "SrtpSession",
]
