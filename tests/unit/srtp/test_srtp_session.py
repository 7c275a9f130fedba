"""SrtpSession: known-answer vectors, round trips per profile, replay and tamper
rejection, RFC 5764 §4.2 key split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcpeer.srtp import (
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

ALL_PROFILES = [
    SRTP_AEAD_AES_256_GCM,
    SRTP_AEAD_AES_128_GCM,
    SRTP_AES128_CM_SHA1_80,
    SRTP_AES128_CM_SHA1_32,
]
TAG_LENGTH = {
    SRTP_AEAD_AES_256_GCM: 16,
    SRTP_AEAD_AES_128_GCM: 16,
    SRTP_AES128_CM_SHA1_80: 10,
    SRTP_AES128_CM_SHA1_32: 4,
}

# libsrtp's srtp_validate() reference packets (SSRC 0xcafebabe, sequence 0x1234).
RTP_PLAIN = bytes.fromhex("800f1234decafbadcafebabe") + b"\xab" * 16
RTCP_PLAIN = bytes.fromhex("81c8000bcafebabe") + b"\xab" * 16


def loopback(profile: SrtpProfile, key: bytes, salt: bytes) -> SrtpSession:
    """A session whose inbound side is keyed like its outbound side."""
    return SrtpSession(SrtpKeys(profile, key, salt, key, salt))


def pair(profile: SrtpProfile) -> tuple[SrtpSession, SrtpSession]:
    k1, k2 = bytes(range(profile.key_length)), bytes(range(100, 100 + profile.key_length))
    s1, s2 = bytes([7] * profile.salt_length), bytes([9] * profile.salt_length)
    a = SrtpSession(SrtpKeys(profile, k1, s1, k2, s2))
    b = SrtpSession(SrtpKeys(profile, k2, s2, k1, s1))
    return a, b


def rtp(seq: int, ssrc: int = 0x11223344, payload: bytes = b"payload" * 10) -> bytes:
    return (
        bytes([0x80, 96])
        + seq.to_bytes(2, "big")
        + (seq * 960).to_bytes(4, "big")
        + ssrc.to_bytes(4, "big")
        + payload
    )


def test_profiles_table() -> None:
    assert {p.name: (p.value, p.key_length, p.salt_length) for p in PROFILES.values()} == {
        "SRTP_AES128_CM_SHA1_80": (0x0001, 16, 14),
        "SRTP_AES128_CM_SHA1_32": (0x0002, 16, 14),
        "SRTP_AEAD_AES_128_GCM": (0x0007, 16, 12),
        "SRTP_AEAD_AES_256_GCM": (0x0008, 32, 12),
    }
    assert SRTP_AEAD_AES_256_GCM.keying_material_length == 88
    assert SRTP_AES128_CM_SHA1_80.keying_material_length == 60


def test_known_answer_aes128_cm_sha1_80() -> None:
    session = loopback(
        SRTP_AES128_CM_SHA1_80,
        bytes.fromhex("e1f97a0d3e018be0d64fa32c06de4139"),
        bytes.fromhex("0ec675ad498afeebb6960b3aabe6"),
    )
    srtp = session.protect_rtp(RTP_PLAIN)
    assert srtp == bytes.fromhex(
        "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb"
    )
    srtcp = session.protect_rtcp(RTCP_PLAIN)
    assert srtcp == bytes.fromhex(
        "81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798"
    )
    assert session.unprotect_rtp(srtp) == RTP_PLAIN
    assert session.unprotect_rtcp(srtcp) == RTCP_PLAIN


def test_known_answer_aead_aes_128_gcm() -> None:
    session = loopback(
        SRTP_AEAD_AES_128_GCM,
        bytes.fromhex("000102030405060708090a0b0c0d0e0f"),
        bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaab"),
    )
    srtp = session.protect_rtp(RTP_PLAIN)
    assert srtp == bytes.fromhex(
        "800f1234decafbadcafebabec5002ede04cfdd2eb91159e0880aa06ed2976826f796b201df3131a127e8a392"
    )
    srtcp = session.protect_rtcp(RTCP_PLAIN)
    assert srtcp == bytes.fromhex(
        "81c8000bcafebabec98b8b5df0392a55852b6c21ac8e7025c52c6fbea2b3b446ea31123ba88ce61e80000001"
    )
    assert session.unprotect_rtp(srtp) == RTP_PLAIN
    assert session.unprotect_rtcp(srtcp) == RTCP_PLAIN


@pytest.mark.parametrize("profile", ALL_PROFILES, ids=lambda p: p.name)
def test_round_trip_both_directions(profile: SrtpProfile) -> None:
    a, b = pair(profile)
    for seq in range(5):
        packet = rtp(seq)
        protected = a.protect_rtp(packet)
        assert len(protected) == len(packet) + TAG_LENGTH[profile]
        assert protected[:12] == packet[:12] and protected[12:-1] != packet[12:]
        assert b.unprotect_rtp(protected) == packet
        assert a.unprotect_rtp(b.protect_rtp(packet)) == packet
    report = bytes.fromhex("80c90001") + (0x55667788).to_bytes(4, "big")
    protected = b.protect_rtcp(report)
    # E flag + SRTCP index, then the tag; SRTCP keeps the 80-bit tag even in the
    # _32 profile (RFC 5764 §4.1.2).
    rtcp_tag = 10 if profile is SRTP_AES128_CM_SHA1_32 else TAG_LENGTH[profile]
    assert len(protected) == len(report) + 4 + rtcp_tag
    assert a.unprotect_rtcp(protected) == report
    assert a.auth_failures == a.replayed == a.malformed == 0


@pytest.mark.parametrize("profile", ALL_PROFILES, ids=lambda p: p.name)
def test_replay_rejected(profile: SrtpProfile) -> None:
    a, b = pair(profile)
    protected = a.protect_rtp(rtp(1))
    b.unprotect_rtp(protected)
    with pytest.raises(SrtpError) as info:
        b.unprotect_rtp(protected)
    assert info.value.reason == "replay" and isinstance(info.value, ValueError)
    srtcp = a.protect_rtcp(RTCP_PLAIN)
    b.unprotect_rtcp(srtcp)
    with pytest.raises(SrtpError):
        b.unprotect_rtcp(srtcp)
    assert (b.replayed, b.auth_failures, b.malformed) == (2, 0, 0)


def test_replay_window_too_old() -> None:
    a, b = pair(SRTP_AEAD_AES_128_GCM)
    old = a.protect_rtp(rtp(1))
    for seq in range(2, 300):
        b.unprotect_rtp(a.protect_rtp(rtp(seq)))
    with pytest.raises(SrtpError) as info:
        b.unprotect_rtp(old)  # never seen, but behind the 128-packet window
    assert info.value.reason == "replay"
    wide_a = SrtpSession(SrtpKeys(SRTP_AEAD_AES_128_GCM, *_keys(16, 12)), replay_window=1024)
    wide_b = SrtpSession(SrtpKeys(SRTP_AEAD_AES_128_GCM, *_swap(_keys(16, 12))), replay_window=1024)
    old = wide_a.protect_rtp(rtp(1))
    for seq in range(2, 300):
        wide_b.unprotect_rtp(wide_a.protect_rtp(rtp(seq)))
    assert wide_b.unprotect_rtp(old) == rtp(1)


def _keys(k: int, s: int) -> tuple[bytes, bytes, bytes, bytes]:
    return bytes([1] * k), bytes([2] * s), bytes([3] * k), bytes([4] * s)


def _swap(keys: tuple[bytes, bytes, bytes, bytes]) -> tuple[bytes, bytes, bytes, bytes]:
    return keys[2], keys[3], keys[0], keys[1]


@pytest.mark.parametrize("profile", ALL_PROFILES, ids=lambda p: p.name)
@pytest.mark.parametrize("where", ["header", "payload", "tag"])
def test_tamper_rejected(profile: SrtpProfile, where: str) -> None:
    a, b = pair(profile)
    protected = bytearray(a.protect_rtp(rtp(7)))
    index = {"header": 3, "payload": 20, "tag": len(protected) - 1}[where]
    protected[index] ^= 0x01
    with pytest.raises(SrtpError) as info:
        b.unprotect_rtp(bytes(protected))
    assert info.value.reason == "auth"
    srtcp = bytearray(a.protect_rtcp(RTCP_PLAIN))
    srtcp[10] ^= 0x80
    with pytest.raises(SrtpError):
        b.unprotect_rtcp(bytes(srtcp))
    assert b.auth_failures == 2 and b.replayed == 0
    # The genuine packet still passes afterwards: a forgery doesn't burn its index.
    assert b.unprotect_rtp(a.protect_rtp(rtp(8))) == rtp(8)


def test_wrong_key_is_auth_failure() -> None:
    a, _ = pair(SRTP_AES128_CM_SHA1_80)
    stranger = loopback(SRTP_AES128_CM_SHA1_80, bytes(16), bytes(14))
    with pytest.raises(SrtpError) as info:
        stranger.unprotect_rtp(a.protect_rtp(rtp(1)))
    assert info.value.reason == "auth"


@pytest.mark.parametrize(
    "packet",
    [b"", b"\x80", b"\x80" * 11, bytes(40), b"\x40" + bytes(40), b"\x80" * 2000],
    ids=["empty", "one", "short", "version0", "version1", "too-long"],
)
def test_malformed_rejected(packet: bytes) -> None:
    _, b = pair(SRTP_AEAD_AES_128_GCM)
    for unprotect in (b.unprotect_rtp, b.unprotect_rtcp):
        with pytest.raises(SrtpError) as info:
            unprotect(packet)
        assert info.value.reason == "malformed"
    assert b.malformed == 2


def test_protect_errors() -> None:
    a, _ = pair(SRTP_AES128_CM_SHA1_80)
    with pytest.raises(SrtpError):
        a.protect_rtp(b"\x80" * 5)
    with pytest.raises(SrtpError):
        a.protect_rtp(rtp(1, payload=bytes(1500)))
    with pytest.raises(SrtpError):
        a.protect_rtcp(b"\x80\xc8")


def test_retransmission_of_same_sequence_allowed() -> None:
    # NACK retransmission without RTX re-protects the same sequence number.
    a, b = pair(SRTP_AEAD_AES_128_GCM)
    first = a.protect_rtp(rtp(42))
    assert a.protect_rtp(rtp(42)) == first
    assert b.unprotect_rtp(first) == rtp(42)


def test_many_ssrcs_one_session() -> None:
    a, b = pair(SRTP_AEAD_AES_256_GCM)
    for ssrc in (1, 2, 0xFFFFFFFF):
        assert b.unprotect_rtp(a.protect_rtp(rtp(10, ssrc=ssrc))) == rtp(10, ssrc=ssrc)


def test_replay_window_validation() -> None:
    keys = SrtpKeys(SRTP_AES128_CM_SHA1_80, *_keys(16, 14))
    with pytest.raises(ValueError):
        SrtpSession(keys, replay_window=10)
    assert SrtpSession(keys, replay_window=64).profile is SRTP_AES128_CM_SHA1_80


# -- RFC 5764 §4.2 key split ------------------------------------------------------------


@pytest.mark.parametrize("profile", ALL_PROFILES, ids=lambda p: p.name)
def test_key_split_layout(profile: SrtpProfile) -> None:
    k, s = profile.key_length, profile.salt_length
    material = bytes(range(2 * (k + s)))
    client = SrtpKeys.from_keying_material(material, profile, is_client=True)
    server = SrtpKeys.from_keying_material(material, profile, is_client=False)
    # client_write_key | server_write_key | client_write_salt | server_write_salt
    assert client.local_key == material[:k] == server.remote_key
    assert client.remote_key == material[k : 2 * k] == server.local_key
    assert client.local_salt == material[2 * k : 2 * k + s] == server.remote_salt
    assert client.remote_salt == material[2 * k + s :] == server.local_salt
    with pytest.raises(ValueError):
        SrtpKeys.from_keying_material(material[:-1], profile, is_client=True)


def test_key_split_vector_aes128_cm() -> None:
    material = bytes.fromhex(
        "00112233445566778899aabbccddeeff"  # client key
        "ffeeddccbbaa99887766554433221100"  # server key
        "0102030405060708090a0b0c0d0e"  # client salt
        "f1f2f3f4f5f6f7f8f9fafbfcfdfe"  # server salt
    )
    keys = SrtpKeys.from_keying_material(material, SRTP_AES128_CM_SHA1_80, is_client=False)
    assert keys.local_key.hex() == "ffeeddccbbaa99887766554433221100"
    assert keys.local_salt.hex() == "f1f2f3f4f5f6f7f8f9fafbfcfdfe"
    assert keys.remote_key.hex() == "00112233445566778899aabbccddeeff"
    assert keys.remote_salt.hex() == "0102030405060708090a0b0c0d0e"


def test_keys_validation_and_repr() -> None:
    with pytest.raises(ValueError, match="master keys"):
        SrtpKeys(SRTP_AEAD_AES_256_GCM, bytes(16), bytes(12), bytes(32), bytes(12))
    with pytest.raises(ValueError, match="salts"):
        SrtpKeys(SRTP_AEAD_AES_256_GCM, bytes(32), bytes(14), bytes(32), bytes(12))
    keys = SrtpKeys(SRTP_AES128_CM_SHA1_80, b"\x42" * 16, b"\x43" * 14, b"\x44" * 16, b"\x45" * 14)
    assert "42" not in repr(keys) and "BBBB" not in repr(keys)
    assert "SRTP_AES128_CM_SHA1_80" in repr(keys)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=1600), rtcp=st.booleans())
def test_unprotect_raises_only_srtp_error(data: bytes, rtcp: bool) -> None:
    _, b = pair(SRTP_AES128_CM_SHA1_80)
    try:
        (b.unprotect_rtcp if rtcp else b.unprotect_rtp)(data)
    except SrtpError:
        assert b.auth_failures + b.replayed + b.malformed == 1
    else:  # pragma: no cover - a random forgery passing an 80-bit tag
        pytest.fail("random bytes authenticated")
