"""The ``rtcpeer`` console script, run the way a newcomer runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("rtcpeer")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    if not SCRIPT.exists():
        pytest.skip(f"the console script is not installed next to {sys.executable}")
    env = {**os.environ, "RTCPEER_HOST_ADDRESSES": "127.0.0.1"}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: rtcpeer")
    assert "loopback" in result.stdout


def test_unknown_command_fails() -> None:
    result = run("no-such-command")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_loopback_prints_the_state_timeline() -> None:
    result = run("loopback", "--bytes", "200000", "--media-seconds", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for line in (
        "alice connectionState -> connected",
        "bob   connectionState -> connected",
        "alice channel open",
        "bob   track audio (mid 0)",
        "bob   track video (mid 1)",
        "bob   first video frame: 640x480 yuv420p",
        "bob   first audio frame: 960 samples at 48000 Hz",
        "bob got 200000",
        "bob   sees connectionState=failed",
    ):
        assert line in out, out
    # The timeline is in order: connected before the transfer, close after it.
    assert out.index("connectionState -> connected") < out.index("sent 200000 bytes")
    assert out.index("sent 200000 bytes") < out.index("alice close()")
    decoded = next(line for line in out.splitlines() if "decoded in 1 s" in line)
    audio, video = (int(part.split()[0]) for part in decoded.split(": ")[1].split(", "))
    assert audio > 20 and video > 10  # ~50 and ~30 a second
