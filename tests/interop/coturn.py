"""A real coturn on loopback, started by the test that needs it."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

from rtcpeer.ice.stun import StunClass, StunMessage, StunMethod
from tests.interop.harness import require_or_skip

USER = "alice"
PASSWORD = "s3cret"
REALM = "rtcpeer.test"


@dataclass(frozen=True)
class Coturn:
    host: str
    port: int
    log: str

    def ice_server(self, *, transport: str = "udp", credential: str = PASSWORD) -> dict[str, str]:
        suffix = "" if transport == "udp" else f"?transport={transport}"
        return {
            "urls": f"turn:{self.host}:{self.port}{suffix}",
            "username": USER,
            "credential": credential,
        }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        port: int = udp.getsockname()[1]
    return port


def _answers(port: int) -> bool:
    request = StunMessage(StunMethod.BINDING, StunClass.REQUEST).serialize(fingerprint=True)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(0.2)
        udp.sendto(request, ("127.0.0.1", port))
        try:
            udp.recvfrom(2048)
        except OSError:
            return False
    return True


@contextlib.contextmanager
def coturn() -> Iterator[Coturn]:
    """coturn listening on 127.0.0.1 (UDP and TCP), relaying on 127.0.0.1, with one
    long-term-credential user; loopback peers allowed (tests only)."""
    binary = shutil.which("turnserver")
    if binary is None:
        require_or_skip("coturn", "coturn is not installed (apt-get install coturn)")
    assert binary is not None
    port = _free_port()
    relay_low = 40000 + (os.getpid() % 200) * 100
    with tempfile.TemporaryDirectory(prefix="rtcpeer-coturn-") as workdir:
        log_path = os.path.join(workdir, "turn.log")
        args = [
            binary,
            "-n",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            f"--listening-port={port}",
            f"--min-port={relay_low}",
            f"--max-port={relay_low + 99}",
            f"--user={USER}:{PASSWORD}",
            f"--realm={REALM}",
            "--lt-cred-mech",
            "--fingerprint",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--allow-loopback-peers",
            "--no-tcp-relay",
            f"--pidfile={workdir}/turn.pid",
            f"--log-file={log_path}",
            "--simple-log",
        ]
        with open(os.devnull, "wb") as devnull:
            process = subprocess.Popen(args, stdout=devnull, stderr=devnull)
        try:
            deadline = time.monotonic() + 10
            while not _answers(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"coturn did not start (exit {process.poll()})")
                time.sleep(0.05)
            yield Coturn("127.0.0.1", port, log_path)
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
