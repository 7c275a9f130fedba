"""STUN messages (RFC 8489) with the attributes ICE (RFC 8445) and TURN (RFC 8656, 6062) use.

A STUN message is a 20-byte header (type, length, magic cookie, 96-bit transaction id)
followed by type-length-value attributes, each padded to a multiple of 4 bytes (§5, §14).
:class:`StunMessage` keeps its attributes in order as ``(type, value)`` pairs whose value
is already decoded (an address tuple, a string, an int...; see :data:`AttrValue`); types
this module does not know stay raw ``bytes`` and round-trip unchanged.

``serialize(integrity_key, fingerprint=..., sha256=...)`` appends MESSAGE-INTEGRITY
(or MESSAGE-INTEGRITY-SHA256) and FINGERPRINT itself, with the header length adjusted
as §14.5–§14.7 require; ``check_integrity(key)`` and ``check_fingerprint()`` verify a
parsed message against the bytes it was parsed from.

Also here: the demultiplexing test :func:`is_stun` (RFC 7983), TURN ChannelData framing
(:class:`ChannelData`, RFC 8656 §12), stream framing for STUN/TURN over TCP
(:func:`stream_frame_length`) and key derivation (:func:`short_term_key`,
:func:`long_term_key`, RFC 8489 §9.2.2).

Parse errors: :class:`StunParseError` (a ``ValueError``), and nothing else on any input.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import secrets
import struct
import unicodedata
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from random import Random
from typing import Self, cast

from rtcpeer.datagram import Address

__all__ = [
    "ERROR_REASONS",
    "FAMILY_IPV4",
    "FAMILY_IPV6",
    "FINGERPRINT_XOR",
    "HEADER_LENGTH",
    "MAGIC_COOKIE",
    "AttrType",
    "AttrValue",
    "ChannelData",
    "ErrorCode",
    "PasswordAlgorithm",
    "StunClass",
    "StunMessage",
    "StunMethod",
    "StunParseError",
    "decode_message_type",
    "encode_message_type",
    "is_channel_data",
    "is_stun",
    "long_term_key",
    "new_transaction_id",
    "opaque_string",
    "short_term_key",
    "stream_frame_length",
    "userhash",
]


class StunParseError(ValueError):
    """The bytes are not a well-formed STUN message or ChannelData message."""


MAGIC_COOKIE = 0x2112A442
HEADER_LENGTH = 20
FINGERPRINT_XOR = 0x5354554E  # "STUN" (RFC 8489 §14.7)
FAMILY_IPV4 = 0x01
FAMILY_IPV6 = 0x02


class StunClass(enum.IntEnum):
    """The two class bits of the message type (RFC 8489 §5)."""

    REQUEST = 0b00
    INDICATION = 0b01
    SUCCESS = 0b10
    ERROR = 0b11


class StunMethod(enum.IntEnum):
    """Methods: Binding (RFC 8489), TURN (RFC 8656 §17), TURN-TCP (RFC 6062 §6.1)."""

    BINDING = 0x001
    ALLOCATE = 0x003
    REFRESH = 0x004
    SEND = 0x006
    DATA = 0x007
    CREATE_PERMISSION = 0x008
    CHANNEL_BIND = 0x009
    CONNECT = 0x00A
    CONNECTION_BIND = 0x00B
    CONNECTION_ATTEMPT = 0x00C


class AttrType(enum.IntEnum):
    """Attribute types (RFC 8489 §18.3, RFC 8656 §18, RFC 8445 §16.1, RFC 6062 §6.2,
    RFC 5780 §7). Types 0x0000–0x7FFF are comprehension-required."""

    MAPPED_ADDRESS = 0x0001
    USERNAME = 0x0006
    MESSAGE_INTEGRITY = 0x0008
    ERROR_CODE = 0x0009
    UNKNOWN_ATTRIBUTES = 0x000A
    CHANNEL_NUMBER = 0x000C
    LIFETIME = 0x000D
    XOR_PEER_ADDRESS = 0x0012
    DATA = 0x0013
    REALM = 0x0014
    NONCE = 0x0015
    XOR_RELAYED_ADDRESS = 0x0016
    REQUESTED_ADDRESS_FAMILY = 0x0017
    EVEN_PORT = 0x0018
    REQUESTED_TRANSPORT = 0x0019
    DONT_FRAGMENT = 0x001A
    MESSAGE_INTEGRITY_SHA256 = 0x001C
    PASSWORD_ALGORITHM = 0x001D
    USERHASH = 0x001E
    XOR_MAPPED_ADDRESS = 0x0020
    RESERVATION_TOKEN = 0x0022
    PRIORITY = 0x0024
    USE_CANDIDATE = 0x0025
    CONNECTION_ID = 0x002A
    ADDITIONAL_ADDRESS_FAMILY = 0x8000
    PASSWORD_ALGORITHMS = 0x8002
    ALTERNATE_DOMAIN = 0x8003
    SOFTWARE = 0x8022
    ALTERNATE_SERVER = 0x8023
    FINGERPRINT = 0x8028
    ICE_CONTROLLED = 0x8029
    ICE_CONTROLLING = 0x802A
    RESPONSE_ORIGIN = 0x802B
    OTHER_ADDRESS = 0x802C


#: Reason phrases for the error codes STUN, TURN and ICE define (RFC 8489 §14.8,
#: RFC 8656 §18.13, RFC 8445 §7.3.1.1, RFC 6062 §6.3).
ERROR_REASONS: dict[int, str] = {
    300: "Try Alternate",
    400: "Bad Request",
    401: "Unauthenticated",
    403: "Forbidden",
    405: "Mobility Forbidden",
    420: "Unknown Attribute",
    437: "Allocation Mismatch",
    438: "Stale Nonce",
    440: "Address Family not Supported",
    441: "Wrong Credentials",
    442: "Unsupported Transport Protocol",
    443: "Peer Address Family Mismatch",
    446: "Connection Already Exists",
    447: "Connection Timeout or Failure",
    486: "Allocation Quota Reached",
    487: "Role Conflict",
    500: "Server Error",
    508: "Insufficient Capacity",
}


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """ERROR-CODE (RFC 8489 §14.8): ``code`` is class * 100 + number (300–699 in use;
    any class 0–7 is read and written so that a parsed message serializes again)."""

    code: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PasswordAlgorithm:
    """One PASSWORD-ALGORITHM entry (RFC 8489 §14.11–§14.12): 1 = MD5, 2 = SHA-256."""

    algorithm: int
    parameters: bytes = b""

    MD5 = 0x0001
    SHA256 = 0x0002


#: A decoded attribute value. Which member a type decodes to:
#: addresses → :data:`~rtcpeer.datagram.Address`; USERNAME, REALM, SOFTWARE,
#: ALTERNATE-DOMAIN → ``str``; PRIORITY, LIFETIME, CONNECTION-ID, CHANNEL-NUMBER,
#: ICE-CONTROLLED/-CONTROLLING, REQUESTED-TRANSPORT, *-ADDRESS-FAMILY, FINGERPRINT →
#: ``int``; EVEN-PORT → ``bool``; USE-CANDIDATE, DONT-FRAGMENT → ``None``;
#: ERROR-CODE → :class:`ErrorCode`; UNKNOWN-ATTRIBUTES → ``tuple[int, ...]``;
#: PASSWORD-ALGORITHM(S) → :class:`PasswordAlgorithm` (tuple of); everything else
#: (NONCE, DATA, USERHASH, RESERVATION-TOKEN, MESSAGE-INTEGRITY(-SHA256), unknown
#: types) → ``bytes``.
AttrValue = (
    bytes
    | str
    | int
    | bool
    | None
    | Address
    | ErrorCode
    | tuple[int, ...]
    | PasswordAlgorithm
    | tuple[PasswordAlgorithm, ...]
)

_Decoder = Callable[[bytes, bytes], AttrValue]
_Encoder = Callable[[AttrValue, bytes], bytes]

# -- wire structs --------------------------------------------------------------------------
_HEADER = struct.Struct("!HHI")  # type, length, cookie (then 12 bytes transaction id)
_ATTR = struct.Struct("!HH")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")
_ADDR_PREFIX = struct.Struct("!BBH")  # reserved, family, port
_CHANNEL = struct.Struct("!HH")
_PAD = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")
_COOKIE_BYTES = _U32.pack(MAGIC_COOKIE)

# Plain ints for the accessors: comparing ints is cheaper than enum members per check.
_A_ALTERNATE_SERVER = int(AttrType.ALTERNATE_SERVER)
_A_CHANNEL_NUMBER = int(AttrType.CHANNEL_NUMBER)
_A_CONNECTION_ID = int(AttrType.CONNECTION_ID)
_A_DATA = int(AttrType.DATA)
_A_ERROR_CODE = int(AttrType.ERROR_CODE)
_A_ICE_CONTROLLED = int(AttrType.ICE_CONTROLLED)
_A_ICE_CONTROLLING = int(AttrType.ICE_CONTROLLING)
_A_LIFETIME = int(AttrType.LIFETIME)
_A_MAPPED_ADDRESS = int(AttrType.MAPPED_ADDRESS)
_A_NONCE = int(AttrType.NONCE)
_A_PRIORITY = int(AttrType.PRIORITY)
_A_REALM = int(AttrType.REALM)
_A_SOFTWARE = int(AttrType.SOFTWARE)
_A_UNKNOWN_ATTRIBUTES = int(AttrType.UNKNOWN_ATTRIBUTES)
_A_USERNAME = int(AttrType.USERNAME)
_A_USE_CANDIDATE = int(AttrType.USE_CANDIDATE)
_A_XOR_MAPPED_ADDRESS = int(AttrType.XOR_MAPPED_ADDRESS)
_A_XOR_PEER_ADDRESS = int(AttrType.XOR_PEER_ADDRESS)
_A_XOR_RELAYED_ADDRESS = int(AttrType.XOR_RELAYED_ADDRESS)
_MI = 0x0008
_MI256 = 0x001C
_FP = 0x8028

# -- message type (RFC 8489 §5) --------------------------------------------------------------


def encode_message_type(method: int, msg_class: int) -> int:
    """The 14-bit message type: method bits M11..M0 interleaved with class bits C1 C0."""
    if not 0 <= method <= 0xFFF:
        raise ValueError(f"STUN method must be 0..0xFFF, got {method:#x}")
    if not 0 <= msg_class <= 3:
        raise ValueError(f"STUN class must be 0..3, got {msg_class}")
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((msg_class & 1) << 4)
        | ((msg_class & 2) << 7)
    )


def decode_message_type(msg_type: int) -> tuple[int, int]:
    """``(method, class)`` of a 14-bit message type."""
    method = (msg_type & 0x000F) | ((msg_type & 0x00E0) >> 1) | ((msg_type & 0x3E00) >> 2)
    return method, ((msg_type >> 4) & 1) | ((msg_type >> 7) & 2)


# -- demultiplexing and framing -----------------------------------------------------------------


def is_stun(data: bytes | bytearray | memoryview) -> bool:
    """Whether a datagram looks like a STUN message (RFC 7983 §7, RFC 8489 §6.3).

    Cheap: first byte 0–3, magic cookie, length a multiple of 4 that matches the
    datagram. Use on the receive path before :meth:`StunMessage.parse`.
    """
    if len(data) < HEADER_LENGTH or data[0] > 3:
        return False
    _, length, cookie = _HEADER.unpack_from(data)
    return cookie == MAGIC_COOKIE and not length & 3 and length + HEADER_LENGTH == len(data)


def is_channel_data(data: bytes | bytearray | memoryview) -> bool:
    """Whether a datagram starts like TURN ChannelData (first byte 64–79, RFC 7983 §7)."""
    return len(data) >= 4 and 0x40 <= data[0] <= 0x4F


def stream_frame_length(data: bytes | bytearray | memoryview) -> int | None:
    """Length of the STUN message or ChannelData frame at the start of a TCP/TLS stream.

    ``None`` when fewer than 4 bytes are buffered. ChannelData over a stream is padded
    to 4 bytes (RFC 8656 §12.5), STUN messages are self-delimiting (RFC 8489 §6.2.2).
    Raises :class:`StunParseError` when the stream holds neither (the connection is
    then unusable: close it).
    """
    if len(data) < 4:
        return None
    first = data[0]
    length = int(_CHANNEL.unpack_from(data)[1])
    if first <= 3:
        if length & 3:
            raise StunParseError(f"STUN length {length} is not a multiple of 4")
        return HEADER_LENGTH + length
    if 0x40 <= first <= 0x4F:
        return 4 + ((length + 3) & ~3)
    raise StunParseError(f"stream byte {first:#04x} starts neither STUN nor ChannelData")


# -- addresses -------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _ip_to_bytes(ip: str) -> bytes:
    try:
        return ipaddress.ip_address(ip.partition("%")[0]).packed
    except ValueError:
        raise ValueError(f"not an IP address: {ip!r}") from None


@lru_cache(maxsize=512)
def _ipv6_to_str(packed: bytes) -> str:
    return ipaddress.IPv6Address(packed).compressed


def _ipv4_to_str(n: int) -> str:
    return f"{n >> 24}.{(n >> 16) & 0xFF}.{(n >> 8) & 0xFF}.{n & 0xFF}"


def _decode_address(value: bytes, tid: bytes) -> Address:
    if len(value) < 4:
        raise StunParseError("address attribute shorter than 4 bytes")
    _, family, port = _ADDR_PREFIX.unpack_from(value)
    if family == FAMILY_IPV4 and len(value) == 8:
        return _ipv4_to_str(_U32.unpack_from(value, 4)[0]), port
    if family == FAMILY_IPV6 and len(value) == 20:
        return _ipv6_to_str(value[4:]), port
    raise StunParseError(f"bad address family {family} or length {len(value)}")


def _decode_xor_address(value: bytes, tid: bytes) -> Address:
    if len(value) < 4:
        raise StunParseError("address attribute shorter than 4 bytes")
    _, family, xport = _ADDR_PREFIX.unpack_from(value)
    port = xport ^ (MAGIC_COOKIE >> 16)
    if family == FAMILY_IPV4 and len(value) == 8:
        return _ipv4_to_str(_U32.unpack_from(value, 4)[0] ^ MAGIC_COOKIE), port
    if family == FAMILY_IPV6 and len(value) == 20:
        mask = int.from_bytes(_COOKIE_BYTES + tid)
        raw = (int.from_bytes(value[4:]) ^ mask).to_bytes(16)
        return _ipv6_to_str(raw), port
    raise StunParseError(f"bad address family {family} or length {len(value)}")


def _check_address(value: AttrValue) -> Address:
    if (
        not isinstance(value, tuple)
        or len(value) != 2
        or not isinstance(value[0], str)
        or not isinstance(value[1], int)
    ):
        raise TypeError(f"address attribute needs (ip, port), got {value!r}")
    ip, port = value
    if not 0 <= port <= 0xFFFF:
        raise ValueError(f"port out of range: {port}")
    return ip, port


def _encode_address(value: AttrValue, tid: bytes) -> bytes:
    ip, port = _check_address(value)
    packed = _ip_to_bytes(ip)
    family = FAMILY_IPV4 if len(packed) == 4 else FAMILY_IPV6
    return _ADDR_PREFIX.pack(0, family, port) + packed


def _encode_xor_address(value: AttrValue, tid: bytes) -> bytes:
    ip, port = _check_address(value)
    packed = _ip_to_bytes(ip)
    xport = port ^ (MAGIC_COOKIE >> 16)
    if len(packed) == 4:
        return _ADDR_PREFIX.pack(0, FAMILY_IPV4, xport) + _U32.pack(
            int.from_bytes(packed) ^ MAGIC_COOKIE
        )
    mask = int.from_bytes(_COOKIE_BYTES + tid)
    return _ADDR_PREFIX.pack(0, FAMILY_IPV6, xport) + (int.from_bytes(packed) ^ mask).to_bytes(16)


# -- other attribute codecs ------------------------------------------------------------------


def _decode_text(value: bytes, tid: bytes) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise StunParseError("text attribute is not UTF-8") from None


def _decode_text_lenient(value: bytes, tid: bytes) -> str:
    # SOFTWARE is informational: a bad byte there is no reason to drop the message.
    return value.decode(errors="replace")


def _encode_text(value: AttrValue, tid: bytes) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    raise TypeError(f"text attribute needs str, got {type(value).__name__}")


def _decode_bytes(value: bytes, tid: bytes) -> bytes:
    return value


def _encode_bytes(value: AttrValue, tid: bytes) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"attribute needs bytes, got {type(value).__name__}")


def _fixed_bytes(size: int) -> tuple[_Decoder, _Encoder]:
    def decode(value: bytes, tid: bytes) -> bytes:
        if len(value) != size:
            raise StunParseError(f"attribute must be {size} bytes, got {len(value)}")
        return value

    def encode(value: AttrValue, tid: bytes) -> bytes:
        raw = _encode_bytes(value, tid)
        if len(raw) != size:
            raise ValueError(f"attribute must be {size} bytes, got {len(raw)}")
        return raw

    return decode, encode


def _decode_u32(value: bytes, tid: bytes) -> int:
    if len(value) != 4:
        raise StunParseError(f"32-bit attribute has length {len(value)}")
    return int(_U32.unpack(value)[0])


def _encode_u32(value: AttrValue, tid: bytes) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"attribute needs int, got {type(value).__name__}")
    return _U32.pack(value)


def _decode_u64(value: bytes, tid: bytes) -> int:
    if len(value) != 8:
        raise StunParseError(f"64-bit attribute has length {len(value)}")
    return int(_U64.unpack(value)[0])


def _encode_u64(value: AttrValue, tid: bytes) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"attribute needs int, got {type(value).__name__}")
    return _U64.pack(value)


def _decode_u16_rffu(value: bytes, tid: bytes) -> int:
    # CHANNEL-NUMBER: 16-bit value then 16 bits RFFU (RFC 8656 §18.1).
    if len(value) != 4:
        raise StunParseError(f"CHANNEL-NUMBER has length {len(value)}")
    return int(_U16.unpack_from(value)[0])


def _encode_u16_rffu(value: AttrValue, tid: bytes) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"attribute needs int, got {type(value).__name__}")
    return _U16.pack(value) + b"\x00\x00"


def _decode_u8_rffu(value: bytes, tid: bytes) -> int:
    # REQUESTED-TRANSPORT, *-ADDRESS-FAMILY: 8-bit value then 24 bits RFFU.
    if len(value) != 4:
        raise StunParseError(f"attribute has length {len(value)}, expected 4")
    return value[0]


def _encode_u8_rffu(value: AttrValue, tid: bytes) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"attribute needs int, got {type(value).__name__}")
    return bytes((value, 0, 0, 0))


def _decode_flag(value: bytes, tid: bytes) -> None:
    return None


def _encode_flag(value: AttrValue, tid: bytes) -> bytes:
    return b""


def _decode_even_port(value: bytes, tid: bytes) -> bool:
    if len(value) != 1:
        raise StunParseError(f"EVEN-PORT has length {len(value)}")
    return bool(value[0] & 0x80)


def _encode_even_port(value: AttrValue, tid: bytes) -> bytes:
    if not isinstance(value, bool):
        raise TypeError(f"EVEN-PORT needs bool, got {type(value).__name__}")
    return b"\x80" if value else b"\x00"


def _decode_error_code(value: bytes, tid: bytes) -> ErrorCode:
    if len(value) < 4:
        raise StunParseError("ERROR-CODE shorter than 4 bytes")
    number = value[3]
    if number > 99:
        raise StunParseError(f"ERROR-CODE number {number} is above 99")
    # Any class is accepted (a reply is better failed than lost); the RFC uses 3–6.
    return ErrorCode((value[2] & 0x07) * 100 + number, value[4:].decode(errors="replace"))


def _encode_error_code(value: AttrValue, tid: bytes) -> bytes:
    if not isinstance(value, ErrorCode):
        raise TypeError(f"ERROR-CODE needs ErrorCode, got {type(value).__name__}")
    if not 0 <= value.code <= 799:
        raise ValueError(f"error code must be 300..699 (at most 799 on the wire), got {value.code}")
    cls, number = divmod(value.code, 100)
    return bytes((0, 0, cls, number)) + value.reason.encode()


def _decode_unknown_attributes(value: bytes, tid: bytes) -> tuple[int, ...]:
    if len(value) & 1:
        raise StunParseError("UNKNOWN-ATTRIBUTES has an odd length")
    return struct.unpack(f"!{len(value) // 2}H", value)


def _encode_unknown_attributes(value: AttrValue, tid: bytes) -> bytes:
    if not isinstance(value, tuple) or not all(isinstance(v, int) for v in value):
        raise TypeError("UNKNOWN-ATTRIBUTES needs a tuple of ints")
    return struct.pack(f"!{len(value)}H", *cast("tuple[int, ...]", value))


def _read_algorithms(value: bytes) -> tuple[PasswordAlgorithm, ...]:
    out = []
    pos = 0
    end = len(value)
    while pos < end:
        if end - pos < 4:
            raise StunParseError("truncated PASSWORD-ALGORITHM")
        alg, plen = _ATTR.unpack_from(value, pos)
        pos += 4
        if pos + plen > end:
            raise StunParseError("PASSWORD-ALGORITHM parameters overrun")
        out.append(PasswordAlgorithm(alg, value[pos : pos + plen]))
        pos += (plen + 3) & ~3
    return tuple(out)


def _write_algorithm(alg: PasswordAlgorithm) -> bytes:
    if not isinstance(alg, PasswordAlgorithm):
        raise TypeError(f"needs PasswordAlgorithm, got {type(alg).__name__}")
    params = alg.parameters
    return _ATTR.pack(alg.algorithm, len(params)) + params + _PAD[len(params) & 3]


def _decode_password_algorithm(value: bytes, tid: bytes) -> PasswordAlgorithm:
    algs = _read_algorithms(value)
    if len(algs) != 1:
        raise StunParseError("PASSWORD-ALGORITHM must hold exactly one algorithm")
    return algs[0]


def _encode_password_algorithm(value: AttrValue, tid: bytes) -> bytes:
    if not isinstance(value, PasswordAlgorithm):
        raise TypeError(f"PASSWORD-ALGORITHM needs PasswordAlgorithm, got {value!r}")
    return _write_algorithm(value)


def _decode_password_algorithms(value: bytes, tid: bytes) -> tuple[PasswordAlgorithm, ...]:
    return _read_algorithms(value)


def _encode_password_algorithms(value: AttrValue, tid: bytes) -> bytes:
    if not isinstance(value, tuple):
        raise TypeError("PASSWORD-ALGORITHMS needs a tuple of PasswordAlgorithm")
    return b"".join(_write_algorithm(cast("PasswordAlgorithm", a)) for a in value)


def _decode_mi256(value: bytes, tid: bytes) -> bytes:
    # RFC 8489 §14.6: 16 to 32 bytes, a multiple of 4 (a truncated HMAC-SHA256).
    if not 16 <= len(value) <= 32 or len(value) & 3:
        raise StunParseError(f"MESSAGE-INTEGRITY-SHA256 has length {len(value)}")
    return value


def _decode_mi(value: bytes, tid: bytes) -> bytes:
    if len(value) != 20:
        raise StunParseError(f"MESSAGE-INTEGRITY has length {len(value)}")
    return value


_MI_CODEC = (_decode_mi, _fixed_bytes(20)[1])
_MI256_CODEC = (_decode_mi256, _encode_bytes)
_ADDRESS = (_decode_address, _encode_address)
_XOR_ADDRESS = (_decode_xor_address, _encode_xor_address)
_TEXT = (_decode_text, _encode_text)
_BYTES = (_decode_bytes, _encode_bytes)
_U32_CODEC = (_decode_u32, _encode_u32)
_U64_CODEC = (_decode_u64, _encode_u64)
_U8_RFFU = (_decode_u8_rffu, _encode_u8_rffu)
_FLAG = (_decode_flag, _encode_flag)

_CODECS: dict[int, tuple[_Decoder, _Encoder]] = {
    AttrType.MAPPED_ADDRESS: _ADDRESS,
    AttrType.USERNAME: _TEXT,
    AttrType.MESSAGE_INTEGRITY: _MI_CODEC,
    AttrType.ERROR_CODE: (_decode_error_code, _encode_error_code),
    AttrType.UNKNOWN_ATTRIBUTES: (_decode_unknown_attributes, _encode_unknown_attributes),
    AttrType.CHANNEL_NUMBER: (_decode_u16_rffu, _encode_u16_rffu),
    AttrType.LIFETIME: _U32_CODEC,
    AttrType.XOR_PEER_ADDRESS: _XOR_ADDRESS,
    AttrType.DATA: _BYTES,
    AttrType.REALM: _TEXT,
    AttrType.NONCE: _BYTES,
    AttrType.XOR_RELAYED_ADDRESS: _XOR_ADDRESS,
    AttrType.REQUESTED_ADDRESS_FAMILY: _U8_RFFU,
    AttrType.EVEN_PORT: (_decode_even_port, _encode_even_port),
    AttrType.REQUESTED_TRANSPORT: _U8_RFFU,
    AttrType.DONT_FRAGMENT: _FLAG,
    AttrType.MESSAGE_INTEGRITY_SHA256: _MI256_CODEC,
    AttrType.PASSWORD_ALGORITHM: (_decode_password_algorithm, _encode_password_algorithm),
    AttrType.USERHASH: _fixed_bytes(32),
    AttrType.XOR_MAPPED_ADDRESS: _XOR_ADDRESS,
    AttrType.RESERVATION_TOKEN: _fixed_bytes(8),
    AttrType.PRIORITY: _U32_CODEC,
    AttrType.USE_CANDIDATE: _FLAG,
    AttrType.CONNECTION_ID: _U32_CODEC,
    AttrType.ADDITIONAL_ADDRESS_FAMILY: _U8_RFFU,
    AttrType.PASSWORD_ALGORITHMS: (_decode_password_algorithms, _encode_password_algorithms),
    AttrType.ALTERNATE_DOMAIN: _TEXT,
    AttrType.SOFTWARE: (_decode_text_lenient, _encode_text),
    AttrType.ALTERNATE_SERVER: _ADDRESS,
    AttrType.FINGERPRINT: _U32_CODEC,
    AttrType.ICE_CONTROLLED: _U64_CODEC,
    AttrType.ICE_CONTROLLING: _U64_CODEC,
    AttrType.RESPONSE_ORIGIN: _ADDRESS,
    AttrType.OTHER_ADDRESS: _ADDRESS,
}
# Plain-int keys: lookups on the parse path then hash an int, not an enum member.
_CODECS = {int(k): v for k, v in _CODECS.items()}


def new_transaction_id(rng: Random | None = None) -> bytes:
    """A fresh 96-bit transaction id (RFC 8489 §5: uniformly random).

    With ``rng`` (tests, simulations) it is drawn from that generator; without, from
    :mod:`secrets`, as the RFC asks of ids an attacker must not guess.
    """
    return rng.randbytes(12) if rng is not None else secrets.token_bytes(12)


def _padding(pad_byte: int) -> tuple[bytes, bytes, bytes, bytes]:
    if pad_byte == 0:
        return _PAD
    b = bytes((pad_byte,))
    return (b"", b * 3, b * 2, b)


@dataclass(slots=True, repr=False)
class StunMessage:
    """One STUN message: method, class, transaction id and ordered attributes.

    ``attributes`` holds ``(type, value)`` pairs in wire order; values are decoded as
    :data:`AttrValue` describes. A parsed message also keeps the bytes it came from, so
    :meth:`check_integrity` and :meth:`check_fingerprint` verify what was received.
    """

    method: int
    msg_class: int
    transaction_id: bytes = field(default_factory=new_transaction_id)
    attributes: list[tuple[int, AttrValue]] = field(default_factory=list)
    _raw: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _mi: int = field(default=-1, init=False, repr=False, compare=False)
    _mi256: int = field(default=-1, init=False, repr=False, compare=False)
    _fp: int = field(default=-1, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.transaction_id) != 12:
            raise ValueError(
                f"STUN transaction id is 12 bytes, got {len(self.transaction_id)}; "
                "use new_transaction_id()"
            )

    def __repr__(self) -> str:
        try:
            kind = f"{StunMethod(self.method).name} {StunClass(self.msg_class).name}"
        except ValueError:
            kind = f"method={self.method:#x} class={self.msg_class}"
        attrs = ", ".join(
            f"{AttrType(t).name if t in _CODECS else hex(t)}={v!r}" for t, v in self.attributes
        )
        return f"<StunMessage {kind} tid={self.transaction_id.hex()} [{attrs}]>"

    # -- wire ------------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> Self:
        """Parse one whole STUN message (RFC 8489 §5, §14).

        The length field must match ``len(data)``. Attributes after MESSAGE-INTEGRITY
        other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, and anything after
        FINGERPRINT, are ignored as §14.5–§14.7 require. Known attribute types must
        decode (a malformed value is a parse error); unknown ones are kept as bytes.
        """
        if not isinstance(data, bytes):
            if not isinstance(data, (bytearray, memoryview)):
                raise StunParseError(f"STUN message must be bytes, got {type(data).__name__}")
            data = bytes(data)
        n = len(data)
        if n < HEADER_LENGTH:
            raise StunParseError(f"STUN message of {n} bytes is shorter than its header")
        mtype, length, cookie = _HEADER.unpack_from(data)
        if mtype & 0xC000:
            raise StunParseError("the first two bits of a STUN message must be zero")
        if cookie != MAGIC_COOKIE:
            raise StunParseError(f"bad magic cookie {cookie:#010x}")
        if length & 3 or length + HEADER_LENGTH != n:
            raise StunParseError(f"STUN length field {length} does not fit {n} bytes")
        tid = data[8:20]
        attrs: list[tuple[int, AttrValue]] = []
        mi = mi256 = fp = -1
        pos = HEADER_LENGTH
        codecs = _CODECS
        try:
            while pos < n:
                atype, alen = _ATTR.unpack_from(data, pos)
                start = pos + 4
                end = start + alen
                if end > n:
                    raise StunParseError(f"attribute {atype:#06x} overruns the message")
                here = pos
                pos = start + ((alen + 3) & ~3)
                # §14.5–§14.7: what follows the integrity/fingerprint attributes is ignored.
                if fp >= 0:
                    continue
                if atype == _FP:
                    fp = here
                elif mi256 >= 0:
                    continue
                elif atype == _MI256:
                    mi256 = here
                elif mi >= 0:
                    continue
                elif atype == _MI:
                    mi = here
                codec = codecs.get(atype)
                value = data[start:end]
                attrs.append((atype, codec[0](value, tid) if codec is not None else value))
        except StunParseError:
            raise
        except (ValueError, struct.error, IndexError) as exc:  # belt and braces
            raise StunParseError(f"malformed STUN attribute: {exc}") from None
        # Skip __init__/__post_init__: the transaction id is 12 bytes by construction.
        msg = cls.__new__(cls)
        msg.method = (mtype & 0x000F) | ((mtype & 0x00E0) >> 1) | ((mtype & 0x3E00) >> 2)
        msg.msg_class = ((mtype >> 4) & 1) | ((mtype >> 7) & 2)
        msg.transaction_id = tid
        msg.attributes = attrs
        msg._raw = data
        msg._mi = mi
        msg._mi256 = mi256
        msg._fp = fp
        return msg

    def serialize(
        self,
        integrity_key: bytes | None = None,
        *,
        fingerprint: bool = False,
        sha256: bool = False,
        pad_byte: int = 0,
    ) -> bytes:
        """The message on the wire.

        MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT in ``attributes``
        are not written as they are: with ``integrity_key`` a fresh MESSAGE-INTEGRITY
        (HMAC-SHA1, §14.5) — or MESSAGE-INTEGRITY-SHA256 (§14.6) with ``sha256`` — is
        appended, then with ``fingerprint`` a FINGERPRINT (§14.7); each is computed over
        the message with the length field counting up to and including itself.
        ``pad_byte`` fills attribute padding (any value is legal; RFC 5769 uses 0x20).
        Raises ``TypeError``/``ValueError`` for attribute values of the wrong kind.
        """
        tid = self.transaction_id
        pads = _padding(pad_byte)
        parts: list[bytes] = []
        codecs = _CODECS
        for atype, value in self.attributes:
            if atype in (_MI, _MI256, _FP):
                continue
            codec = codecs.get(atype)
            raw = codec[1](value, tid) if codec is not None else _encode_bytes(value, tid)
            alen = len(raw)
            if alen > 0xFFFF:
                raise ValueError(f"attribute {atype:#06x} is {alen} bytes, more than 65535")
            parts.append(_ATTR.pack(atype, alen))
            parts.append(raw)
            parts.append(pads[alen & 3])
        body = b"".join(parts)
        mtype = encode_message_type(self.method, self.msg_class)
        if integrity_key is not None:
            if sha256:
                head = _HEADER.pack(mtype, len(body) + 36, MAGIC_COOKIE) + tid
                mac = hmac.digest(integrity_key, head + body, "sha256")
                body += _ATTR.pack(_MI256, 32) + mac
            else:
                head = _HEADER.pack(mtype, len(body) + 24, MAGIC_COOKIE) + tid
                mac = hmac.digest(integrity_key, head + body, "sha1")
                body += _ATTR.pack(_MI, 20) + mac
        if fingerprint:
            head = _HEADER.pack(mtype, len(body) + 8, MAGIC_COOKIE) + tid
            crc = zlib.crc32(head + body) ^ FINGERPRINT_XOR
            body += _ATTR.pack(_FP, 4) + _U32.pack(crc)
        if len(body) > 0xFFFF:
            raise ValueError(f"STUN message body of {len(body)} bytes exceeds 65535")
        return _HEADER.pack(mtype, len(body), MAGIC_COOKIE) + tid + body

    def check_integrity(self, key: bytes, *, sha256: bool | None = None) -> bool:
        """Verify the received MESSAGE-INTEGRITY(-SHA256) with ``key`` (RFC 8489 §9.1.3).

        ``sha256=None`` checks MESSAGE-INTEGRITY-SHA256 when the message has it, else
        MESSAGE-INTEGRITY; ``True``/``False`` insist on one. ``False`` when the
        attribute is missing. Only for parsed messages.
        """
        raw = self._raw
        if raw is None:
            raise ValueError("check_integrity() verifies a parsed message; this one was built")
        use256 = self._mi256 >= 0 if sha256 is None else sha256
        if use256:
            at = self._mi256
            if at < 0:
                return False
            size = _U16.unpack_from(raw, at + 2)[0]
            digest = "sha256"
        else:
            at = self._mi
            if at < 0:
                return False
            size = 20
            digest = "sha1"
        # Length field as if the message ended right after this attribute (§14.5, §14.6).
        signed = raw[:2] + _U16.pack(at + 4 + size - HEADER_LENGTH) + raw[4:at]
        mac = hmac.digest(key, signed, digest)[:size]
        return hmac.compare_digest(mac, raw[at + 4 : at + 4 + size])

    def check_fingerprint(self) -> bool:
        """Verify the received FINGERPRINT (RFC 8489 §14.7); ``False`` when absent."""
        raw = self._raw
        at = self._fp
        if raw is None or at < 0:
            return False
        if at + 8 == len(raw):  # the usual case: FINGERPRINT is last, length already right
            crc = zlib.crc32(memoryview(raw)[:at])
        else:
            crc = zlib.crc32(raw[:2] + _U16.pack(at + 8 - HEADER_LENGTH) + raw[4:at])
        return bool((crc ^ FINGERPRINT_XOR) == _U32.unpack_from(raw, at + 4)[0])

    @property
    def has_integrity(self) -> bool:
        """Whether the parsed message carries MESSAGE-INTEGRITY or -SHA256."""
        return self._mi >= 0 or self._mi256 >= 0

    @property
    def has_fingerprint(self) -> bool:
        """Whether the parsed message carries FINGERPRINT."""
        return self._fp >= 0

    # -- attributes ------------------------------------------------------------------------

    def add(self, attr_type: int, value: AttrValue = None) -> Self:
        """Append an attribute (values as :data:`AttrValue` describes); returns ``self``."""
        self.attributes.append((attr_type, value))
        return self

    def has(self, attr_type: int) -> bool:
        """Whether an attribute of this type is present."""
        return any(t == attr_type for t, _ in self.attributes)

    def get(self, attr_type: int, default: AttrValue = None) -> AttrValue:
        """The first value of this type (RFC 8489 §14: only the first one counts)."""
        for t, v in self.attributes:
            if t == attr_type:
                return v
        return default

    def get_all(self, attr_type: int) -> list[AttrValue]:
        """Every value of this type, in order (e.g. several XOR-PEER-ADDRESS)."""
        return [v for t, v in self.attributes if t == attr_type]

    def remove(self, attr_type: int) -> None:
        """Drop every attribute of this type."""
        self.attributes = [(t, v) for t, v in self.attributes if t != attr_type]

    def get_address(self, attr_type: int) -> Address | None:
        """An address attribute's ``(ip, port)``, or ``None`` when absent."""
        v = self.get(attr_type)
        if v is None:
            return None
        if not (isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str)):
            raise TypeError(f"attribute {attr_type:#06x} is not an address: {v!r}")
        return v

    def get_str(self, attr_type: int) -> str | None:
        """A text attribute, or ``None`` when absent."""
        v = self.get(attr_type)
        if v is None or isinstance(v, str):
            return v
        raise TypeError(f"attribute {attr_type:#06x} is not text: {v!r}")

    def get_int(self, attr_type: int) -> int | None:
        """An integer attribute, or ``None`` when absent."""
        v = self.get(attr_type)
        if v is None or (isinstance(v, int) and not isinstance(v, bool)):
            return v
        raise TypeError(f"attribute {attr_type:#06x} is not an integer: {v!r}")

    def get_bytes(self, attr_type: int) -> bytes | None:
        """A raw-bytes attribute (NONCE, DATA, unknown types...), or ``None``."""
        v = self.get(attr_type)
        if v is None or isinstance(v, bytes):
            return v
        raise TypeError(f"attribute {attr_type:#06x} is not bytes: {v!r}")

    def unknown_required(self) -> list[int]:
        """Comprehension-required types (0x0000–0x7FFF) this module does not know:
        a request carrying any gets a 420 with UNKNOWN-ATTRIBUTES (RFC 8489 §6.3.1)."""
        return [t for t, _ in self.attributes if t < 0x8000 and t not in _CODECS]

    # -- common attributes -----------------------------------------------------------------

    @property
    def username(self) -> str | None:
        return self.get_str(_A_USERNAME)

    @property
    def realm(self) -> str | None:
        return self.get_str(_A_REALM)

    @property
    def nonce(self) -> bytes | None:
        return self.get_bytes(_A_NONCE)

    @property
    def software(self) -> str | None:
        return self.get_str(_A_SOFTWARE)

    @property
    def priority(self) -> int | None:
        return self.get_int(_A_PRIORITY)

    @property
    def use_candidate(self) -> bool:
        return self.has(_A_USE_CANDIDATE)

    @property
    def ice_controlling(self) -> int | None:
        """The ICE-CONTROLLING tie-breaker (RFC 8445 §16.1)."""
        return self.get_int(_A_ICE_CONTROLLING)

    @property
    def ice_controlled(self) -> int | None:
        """The ICE-CONTROLLED tie-breaker (RFC 8445 §16.1)."""
        return self.get_int(_A_ICE_CONTROLLED)

    @property
    def xor_mapped_address(self) -> Address | None:
        return self.get_address(_A_XOR_MAPPED_ADDRESS)

    @property
    def mapped_address(self) -> Address | None:
        return self.get_address(_A_MAPPED_ADDRESS)

    @property
    def xor_relayed_addresses(self) -> list[Address]:
        """XOR-RELAYED-ADDRESS values (two with ADDITIONAL-ADDRESS-FAMILY, RFC 8656)."""
        return [cast(Address, v) for v in self.get_all(_A_XOR_RELAYED_ADDRESS)]

    @property
    def xor_peer_addresses(self) -> list[Address]:
        return [cast(Address, v) for v in self.get_all(_A_XOR_PEER_ADDRESS)]

    @property
    def alternate_server(self) -> Address | None:
        return self.get_address(_A_ALTERNATE_SERVER)

    @property
    def error_code(self) -> ErrorCode | None:
        v = self.get(_A_ERROR_CODE)
        if v is None or isinstance(v, ErrorCode):
            return v
        raise TypeError(f"ERROR-CODE is not an ErrorCode: {v!r}")

    @property
    def unknown_attributes(self) -> tuple[int, ...]:
        v = self.get(_A_UNKNOWN_ATTRIBUTES)
        return cast("tuple[int, ...]", v) if v is not None else ()

    @property
    def lifetime(self) -> int | None:
        return self.get_int(_A_LIFETIME)

    @property
    def channel_number(self) -> int | None:
        return self.get_int(_A_CHANNEL_NUMBER)

    @property
    def data(self) -> bytes | None:
        return self.get_bytes(_A_DATA)

    @property
    def connection_id(self) -> int | None:
        return self.get_int(_A_CONNECTION_ID)

    # -- convenience -----------------------------------------------------------------------

    @property
    def is_request(self) -> bool:
        return self.msg_class == StunClass.REQUEST

    @property
    def is_indication(self) -> bool:
        return self.msg_class == StunClass.INDICATION

    @property
    def is_response(self) -> bool:
        """Success or error response."""
        return self.msg_class >= StunClass.SUCCESS

    def success_response(self, attributes: Iterable[tuple[int, AttrValue]] = ()) -> StunMessage:
        """A success response to this request: same method and transaction id."""
        return StunMessage(self.method, StunClass.SUCCESS, self.transaction_id, list(attributes))

    def error_response(
        self,
        code: int,
        reason: str | None = None,
        attributes: Iterable[tuple[int, AttrValue]] = (),
    ) -> StunMessage:
        """An error response carrying ERROR-CODE ``code`` (reason from
        :data:`ERROR_REASONS` unless given) followed by ``attributes``."""
        if reason is None:
            reason = ERROR_REASONS.get(code, "")
        attrs: list[tuple[int, AttrValue]] = [(AttrType.ERROR_CODE, ErrorCode(code, reason))]
        attrs.extend(attributes)
        return StunMessage(self.method, StunClass.ERROR, self.transaction_id, attrs)


# -- TURN ChannelData (RFC 8656 §12) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelData:
    """A TURN ChannelData message: channel number 0x4000–0x4FFF, then application data.

    Over UDP the padding to 4 bytes is optional, over TCP/TLS mandatory (§12.5):
    :meth:`serialize` pads when asked, :meth:`parse` ignores bytes past the length.
    """

    channel: int
    data: bytes

    def __post_init__(self) -> None:
        if not 0x4000 <= self.channel <= 0x4FFF:
            raise ValueError(f"TURN channel numbers are 0x4000..0x4FFF, got {self.channel:#x}")
        if len(self.data) > 0xFFFF:
            raise ValueError(f"ChannelData payload of {len(self.data)} bytes exceeds 65535")

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> Self:
        """Parse a ChannelData message; raises :class:`StunParseError`."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise StunParseError(f"ChannelData must be bytes, got {type(data).__name__}")
        if len(data) < 4:
            raise StunParseError("ChannelData shorter than its 4-byte header")
        channel, length = _CHANNEL.unpack_from(data)
        if not 0x4000 <= channel <= 0x4FFF:
            raise StunParseError(f"channel number {channel:#06x} outside 0x4000..0x4FFF")
        if 4 + length > len(data):
            raise StunParseError(f"ChannelData length {length} overruns {len(data)} bytes")
        return cls(channel, bytes(data[4 : 4 + length]))

    def serialize(self, *, pad: bool = False) -> bytes:
        """The message; ``pad=True`` (TCP/TLS) zero-pads it to a multiple of 4."""
        out = _CHANNEL.pack(self.channel, len(self.data)) + self.data
        return out + _PAD[len(self.data) & 3] if pad else out


# -- keys (RFC 8489 §9.1.1, §9.2.2, §14.4) ---------------------------------------------------------


def opaque_string(text: str) -> str:
    """The OpaqueString profile's mapping (RFC 8265 §4.2.2): non-ASCII spaces become
    U+0020, then Unicode NFC. (The profile's rejection of disallowed code points is
    not applied: credentials are compared, not validated, here.)"""
    if text.isascii():
        return text
    mapped = "".join(" " if unicodedata.category(c) == "Zs" else c for c in text)
    return unicodedata.normalize("NFC", mapped)


def short_term_key(password: str | bytes) -> bytes:
    """Short-term credential key (RFC 8489 §9.1.1): OpaqueString(password) in UTF-8.
    ICE uses the peer's ``ice-pwd`` for requests it sends and its own for responses."""
    if isinstance(password, bytes):
        return password
    return opaque_string(password).encode()


def long_term_key(
    username: str, realm: str, password: str, algorithm: int = PasswordAlgorithm.MD5
) -> bytes:
    """Long-term credential key (RFC 8489 §9.2.2, §18.5.1):
    MD5 or SHA-256 of ``username ":" OpaqueString(realm) ":" OpaqueString(password)``.

    ``username`` is used as sent in USERNAME (already OpaqueString-processed, §14.3)."""
    text = f"{username}:{opaque_string(realm)}:{opaque_string(password)}"
    if algorithm == PasswordAlgorithm.MD5:
        return hashlib.md5(text.encode(), usedforsecurity=False).digest()
    if algorithm == PasswordAlgorithm.SHA256:
        return hashlib.sha256(text.encode()).digest()
    raise ValueError(f"unknown PASSWORD-ALGORITHM {algorithm}; use 1 (MD5) or 2 (SHA-256)")


def userhash(username: str, realm: str) -> bytes:
    """USERHASH (RFC 8489 §14.4): SHA-256(OpaqueString(username) ":" OpaqueString(realm))."""
    return hashlib.sha256(f"{opaque_string(username)}:{opaque_string(realm)}".encode()).digest()
