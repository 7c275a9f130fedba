"""SRTP/SRTCP protection with libsrtp (through pylibsrtp), keyed by DTLS-SRTP.

An :class:`SrtpSession` is the pair of libsrtp contexts one DTLS-SRTP association
needs: an outbound one keyed with *our* write key (RFC 5764 §4.2: the client write key
when we are the DTLS client) and an inbound one keyed with the peer's write key. Both use
the SSRC wildcards, so every SSRC sent or received on the transport is covered.

Failures to unprotect (malformed, replayed, failing authentication) raise
:class:`SrtpError` — the one error class of this module, a ``ValueError`` — and are
counted in :attr:`SrtpSession.auth_failures`, :attr:`~SrtpSession.replayed` and
:attr:`~SrtpSession.malformed`. Nothing else escapes from the unprotect methods on
``bytes`` input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

import pylibsrtp

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


@dataclass(frozen=True, slots=True)
class SrtpProfile:
    """A DTLS-SRTP protection profile (RFC 5764 §4.1.2, RFC 7714 §14.2).

    ``name`` is the IANA/OpenSSL name, ``value`` the two-byte code point carried in the
    ``use_srtp`` extension, ``key_length``/``salt_length`` the master key and salt sizes in
    bytes, ``libsrtp_profile`` the matching ``srtp_profile_t``.
    """

    name: str
    value: int
    key_length: int
    salt_length: int
    libsrtp_profile: int

    @property
    def keying_material_length(self) -> int:
        """Bytes of exporter output RFC 5764 §4.2 needs: ``2 * (key + salt)``."""
        return 2 * (self.key_length + self.salt_length)


SRTP_AES128_CM_SHA1_80: Final = SrtpProfile(
    "SRTP_AES128_CM_SHA1_80", 0x0001, 16, 14, pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80
)
SRTP_AES128_CM_SHA1_32: Final = SrtpProfile(
    "SRTP_AES128_CM_SHA1_32", 0x0002, 16, 14, pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32
)
SRTP_AEAD_AES_128_GCM: Final = SrtpProfile(
    "SRTP_AEAD_AES_128_GCM", 0x0007, 16, 12, pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM
)
SRTP_AEAD_AES_256_GCM: Final = SrtpProfile(
    "SRTP_AEAD_AES_256_GCM", 0x0008, 32, 12, pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM
)

#: Every profile this module can key, by name.
PROFILES: Final[dict[str, SrtpProfile]] = {
    p.name: p
    for p in (
        SRTP_AEAD_AES_256_GCM,
        SRTP_AEAD_AES_128_GCM,
        SRTP_AES128_CM_SHA1_80,
        SRTP_AES128_CM_SHA1_32,
    )
}


class SrtpError(ValueError):
    """A packet could not be protected or unprotected.

    ``reason`` is ``"auth"`` (authentication tag mismatch), ``"replay"`` (index seen
    before or too old for the replay window, RFC 3711 §3.3.2) or ``"malformed"``.
    """

    def __init__(self, message: str, reason: Literal["auth", "replay", "malformed"]) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SrtpKeys:
    """Master keys and salts for both directions, from our point of view.

    ``local_*`` protects what we send, ``remote_*`` what we receive. The secrets are
    kept out of ``repr``.
    """

    profile: SrtpProfile
    local_key: bytes = field(repr=False)
    local_salt: bytes = field(repr=False)
    remote_key: bytes = field(repr=False)
    remote_salt: bytes = field(repr=False)

    def __post_init__(self) -> None:
        p = self.profile
        if len(self.local_key) != p.key_length or len(self.remote_key) != p.key_length:
            raise ValueError(f"{p.name} needs {p.key_length}-byte master keys")
        if len(self.local_salt) != p.salt_length or len(self.remote_salt) != p.salt_length:
            raise ValueError(f"{p.name} needs {p.salt_length}-byte master salts")

    @classmethod
    def from_keying_material(
        cls, material: bytes, profile: SrtpProfile, *, is_client: bool
    ) -> SrtpKeys:
        """Split DTLS exporter output per RFC 5764 §4.2.

        The layout is ``client_write_key | server_write_key | client_write_salt |
        server_write_salt``; the DTLS client writes with the client key. ``material``
        must be exactly :attr:`SrtpProfile.keying_material_length` bytes.
        """
        k, s = profile.key_length, profile.salt_length
        if len(material) != 2 * (k + s):
            raise ValueError(f"{profile.name} needs {2 * (k + s)} bytes of keying material")
        client_key = material[:k]
        server_key = material[k : 2 * k]
        client_salt = material[2 * k : 2 * k + s]
        server_salt = material[2 * k + s :]
        if is_client:
            return cls(profile, client_key, client_salt, server_key, server_salt)
        return cls(profile, server_key, server_salt, client_key, client_salt)


_REPLAY_MESSAGES: Final = frozenset(
    {"replay check failed (bad index)", "replay check failed (index too old)"}
)
_AUTH_MESSAGE: Final = "authentication failure"
_RTP_MIN: Final = 12  # RFC 3550 §5.1 fixed header
_RTCP_MIN: Final = 8  # RFC 3550 §6.4.1 header + SSRC


def _classify(exc: pylibsrtp.Error) -> Literal["auth", "replay", "malformed"]:
    message = str(exc)
    if message == _AUTH_MESSAGE:
        return "auth"
    if message in _REPLAY_MESSAGES:
        return "replay"
    return "malformed"


class SrtpSession:
    """One outbound and one inbound libsrtp context for a DTLS-SRTP transport.

    ``replay_window`` is libsrtp's replay window in packets (0: libsrtp's default of
    128). Retransmitting an already protected sequence number is allowed on the sending
    side (``allow_repeat_tx``) so NACK retransmission without RTX works.
    """

    __slots__ = ("_rx", "_tx", "auth_failures", "malformed", "profile", "replayed")

    def __init__(self, keys: SrtpKeys, *, replay_window: int = 0) -> None:
        if replay_window and not 64 <= replay_window < 0x8000:
            raise ValueError("replay_window must be 0 (libsrtp default) or in 64..32767")
        profile = keys.profile
        tx_policy = pylibsrtp.Policy(
            key=keys.local_key + keys.local_salt,
            ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
            srtp_profile=profile.libsrtp_profile,
        )
        tx_policy.allow_repeat_tx = True
        rx_policy = pylibsrtp.Policy(
            key=keys.remote_key + keys.remote_salt,
            ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND,
            srtp_profile=profile.libsrtp_profile,
        )
        if replay_window:
            tx_policy.window_size = replay_window
            rx_policy.window_size = replay_window
        self.profile = profile
        self._tx = pylibsrtp.Session(tx_policy)
        self._rx = pylibsrtp.Session(rx_policy)
        #: Inbound packets dropped because authentication failed.
        self.auth_failures = 0
        #: Inbound packets dropped by replay protection.
        self.replayed = 0
        #: Inbound packets dropped as malformed (too short, bad header, too long).
        self.malformed = 0

    # -- outbound -----------------------------------------------------------------

    def protect_rtp(self, packet: bytes) -> bytes:
        """Encrypt and authenticate one RTP packet (RFC 3711 §3.3, RFC 7714 §8)."""
        return self._protect(packet, rtcp=False)

    def protect_rtcp(self, packet: bytes) -> bytes:
        """Encrypt and authenticate one (compound) RTCP packet (RFC 3711 §3.4)."""
        return self._protect(packet, rtcp=True)

    def _protect(self, packet: bytes, *, rtcp: bool) -> bytes:
        if len(packet) < (_RTCP_MIN if rtcp else _RTP_MIN):
            raise SrtpError("packet is shorter than an RTP/RTCP header", "malformed")
        try:
            if rtcp:
                return self._tx.protect_rtcp(packet)
            return self._tx.protect(packet)
        except pylibsrtp.Error as exc:
            raise SrtpError(f"libsrtp refused to protect: {exc}", _classify(exc)) from None
        except ValueError as exc:  # pylibsrtp: longer than its 1500-byte buffer allows
            raise SrtpError(str(exc), "malformed") from None

    # -- inbound ------------------------------------------------------------------

    def unprotect_rtp(self, packet: bytes) -> bytes:
        """Verify and decrypt one SRTP packet; raise :class:`SrtpError` (counted) if bad."""
        return self._unprotect(packet, rtcp=False)

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        """Verify and decrypt one SRTCP packet; raise :class:`SrtpError` (counted) if bad."""
        return self._unprotect(packet, rtcp=True)

    def _unprotect(self, packet: bytes, *, rtcp: bool) -> bytes:
        # A version other than 2 can't be RTP/RTCP (RFC 3550 §5.1); libsrtp would only
        # call it a bad parameter after work.
        if len(packet) < (_RTCP_MIN if rtcp else _RTP_MIN) or packet[0] >> 6 != 2:
            self.malformed += 1
            raise SrtpError("not an SRTP/SRTCP packet", "malformed")
        try:
            if rtcp:
                return self._rx.unprotect_rtcp(packet)
            return self._rx.unprotect(packet)
        except pylibsrtp.Error as exc:
            reason = _classify(exc)
            if reason == "auth":
                self.auth_failures += 1
            elif reason == "replay":
                self.replayed += 1
            else:
                self.malformed += 1
            raise SrtpError(str(exc), reason) from None
        except (ValueError, TypeError) as exc:
            self.malformed += 1
            raise SrtpError(str(exc), "malformed") from None
