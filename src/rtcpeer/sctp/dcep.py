"""The Data Channel Establishment Protocol (RFC 8832) wire format, and the payload
protocol identifiers of WebRTC data channels (RFC 8831 §8).

DCEP messages travel on the data channel's own stream with PPID 50: the opener sends
DATA_CHANNEL_OPEN, the other side answers DATA_CHANNEL_ACK.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, Self

__all__ = [
    "CHANNEL_PARTIAL_RELIABLE_REXMIT",
    "CHANNEL_PARTIAL_RELIABLE_TIMED",
    "CHANNEL_RELIABLE",
    "PPID_BINARY",
    "PPID_BINARY_EMPTY",
    "PPID_DCEP",
    "PPID_STRING",
    "PPID_STRING_EMPTY",
    "DataChannelAck",
    "DataChannelOpen",
    "DcepParseError",
    "parse_dcep",
]

PPID_DCEP: Final = 50
PPID_STRING: Final = 51
PPID_BINARY_PARTIAL: Final = 52  # deprecated (RFC 8831 §8)
PPID_BINARY: Final = 53
PPID_STRING_PARTIAL: Final = 54  # deprecated
PPID_STRING_EMPTY: Final = 56
PPID_BINARY_EMPTY: Final = 57

_OPEN: Final = 0x03
_ACK: Final = 0x02

# Channel types (RFC 8832 §5.1); 0x80 is the unordered bit.
CHANNEL_RELIABLE: Final = 0x00
CHANNEL_PARTIAL_RELIABLE_REXMIT: Final = 0x01
CHANNEL_PARTIAL_RELIABLE_TIMED: Final = 0x02
_UNORDERED: Final = 0x80

_OPEN_HEADER = struct.Struct("!BBHIHH")


class DcepParseError(ValueError):
    """A DCEP message is malformed."""


@dataclass(frozen=True, slots=True)
class DataChannelOpen:
    """DATA_CHANNEL_OPEN (RFC 8832 §5.1).

    ``max_retransmits`` and ``max_packet_lifetime`` (ms) come from the channel type and
    reliability parameter; at most one is set.
    """

    label: str
    protocol: str = ""
    ordered: bool = True
    max_retransmits: int | None = None
    max_packet_lifetime: int | None = None
    priority: int = 256

    def serialize(self) -> bytes:
        if self.max_retransmits is not None:
            channel_type, reliability = CHANNEL_PARTIAL_RELIABLE_REXMIT, self.max_retransmits
        elif self.max_packet_lifetime is not None:
            channel_type, reliability = CHANNEL_PARTIAL_RELIABLE_TIMED, self.max_packet_lifetime
        else:
            channel_type, reliability = CHANNEL_RELIABLE, 0
        if not self.ordered:
            channel_type |= _UNORDERED
        label = self.label.encode()
        protocol = self.protocol.encode()
        return (
            _OPEN_HEADER.pack(
                _OPEN,
                channel_type,
                self.priority,
                reliability & 0xFFFFFFFF,
                len(label),
                len(protocol),
            )
            + label
            + protocol
        )

    @classmethod
    def parse(cls, data: bytes) -> Self:
        if len(data) < _OPEN_HEADER.size or data[0] != _OPEN:
            raise DcepParseError("not a DATA_CHANNEL_OPEN message")
        _, channel_type, priority, reliability, label_len, protocol_len = _OPEN_HEADER.unpack_from(
            data
        )
        end = _OPEN_HEADER.size + label_len + protocol_len
        if len(data) != end:
            raise DcepParseError(
                f"DATA_CHANNEL_OPEN lengths say {end} bytes, the message has {len(data)}"
            )
        try:
            label = data[_OPEN_HEADER.size : _OPEN_HEADER.size + label_len].decode()
            protocol = data[_OPEN_HEADER.size + label_len : end].decode()
        except UnicodeDecodeError:
            raise DcepParseError("label or protocol is not UTF-8") from None
        kind = channel_type & ~_UNORDERED
        if kind == CHANNEL_RELIABLE:
            rexmit = lifetime = None
        elif kind == CHANNEL_PARTIAL_RELIABLE_REXMIT:
            rexmit, lifetime = reliability, None
        elif kind == CHANNEL_PARTIAL_RELIABLE_TIMED:
            rexmit, lifetime = None, reliability
        else:
            raise DcepParseError(f"unknown channel type {channel_type:#04x}")
        return cls(
            label,
            protocol,
            not channel_type & _UNORDERED,
            rexmit,
            lifetime,
            priority,
        )


@dataclass(frozen=True, slots=True)
class DataChannelAck:
    """DATA_CHANNEL_ACK (RFC 8832 §5.2)."""

    def serialize(self) -> bytes:
        return bytes((_ACK,))


def parse_dcep(data: bytes) -> DataChannelOpen | DataChannelAck:
    """Parse a PPID-50 message; :class:`DcepParseError` for anything else."""
    if not data:
        raise DcepParseError("empty DCEP message")
    if data[0] == _ACK:
        if len(data) != 1:
            raise DcepParseError("DATA_CHANNEL_ACK is one byte")
        return DataChannelAck()
    return DataChannelOpen.parse(data)
