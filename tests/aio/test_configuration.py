from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rtcpeer import RTCCertificate
from rtcpeer.aio.configuration import RTCConfiguration, check_update, parse_configuration
from rtcpeer.errors import (
    InvalidAccessError,
    InvalidModificationError,
    InvalidSyntaxError,
    NotSupportedError,
)


def test_seed_configuration_is_accepted() -> None:
    config = parse_configuration(
        {
            "iceServers": [
                {"urls": "stun:stun.example.com:3478"},
                {"urls": "turn:turn.example.com:3478", "username": "u", "credential": "p"},
            ],
            "iceTransportPolicy": "all",
            "bundlePolicy": "max-bundle",
            "rtcpMuxPolicy": "require",
            "certificates": [],
            "iceCandidatePoolSize": 0,
        }
    )
    assert config.bundlePolicy == "max-bundle"
    stun, turn = config.iceServers
    assert stun.parsed[0].host == "stun.example.com" and stun.parsed[0].port == 3478
    assert turn.parsed[0].is_turn and turn.username == "u"


def test_defaults() -> None:
    config = parse_configuration(None)
    assert config == RTCConfiguration()
    assert (config.iceTransportPolicy, config.bundlePolicy, config.rtcpMuxPolicy) == (
        "all",
        "balanced",
        "require",
    )
    assert config.iceServers == ()  # no server is contacted unless configured


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"iceTransportPolicy": "none"}, TypeError),
        ({"bundlePolicy": "maxbundle"}, TypeError),
        ({"rtcpMuxPolicy": "negotiate"}, TypeError),
        ({"iceCandidatePoolSize": 256}, TypeError),
        ({"iceCandidatePoolSize": -1}, TypeError),
        ({"iceCandidatePoolSize": True}, TypeError),
        ({"iceServers": [{"urls": []}]}, InvalidSyntaxError),
        ({"iceServers": [{"urls": "stun:"}]}, InvalidSyntaxError),
        ({"iceServers": [{"urls": "stun:host:99999"}]}, InvalidSyntaxError),
        ({"iceServers": [{"urls": "stun:host?transport=udp"}]}, InvalidSyntaxError),
        (
            {
                "iceServers": [
                    {"urls": "turn:host?transport=sctp", "username": "u", "credential": "c"}
                ]
            },
            InvalidSyntaxError,
        ),
        ({"iceServers": [{"urls": "http://example.com"}]}, NotSupportedError),
        ({"iceServers": [{"urls": "turn:turn.example.com"}]}, InvalidAccessError),
        ({"iceServers": [{"urls": "turn:turn.example.com", "username": "u"}]}, InvalidAccessError),
        ({"iceServers": [{}]}, TypeError),
        ({"iceServers": "stun:stun.example.com"}, TypeError),
        ({"iceServer": []}, TypeError),
        ({"hostAddresses": ["not-an-ip"]}, TypeError),
    ],
)
def test_invalid_configurations_raise_the_w3c_error(
    config: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        parse_configuration(config)


def test_syntax_error_is_also_python_syntax_error() -> None:
    with pytest.raises(SyntaxError):
        parse_configuration({"iceServers": [{"urls": "stun:bad host"}]})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("stun:stun.l.google.com:19302", "stun:stun.l.google.com:19302"),
        ("stun:192.0.2.1", "stun:192.0.2.1:3478"),
        ("stuns:example.org", "stuns:example.org:5349"),
        ("turn:[2001:db8::1]:3479", "turn:[2001:db8::1]:3479?transport=udp"),
        ("turn:example.org?transport=tcp", "turn:example.org:3478?transport=tcp"),
        ("turns:example.org", "turns:example.org:5349?transport=tcp"),
        ("STUN:Example.ORG", "stun:example.org:3478"),
    ],
)
def test_urls(url: str, expected: str) -> None:
    config = parse_configuration(
        {"iceServers": [{"urls": [url], "username": "u", "credential": "c"}]}
    )
    assert str(config.iceServers[0].parsed[0]) == expected


def test_set_configuration_cannot_change_bundle_policy() -> None:
    current = parse_configuration({"bundlePolicy": "max-bundle"})
    with pytest.raises(InvalidModificationError):
        check_update(current, parse_configuration({"bundlePolicy": "balanced"}))
    updated = check_update(
        current,
        parse_configuration({"bundlePolicy": "max-bundle", "iceTransportPolicy": "relay"}),
    )
    assert updated.iceTransportPolicy == "relay"


def test_expired_certificate_is_refused() -> None:
    expired = RTCCertificate.generate(not_before=datetime.now(UTC) - timedelta(days=2), expires=0)
    with pytest.raises(InvalidAccessError, match="expired"):
        parse_configuration({"certificates": [expired]})


def test_certificates_must_be_certificates() -> None:
    with pytest.raises(TypeError, match="RTCCertificate"):
        parse_configuration({"certificates": ["-----BEGIN CERTIFICATE-----"]})
