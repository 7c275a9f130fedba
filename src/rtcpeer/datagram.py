"""Addresses and datagrams as the sans-IO layers and the test network see them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Address", "Datagram"]

#: A transport address: (IP literal, port). IPv6 literals carry no brackets.
Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Datagram:
    """One UDP payload with its source and destination transport addresses."""

    src: Address
    dst: Address
    data: bytes

    def __len__(self) -> int:
        return len(self.data)
