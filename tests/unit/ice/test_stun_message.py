"""STUN messages (RFC 8489): RFC 5769 vectors byte for byte, every attribute's wire form,
integrity and fingerprint rules, demultiplexing, ChannelData and key derivation."""

from __future__ import annotations

import hashlib
import hmac
import random
import struct
import zlib

import pytest

from rtcpeer.ice.stun import (
    FINGERPRINT_XOR,
    MAGIC_COOKIE,
    AttrType,
    AttrValue,
    ChannelData,
    ErrorCode,
    PasswordAlgorithm,
    StunClass,
    StunMessage,
    StunMethod,
    StunParseError,
    decode_message_type,
    encode_message_type,
    is_channel_data,
    is_stun,
    long_term_key,
    new_transaction_id,
    opaque_string,
    short_term_key,
    stream_frame_length,
    userhash,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# -- RFC 5769 test vectors (§2.1–§2.4), as printed in the RFC --------------------------------
SHORT_TERM_PASSWORD = "VOkJxbRl1RmTxUk/WvJxBt"
TID = h("b7e7a701bc34d686fa87dfae")

SAMPLE_REQUEST = h(
    """
    00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
    00 24 00 04 6e 00 01 ff
    80 29 00 08 93 2f f9 b1 51 26 3b 36
    00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
    00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
    80 28 00 04 e5 7a 3b cf
    """
)
SAMPLE_IPV4_RESPONSE = h(
    """
    01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 08 00 01 a1 47 e1 12 a6 43
    00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
    80 28 00 04 c0 7d 4c 96
    """
)
SAMPLE_IPV6_RESPONSE = h(
    """
    01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
    00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
    80 28 00 04 c8 fb 0b 4c
    """
)
LONG_TERM_REQUEST = h(
    """
    00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
    00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
    00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
    00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
    00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66
    """
)
RFC5769_VECTORS = [SAMPLE_REQUEST, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE, LONG_TERM_REQUEST]


class TestRfc5769:
    def test_sample_request_parses_and_verifies(self) -> None:
        msg = StunMessage.parse(SAMPLE_REQUEST)
        assert (msg.method, msg.msg_class) == (StunMethod.BINDING, StunClass.REQUEST)
        assert msg.transaction_id == TID
        assert msg.software == "STUN test client"
        assert msg.priority == 0x6E0001FF
        assert msg.ice_controlled == 0x932FF9B151263B36
        assert msg.ice_controlling is None
        assert msg.username == "evtj:h6vY"
        assert [t for t, _ in msg.attributes] == [
            AttrType.SOFTWARE,
            AttrType.PRIORITY,
            AttrType.ICE_CONTROLLED,
            AttrType.USERNAME,
            AttrType.MESSAGE_INTEGRITY,
            AttrType.FINGERPRINT,
        ]
        key = short_term_key(SHORT_TERM_PASSWORD)
        assert msg.check_integrity(key)
        assert not msg.check_integrity(short_term_key("VOkJxbRl1RmTxUk/WvJxBT"))
        assert msg.check_fingerprint()
        assert msg.has_integrity and msg.has_fingerprint

    def test_sample_request_serializes_byte_exact(self) -> None:
        msg = StunMessage(
            StunMethod.BINDING,
            StunClass.REQUEST,
            TID,
            [
                (AttrType.SOFTWARE, "STUN test client"),
                (AttrType.PRIORITY, 0x6E0001FF),
                (AttrType.ICE_CONTROLLED, 0x932FF9B151263B36),
                (AttrType.USERNAME, "evtj:h6vY"),
            ],
        )
        key = short_term_key(SHORT_TERM_PASSWORD)
        # The RFC pads with spaces (0x20); padding is covered by MESSAGE-INTEGRITY.
        assert msg.serialize(key, fingerprint=True, pad_byte=0x20) == SAMPLE_REQUEST

    @pytest.mark.parametrize(
        ("vector", "address"),
        [
            (SAMPLE_IPV4_RESPONSE, ("192.0.2.1", 32853)),
            (SAMPLE_IPV6_RESPONSE, ("2001:db8:1234:5678:11:2233:4455:6677", 32853)),
        ],
    )
    def test_sample_responses(self, vector: bytes, address: tuple[str, int]) -> None:
        msg = StunMessage.parse(vector)
        assert (msg.method, msg.msg_class) == (StunMethod.BINDING, StunClass.SUCCESS)
        assert msg.transaction_id == TID
        assert msg.software == "test vector"
        assert msg.xor_mapped_address == address
        key = short_term_key(SHORT_TERM_PASSWORD)
        assert msg.check_integrity(key)
        assert msg.check_fingerprint()
        built = StunMessage(
            StunMethod.BINDING,
            StunClass.SUCCESS,
            TID,
            [(AttrType.SOFTWARE, "test vector"), (AttrType.XOR_MAPPED_ADDRESS, address)],
        )
        assert built.serialize(key, fingerprint=True, pad_byte=0x20) == vector

    def test_long_term_request(self) -> None:
        msg = StunMessage.parse(LONG_TERM_REQUEST)
        assert msg.username == "\u30de\u30c8\u30ea\u30c3\u30af\u30b9"
        assert msg.nonce == b"f//499k954d6OL34oL9FSTvy64sA"
        assert msg.realm == "example.org"
        assert not msg.has_fingerprint and not msg.check_fingerprint()
        # The RFC's password is "TheMatrIX" once SASLprep'd (§2.4).
        key = long_term_key(msg.username, msg.realm, "TheMatrIX")
        assert (
            key
            == hashlib.md5(
                "\u30de\u30c8\u30ea\u30c3\u30af\u30b9:example.org:TheMatrIX".encode()
            ).digest()
        )
        assert msg.check_integrity(key)
        assert not msg.check_integrity(long_term_key(msg.username, msg.realm, "thematrix"))
        rebuilt = StunMessage(
            StunMethod.BINDING,
            StunClass.REQUEST,
            msg.transaction_id,
            [
                (AttrType.USERNAME, msg.username),
                (AttrType.NONCE, msg.nonce),
                (AttrType.REALM, msg.realm),
            ],
        )
        assert rebuilt.serialize(key) == LONG_TERM_REQUEST

    @pytest.mark.parametrize("vector", RFC5769_VECTORS)
    def test_reserialize_parsed_vector(self, vector: bytes) -> None:
        # parse → serialize (recomputing MI/FP) gives the same bytes back.
        msg = StunMessage.parse(vector)
        key = (
            long_term_key(msg.username or "", msg.realm or "", "TheMatrIX")
            if msg.realm
            else short_term_key(SHORT_TERM_PASSWORD)
        )
        pad = 0 if vector is LONG_TERM_REQUEST else 0x20
        out = msg.serialize(key, fingerprint=msg.has_fingerprint, pad_byte=pad)
        assert out == vector
        assert StunMessage.parse(out) == msg

    @pytest.mark.parametrize("vector", RFC5769_VECTORS)
    def test_is_stun(self, vector: bytes) -> None:
        assert is_stun(vector)
        assert is_stun(memoryview(vector))

    @pytest.mark.parametrize("vector", RFC5769_VECTORS)
    def test_any_bit_flip_breaks_integrity(self, vector: bytes) -> None:
        msg = StunMessage.parse(vector)
        key = (
            long_term_key(msg.username or "", msg.realm or "", "TheMatrIX")
            if msg.realm
            else short_term_key(SHORT_TERM_PASSWORD)
        )
        mi_at = vector.index(b"\x00\x08\x00\x14")
        for pos in (0, 1, 9, 19, 23, mi_at - 1, mi_at + 4, mi_at + 23):
            bad = bytearray(vector)
            bad[pos] ^= 0x01
            try:
                flipped = StunMessage.parse(bytes(bad))
            except StunParseError:
                continue  # the flip broke the framing itself
            assert not flipped.check_integrity(key), pos


# -- message type ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "msg_class", "wire"),
    [
        (StunMethod.BINDING, StunClass.REQUEST, 0x0001),
        (StunMethod.BINDING, StunClass.INDICATION, 0x0011),
        (StunMethod.BINDING, StunClass.SUCCESS, 0x0101),
        (StunMethod.BINDING, StunClass.ERROR, 0x0111),
        (StunMethod.ALLOCATE, StunClass.REQUEST, 0x0003),
        (StunMethod.ALLOCATE, StunClass.SUCCESS, 0x0103),
        (StunMethod.ALLOCATE, StunClass.ERROR, 0x0113),
        (StunMethod.REFRESH, StunClass.REQUEST, 0x0004),
        (StunMethod.SEND, StunClass.INDICATION, 0x0016),
        (StunMethod.DATA, StunClass.INDICATION, 0x0017),
        (StunMethod.CREATE_PERMISSION, StunClass.REQUEST, 0x0008),
        (StunMethod.CHANNEL_BIND, StunClass.SUCCESS, 0x0109),
        (StunMethod.CONNECT, StunClass.REQUEST, 0x000A),
        (StunMethod.CONNECTION_BIND, StunClass.REQUEST, 0x000B),
        (StunMethod.CONNECTION_ATTEMPT, StunClass.INDICATION, 0x001C),
        (0xFFF, StunClass.ERROR, 0x3FFF),
        (0x080, StunClass.REQUEST, 0x0200),
    ],
)
def test_message_type(method: int, msg_class: int, wire: int) -> None:
    assert encode_message_type(method, msg_class) == wire
    assert decode_message_type(wire) == (method, msg_class)


def test_message_type_all_methods_round_trip() -> None:
    for method in range(0x1000):
        for msg_class in range(4):
            wire = encode_message_type(method, msg_class)
            assert wire < 0x4000
            assert decode_message_type(wire) == (method, msg_class)


def test_message_type_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        encode_message_type(0x1000, 0)
    with pytest.raises(ValueError):
        encode_message_type(1, 4)


# -- attributes ------------------------------------------------------------------------------
# (type, value, expected TLV bytes including padding) with TID as the transaction id.
ATTRIBUTE_CASES: list[tuple[int, AttrValue, str]] = [
    (AttrType.MAPPED_ADDRESS, ("192.0.2.1", 32853), "0001 0008 0001 8055 c0000201"),
    (
        AttrType.MAPPED_ADDRESS,
        ("2001:db8::1", 3478),
        "0001 0014 0002 0d96 20010db8000000000000000000000001",
    ),
    (AttrType.XOR_MAPPED_ADDRESS, ("192.0.2.1", 32853), "0020 0008 0001 a147 e112a643"),
    (AttrType.XOR_PEER_ADDRESS, ("192.0.2.1", 32853), "0012 0008 0001 a147 e112a643"),
    (AttrType.XOR_RELAYED_ADDRESS, ("192.0.2.1", 32853), "0016 0008 0001 a147 e112a643"),
    (
        AttrType.XOR_PEER_ADDRESS,
        ("2001:db8:1234:5678:11:2233:4455:6677", 32853),
        "0012 0014 0002 a147 0113a9faa5d3f179bc25f4b5bed2b9d9",
    ),
    (AttrType.ALTERNATE_SERVER, ("198.51.100.7", 3478), "8023 0008 0001 0d96 c6336407"),
    (AttrType.RESPONSE_ORIGIN, ("198.51.100.7", 3478), "802b 0008 0001 0d96 c6336407"),
    (AttrType.OTHER_ADDRESS, ("198.51.100.7", 3479), "802c 0008 0001 0d97 c6336407"),
    (AttrType.USERNAME, "ab:cd", "0006 0005 61623a6364 000000"),
    (AttrType.REALM, "example.org", "0014 000b 6578616d706c652e6f7267 00"),
    (AttrType.NONCE, b"xyz", "0015 0003 78797a 00"),
    (AttrType.SOFTWARE, "rtcpeer", "8022 0007 72746370656572 00"),
    (AttrType.ALTERNATE_DOMAIN, "turn.example", "8003 000c 7475726e2e6578616d706c65"),
    (AttrType.USERHASH, bytes(range(32)), "001e 0020 " + bytes(range(32)).hex()),
    (
        AttrType.ERROR_CODE,
        ErrorCode(438, "Stale Nonce"),
        "0009 000f 00000426 5374616c65204e6f6e6365 00",
    ),
    (AttrType.ERROR_CODE, ErrorCode(300, ""), "0009 0004 00000300"),
    (AttrType.UNKNOWN_ATTRIBUTES, (0x1234, 0x5678, 0x9ABC), "000a 0006 123456789abc 0000"),
    (AttrType.UNKNOWN_ATTRIBUTES, (), "000a 0000"),
    (
        AttrType.PASSWORD_ALGORITHMS,
        (PasswordAlgorithm(PasswordAlgorithm.MD5), PasswordAlgorithm(PasswordAlgorithm.SHA256)),
        "8002 0008 00010000 00020000",
    ),
    (AttrType.PASSWORD_ALGORITHM, PasswordAlgorithm(2, b"\x01"), "001d 0008 00020001 01000000"),
    (AttrType.PRIORITY, 0x6E0001FF, "0024 0004 6e0001ff"),
    (AttrType.USE_CANDIDATE, None, "0025 0000"),
    (AttrType.ICE_CONTROLLING, 0x0102030405060708, "802a 0008 0102030405060708"),
    (AttrType.ICE_CONTROLLED, 0xFFFFFFFFFFFFFFFF, "8029 0008 ffffffffffffffff"),
    (AttrType.CHANNEL_NUMBER, 0x4001, "000c 0004 4001 0000"),
    (AttrType.LIFETIME, 600, "000d 0004 00000258"),
    (AttrType.DATA, b"\x01\x02\x03\x04\x05", "0013 0005 0102030405 000000"),
    (AttrType.DATA, b"", "0013 0000"),
    (AttrType.EVEN_PORT, True, "0018 0001 80 000000"),
    (AttrType.EVEN_PORT, False, "0018 0001 00 000000"),
    (AttrType.REQUESTED_TRANSPORT, 17, "0019 0004 11000000"),
    (AttrType.DONT_FRAGMENT, None, "001a 0000"),
    (AttrType.RESERVATION_TOKEN, b"12345678", "0022 0008 3132333435363738"),
    (AttrType.REQUESTED_ADDRESS_FAMILY, 0x02, "0017 0004 02000000"),
    (AttrType.ADDITIONAL_ADDRESS_FAMILY, 0x02, "8000 0004 02000000"),
    (AttrType.CONNECTION_ID, 0xDEADBEEF, "002a 0004 deadbeef"),
    # Unknown types (GOOG-NETWORK-INFO, a comprehension-required one) stay raw.
    (0xC057, b"\x00\x01\x00\x0a", "c057 0004 0001000a"),
    (0x7FFE, b"\xaa\xbb\xcc", "7ffe 0003 aabbcc 00"),
]


@pytest.mark.parametrize(
    ("attr_type", "value", "tlv"),
    ATTRIBUTE_CASES,
    ids=[f"{c[0]:#06x}-{i}" for i, c in enumerate(ATTRIBUTE_CASES)],
)
def test_attribute_wire_form(attr_type: int, value: AttrValue, tlv: str) -> None:
    msg = StunMessage(StunMethod.ALLOCATE, StunClass.REQUEST, TID, [(attr_type, value)])
    wire = msg.serialize()
    expected = h(tlv.replace(" ", ""))
    assert wire[20:] == expected
    assert struct.unpack_from("!H", wire, 2)[0] == len(expected)
    parsed = StunMessage.parse(wire)
    assert parsed.attributes == [(attr_type, value)]
    assert parsed == msg


def test_attributes_keep_order_and_duplicates() -> None:
    attrs: list[tuple[int, AttrValue]] = [
        (AttrType.XOR_PEER_ADDRESS, ("192.0.2.1", 1)),
        (AttrType.LIFETIME, 0),
        (AttrType.XOR_PEER_ADDRESS, ("192.0.2.2", 2)),
        (0xC057, b"raw"),
        (AttrType.XOR_PEER_ADDRESS, ("2001:db8::3", 3)),
    ]
    msg = StunMessage(StunMethod.CREATE_PERMISSION, StunClass.REQUEST, TID, list(attrs))
    parsed = StunMessage.parse(msg.serialize())
    assert parsed.attributes == attrs
    assert parsed.xor_peer_addresses == [("192.0.2.1", 1), ("192.0.2.2", 2), ("2001:db8::3", 3)]
    assert parsed.get(AttrType.XOR_PEER_ADDRESS) == ("192.0.2.1", 1)  # the first counts
    assert parsed.lifetime == 0


def test_typed_accessors() -> None:
    msg = StunMessage(StunMethod.ALLOCATE, StunClass.SUCCESS, TID)
    msg.add(AttrType.XOR_RELAYED_ADDRESS, ("203.0.113.9", 50000)).add(
        AttrType.XOR_RELAYED_ADDRESS, ("2001:db8::9", 50001)
    ).add(AttrType.XOR_MAPPED_ADDRESS, ("198.51.100.1", 40000)).add(AttrType.LIFETIME, 600)
    msg.add(AttrType.DATA, b"hi").add(AttrType.CHANNEL_NUMBER, 0x4002)
    msg.add(AttrType.CONNECTION_ID, 7).add(AttrType.ALTERNATE_SERVER, ("192.0.2.5", 3478))
    msg.add(AttrType.MAPPED_ADDRESS, ("192.0.2.6", 1))
    p = StunMessage.parse(msg.serialize())
    assert p.xor_relayed_addresses == [("203.0.113.9", 50000), ("2001:db8::9", 50001)]
    assert p.xor_mapped_address == ("198.51.100.1", 40000)
    assert p.mapped_address == ("192.0.2.6", 1)
    assert p.alternate_server == ("192.0.2.5", 3478)
    assert (p.lifetime, p.data, p.channel_number, p.connection_id) == (600, b"hi", 0x4002, 7)
    assert p.username is None and p.realm is None and p.nonce is None and p.error_code is None
    assert p.unknown_attributes == ()
    assert not p.use_candidate
    assert p.is_response and not p.is_request and not p.is_indication
    with pytest.raises(TypeError):
        p.get_str(AttrType.LIFETIME)
    with pytest.raises(TypeError):
        p.get_int(AttrType.DATA)
    with pytest.raises(TypeError):
        p.get_address(AttrType.LIFETIME)
    with pytest.raises(TypeError):
        p.get_bytes(AttrType.LIFETIME)
    p.remove(AttrType.XOR_RELAYED_ADDRESS)
    assert p.xor_relayed_addresses == []
    assert p.has(AttrType.LIFETIME) and not p.has(AttrType.USERNAME)


def test_ipv6_address_canonical_text() -> None:
    msg = StunMessage(
        StunMethod.BINDING,
        StunClass.SUCCESS,
        TID,
        [(AttrType.XOR_MAPPED_ADDRESS, ("2001:0DB8:0000:0000:0000:0000:0000:0001", 9))],
    )
    assert StunMessage.parse(msg.serialize()).xor_mapped_address == ("2001:db8::1", 9)


@pytest.mark.parametrize(
    ("attr_type", "value", "error"),
    [
        (AttrType.XOR_MAPPED_ADDRESS, ("not-an-ip", 1), ValueError),
        (AttrType.XOR_MAPPED_ADDRESS, ("192.0.2.1", 70000), ValueError),
        (AttrType.XOR_MAPPED_ADDRESS, "192.0.2.1", TypeError),
        (AttrType.PRIORITY, "1", TypeError),
        (AttrType.PRIORITY, 2**32, struct.error),
        (AttrType.ERROR_CODE, 438, TypeError),
        (AttrType.ERROR_CODE, ErrorCode(800, "big"), ValueError),
        (AttrType.ERROR_CODE, ErrorCode(-1, ""), ValueError),
        (AttrType.USERHASH, b"short", ValueError),
        (AttrType.DATA, "text", TypeError),
        (AttrType.EVEN_PORT, 1, TypeError),
        (AttrType.DATA, b"x" * 70000, ValueError),
    ],
)
def test_serialize_rejects_bad_values(attr_type: int, value: AttrValue, error: type) -> None:
    msg = StunMessage(StunMethod.BINDING, StunClass.REQUEST, TID, [(attr_type, value)])
    with pytest.raises(error):
        msg.serialize()


def test_transaction_id_must_be_12_bytes() -> None:
    with pytest.raises(ValueError, match="12 bytes"):
        StunMessage(StunMethod.BINDING, StunClass.REQUEST, b"short")


def test_new_transaction_id() -> None:
    assert new_transaction_id(random.Random(1)) == new_transaction_id(random.Random(1))
    assert len(new_transaction_id()) == 12
    assert new_transaction_id() != new_transaction_id()
    assert StunMessage(StunMethod.BINDING, StunClass.REQUEST).transaction_id != (
        StunMessage(StunMethod.BINDING, StunClass.REQUEST).transaction_id
    )


# -- integrity and fingerprint -------------------------------------------------------------------


def _request() -> StunMessage:
    return StunMessage(
        StunMethod.BINDING,
        StunClass.REQUEST,
        TID,
        [
            (AttrType.USERNAME, "remote:local"),
            (AttrType.PRIORITY, 1853824767),
            (AttrType.ICE_CONTROLLING, 42),
            (AttrType.USE_CANDIDATE, None),
        ],
    )


def test_integrity_sha1_computed_as_rfc_says() -> None:
    key = b"secret"
    wire = _request().serialize(key)
    at = len(wire) - 24
    assert wire[at : at + 4] == h("00080014")
    # Independently: HMAC-SHA1 over everything before MI, length counting MI itself.
    assert struct.unpack_from("!H", wire, 2)[0] == len(wire) - 20
    assert hmac.new(key, wire[:at], "sha1").digest() == wire[at + 4 :]
    assert StunMessage.parse(wire).check_integrity(key)


def test_integrity_then_fingerprint_length_adjustments() -> None:
    key = b"secret"
    wire = _request().serialize(key, fingerprint=True)
    mi_at = len(wire) - 32
    signed = bytearray(wire[:mi_at])
    struct.pack_into("!H", signed, 2, mi_at + 24 - 20)  # §14.5: length up to end of MI
    assert hmac.new(key, bytes(signed), "sha1").digest() == wire[mi_at + 4 : mi_at + 24]
    crc = zlib.crc32(wire[:-8]) ^ FINGERPRINT_XOR
    assert wire[-8:] == h("80280004") + struct.pack("!I", crc)
    parsed = StunMessage.parse(wire)
    assert parsed.check_integrity(key) and parsed.check_fingerprint()
    assert parsed.use_candidate and parsed.ice_controlling == 42
    assert parsed.username == "remote:local" and parsed.priority == 1853824767


def test_integrity_sha256() -> None:
    key = b"k" * 16
    wire = _request().serialize(key, fingerprint=True, sha256=True)
    mi_at = len(wire) - 8 - 36
    assert wire[mi_at : mi_at + 4] == h("001c0020")
    signed = bytearray(wire[:mi_at])
    struct.pack_into("!H", signed, 2, mi_at + 36 - 20)
    assert hmac.new(key, bytes(signed), "sha256").digest() == wire[mi_at + 4 : mi_at + 36]
    parsed = StunMessage.parse(wire)
    assert parsed.check_integrity(key)
    assert parsed.check_integrity(key, sha256=True)
    assert not parsed.check_integrity(key, sha256=False)  # no SHA-1 MI in it
    assert not parsed.check_integrity(b"other")
    assert parsed.check_fingerprint()


def test_truncated_sha256_integrity_accepted() -> None:
    # §14.6 allows MESSAGE-INTEGRITY-SHA256 truncated to 16 bytes: build one by hand.
    key = b"key"
    body = _request().serialize()
    header = bytearray(body[:20])
    struct.pack_into("!H", header, 2, len(body) - 20 + 20)
    mac = hmac.new(key, bytes(header) + body[20:], "sha256").digest()[:16]
    wire = bytes(header) + body[20:] + h("001c0010") + mac
    parsed = StunMessage.parse(wire)
    assert parsed.check_integrity(key)
    assert not parsed.check_integrity(b"kez")


def test_both_integrity_attributes() -> None:
    # Both MI and MI-SHA256 (MI first, §14.6): each verifiable with its own length.
    key = b"key"
    sha1_only = _request().serialize(key)
    header = bytearray(sha1_only[:20])
    struct.pack_into("!H", header, 2, len(sha1_only) - 20 + 36)
    mac = hmac.new(key, bytes(header) + sha1_only[20:], "sha256").digest()
    wire = bytes(header) + sha1_only[20:] + h("001c0020") + mac
    parsed = StunMessage.parse(wire)
    assert parsed.check_integrity(key, sha256=False)
    assert parsed.check_integrity(key, sha256=True)
    assert parsed.check_integrity(key)


def test_attributes_after_integrity_are_ignored() -> None:
    key = b"key"
    signed = _request().serialize(key)
    extra = h("00130004 01020304")  # DATA after MESSAGE-INTEGRITY
    tampered = bytearray(signed + extra)
    struct.pack_into("!H", tampered, 2, len(tampered) - 20)
    parsed = StunMessage.parse(bytes(tampered))
    assert parsed.data is None
    assert parsed.check_integrity(key)
    assert [t for t, _ in parsed.attributes][-1] == AttrType.MESSAGE_INTEGRITY


def test_attributes_after_fingerprint_are_ignored() -> None:
    wire = _request().serialize(fingerprint=True)
    extra = h("00130004 01020304")
    tampered = bytearray(wire + extra)
    struct.pack_into("!H", tampered, 2, len(tampered) - 20)
    parsed = StunMessage.parse(bytes(tampered))
    assert parsed.data is None
    assert parsed.check_fingerprint()  # computed with the length ending at FINGERPRINT


def test_fingerprint_mismatch() -> None:
    wire = bytearray(_request().serialize(fingerprint=True))
    wire[-1] ^= 0xFF
    parsed = StunMessage.parse(bytes(wire))
    assert parsed.has_fingerprint and not parsed.check_fingerprint()


def test_reserialize_replaces_integrity_and_fingerprint() -> None:
    key = b"one"
    parsed = StunMessage.parse(_request().serialize(key, fingerprint=True))
    again = parsed.serialize(b"two", fingerprint=True)
    assert StunMessage.parse(again).check_integrity(b"two")
    assert not StunMessage.parse(again).check_integrity(key)
    assert len(again) == len(_request().serialize(key, fingerprint=True))
    plain = parsed.serialize()
    assert plain == _request().serialize()


def test_check_integrity_needs_parsed_message() -> None:
    with pytest.raises(ValueError, match="parsed"):
        _request().check_integrity(b"k")
    assert not _request().check_fingerprint()
    assert not StunMessage.parse(_request().serialize()).check_integrity(b"k")


# -- parse errors ------------------------------------------------------------------------------


def _header(mtype: int, length: int, cookie: int = MAGIC_COOKIE) -> bytes:
    return struct.pack("!HHI", mtype, length, cookie) + TID


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x01\x00\x00",
        SAMPLE_REQUEST[:19],
        SAMPLE_REQUEST[:-4],
        SAMPLE_REQUEST + b"\x00\x00\x00\x00",
        _header(0x0001, 0, 0x2112A443),
        _header(0x4001, 0),
        _header(0x8001, 0),
        _header(0x0001, 2) + b"\x00\x00",
        _header(0x0001, 4) + h("0006 0005"),  # value overruns the message
        _header(0x0001, 8) + h("0020 0004 00010000"),  # XOR address too short
        _header(0x0001, 12) + h("0020 0008 00030000 00000000"),  # family 3
        _header(0x0001, 12) + h("0001 0008 00020000 00000000"),  # IPv6 with 4 bytes
        _header(0x0001, 8) + h("0006 0002 c328 0000"),  # USERNAME not UTF-8
        _header(0x0001, 8) + h("0024 0002 0001 0000"),  # PRIORITY of 2 bytes
        _header(0x0001, 16) + h("0008 000c") + b"\x00" * 12,  # MI of 12 bytes
        _header(0x0001, 16) + h("001c 000c") + b"\x00" * 12,  # MI-SHA256 of 12 bytes
        _header(0x0001, 8) + h("000a 0003 000100 00"),  # odd UNKNOWN-ATTRIBUTES
        _header(0x0001, 8) + h("0009 0003 000004 00"),  # ERROR-CODE of 3 bytes
        _header(0x0001, 8) + h("0009 0004 00000464"),  # ERROR-CODE number 100
        _header(0x0001, 8) + h("001d 0004 00010008"),  # algorithm params overrun
        _header(0x0001, 8) + h("000c 0002 4001 0000"),  # CHANNEL-NUMBER of 2 bytes
    ],
)
def test_parse_errors(data: bytes) -> None:
    with pytest.raises(StunParseError):
        StunMessage.parse(data)


@pytest.mark.parametrize("data", ["text", None, 5, [1, 2]])
def test_parse_rejects_non_bytes(data: object) -> None:
    with pytest.raises(StunParseError):
        StunMessage.parse(data)  # type: ignore[arg-type]


def test_parse_accepts_bytearray_and_memoryview() -> None:
    assert StunMessage.parse(bytearray(SAMPLE_REQUEST)) == StunMessage.parse(SAMPLE_REQUEST)
    parsed = StunMessage.parse(memoryview(SAMPLE_REQUEST))
    assert parsed.check_integrity(short_term_key(SHORT_TERM_PASSWORD))


def test_lenient_values() -> None:
    # SOFTWARE with invalid UTF-8 is informational: replaced, not fatal.
    msg = StunMessage.parse(_header(0x0101, 8) + h("8022 0002 ff41 0000"))
    assert msg.software == "\ufffdA"
    # An error code outside 300..699 still reads (a reply is better failed than lost).
    wire = _header(0x0111, 8) + h("0009 0004 00000163")
    msg = StunMessage.parse(wire)
    assert msg.error_code == ErrorCode(199, "")
    assert msg.serialize() == wire  # and it writes back as it came


# -- helpers: responses, unknown attributes -----------------------------------------------------


def test_success_and_error_responses() -> None:
    req = StunMessage.parse(SAMPLE_REQUEST)
    ok = req.success_response([(AttrType.XOR_MAPPED_ADDRESS, ("192.0.2.1", 32853))])
    assert (ok.method, ok.msg_class, ok.transaction_id) == (1, StunClass.SUCCESS, TID)
    err = req.error_response(487)
    assert err.msg_class == StunClass.ERROR
    assert err.error_code == ErrorCode(487, "Role Conflict")
    parsed = StunMessage.parse(err.serialize(b"k", fingerprint=True))
    assert parsed.error_code == ErrorCode(487, "Role Conflict")
    err420 = req.error_response(420, attributes=[(AttrType.UNKNOWN_ATTRIBUTES, (0x7FFE,))])
    assert StunMessage.parse(err420.serialize()).unknown_attributes == (0x7FFE,)
    assert req.error_response(499, "Custom").error_code == ErrorCode(499, "Custom")


def test_unknown_required() -> None:
    msg = StunMessage(
        StunMethod.BINDING,
        StunClass.REQUEST,
        TID,
        [(AttrType.USERNAME, "a:b"), (0x7FFE, b""), (0xC057, b"\x00\x00\x00\x00"), (0x0003, b"")],
    )
    parsed = StunMessage.parse(msg.serialize())
    assert parsed.unknown_required() == [0x7FFE, 0x0003]
    assert StunMessage.parse(SAMPLE_REQUEST).unknown_required() == []


def test_repr_names_attributes() -> None:
    text = repr(StunMessage.parse(SAMPLE_REQUEST))
    assert "BINDING REQUEST" in text and "USERNAME='evtj:h6vY'" in text
    assert "0xc057" in repr(StunMessage(0x123, 0, TID, [(0xC057, b"")]))


# -- demultiplexing and framing ----------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        SAMPLE_REQUEST[:19],
        SAMPLE_REQUEST[:-1],
        SAMPLE_REQUEST + b"\x00\x00\x00\x00",
        b"\x80\x60" + SAMPLE_REQUEST[2:],  # RTP
        b"\x16\xfe\xfd" + SAMPLE_REQUEST[3:],  # DTLS
        b"\x40\x01\x00\x04abcd" + b"\x00" * 12,  # ChannelData
        _header(0x0001, 0, 0x12345678),
        _header(0x0001, 2) + b"\x00\x00",
    ],
)
def test_is_stun_rejects(data: bytes) -> None:
    assert not is_stun(data)


def test_is_stun_accepts_minimal() -> None:
    assert is_stun(_header(0x0001, 0))
    assert is_stun(_header(0x0311, 4) + b"\x00" * 4)
    # RFC 7983: a first byte above 3 is not STUN in a WebRTC demultiplexer.
    assert not is_stun(_header(0x3FFF, 4) + b"\x00" * 4)


def test_stream_frame_length() -> None:
    assert stream_frame_length(b"") is None
    assert stream_frame_length(b"\x00\x01\x00") is None
    assert stream_frame_length(SAMPLE_REQUEST[:4]) == len(SAMPLE_REQUEST)
    assert stream_frame_length(SAMPLE_REQUEST) == len(SAMPLE_REQUEST)
    assert stream_frame_length(b"\x40\x00\x00\x05") == 12  # padded over TCP
    assert stream_frame_length(b"\x4f\xff\x00\x00") == 4
    assert stream_frame_length(b"\x40\x00\x00\x08") == 12
    with pytest.raises(StunParseError):
        stream_frame_length(b"\x80\x00\x00\x00")
    with pytest.raises(StunParseError):
        stream_frame_length(b"\x00\x01\x00\x02")


class TestChannelData:
    def test_round_trip(self) -> None:
        cd = ChannelData(0x4001, b"hello")
        assert cd.serialize() == h("4001 0005") + b"hello"
        assert cd.serialize(pad=True) == h("4001 0005") + b"hello\x00\x00\x00"
        assert ChannelData.parse(cd.serialize()) == cd
        assert ChannelData.parse(cd.serialize(pad=True)) == cd
        assert ChannelData.parse(memoryview(cd.serialize())) == cd
        empty = ChannelData(0x4FFF, b"")
        assert empty.serialize(pad=True) == h("4fff 0000")
        assert ChannelData.parse(empty.serialize()) == empty
        assert is_channel_data(cd.serialize())
        assert not is_channel_data(SAMPLE_REQUEST)
        assert not is_channel_data(b"\x40\x00")

    @pytest.mark.parametrize(
        "data",
        [b"", b"\x40\x00\x00", h("3fff 0000"), h("5000 0000"), h("4000 0005") + b"abcd", "str"],
    )
    def test_parse_errors(self, data: bytes) -> None:
        with pytest.raises(StunParseError):
            ChannelData.parse(data)

    def test_construct_errors(self) -> None:
        with pytest.raises(ValueError):
            ChannelData(0x3FFF, b"")
        with pytest.raises(ValueError):
            ChannelData(0x5000, b"")
        with pytest.raises(ValueError):
            ChannelData(0x4000, b"x" * 0x10000)


# -- keys ------------------------------------------------------------------------------------


def test_short_term_key() -> None:
    assert short_term_key("VOkJxbRl1RmTxUk/WvJxBt") == b"VOkJxbRl1RmTxUk/WvJxBt"
    assert short_term_key(b"raw") == b"raw"
    assert short_term_key("p\u00e4ss") == "p\u00e4ss".encode()
    assert short_term_key("pa\u0308ss") == "p\u00e4ss".encode()  # NFC
    assert short_term_key("a\u00a0b") == b"a b"  # non-ASCII space mapped


def test_opaque_string() -> None:
    assert opaque_string("plain") == "plain"
    assert opaque_string("e\u0301\u2003x") == "\u00e9 x"
    # Compatibility characters are NOT folded (that was SASLprep, RFC 4013).
    assert opaque_string("TheM\u00aatr\u2168") == "TheM\u00aatr\u2168"


def test_long_term_key_sha256_and_errors() -> None:
    assert long_term_key("user", "realm", "pass", PasswordAlgorithm.SHA256) == (
        hashlib.sha256(b"user:realm:pass").digest()
    )
    assert long_term_key("user", "realm", "pass") == hashlib.md5(b"user:realm:pass").digest()
    with pytest.raises(ValueError):
        long_term_key("u", "r", "p", 3)


def test_userhash() -> None:
    assert userhash("user", "realm") == hashlib.sha256(b"user:realm").digest()
    msg = StunMessage(
        StunMethod.ALLOCATE, StunClass.REQUEST, TID, [(AttrType.USERHASH, userhash("u", "r"))]
    )
    assert StunMessage.parse(msg.serialize()).get_bytes(AttrType.USERHASH) == userhash("u", "r")
