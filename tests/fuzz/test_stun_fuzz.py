"""Fuzz the STUN layer: parse never raises anything but StunParseError, parsed messages
are safe to read, and generated messages round-trip with integrity and fingerprint."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcpeer.ice.stun import (
    MAGIC_COOKIE,
    AttrType,
    AttrValue,
    ChannelData,
    ErrorCode,
    PasswordAlgorithm,
    StunClass,
    StunMessage,
    StunParseError,
    is_channel_data,
    is_stun,
    stream_frame_length,
)

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# RFC 5769 §2.1 and §2.3: seeds for mutation.
SEEDS = [
    bytes.fromhex(
        "00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
        "80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74"
        "00 24 00 04 6e 00 01 ff 80 29 00 08 93 2f f9 b1 51 26 3b 36"
        "00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20"
        "00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2"
        "80 28 00 04 e5 7a 3b cf"
    ),
    bytes.fromhex(
        "01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
        "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
        "00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9"
        "00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41"
        "80 28 00 04 c8 fb 0b 4c"
    ),
]


def _read_everything(msg: StunMessage) -> None:
    """Every accessor of a parsed message must work without raising."""
    msg.check_integrity(b"key")
    msg.check_integrity(b"key", sha256=True)
    msg.check_integrity(b"key", sha256=False)
    msg.check_fingerprint()
    _ = (
        msg.username,
        msg.realm,
        msg.nonce,
        msg.software,
        msg.priority,
        msg.use_candidate,
        msg.ice_controlling,
        msg.ice_controlled,
        msg.xor_mapped_address,
        msg.mapped_address,
        msg.xor_relayed_addresses,
        msg.xor_peer_addresses,
        msg.alternate_server,
        msg.error_code,
        msg.unknown_attributes,
        msg.lifetime,
        msg.channel_number,
        msg.data,
        msg.connection_id,
        msg.unknown_required(),
        repr(msg),
    )
    # A parsed message serializes again, and that parses to the same attributes
    # (minus integrity/fingerprint, which serialize() recomputes only on request).
    again = StunMessage.parse(msg.serialize())
    dropped = {AttrType.MESSAGE_INTEGRITY, AttrType.MESSAGE_INTEGRITY_SHA256, AttrType.FINGERPRINT}
    assert again.attributes == [(t, v) for t, v in msg.attributes if t not in dropped]


def _parse_or_error(data: bytes) -> None:
    try:
        msg = StunMessage.parse(data)
    except StunParseError:
        return
    _read_everything(msg)


@FUZZ
@given(st.binary(max_size=200))
def test_parse_arbitrary_bytes(data: bytes) -> None:
    is_stun(data)
    is_channel_data(data)
    _parse_or_error(data)


@FUZZ
@given(
    st.integers(0, 0x3FFF),
    st.lists(
        st.tuples(
            st.sampled_from([int(t) for t in AttrType] + [0x7FFE, 0xC057]),
            # Lengths the decoders expect, often enough that whole messages decode.
            st.one_of(
                st.binary(max_size=40),
                *(st.binary(min_size=n, max_size=n) for n in (0, 1, 4, 8, 20, 32)),
            ),
        ),
        max_size=5,
    ),
    st.integers(0, 3),
)
def test_parse_tlv_soup(mtype: int, tlvs: list[tuple[int, bytes]], pad: int) -> None:
    # A valid header over random attributes of known types: stresses every decoder.
    body = b"".join(struct.pack("!HH", t, len(v)) + v + b"\x00" * (-len(v) % 4) for t, v in tlvs)
    body += b"\x00" * (pad * 4)
    data = struct.pack("!HHI", mtype, len(body), MAGIC_COOKIE) + b"\x01" * 12 + body
    if len(body) <= 0xFFFF:
        assert is_stun(data) == (data[0] <= 3)
    _parse_or_error(data)


@FUZZ
@given(
    st.sampled_from([int(t) for t in AttrType]),
    st.one_of(
        st.binary(max_size=40), *(st.binary(min_size=n, max_size=n) for n in (1, 4, 8, 20, 32))
    ),
)
def test_parse_single_known_attribute(attr_type: int, value: bytes) -> None:
    # One attribute per message: each decoder meets many values, and whatever decodes
    # must serialize again (see _read_everything).
    body = struct.pack("!HH", attr_type, len(value)) + value + b"\x00" * (-len(value) % 4)
    _parse_or_error(struct.pack("!HHI", 0x0111, len(body), MAGIC_COOKIE) + b"\x02" * 12 + body)


@FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_parse_mutated_vectors(seed: bytes, data: st.DataObject) -> None:
    buf = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(buf) - 1))
        buf[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    _parse_or_error(bytes(buf[:cut]))
    _parse_or_error(bytes(buf))


def test_seeds_are_valid() -> None:
    for seed in SEEDS:
        msg = StunMessage.parse(seed)
        assert msg.check_fingerprint() and msg.check_integrity(b"VOkJxbRl1RmTxUk/WvJxBt")


@FUZZ
@given(st.binary(max_size=80))
def test_channel_data_and_framing(data: bytes) -> None:
    try:
        cd = ChannelData.parse(data)
    except StunParseError:
        pass
    else:
        assert ChannelData.parse(cd.serialize()) == cd
        assert ChannelData.parse(cd.serialize(pad=True)) == cd
        assert stream_frame_length(cd.serialize(pad=True)) == len(cd.serialize(pad=True))
    try:
        n = stream_frame_length(data)
    except StunParseError:
        return
    assert n is None or n >= 4


# -- generated valid messages round-trip --------------------------------------------------------

ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(lambda a: a.compressed)
address = st.tuples(st.one_of(ipv4, ipv6), st.integers(0, 0xFFFF))
text = st.text(max_size=30)
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)

ATTRIBUTE_VALUES: dict[int, st.SearchStrategy[AttrValue]] = {
    AttrType.MAPPED_ADDRESS: address,
    AttrType.XOR_MAPPED_ADDRESS: address,
    AttrType.XOR_PEER_ADDRESS: address,
    AttrType.XOR_RELAYED_ADDRESS: address,
    AttrType.ALTERNATE_SERVER: address,
    AttrType.USERNAME: text,
    AttrType.REALM: text,
    AttrType.SOFTWARE: text,
    AttrType.NONCE: st.binary(max_size=30),
    AttrType.DATA: st.binary(max_size=60),
    AttrType.PRIORITY: u32,
    AttrType.LIFETIME: u32,
    AttrType.CONNECTION_ID: u32,
    AttrType.ICE_CONTROLLING: u64,
    AttrType.ICE_CONTROLLED: u64,
    AttrType.USE_CANDIDATE: st.none(),
    AttrType.DONT_FRAGMENT: st.none(),
    AttrType.CHANNEL_NUMBER: st.integers(0x4000, 0x4FFF),
    AttrType.REQUESTED_TRANSPORT: st.sampled_from([6, 17]),
    AttrType.REQUESTED_ADDRESS_FAMILY: st.sampled_from([1, 2]),
    AttrType.EVEN_PORT: st.booleans(),
    AttrType.RESERVATION_TOKEN: st.binary(min_size=8, max_size=8),
    AttrType.USERHASH: st.binary(min_size=32, max_size=32),
    AttrType.ERROR_CODE: st.builds(ErrorCode, st.integers(300, 699), text),
    AttrType.UNKNOWN_ATTRIBUTES: st.lists(st.integers(0, 0xFFFF), max_size=5).map(tuple),
    AttrType.PASSWORD_ALGORITHMS: st.lists(
        st.builds(PasswordAlgorithm, st.integers(0, 0xFFFF), st.binary(max_size=6)), max_size=3
    ).map(tuple),
    0xC057: st.binary(max_size=12),
}

attribute = st.sampled_from(sorted(ATTRIBUTE_VALUES)).flatmap(
    lambda t: st.tuples(st.just(t), ATTRIBUTE_VALUES[t])
)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 0xFFF),
    st.sampled_from(list(StunClass)),
    st.binary(min_size=12, max_size=12),
    st.lists(attribute, max_size=10),
    st.one_of(st.none(), st.binary(min_size=1, max_size=40)),
    st.booleans(),
    st.booleans(),
    st.integers(0, 255),
)
def test_round_trip(
    method: int,
    msg_class: StunClass,
    tid: bytes,
    attrs: list[tuple[int, AttrValue]],
    key: bytes | None,
    fingerprint: bool,
    sha256: bool,
    pad_byte: int,
) -> None:
    msg = StunMessage(method, msg_class, tid, list(attrs))
    wire = msg.serialize(key, fingerprint=fingerprint, sha256=sha256, pad_byte=pad_byte)
    assert len(wire) % 4 == 0
    if wire[0] <= 3:
        assert is_stun(wire)
    parsed = StunMessage.parse(wire)
    assert (parsed.method, parsed.msg_class, parsed.transaction_id) == (method, msg_class, tid)
    plain = [(t, v) for t, v in parsed.attributes if t not in (0x0008, 0x001C, 0x8028)]
    assert plain == attrs
    assert parsed.check_fingerprint() == fingerprint
    if key is not None:
        assert parsed.check_integrity(key)
        assert not parsed.check_integrity(key + b"x")
    else:
        assert not parsed.has_integrity
    assert parsed.serialize(key, fingerprint=fingerprint, sha256=sha256, pad_byte=pad_byte) == wire
