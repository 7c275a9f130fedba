"""RTP payload formats: VP8 (RFC 7741) and the header-less audio formats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.media.payload import (
    AudioPayloader,
    H264Depayloader,
    H264Payloader,
    Vp8Depayloader,
    Vp8Payloader,
    depayloader_for,
    payloader_for,
)


def test_vp8_descriptor_carries_s_bit_and_a_15_bit_picture_id() -> None:
    payloader = Vp8Payloader(picture_id=0x7FFF)
    packets = payloader.payload(bytes([0x10]) + bytes(2999), 1100)
    assert len(packets) == 3
    assert all(len(p) <= 1100 for p in packets)
    # X=1, S=1 on the first packet only; I=1, M=1 and PictureID 0x7FFF everywhere.
    assert packets[0][:4] == bytes([0x90, 0x80, 0xFF, 0xFF])
    assert packets[1][:4] == bytes([0x80, 0x80, 0xFF, 0xFF])
    # The next frame's PictureID wraps to 0.
    assert payloader.payload(b"\x11", 1100)[0][:4] == bytes([0x90, 0x80, 0x80, 0x00])


def test_vp8_packets_are_even_sized() -> None:
    packets = Vp8Payloader().payload(bytes(2200), 1100)
    assert [len(p) for p in packets] == [738, 738, 736]


@given(st.binary(min_size=1, max_size=20000), st.integers(100, 1400))
def test_vp8_round_trip(frame: bytes, budget: int) -> None:
    depay = Vp8Depayloader()
    packets = Vp8Payloader().payload(frame, budget)
    assert all(len(p) <= budget for p in packets)
    assert depay.is_frame_start(packets[0])
    assert not any(depay.is_frame_start(p) for p in packets[1:])
    assert b"".join(depay.strip(p) for p in packets) == frame
    assert depay.is_keyframe(packets[0]) == (frame[0] & 1 == 0)


@pytest.mark.parametrize(
    ("descriptor", "length"),
    [
        (b"\x10", 1),  # no extension
        (b"\x90\x80\x05", 3),  # 7-bit PictureID
        (b"\x90\xc0\x80\x05\x01", 5),  # 15-bit PictureID and TL0PICIDX
        (b"\x90\xf0\x80\x05\x01\x20", 6),  # ... and TID/KEYIDX
    ],
)
def test_vp8_depayloader_reads_every_descriptor_form(descriptor: bytes, length: int) -> None:
    assert Vp8Depayloader().strip(descriptor + b"\x00abc") == b"\x00abc"
    assert Vp8Depayloader().is_keyframe(descriptor + b"\x00abc")


@pytest.mark.parametrize("bad", [b"", b"\x80", b"\x90\x80", b"\x90\x80\x80"])
def test_vp8_truncated_descriptor_is_a_value_error(bad: bytes) -> None:
    with pytest.raises(ValueError):
        Vp8Depayloader().strip(bad)
    assert not Vp8Depayloader().is_keyframe(bad)


def test_audio_formats_are_one_frame_per_packet() -> None:
    assert AudioPayloader().payload(b"opus", 10) == [b"opus"]
    for name in ("opus", "PCMU", "PCMA", "G722"):
        assert payloader_for(name) is not None
        depay = depayloader_for(name)
        assert depay is not None and depay.whole_frames
    assert payloader_for("G729") is None and depayloader_for("G729") is None


def annexb(*units: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + u for u in units)


SPS = b"\x67" + bytes(range(1, 12))
PPS = b"\x68\xce\x3c\x80"
IDR = b"\x65" + bytes(range(256)) * 20  # 5121 bytes: fragmented
P_SLICE = b"\x41" + b"\x9a" * 300


def test_h264_mode_1_aggregates_small_units_and_fragments_large_ones() -> None:
    packets = H264Payloader(1).payload(annexb(SPS, PPS, IDR), 1100)
    assert packets[0][0] & 0x1F == 24  # STAP-A with SPS and PPS
    assert packets[0][1:3] == len(SPS).to_bytes(2)
    fu = packets[1:]
    assert all(p[0] & 0x1F == 28 for p in fu)  # FU-A
    assert fu[0][1] & 0x80 and not fu[0][1] & 0x40  # S on the first
    assert fu[-1][1] & 0x40 and not fu[-1][1] & 0x80  # E on the last
    assert all(p[1] & 0x1F == 5 for p in fu)
    assert all(len(p) <= 1100 for p in packets)
    depay = H264Depayloader()
    assert depay.is_frame_start(packets[0]) and depay.is_keyframe(packets[0])
    assert not depay.is_frame_start(fu[1])
    assert depay.is_keyframe(fu[0])
    assert b"".join(depay.strip(p) for p in packets) == annexb(SPS, PPS, IDR)


def test_h264_mode_0_sends_single_nal_units() -> None:
    packets = H264Payloader(0).payload(annexb(SPS, PPS, P_SLICE), 1100)
    assert packets == [SPS, PPS, P_SLICE]
    depay = H264Depayloader()
    assert depay.is_keyframe(packets[0]) and not depay.is_keyframe(packets[2])
    assert b"".join(depay.strip(p) for p in packets) == annexb(SPS, PPS, P_SLICE)


def test_annexb_split_takes_three_and_four_byte_start_codes() -> None:
    from rtcpeer.media.payload import split_annexb

    stream = b"\x00\x00\x01" + SPS + b"\x00\x00\x00\x01" + PPS + b"\x00\x00\x01" + P_SLICE
    assert split_annexb(stream) == [SPS, PPS, P_SLICE]
    assert split_annexb(b"") == []


@given(
    st.lists(st.binary(min_size=1, max_size=4000), min_size=1, max_size=8), st.integers(60, 1400)
)
def test_h264_round_trip(bodies: list[bytes], budget: int) -> None:
    # NAL units whose bodies hold no start-code-like runs (as emulation prevention
    # guarantees in a real stream).
    units = [bytes([0x41]) + b.replace(b"\x00", b"\x01") for b in bodies]
    frame = annexb(*units)
    packets = H264Payloader(1).payload(frame, budget)
    assert all(len(p) <= budget for p in packets)
    depay = H264Depayloader()
    assert b"".join(depay.strip(p) for p in packets) == frame


@pytest.mark.parametrize(
    "bad", [b"", b"\x1c", b"\x18\x00", b"\x18\x00\x09\x41", b"\x00abc", b"\x1eab"]
)
def test_h264_malformed_payloads_are_value_errors(bad: bytes) -> None:
    with pytest.raises(ValueError):
        H264Depayloader().strip(bad)


def test_h264_payloaders_follow_packetization_mode() -> None:
    mode1 = payloader_for(
        "H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
    )
    mode0 = payloader_for("H264", "profile-level-id=42e01f")
    assert isinstance(mode1, H264Payloader) and mode1.mode == 1
    assert isinstance(mode0, H264Payloader) and mode0.mode == 0


def test_vp9_non_flexible_descriptor_with_scalability_structure_on_key_frames() -> None:
    from rtcpeer.media.payload import Vp9Depayloader, Vp9Payloader

    payloader = Vp9Payloader(picture_id=300)
    payloader.size = (320, 240)
    key = bytes([0x82, 0x49, 0x83, 0x42]) + bytes(2500)  # frame_type 0: a key frame
    packets = payloader.payload(key, 1100)
    first = packets[0]
    assert first[0] == 0x80 | 0x20 | 0x08 | 0x02  # I, L, B, V (P clear: a key frame)
    assert first[1:3] == bytes([0x80 | 300 >> 8, 300 & 0xFF])
    assert first[3:5] == b"\x00\x00"  # TID/SID 0, TL0PICIDX 0
    assert first[5] == 0x18 and first[6:10] == (320).to_bytes(2) + (240).to_bytes(2)
    assert packets[-1][0] & 0x04 and not packets[1][0] & 0x08  # E on the last, B on the first
    depay = Vp9Depayloader()
    assert depay.is_keyframe(first) and depay.is_frame_start(first)
    assert b"".join(depay.strip(p) for p in packets) == key
    delta = bytes([0x86]) + bytes(100)  # frame_type 1
    [packet] = payloader.payload(delta, 1100)
    assert packet[0] == 0x80 | 0x40 | 0x20 | 0x08 | 0x04  # I, P, L, B, E; no SS
    assert packet[4] == 1  # TL0PICIDX counts frames
    assert not depay.is_keyframe(packet)
    assert depay.strip(packet) == delta


def test_vp9_flexible_mode_descriptor_is_read_too() -> None:
    from rtcpeer.media.payload import Vp9Depayloader

    # I (7-bit PID), P, L, F, B, E; TID/SID byte; two P_DIFFs (N set on the first).
    packet = bytes([0x80 | 0x40 | 0x20 | 0x10 | 0x08 | 0x04, 0x05, 0x00, 0x03, 0x02]) + b"vp9"
    assert Vp9Depayloader().strip(packet) == b"vp9"
    with pytest.raises(ValueError):
        Vp9Depayloader().strip(packet[:4])


@given(st.binary(min_size=1, max_size=20000), st.integers(100, 1400))
def test_vp9_round_trip(frame: bytes, budget: int) -> None:
    from rtcpeer.media.payload import Vp9Depayloader, Vp9Payloader

    packets = Vp9Payloader().payload(frame, budget)
    assert all(len(p) <= budget for p in packets)
    depay = Vp9Depayloader()
    assert b"".join(depay.strip(p) for p in packets) == frame


def test_audio_encoder_takes_a_change_of_source_format() -> None:
    import av

    from rtcpeer.media.codecs import AudioEncoder

    encoder = AudioEncoder("opus")
    mono = av.AudioFrame(format="s16", layout="mono", samples=960)
    mono.sample_rate = 48000
    mono.planes[0].update(bytes(1920))
    stereo = av.AudioFrame(format="fltp", layout="stereo", samples=441)
    stereo.sample_rate = 44100
    for plane in stereo.planes:
        plane.update(bytes(plane.buffer_size))
    out = encoder.encode(mono) + encoder.encode(stereo) + encoder.encode(mono)
    assert out and all(e.data for e in out)


def obu(kind: int, body: bytes) -> bytes:
    """An OBU with its size field (the low-overhead bitstream format)."""
    from rtcpeer.media.payload import _leb128

    return bytes([(kind << 3) | 0x02]) + _leb128(len(body)) + body


def test_av1_packets_carry_obus_without_size_fields_and_drop_temporal_delimiters() -> None:
    from rtcpeer.media.payload import Av1Depayloader, Av1Payloader

    unit = obu(2, b"") + obu(1, b"\x00" * 10) + obu(6, bytes(range(200)) * 15)  # TD, SH, frame
    packets = Av1Payloader().payload(unit, 1100)
    assert packets[0][0] & 0x08  # N: a sequence header starts a coded video sequence
    assert not packets[0][0] & 0x80 and packets[0][0] & 0x40  # Z=0, Y=1 (the frame OBU is cut)
    assert all(p[0] & 0x80 for p in packets[1:])  # the rest continue it
    assert not packets[-1][0] & 0x40
    assert all(len(p) <= 1100 for p in packets)
    depay = Av1Depayloader()
    assert depay.is_keyframe(packets[0]) and depay.is_frame_start(packets[0])
    assert not depay.is_frame_start(packets[1])
    # Back to a temporal unit: a temporal delimiter, then the OBUs with sizes.
    assert depay.assemble(packets) == obu(2, b"") + unit[2:]


def test_av1_depayloader_reads_counted_elements_too() -> None:
    from rtcpeer.media.payload import Av1Depayloader

    # W=2: the first element has a length, the last runs to the end.
    frame_obu = bytes([6 << 3]) + b"abc"
    payload = bytes([0x20]) + b"\x02" + bytes([1 << 3]) + b"\x07" + frame_obu
    assert Av1Depayloader().assemble([payload]) == obu(2, b"") + obu(1, b"\x07") + obu(6, b"abc")
    with pytest.raises(ValueError):
        Av1Depayloader().assemble([bytes([0x00, 0x09, 0x30])])


@given(
    st.lists(st.binary(min_size=1, max_size=3000), min_size=1, max_size=5), st.integers(40, 1400)
)
def test_av1_round_trip(bodies: list[bytes], budget: int) -> None:
    from rtcpeer.media.payload import Av1Depayloader, Av1Payloader

    unit = b"".join(obu(6, b) for b in bodies)
    packets = Av1Payloader().payload(unit, budget)
    assert all(len(p) <= budget for p in packets)
    assert Av1Depayloader().assemble(packets) == obu(2, b"") + unit
