"""``RTCConfiguration`` and ``RTCIceServer``, validated as the W3C "set the
configuration" steps say.

A configuration may be given as a dict shaped like the JavaScript one or as an
:class:`RTCConfiguration`; :func:`parse_configuration` turns either into a validated
:class:`RTCConfiguration` or raises the W3C error:

- ``TypeError`` for a wrong type or a value outside an enum (``iceTransportPolicy``,
  ``bundlePolicy``, ``rtcpMuxPolicy``) or ``iceCandidatePoolSize`` outside 0-255;
- ``SyntaxError`` (:class:`~rtcpeer.errors.InvalidSyntaxError`) for an unparsable or
  empty URL list; ``NotSupportedError`` for an unknown URL scheme;
- ``InvalidAccessError`` for a TURN server without ``username`` and ``credential``,
  or an expired certificate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from rtcpeer.aio.interfaces import host_addresses as resolve_host_addresses
from rtcpeer.dtls.certificate import Certificate
from rtcpeer.errors import InvalidAccessError, InvalidModificationError, InvalidSyntaxError
from rtcpeer.ice.url import IceServerUrl, parse_ice_url

__all__ = ["RTCConfiguration", "RTCIceServer", "parse_configuration"]

_TRANSPORT_POLICIES = ("all", "relay")
_BUNDLE_POLICIES = ("balanced", "max-compat", "max-bundle")
_RTCP_MUX_POLICIES = ("require",)
_KNOWN_KEYS = {
    "iceServers",
    "iceTransportPolicy",
    "bundlePolicy",
    "rtcpMuxPolicy",
    "certificates",
    "iceCandidatePoolSize",
    "peerIdentity",
    "hostAddresses",
    "mdnsHostCandidates",
}


@dataclass(frozen=True, slots=True)
class RTCIceServer:
    """W3C ``RTCIceServer``: ``urls`` (a string or a list of them), ``username``,
    ``credential``. ``parsed`` holds the validated URLs."""

    urls: str | Sequence[str]
    username: str | None = None
    credential: str | None = None
    parsed: tuple[IceServerUrl, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class RTCConfiguration:
    """W3C ``RTCConfiguration``. rtcpeer's own keys: ``hostAddresses`` (the IPs to
    gather host candidates on; default: ``RTCPEER_HOST_ADDRESSES`` or every
    non-loopback, non-link-local interface) and ``mdnsHostCandidates`` (signal host
    candidates as random ``.local`` names answered over mDNS, as browsers do without
    a camera/microphone grant; default False)."""

    iceServers: tuple[RTCIceServer, ...] = ()
    iceTransportPolicy: str = "all"
    bundlePolicy: str = "balanced"
    rtcpMuxPolicy: str = "require"
    certificates: tuple[Any, ...] = ()
    iceCandidatePoolSize: int = 0
    hostAddresses: tuple[str, ...] | None = None
    mdnsHostCandidates: bool = False

    def resolved_host_addresses(self) -> list[str]:
        """The host-candidate IPs this configuration selects, resolved now."""
        return resolve_host_addresses(self.hostAddresses)


def _enum(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise TypeError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _ice_server(raw: Any) -> RTCIceServer:
    if isinstance(raw, RTCIceServer):
        urls: Any = raw.urls
        username, credential = raw.username, raw.credential
    elif isinstance(raw, Mapping):
        if "urls" not in raw:
            raise TypeError("each iceServers entry needs 'urls' (a URL string or a list of them)")
        urls = raw["urls"]
        username, credential = raw.get("username"), raw.get("credential")
    else:
        raise TypeError(f"iceServers entries are dicts or RTCIceServer, got {type(raw).__name__}")
    url_list = [urls] if isinstance(urls, str) else list(urls)
    if not url_list:
        raise InvalidSyntaxError("iceServers entry has an empty 'urls' list")
    for name, value in (("username", username), ("credential", credential)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"iceServers {name} must be a string")
    parsed = tuple(parse_ice_url(url) for url in url_list)
    if any(url.is_turn for url in parsed) and (username is None or credential is None):
        raise InvalidAccessError(
            "a TURN server needs both 'username' and 'credential' in its iceServers entry"
        )
    return RTCIceServer(
        urls if isinstance(urls, str) else tuple(url_list), username, credential, parsed
    )


def parse_configuration(config: RTCConfiguration | Mapping[str, Any] | None) -> RTCConfiguration:
    """Validate a configuration given the way a user may give it."""
    if config is None:
        return RTCConfiguration()
    if isinstance(config, RTCConfiguration):
        raw: dict[str, Any] = {name: getattr(config, name) for name in RTCConfiguration.__slots__}
        raw = {k: v for k, v in raw.items() if v is not None}
    elif isinstance(config, Mapping):
        raw = dict(config)
        unknown = set(raw) - _KNOWN_KEYS
        if unknown:
            raise TypeError(
                f"unknown RTCConfiguration keys: {', '.join(sorted(unknown))}; known keys are "
                f"{', '.join(sorted(_KNOWN_KEYS))}"
            )
    else:
        raise TypeError(
            f"configuration must be a dict or RTCConfiguration, got {type(config).__name__}"
        )

    servers_raw = raw.get("iceServers") or ()
    if isinstance(servers_raw, (str, Mapping)):
        raise TypeError("iceServers is a list of {'urls': ...} entries")
    servers = tuple(_ice_server(s) for s in servers_raw)
    pool = raw.get("iceCandidatePoolSize", 0)
    if isinstance(pool, bool) or not isinstance(pool, int) or not 0 <= pool <= 255:
        raise TypeError(f"iceCandidatePoolSize is an integer from 0 to 255, got {pool!r}")
    certificates = tuple(raw.get("certificates") or ())
    now = datetime.now(UTC)
    for certificate in certificates:
        if not isinstance(certificate, Certificate):
            raise TypeError(
                "certificates holds RTCCertificate objects "
                "(await RTCPeerConnection.generateCertificate(...))"
            )
        if certificate.is_expired(now):
            raise InvalidAccessError(
                "a certificate in 'certificates' has expired; generate a new one"
            )
    hosts = raw.get("hostAddresses")
    if hosts is not None:
        if isinstance(hosts, str):
            raise TypeError("hostAddresses is a list of IP strings, e.g. ['127.0.0.1']")
        hosts = tuple(resolve_host_addresses(list(hosts)))
    return RTCConfiguration(
        iceServers=servers,
        iceTransportPolicy=_enum(
            "iceTransportPolicy", raw.get("iceTransportPolicy", "all"), _TRANSPORT_POLICIES
        ),
        bundlePolicy=_enum("bundlePolicy", raw.get("bundlePolicy", "balanced"), _BUNDLE_POLICIES),
        rtcpMuxPolicy=_enum(
            "rtcpMuxPolicy", raw.get("rtcpMuxPolicy", "require"), _RTCP_MUX_POLICIES
        ),
        certificates=certificates,
        iceCandidatePoolSize=pool,
        hostAddresses=hosts,
        mdnsHostCandidates=_flag("mdnsHostCandidates", raw.get("mdnsHostCandidates", False)),
    )


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} is True or False, got {value!r}")
    return value


def check_update(current: RTCConfiguration, new: RTCConfiguration) -> RTCConfiguration:
    """``setConfiguration``: certificates, bundlePolicy and rtcpMuxPolicy cannot change."""
    if new.bundlePolicy != current.bundlePolicy:
        raise InvalidModificationError("bundlePolicy cannot change after construction")
    if new.rtcpMuxPolicy != current.rtcpMuxPolicy:
        raise InvalidModificationError("rtcpMuxPolicy cannot change after construction")
    if new.certificates and new.certificates != current.certificates:
        raise InvalidModificationError("certificates cannot change after construction")
    return replace(new, certificates=current.certificates)
