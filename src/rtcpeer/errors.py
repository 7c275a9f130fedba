"""Errors with the names the W3C specifications use.

The browser raises ``DOMException`` objects whose ``name`` says what went wrong
(``InvalidStateError``, ``InvalidAccessError``...). rtcpeer raises one Python class
per name, all subclasses of :class:`DOMException`, so ``except InvalidStateError``
and ``except DOMException as e: e.name`` both work. Where WebIDL says a plain
``TypeError`` or ``RangeError`` is thrown, rtcpeer raises the Python built-in
``TypeError`` / ``ValueError``.

The W3C ``SyntaxError`` DOMException is :class:`InvalidSyntaxError`; it also derives
from the built-in ``SyntaxError`` so ``except SyntaxError`` catches it as in JS.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "DOMException",
    "InvalidAccessError",
    "InvalidModificationError",
    "InvalidStateError",
    "InvalidSyntaxError",
    "NotFoundError",
    "NotSupportedError",
    "OperationError",
    "RTCError",
]


class DOMException(Exception):
    """Base of the W3C-named errors; ``name`` is the W3C error name."""

    name: ClassVar[str] = "Error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.name}: {self.message}" if self.message else self.name


class InvalidStateError(DOMException):
    """The object is in a state where the operation is not allowed."""

    name = "InvalidStateError"


class InvalidCharacterError(DOMException):
    """A string holds characters the operation does not take (e.g. insertDTMF)."""

    name = "InvalidCharacterError"


class InvalidAccessError(DOMException):
    """The operation is not supported with these arguments (e.g. an SDP mismatch)."""

    name = "InvalidAccessError"


class InvalidModificationError(DOMException):
    """The change asked for cannot be made (e.g. modifying a munged SDP field)."""

    name = "InvalidModificationError"


class InvalidSyntaxError(DOMException, SyntaxError):
    """W3C ``SyntaxError``: a string (URL, SDP, candidate) could not be parsed."""

    name = "SyntaxError"

    def __init__(self, message: str = "") -> None:
        DOMException.__init__(self, message)


class NotFoundError(DOMException):
    """The object asked for does not exist here (e.g. a sender of another connection)."""

    name = "NotFoundError"


class NotSupportedError(DOMException):
    """The operation or value is valid but not supported by rtcpeer."""

    name = "NotSupportedError"


class OperationError(DOMException):
    """The operation failed for a reason specific to it."""

    name = "OperationError"


class RTCError(OperationError):
    """W3C ``RTCError``: an ``OperationError`` carrying ``errorDetail``.

    ``errorDetail`` is one of the ``RTCErrorDetailType`` strings, e.g.
    ``"dtls-failure"``, ``"fingerprint-failure"``, ``"sctp-failure"``,
    ``"sdp-syntax-error"``, ``"data-channel-failure"``.
    """

    name = "OperationError"

    def __init__(
        self,
        message: str = "",
        *,
        error_detail: str,
        sdp_line_number: int | None = None,
        sctp_cause_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.errorDetail = error_detail
        self.sdpLineNumber = sdp_line_number
        self.sctpCauseCode = sctp_cause_code
