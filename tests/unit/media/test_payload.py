"""RTP payload formats: VP8 (RFC 7741) and the header-less audio formats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.media.payload import (
    AudioPayloader,
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
    assert payloader_for("H264") is None and depayloader_for("AV1") is None
