"""Certificate: generation, fingerprints (RFC 8122 syntax), expiry, PEM persistence."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from rtcpeer.dtls import (
    DEFAULT_EXPIRES_MS,
    MAX_EXPIRES_MS,
    Certificate,
    compute_fingerprint,
    normalize_fingerprint,
)
from rtcpeer.errors import InvalidSyntaxError, NotSupportedError

WALL = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
WALL_MS = 1772366400000  # WALL in ms since the epoch
FP256 = re.compile(r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")


def test_wall_constant() -> None:
    assert int(WALL.timestamp() * 1000) == WALL_MS


def test_generate_ecdsa_defaults(ecdsa_cert: Certificate) -> None:
    cert = ecdsa_cert.x509
    assert ecdsa_cert.key_type == "ecdsa"
    key = ecdsa_cert.private_key
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    # W3C default: 30 days after now; browsers back-date notBefore by a day.
    assert ecdsa_cert.expires == WALL_MS + DEFAULT_EXPIRES_MS == WALL_MS + 2_592_000_000
    assert cert.not_valid_after_utc == WALL + timedelta(days=30)
    assert cert.not_valid_before_utc == WALL - timedelta(days=1)
    # Self-signed with ECDSA-SHA256.
    assert cert.issuer == cert.subject
    pub = cert.public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha256"
    pub.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    assert cert.serial_number > 0
    assert ecdsa_cert.der == cert.public_bytes(serialization.Encoding.DER)


def test_generate_rsa(rsa_cert: Certificate) -> None:
    assert rsa_cert.key_type == "rsa"
    key = rsa_cert.private_key
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert key.public_key().public_numbers().e == 65537
    cert = rsa_cert.x509
    pub = cert.public_key()
    assert isinstance(pub, rsa.RSAPublicKey)
    pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())


def test_random_identity() -> None:
    a = Certificate.generate(not_before=WALL)
    b = Certificate.generate(not_before=WALL)
    cn = [c.x509.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value for c in (a, b)]
    assert cn[0] != cn[1]
    assert a.x509.serial_number != b.x509.serial_number
    assert a.fingerprint() != b.fingerprint()


def test_expires_argument() -> None:
    other_zone = WALL.astimezone(timezone(timedelta(hours=5)))
    one_hour = Certificate.generate(not_before=other_zone, expires=3_600_000)
    assert one_hour.expires == WALL_MS + 3_600_000
    capped = Certificate.generate(not_before=WALL, expires=10 * MAX_EXPIRES_MS)
    assert capped.expires == WALL_MS + MAX_EXPIRES_MS
    with pytest.raises(ValueError):
        Certificate.generate(not_before=WALL, expires=-1)
    with pytest.raises(TypeError):
        Certificate.generate(not_before=WALL, expires=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone"):
        Certificate.generate(not_before=datetime(2026, 1, 1))
    with pytest.raises(NotSupportedError):
        Certificate.generate(not_before=WALL, key_type="ed25519")  # type: ignore[arg-type]
    with pytest.raises(NotSupportedError):
        Certificate.generate(not_before=WALL, key_type="rsa", rsa_modulus_length=1024)


def test_is_expired(ecdsa_cert: Certificate) -> None:
    end = datetime.fromtimestamp(ecdsa_cert.expires / 1000, UTC)
    assert not ecdsa_cert.is_expired(WALL)
    assert not ecdsa_cert.is_expired(end - timedelta(milliseconds=1))
    assert ecdsa_cert.is_expired(end)
    with pytest.raises(ValueError):
        ecdsa_cert.is_expired(datetime(2026, 1, 1))


def test_fingerprints(ecdsa_cert: Certificate) -> None:
    [(alg, value)] = ecdsa_cert.get_fingerprints()
    assert alg == "sha-256" and FP256.match(value)
    assert value.replace(":", "") == hashlib.sha256(ecdsa_cert.der).hexdigest().upper()
    pairs = ecdsa_cert.get_fingerprints(["sha-1", "SHA-384", "sha-512", "sha-224"])
    assert [a for a, _ in pairs] == ["sha-1", "sha-384", "sha-512", "sha-224"]
    assert [len(v.split(":")) for _, v in pairs] == [20, 48, 64, 28]
    assert pairs[1][1].replace(":", "") == hashlib.sha384(ecdsa_cert.der).hexdigest().upper()
    with pytest.raises(NotSupportedError):
        ecdsa_cert.get_fingerprints(["md5"])
    with pytest.raises(TypeError):
        ecdsa_cert.get_fingerprints("sha-256")
    assert ecdsa_cert.fingerprint() is ecdsa_cert.fingerprint()  # cached


def test_compute_fingerprint_vector() -> None:
    # FIPS 180-2 "abc" vector, in RFC 8122 syntax.
    assert compute_fingerprint(b"abc") == (
        "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:"
        "B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
    )
    assert compute_fingerprint(b"abc", "SHA-1") == (
        "A9:99:3E:36:47:06:81:6A:BA:3E:25:71:78:50:C2:6C:9C:D0:D8:9D"
    )


def test_normalize_fingerprint() -> None:
    value = "ba:78:16:bf:8f:01:cf:ea:41:41:40:de:5d:ae:22:23:b0:03:61:a3:96:17:7a:9c:b4:10:ff:61:f2:00:15:ad"
    assert normalize_fingerprint("SHA-256", value) == ("sha-256", compute_fingerprint(b"abc"))
    with pytest.raises(InvalidSyntaxError):
        normalize_fingerprint("sha-256", value[:-3])  # 31 bytes
    with pytest.raises(InvalidSyntaxError):
        normalize_fingerprint("sha-256", value.replace(":", ""))
    with pytest.raises(InvalidSyntaxError):
        normalize_fingerprint("sha-1", value)
    with pytest.raises(InvalidSyntaxError):
        normalize_fingerprint("sha-256", "G" + value[1:])
    with pytest.raises(NotSupportedError):
        normalize_fingerprint("md5", value)


@pytest.mark.parametrize("fixture", ["ecdsa_cert", "rsa_cert"])
def test_pem_round_trip(request: pytest.FixtureRequest, fixture: str) -> None:
    original: Certificate = request.getfixturevalue(fixture)
    pem = original.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert b"-----BEGIN CERTIFICATE-----" in pem
    for loaded in (
        Certificate.from_pem(pem),
        Certificate.from_pem(pem.decode()),
        Certificate.from_pem(original.private_key_pem(), original.certificate_pem()),
        Certificate.from_pem(original.certificate_pem() + original.private_key_pem()),
    ):
        assert loaded.get_fingerprints() == original.get_fingerprints()
        assert loaded.der == original.der
        assert loaded.expires == original.expires
        assert loaded.key_type == original.key_type
        assert loaded.private_key_pem() == original.private_key_pem()


def test_pem_traditional_key_format(ecdsa_cert: Certificate) -> None:
    traditional = ecdsa_cert.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert traditional.startswith(b"-----BEGIN EC PRIVATE KEY-----")
    loaded = Certificate.from_pem(traditional, ecdsa_cert.certificate_pem())
    assert loaded.fingerprint() == ecdsa_cert.fingerprint()


def test_pem_errors(ecdsa_cert: Certificate, ecdsa_cert2: Certificate) -> None:
    with pytest.raises(ValueError, match="CERTIFICATE"):
        Certificate.from_pem(ecdsa_cert.private_key_pem())
    with pytest.raises(ValueError, match="PRIVATE KEY"):
        Certificate.from_pem(ecdsa_cert.certificate_pem())
    with pytest.raises(ValueError, match="does not belong"):
        Certificate.from_pem(ecdsa_cert.private_key_pem(), ecdsa_cert2.certificate_pem())
    with pytest.raises(ValueError, match="malformed"):
        Certificate.from_pem(
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
            + ecdsa_cert.certificate_pem()
        )
    encrypted = ecdsa_cert.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(ValueError):
        Certificate.from_pem(encrypted, ecdsa_cert.certificate_pem())
    with pytest.raises(ValueError):
        Certificate.from_pem(b"garbage")


def test_foreign_certificate_object(ecdsa_cert: Certificate) -> None:
    # The constructor takes cryptography objects, e.g. a certificate made elsewhere.
    again = Certificate(ecdsa_cert.private_key, x509.load_der_x509_certificate(ecdsa_cert.der))
    assert again.fingerprint("sha-1") == ecdsa_cert.fingerprint("sha-1")
    assert "ecdsa" in repr(again) and ecdsa_cert.fingerprint() in repr(again)
