"""ICE candidate grammar (RFC 8839 §5.1) on Chromium and Firefox lines, priorities,
foundations and pair priorities (RFC 8445 §5.1, §6.1.2.3), TCP candidates (RFC 6544)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtcpeer.ice.candidate import (
    TYPE_PREFERENCES,
    Candidate,
    CandidateParseError,
    candidate_foundation,
    candidate_priority,
    ip_precedence,
    local_preference,
    pair_priority,
    tcp_local_preference,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "sdp"

# As Chromium's RTCPeerConnection emits them (RTCIceCandidate.candidate).
CHROMIUM_LINES = [
    "candidate:842163049 1 udp 1677729535 203.0.113.5 46154 typ srflx raddr 0.0.0.0 rport 0 "
    "generation 0 ufrag EsAw network-id 1 network-cost 10",
    "candidate:2999745851 1 udp 2122260223 192.168.1.23 54321 typ host generation 0 ufrag EsAw "
    "network-id 1 network-cost 10",
    "candidate:3471623853 1 udp 2122197247 2001:db8:85a3::8a2e:370:7334 54400 typ host "
    "generation 0 ufrag EsAw network-id 2",
    "candidate:1630442123 1 udp 2113937151 a8a8b9e2-5f3c-4d1e-9a6b-3c2d1e0f9a8b.local 54321 typ "
    "host generation 0 ufrag EsAw network-cost 999",
    "candidate:4234997325 1 tcp 1518280447 192.168.1.23 9 typ host tcptype active generation 0 "
    "ufrag EsAw network-id 1 network-cost 10",
    "candidate:1039404003 1 udp 41885439 198.51.100.20 61234 typ relay raddr 203.0.113.5 "
    "rport 46154 generation 0 ufrag EsAw network-id 1 network-cost 10",
    "candidate:2157334355 1 udp 1686052607 203.0.113.5 46154 typ prflx raddr 192.168.1.23 "
    "rport 54321 generation 0 ufrag EsAw network-id 1",
]

# As Firefox emits them: upper-case transport, no Chromium extensions.
FIREFOX_LINES = [
    "candidate:0 1 UDP 2122252543 192.168.1.10 56789 typ host",
    "candidate:1 1 TCP 2105524479 192.168.1.10 9 typ host tcptype active",
    "candidate:1 1 TCP 2105458943 127.0.0.1 9 typ host tcptype active",
    "candidate:2 1 UDP 1686052863 203.0.113.7 56789 typ srflx raddr 192.168.1.10 rport 56789",
    "candidate:3 1 UDP 92217343 198.51.100.9 51234 typ relay raddr 203.0.113.7 rport 56789",
    "candidate:4 2 UDP 2122252542 192.168.1.10 56790 typ host",
    "candidate:5 1 TCP 2105524479 fe80::1 9 typ host tcptype so",
    "candidate:0 1 UDP 2122252543 9d1c3f5e-0b7a-4e2c-8f6d-1a2b3c4d5e6f.local 56789 typ host",
]


class TestChromium:
    def test_srflx_fields(self) -> None:
        c = Candidate.parse(CHROMIUM_LINES[0])
        assert c.foundation == "842163049"
        assert (c.component, c.transport, c.priority) == (1, "udp", 1677729535)
        assert (c.address, c.port, c.type) == ("203.0.113.5", 46154, "srflx")
        assert (c.related_address, c.related_port) == ("0.0.0.0", 0)
        assert c.tcp_type is None
        assert c.extensions == (
            ("generation", "0"),
            ("ufrag", "EsAw"),
            ("network-id", "1"),
            ("network-cost", "10"),
        )
        assert (c.generation, c.ufrag, c.network_id, c.network_cost) == (0, "EsAw", 1, 10)
        assert not c.is_mdns
        assert str(c.ip) == "203.0.113.5"

    @pytest.mark.parametrize("line", CHROMIUM_LINES)
    def test_round_trip_exact(self, line: str) -> None:
        c = Candidate.parse(line)
        assert c.serialize() == line
        assert str(c) == line
        assert Candidate.parse(c.serialize()) == c

    def test_tcp_and_mdns(self) -> None:
        tcp = Candidate.parse(CHROMIUM_LINES[4])
        assert (tcp.transport, tcp.port, tcp.tcp_type) == ("tcp", 9, "active")
        mdns = Candidate.parse(CHROMIUM_LINES[3])
        assert mdns.is_mdns and mdns.ip is None
        assert mdns.address == "a8a8b9e2-5f3c-4d1e-9a6b-3c2d1e0f9a8b.local"
        assert mdns.network_id is None and mdns.network_cost == 999

    def test_ipv6(self) -> None:
        c = Candidate.parse(CHROMIUM_LINES[2])
        assert c.address == "2001:db8:85a3::8a2e:370:7334"
        assert c.ip is not None and c.ip.version == 6

    def test_priority_decomposes_as_rfc_says(self) -> None:
        # 1677729535 = 100·2^24 + 30·2^8 + (256 − 1): a srflx candidate, component 1.
        c = Candidate.parse(CHROMIUM_LINES[0])
        assert c.priority >> 24 == TYPE_PREFERENCES["srflx"]
        assert 256 - (c.priority & 0xFF) == c.component
        assert candidate_priority("srflx", (c.priority >> 8) & 0xFFFF, 1) == c.priority


class TestFirefox:
    @pytest.mark.parametrize("line", FIREFOX_LINES)
    def test_round_trip_lowercases_transport(self, line: str) -> None:
        c = Candidate.parse(line)
        assert c.transport in ("udp", "tcp")
        parts = line.split()
        parts[2] = parts[2].lower()
        assert c.serialize() == " ".join(parts)
        assert Candidate.parse(c.serialize()) == c

    def test_fields(self) -> None:
        c = Candidate.parse(FIREFOX_LINES[3])
        assert (c.foundation, c.type, c.related_address, c.related_port) == (
            "2",
            "srflx",
            "192.168.1.10",
            56789,
        )
        assert c.extensions == () and c.generation is None and c.ufrag is None
        so = Candidate.parse(FIREFOX_LINES[6])
        assert (so.tcp_type, so.address) == ("so", "fe80::1")
        assert Candidate.parse(FIREFOX_LINES[5]).component == 2


class TestForms:
    BARE = "842163049 1 udp 1677729535 203.0.113.5 46154 typ srflx raddr 0.0.0.0 rport 0"

    @pytest.mark.parametrize(
        "text",
        [
            BARE,
            "candidate:" + BARE,
            "a=candidate:" + BARE,
            "a=candidate:" + BARE + "\r\n",
            "  candidate:" + BARE + "  ",
            "CANDIDATE:" + BARE,
            BARE.replace(" typ ", " TYP ").replace("raddr", "RADDR").replace("rport", "Rport"),
        ],
    )
    def test_prefixes(self, text: str) -> None:
        c = Candidate.parse(text)
        assert c.serialize() == "candidate:" + self.BARE
        assert c.to_sdp() == self.BARE

    def test_unknown_extensions_round_trip_in_order(self) -> None:
        line = (
            "candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host zeta 1 generation 2 "
            "alpha x/y+z ufrag abc"
        )
        c = Candidate.parse(line)
        assert c.extensions == (
            ("zeta", "1"),
            ("generation", "2"),
            ("alpha", "x/y+z"),
            ("ufrag", "abc"),
        )
        assert c.serialize() == line
        assert c.extension("alpha") == "x/y+z" and c.extension("missing") is None

    def test_tcptype_moves_to_its_place(self) -> None:
        c = Candidate.parse("candidate:1 1 tcp 1 192.0.2.1 9 typ host generation 0 tcptype passive")
        assert c.tcp_type == "passive"
        assert (
            c.serialize() == "candidate:1 1 tcp 1 192.0.2.1 9 typ host tcptype passive generation 0"
        )

    def test_unknown_candidate_type_kept(self) -> None:
        c = Candidate.parse("candidate:1 1 udp 1 192.0.2.1 9 typ newtype")
        assert c.type == "newtype"

    def test_with_extensions(self) -> None:
        c = Candidate.parse(FIREFOX_LINES[0])
        d = c.with_extensions(generation=0, ufrag="EsAw", network_id=1)
        assert d.serialize().endswith("typ host generation 0 ufrag EsAw network-id 1")
        e = d.with_extensions(ufrag="new")
        assert e.ufrag == "new" and e.extensions[0] == ("generation", "0")
        assert c.extensions == ()  # frozen: the original is untouched

    def test_vector_files(self) -> None:
        # Every a=candidate line of the captured SDP vectors parses and writes back.
        lines = {
            line.strip()
            for path in sorted(VECTORS.glob("*.sdp"))
            for line in path.read_text().splitlines()
            if line.startswith("a=candidate:")
        }
        if not lines:
            pytest.skip("no SDP vectors with candidates")
        for line in lines:
            c = Candidate.parse(line)
            parts = line[len("a=") :].split()
            parts[2] = parts[2].lower()
            assert c.serialize() == " ".join(parts), line


@pytest.mark.parametrize(
    "text",
    [
        "",
        "candidate:",
        "a=candidate:1 1 udp 1 192.0.2.1 9 typ",
        "1 1 udp 1 192.0.2.1 9 host x",  # no 'typ'
        "1 0 udp 1 192.0.2.1 9 typ host",  # component 0
        "1 257 udp 1 192.0.2.1 9 typ host",
        "1 x udp 1 192.0.2.1 9 typ host",
        "1 1 udp 4294967296 192.0.2.1 9 typ host",  # priority ≥ 2^32
        "1 1 udp 12345678901 192.0.2.1 9 typ host",  # 11 digits
        "1 1 udp -1 192.0.2.1 9 typ host",
        "1 1 udp 1 192.0.2.1 65536 typ host",
        "1 1 udp 1 192.0.2.1 +9 typ host",
        "1 1 udp \u0661 192.0.2.1 9 typ host",  # Arabic-Indic digit
        "1 1 udp 1 192.0.2.999 9 typ host",
        "1 1 udp 1 1.2.3 9 typ host",
        "1 1 udp 1 ::zz 9 typ host",
        "1 1 udp 1 bad/host 9 typ host",
        "1 1 udp 1 192.0.2.1 9 typ host raddr",  # extension without value
        "1 1 udp 1 192.0.2.1 9 typ host raddr nope!",
        "1 1 udp 1 192.0.2.1 9 typ host rport 70000",
        "1 1 udp 1 192.0.2.1 9 typ host rport x",
        "1 1 udp 1 192.0.2.1 9 typ host raddr 1.1.1.1 raddr 2.2.2.2",
        "bad_foundation 1 udp 1 192.0.2.1 9 typ host",
        "123456789012345678901234567890123 1 udp 1 192.0.2.1 9 typ host",  # 33 chars
        "1 1 u\u00fcdp 1 192.0.2.1 9 typ host",
        "1 1 udp 1 192.0.2.1 9 typ h\u00f6st",
        "1 1 udp 1 192.0.2.1 9 typ host na\u00efve 1",
    ],
)
def test_parse_errors(text: str) -> None:
    with pytest.raises(CandidateParseError):
        Candidate.parse(text)


@pytest.mark.parametrize("value", [None, b"candidate:1 1 udp 1 192.0.2.1 9 typ host", 5])
def test_parse_rejects_non_str(value: object) -> None:
    with pytest.raises(CandidateParseError):
        Candidate.parse(value)  # type: ignore[arg-type]


def test_constructor_validates() -> None:
    ok = Candidate("abc", 1, "udp", 1, "192.0.2.1", 9, "host")
    assert ok.serialize() == "candidate:abc 1 udp 1 192.0.2.1 9 typ host"
    bad_kwargs: list[dict[str, object]] = [
        {"foundation": ""},
        {"component": 0},
        {"transport": "UDP"},
        {"priority": -1},
        {"address": "no spaces allowed"},
        {"port": 70000},
        {"type": "has space"},
        {"related_address": "x y"},
        {"related_port": -1},
        {"tcp_type": ""},
        {"extensions": (("generation",),)},
        {"extensions": (("raddr", "1.2.3.4"),)},
        {"extensions": (("name", "two words"),)},
    ]
    base: dict[str, object] = {
        "foundation": "1",
        "component": 1,
        "transport": "udp",
        "priority": 1,
        "address": "192.0.2.1",
        "port": 9,
        "type": "host",
    }
    for change in bad_kwargs:
        with pytest.raises(ValueError):
            Candidate(**{**base, **change})  # type: ignore[arg-type]


# -- priorities --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "local", "component", "expected"),
    [
        ("host", 65535, 1, 2130706431),  # 126·2^24 + 65535·2^8 + 255
        ("host", 65535, 2, 2130706430),
        ("prflx", 65535, 1, 1862270975),
        ("srflx", 65535, 1, 1694498815),
        ("relay", 65535, 1, 16777215),
        ("relay", 0, 256, 0),
        ("host", 0x7F1E, 1, 2122260223),  # Chromium's usual IPv4 host priority
    ],
)
def test_candidate_priority(type_: str, local: int, component: int, expected: int) -> None:
    assert candidate_priority(type_, local, component) == expected


def test_candidate_priority_errors() -> None:
    with pytest.raises(ValueError):
        candidate_priority("bogus")
    with pytest.raises(ValueError):
        candidate_priority("host", 65536)
    with pytest.raises(ValueError):
        candidate_priority("host", 1, 0)


def test_type_ordering() -> None:
    prios = [candidate_priority(t) for t in ("host", "prflx", "srflx", "relay")]
    assert prios == sorted(prios, reverse=True)


@pytest.mark.parametrize(
    ("address", "precedence"),
    [
        ("::1", 50),
        ("2001:0:4136:e378::1", 5),  # Teredo, 2001::/32
        ("2001:db8::1", 40),
        ("2a00:1450::1", 40),
        ("192.0.2.1", 35),
        ("127.0.0.1", 35),
        ("2002:c000:201::1", 30),
        ("fd00::2", 3),
        ("fec0::1", 1),
        ("fe80::1%eth0", 40),
    ],
)
def test_ip_precedence(address: str, precedence: int) -> None:
    assert ip_precedence(address) == precedence


def test_local_preference_orders_families_and_interfaces() -> None:
    v6 = local_preference("2a00:1450::1", 255)
    v4 = local_preference("192.0.2.1", 255)
    v6_second = local_preference("2a00:1450::2", 254)
    assert v6 > v4 > v6_second  # IPv6 first on an interface, the interface dominates
    assert 0 <= v6 <= 65535
    assert local_preference("192.0.2.1", 0) == 175
    with pytest.raises(ValueError):
        local_preference("192.0.2.1", 256)


def test_tcp_local_preference() -> None:
    # RFC 6544 §4.2: 2^13·direction-pref + other-pref.
    assert tcp_local_preference("active") == 6 * 8192 + 8191
    assert tcp_local_preference("passive") == 4 * 8192 + 8191
    assert tcp_local_preference("so", other_preference=0) == 2 * 8192
    assert tcp_local_preference("so", "srflx") == 6 * 8192 + 8191
    assert tcp_local_preference("passive", "prflx", 5) == 2 * 8192 + 5
    with pytest.raises(ValueError):
        tcp_local_preference("other")
    with pytest.raises(ValueError):
        tcp_local_preference("active", other_preference=8192)


def test_foundation_rules() -> None:
    base = candidate_foundation("host", "192.0.2.1", "udp")
    assert base == candidate_foundation("host", "192.0.2.1", "UDP")
    distinct = {
        base,
        candidate_foundation("srflx", "192.0.2.1", "udp", "stun.example:3478"),
        candidate_foundation("srflx", "192.0.2.1", "udp", "stun2.example:3478"),
        candidate_foundation("host", "192.0.2.2", "udp"),
        candidate_foundation("host", "192.0.2.1", "tcp"),
        candidate_foundation("relay", "192.0.2.1", "udp", "stun.example:3478"),
    }
    assert len(distinct) == 6
    for f in distinct:
        Candidate(f, 1, "udp", 1, "192.0.2.1", 9, "host")  # a valid foundation
        assert f.isdigit() and len(f) <= 10
    # Stable across runs and processes: pinned.
    assert base == candidate_foundation("host", "192.0.2.1")
    assert base == "32848604"


@pytest.mark.parametrize(
    ("g", "d", "expected"),
    [
        (10, 10, (10 << 32) + 20),
        (20, 10, (10 << 32) + 40 + 1),
        (10, 20, (10 << 32) + 40),
        (2130706431, 1694498815, (1694498815 << 32) + 2 * 2130706431 + 1),
    ],
)
def test_pair_priority(g: int, d: int, expected: int) -> None:
    assert pair_priority(g, d) == expected


def test_pair_priority_orders_like_rfc() -> None:
    host, srflx, relay = (candidate_priority(t) for t in ("host", "srflx", "relay"))
    assert pair_priority(host, host) > pair_priority(host, srflx) > pair_priority(srflx, relay)
    # The controlling side's priority breaks ties between mirror pairs.
    assert pair_priority(host, srflx) == pair_priority(srflx, host) + 1
