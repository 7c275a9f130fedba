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
    tls_port: int
    log: str
    #: PEM of the server's self-signed certificate (trust it to use ``turns:``).
    ca_file: str

    def ice_server(self, *, transport: str = "udp", credential: str = PASSWORD) -> dict[str, str]:
        if transport == "tls":
            url = f"turns:{self.host}:{self.tls_port}?transport=tcp"
        elif transport == "tcp":
            url = f"turn:{self.host}:{self.port}?transport=tcp"
        else:
            url = f"turn:{self.host}:{self.port}"
        return {"urls": url, "username": USER, "credential": credential}


def _self_signed(directory: str) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (IP SAN) and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


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
    """coturn listening on 127.0.0.1 (UDP and TCP, TLS on ``tls_port``), relaying on
    127.0.0.1, with one long-term-credential user; loopback peers allowed (tests
    only)."""
    binary = shutil.which("turnserver")
    if binary is None:
        require_or_skip("coturn", "coturn is not installed (apt-get install coturn)")
    assert binary is not None
    port = _free_port()
    tls_port = _free_port()
    relay_low = 40000 + (os.getpid() % 200) * 100
    with tempfile.TemporaryDirectory(prefix="rtcpeer-coturn-") as workdir:
        log_path = os.path.join(workdir, "turn.log")
        cert_path, key_path = _self_signed(workdir)
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
            f"--tls-listening-port={tls_port}",
            f"--cert={cert_path}",
            f"--pkey={key_path}",
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
            yield Coturn("127.0.0.1", port, tls_port, log_path, cert_path)
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
