"""The one error SDP parsing raises."""

from __future__ import annotations

__all__ = ["SdpParseError"]

# Long lines are cut in messages so a hostile description cannot make a huge one.
_SHOWN = 120


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class SdpParseError(ValueError):
    """A session description, or one attribute value, does not follow its grammar.

    :func:`rtcpeer.sdp.parse` raises nothing else, on any input. ``line_number`` is
    the 1-based number of the offending line and ``line`` its text (both ``None`` when
    the error is about a lone value, e.g. ``Rtpmap.parse("x")`` or a typed value built
    with bad fields; constructors raise it too, so it doubles as the ``ValueError``
    for misuse of the builder API). JSEP turns it into an ``RTCError`` with
    ``error_detail="sdp-syntax-error"`` and ``sdp_line_number``.
    """

    def __init__(self, reason: str, line_number: int | None = None, line: str | None = None):
        self.reason = reason
        self.line_number = line_number
        self.line = line
        shown_reason = _cut(reason, 2 * _SHOWN)
        if line_number is None:
            message = shown_reason
        else:
            shown = "" if line is None else _cut(line, _SHOWN)
            message = f"SDP line {line_number}: {shown_reason}: {shown!r}"
        super().__init__(message)

    def at(self, line_number: int, line: str) -> SdpParseError:
        """The same error, placed on a line of a description."""
        return SdpParseError(self.reason, line_number, line)
