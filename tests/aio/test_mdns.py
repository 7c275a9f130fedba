"""mDNS ``.local`` candidates: the wire format, and two peers resolving each other
inside a network namespace this test creates (multicast never leaves it)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.ice.mdns import (
    TYPE_A,
    TYPE_AAAA,
    MdnsParseError,
    build_query,
    build_response,
    is_mdns_name,
    parse_message,
)

NAME = "6a0d4c9e-1f2b-4c3d-9e8f-0123456789ab.local"


def test_query_and_response_round_trip() -> None:
    query = parse_message(build_query(NAME))
    assert not query.response and query.questions == ((NAME, TYPE_A),)
    answer = parse_message(build_response(NAME, "10.77.0.1"))
    assert answer.response and answer.answers[0].address == "10.77.0.1"
    assert answer.answers[0].name == NAME and answer.answers[0].ttl == 120
    v6 = parse_message(build_response(NAME, "fe80::1"))
    assert v6.answers[0].address == "fe80::1"
    assert is_mdns_name(NAME) and is_mdns_name(NAME.upper() + ".")
    assert not is_mdns_name("example.com")
    assert TYPE_AAAA == 28


def test_compression_pointers_are_followed_and_loops_refused() -> None:
    # A response whose answer name points back at the question's name (offset 12).
    header = b"\x00\x00\x84\x00\x00\x01\x00\x01\x00\x00\x00\x00"
    question = build_query(NAME)[12:]
    record = b"\xc0\x0c" + b"\x00\x01\x80\x01\x00\x00\x00\x78\x00\x04" + bytes([10, 77, 0, 1])
    parsed = parse_message(header + question + record)
    assert parsed.answers[0].name == NAME and parsed.answers[0].address == "10.77.0.1"
    loop = b"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    with pytest.raises(MdnsParseError, match="loop"):
        parse_message(loop)


@given(st.binary(max_size=300))
def test_parser_never_raises_anything_else(data: bytes) -> None:
    with contextlib.suppress(MdnsParseError):
        parse_message(data)


def _can_make_namespaces() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(
    not _can_make_namespaces(), reason="needs unshare --net and ip (root, util-linux, iproute2)"
)
def test_mdns_candidates_resolve_inside_a_private_network_namespace() -> None:
    setup = (
        "ip link set lo up && ip link set lo multicast on"
        " && ip addr add 10.77.0.1/24 dev lo && ip addr add 10.77.0.2/24 dev lo"
        " && ip route add 224.0.0.0/4 dev lo"
    )
    script = Path(__file__).with_name("mdns_netns_scenario.py")
    env = {**os.environ, "RTCPEER_HOST_ADDRESSES": "10.77.0.1,10.77.0.2"}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).parents[2]), env.get("PYTHONPATH")])
    )
    result = subprocess.run(
        ["unshare", "--net", "sh", "-c", f'{setup} && exec "$0" "$1"', sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    hosts = [c for c in outcome["signalled"] if " typ host" in c]
    assert hosts and all(".local " in c for c in hosts)  # the IP is never signalled
    assert not outcome["sdp_has_ip"]
    assert outcome["message"] == "resolved over mDNS"
    assert outcome["remote_address"] == "10.77.0.1"  # resolved, then checked
    assert outcome["wire_resolved"] == "10.77.0.1"  # a real query, a real answer
    assert outcome["missing"] is None  # nobody owns that name: no answer, no hang
    assert outcome["queries"] >= 2 and outcome["responses"] >= 2
