"""The errors the Cerbo client raises; nothing else ever leaves it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# The cause of a failure in plain words, by kind; what the health entities and the log show.
ERROR_REASONS: Final[Mapping[str, str]] = {
    "timeout": "timeout",
    "refused": "connection refused",
    "unknown_host": "unknown host name",
    "connection": "cannot connect",
    "response": "unparsable answer",
    "no_value": "no value",
    "no_services": "D-Bus not answering",
    "wrong_device": "a different GX",
}


class CerboError(Exception):
    """Any failure talking to the Cerbo's local API."""

    default_kind: str = "error"

    def __init__(self, message: str, *, kind: str | None = None, reason: str | None = None) -> None:
        """Keep a short machine-readable kind and the cause in plain words next to the message."""
        super().__init__(message)
        self.kind = kind or self.default_kind
        self.reason = reason or ERROR_REASONS.get(self.kind, "error")


class CerboConnectionError(CerboError):
    """The server could not be reached: refused, reset, no route or timed out."""

    default_kind = "connection"


class CerboTimeoutError(CerboConnectionError):
    """The server did not answer within the timeout (it hangs on a stuck D-Bus service)."""

    default_kind = "timeout"


class CerboResponseError(CerboError):
    """The server answered with something unusable: HTML, malformed JSON, a wrong shape."""

    default_kind = "response"
