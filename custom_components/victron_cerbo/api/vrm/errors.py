"""The errors the VRM client raises, each with a short kind and the cause in plain words."""

from __future__ import annotations

import errno
from http import HTTPStatus

import aiohttp


class VrmError(Exception):
    """Base class of every VRM client error.

    `kind` is a short stable string for health reporting; `status` the HTTP status, if any;
    `cause` says in plain words what went wrong ("timeout", "HTTP 503", "connection refused").
    """

    kind: str = "error"
    cause: str = "error"

    def __init__(
        self, message: str, *, status: int | None = None, cause: str | None = None
    ) -> None:
        """Keep the HTTP status and the plain cause next to the message."""
        super().__init__(message)
        self.status = status
        if cause is not None:
            self.cause = cause
        elif status is not None:
            self.cause = f"HTTP {status}"


class VrmConnectionError(VrmError):
    """VRM could not be reached, timed out or kept answering 5xx after the retries."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "connection",
        status: int | None = None,
        cause: str | None = None,
    ) -> None:
        """`kind` is "timeout", "server_error" or "connection"."""
        super().__init__(message, status=status, cause=cause)
        self.kind = kind


class VrmAuthenticationError(VrmError):
    """401: the token is invalid, revoked or expired."""

    kind = "auth"
    cause = "token rejected"


class VrmForbiddenError(VrmError):
    """403: the token is valid but may not see this site (or user)."""

    kind = "forbidden"

    def __init__(self, message: str, *, site_id: int | None = None) -> None:
        """Remember which site was refused."""
        super().__init__(message, status=HTTPStatus.FORBIDDEN, cause="HTTP 403 (no access)")
        self.site_id = site_id


class VrmRateLimitError(VrmError):
    """429, or a request refused locally because VRM's Retry-After has not passed yet."""

    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None, sent: bool = True) -> None:
        """`retry_after` is in seconds; None when VRM did not say. `sent`: VRM answered 429."""
        cause = "HTTP 429 (rate limited)" if sent else "waiting for VRM's Retry-After"
        super().__init__(message, status=HTTPStatus.TOO_MANY_REQUESTS, cause=cause)
        self.retry_after = retry_after


class VrmBudgetExceededError(VrmError):
    """Our own cap on requests per rolling hour is reached; nothing was sent."""

    kind = "budget"
    cause = "request budget used up"

    def __init__(self, message: str, *, retry_after: float) -> None:
        """`retry_after` is the number of seconds until a slot frees up."""
        super().__init__(message)
        self.retry_after = retry_after


class VrmResponseError(VrmError):
    """VRM answered, but not with what we asked for (success:false, HTML, wrong shape, 4xx)."""

    kind = "bad_response"
    cause = "unexpected answer"


def connection_cause(err: aiohttp.ClientError) -> str:
    """Plain words for why a connection failed."""
    if isinstance(err, aiohttp.ClientConnectorDNSError):
        return "name not resolved"
    if isinstance(err, aiohttp.ClientConnectorError):
        if err.os_error.errno == errno.ECONNREFUSED:
            return "connection refused"
        return "cannot connect"
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return "connection closed"
    if isinstance(err, aiohttp.ClientPayloadError):
        return "answer cut off"
    return "connection failed"
