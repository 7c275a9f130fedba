"""MediaPlayer (files, URLs, devices through PyAV) as a source and MediaRecorder as a
sink, across a real loopback call."""

from __future__ import annotations

import array
import asyncio
import math
from pathlib import Path
from typing import Any

import av
import pytest

from rtcpeer import InvalidStateError, MediaPlayer, MediaRecorder
from tests.aio.test_media_flow import connect
from tests.helpers import until
from tests.seed.test_seed_media import brightness


def make_clip(
    path: Path, seconds: float = 2.0, *, audio: bool = True, baseline: bool = False
) -> Path:
    """An H.264 clip, 320x240 at 30 fps, brightness rising frame by frame, with a
    440 Hz AAC tone (``audio``); ``baseline``: constrained baseline without B-frames,
    a key frame every 15 (what WebRTC carries, for sending without re-encoding)."""
    out = av.open(str(path), "w")
    video = out.add_stream("libx264", rate=30)
    video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"  # type: ignore[union-attr]
    if baseline:
        video.options = {"profile": "baseline", "tune": "zerolatency", "preset": "ultrafast",  # type: ignore[union-attr]
                         "x264-params": "keyint=15"}  # fmt: skip
    streams: list[Any] = [video]
    if audio:  # (every stream before the first packet is written)
        sound_stream = out.add_stream("aac", rate=48000)
        sound_stream.layout = "mono"  # type: ignore[union-attr]
        streams.append(sound_stream)
    for i in range(int(30 * seconds)):
        frame = av.VideoFrame(320, 240, "yuv420p")
        for plane, value in zip(frame.planes, (40 + 3 * i, 128, 128), strict=True):
            plane.update(bytes([min(value, 235)]) * plane.buffer_size)
        frame.pts = i
        for packet in video.encode(frame):  # type: ignore[union-attr]
            out.mux(packet)
    if audio:
        for i in range(int(50 * seconds)):
            sound = av.AudioFrame(format="fltp", layout="mono", samples=960)
            sound.sample_rate = 48000
            tone = (0.3 * math.sin(2 * math.pi * 440 * (i * 960 + k) / 48000) for k in range(960))
            sound.planes[0].update(array.array("f", tone).tobytes())
            sound.pts = i * 960
            for packet in sound_stream.encode(sound):  # type: ignore[union-attr]
                out.mux(packet)
    for stream in streams:
        for packet in stream.encode(None):
            out.mux(packet)
    out.close()
    return path


async def test_a_file_plays_to_the_far_end_which_records_it(pair: Any, tmp_path: Path) -> None:
    a, b, tracks = pair
    player = MediaPlayer(str(make_clip(tmp_path / "clip.mp4")))
    assert player.audio is not None and player.video is not None
    a.addTrack(player.audio)
    a.addTrack(player.video)
    await connect(a, b)
    await until(lambda: len(tracks) == 2)
    remote = {t.kind: t for t in tracks}
    recorder = MediaRecorder(str(tmp_path / "recorded.mp4"))
    recorder.addTrack(remote["video"])
    recorder.addTrack(remote["audio"])
    picture = await asyncio.wait_for(remote["video"].recv(), 10)
    assert (picture.width, picture.height) == (320, 240)
    await recorder.start()
    # The clip plays at its own pace and then its tracks end.
    await until(lambda: player.video.readyState == "ended", timeout=10)  # type: ignore[union-attr]
    await recorder.stop()
    assert recorder.frames_written > 30
    recorded = av.open(str(tmp_path / "recorded.mp4"))
    kinds = {s.type for s in recorded.streams}
    assert kinds == {"audio", "video"}
    frames = list(recorded.decode(video=0))
    assert len(frames) > 20 and (frames[0].width, frames[0].height) == (320, 240)
    # The clip's brightness ramp survived the round trip (encode, send, decode, record).
    assert brightness(frames[-1]) > brightness(frames[0]) + 20
    recorded.close()


async def test_player_ends_its_tracks_loops_and_stops(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "short.mp4", seconds=0.5)
    once = MediaPlayer(str(clip), realtime=False)
    assert once.video is not None
    frames = 0
    with pytest.raises(InvalidStateError):
        while True:
            await asyncio.wait_for(once.video.recv(), 5)
            frames += 1
    assert frames == 15 and once.video.readyState == "ended"
    looping = MediaPlayer(str(clip), loop=True, realtime=False)
    assert looping.video is not None
    pts = [(await asyncio.wait_for(looping.video.recv(), 5)).pts for _ in range(40)]
    assert len(pts) == 40  # more than the clip holds: it started over
    looping.stop()
    assert looping.video.readyState == "ended"
    with pytest.raises(av.FFmpegError):
        MediaPlayer(str(tmp_path / "missing.mp4"))


async def test_recorder_rejects_late_or_duplicate_tracks(tmp_path: Path) -> None:
    from rtcpeer import TestPatternTrack, ToneTrack

    recorder = MediaRecorder(str(tmp_path / "out.webm"))
    video = TestPatternTrack(64, 48, 30)
    recorder.addTrack(video)
    recorder.addTrack(ToneTrack())
    with pytest.raises(InvalidStateError):
        recorder.addTrack(TestPatternTrack(64, 48, 30))
    await recorder.start()
    with pytest.raises(InvalidStateError):
        recorder.addTrack(ToneTrack())
    await asyncio.sleep(0.5)
    await recorder.stop()
    written = av.open(str(tmp_path / "out.webm"))
    assert {s.codec_context.name for s in written.streams} == {"libvpx", "libopus"} or {
        s.codec_context.name for s in written.streams
    } == {"vp8", "opus"}
    written.close()


@pytest.mark.parametrize("container", ["mp4", "h264"])
async def test_encoded_h264_is_sent_without_re_encoding(
    pair: Any, tmp_path: Path, container: str
) -> None:
    """MediaPlayer(decode=False): the file's H.264 goes out as it is (avcC turned
    into start codes for mp4), and the far end decodes it."""
    from rtcpeer import RTCRtpReceiver

    a, b, tracks = pair
    clip = make_clip(tmp_path / f"clip.{container}", 1.5, audio=False, baseline=True)
    player = MediaPlayer(str(clip), decode=False)
    assert player.video is not None
    a.addTrack(player.video)
    codecs = RTCRtpReceiver.getCapabilities("video")["codecs"]  # type: ignore[index]
    a.getTransceivers()[0].setCodecPreferences(
        [c for c in codecs if c["mimeType"] == "video/H264"
         and "packetization-mode=1" in c["sdpFmtpLine"] and "42e01f" in c["sdpFmtpLine"]]
    )  # fmt: skip
    await connect(a, b)
    await until(lambda: tracks)
    pictures = [await asyncio.wait_for(tracks[0].recv(), 10) for _ in range(10)]
    assert all((p.width, p.height) == (320, 240) for p in pictures)
    assert brightness(pictures[-1]) > brightness(pictures[0])
    outbound = next(r for r in (await a.getStats()).values() if r.type == "outbound-rtp")
    assert outbound.keyFramesEncoded >= 1  # the file's own key frames
    encoder = a.getSenders()[0]._pipe.layers[0].encoder
    assert encoder is not None and encoder.size is None  # type: ignore[union-attr]  # never used


async def test_recording_a_player_keeps_its_timing_and_stopping_one_track_frees_the_other(
    tmp_path: Path,
) -> None:
    """A player's frames (mp4 time base) recorded to mkv last as long as the clip;
    the audio track stopped, the video track still plays."""
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0)
    player = MediaPlayer(str(clip), realtime=False)
    assert player.audio is not None and player.video is not None
    player.audio.stop()
    recorder = MediaRecorder(str(tmp_path / "copy.mkv"))
    recorder.addTrack(player.video)
    await recorder.start()
    await until(lambda: player.video.readyState == "ended", timeout=10)  # type: ignore[union-attr]
    await recorder.stop()
    assert recorder.frames_written == 30
    written = av.open(str(tmp_path / "copy.mkv"))
    frames = list(written.decode(video=0))
    span = float((frames[-1].pts - frames[0].pts) * frames[0].time_base)
    written.close()
    assert len(frames) == 30 and 0.9 < span < 1.1  # 29 intervals of 1/30 s


def test_a_player_stopped_before_playing_releases_its_input(tmp_path: Path) -> None:
    player = MediaPlayer(str(make_clip(tmp_path / "clip.mp4", seconds=0.2)))
    player.stop()
    assert player.video is not None and player.video.readyState == "ended"
    assert player._thread is None
    with pytest.raises(AssertionError, match="not open"):  # PyAV: the input is closed
        next(player._container.demux())
