"""Client for the Victron VRM API v2, personal access tokens only.

The caller injects the aiohttp session. Every request, including retries, passes through a
`RequestBudget` that caps the requests in a rolling hour and holds all traffic while VRM's
Retry-After runs. At most one request is in flight per client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

import aiohttp

from .battery import parse_battery_summary, parse_system_battery
from .budget import RequestBudget
from .errors import (
    VrmAuthenticationError,
    VrmBudgetExceededError,
    VrmConnectionError,
    VrmForbiddenError,
    VrmRateLimitError,
    VrmResponseError,
    connection_cause,
)
from .live import parse_account_live
from .models import VrmAccountLive, VrmBatteryReading, VrmSite, VrmSystemOverview, VrmUser
from .parsing import (
    _require_id,
    parse_installations,
    parse_retry_after,
    parse_system_overview,
    parse_user,
)
from .payloads import _scrub, _scrub_text, _trim
from .stats import ENERGY_FLOWS, VrmStats, parse_stats, stats_params

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://vrmapi.victronenergy.com/v2"
DEFAULT_TIMEOUT: Final = 10.0  # seconds for one whole request
# One quick retry, and only when the connection failed: a timeout or a 5xx waits for the next
# poll (3 minutes later), so an outage costs one request per poll, not four.
MAX_RETRIES: Final = 1
BACKOFF: Final = 1.0  # first retry delay in seconds; doubles each time
DEFAULT_RATE_LIMIT_HOLD: Final = 300.0  # a 429 without Retry-After still pauses us this long


class VrmClient:
    """Async VRM API v2 client for one personal access token.

    `sleep` (backoff) and `clock`/`wall_clock` are injectable so tests and benchmarks never
    wait for real. `last_payloads` keeps trimmed copies of the latest answers for diagnostics;
    they never contain the token.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token: str,
        *,
        budget: RequestBudget | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = MAX_RETRIES,
        backoff: float = BACKOFF,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Use `session` for every request; `budget` defaults to 40 warning / 45 limit."""
        self._session = session
        self._token = token.strip()
        self.budget = budget if budget is not None else RequestBudget(clock=clock)
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._timeout_seconds = timeout
        self._max_retries = max(0, max_retries)
        self._backoff = backoff
        # looked up at each call, so a patched (test) clock is seen too
        self._wall_clock = wall_clock or (lambda: time.time())  # noqa: PLW0108
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self.last_payloads: dict[str, Any] = {}

    def __repr__(self) -> str:
        """Never show the token."""
        return f"VrmClient(base_url={self._base_url!r})"

    # public API

    async def get_user(self) -> VrmUser:
        """Validate the token and learn the user id (`/users/me`)."""
        payload = await self._get("/users/me", endpoint="users_me")
        return parse_user(payload)

    async def get_installations(self, user_id: int) -> list[VrmSite]:
        """The sites the token can see."""
        user_id = _require_id(user_id, "user_id")
        payload = await self._get(f"/users/{user_id}/installations", endpoint="installations")
        return parse_installations(payload)

    async def get_system_overview(self, site_id: int) -> VrmSystemOverview:
        """The site's gateway and battery monitors."""
        site_id = _require_id(site_id, "site_id")
        payload = await self._get(
            f"/installations/{site_id}/system-overview",
            endpoint="system_overview",
            site_id=site_id,
        )
        return parse_system_overview(payload)

    async def get_battery_summary(self, site_id: int, instance: int) -> VrmBatteryReading | None:
        """The latest battery values; None when VRM has no data for that instance."""
        site_id = _require_id(site_id, "site_id")
        instance = _require_id(instance, "instance")
        payload = await self._get(
            f"/installations/{site_id}/widgets/BatterySummary",
            params={"instance": str(instance)},
            endpoint="battery_summary",
            site_id=site_id,
        )
        return parse_battery_summary(payload, instance)

    async def get_system_battery(self, user_id: int, site_id: int) -> VrmBatteryReading | None:
        """The GX's system battery values of one site: one request for a site with no monitor."""
        user_id = _require_id(user_id, "user_id")
        site_id = _require_id(site_id, "site_id")
        payload = await self._get(
            f"/users/{user_id}/installations",
            params={"idSite": str(site_id), "extended": "1"},
            endpoint="system_battery",
            site_id=site_id,
        )
        return parse_system_battery(payload, site_id, self._wall_clock())

    async def get_account_live(self, user_id: int) -> VrmAccountLive:
        """Every site's live values (system battery, states, power, alarms) in one request."""
        user_id = _require_id(user_id, "user_id")
        payload = await self._get(
            f"/users/{user_id}/installations",
            params={"extended": "1"},
            endpoint="account_live",
        )
        return parse_account_live(payload, self._wall_clock())

    async def get_stats(
        self, site_id: int, codes: Sequence[str], start: int, end: int, interval: str = "hours"
    ) -> VrmStats:
        """Mean/min/max per interval of these attribute codes from `start` to `end` (unix s)."""
        site_id = _require_id(site_id, "site_id")
        params = stats_params(codes, start, end, interval)
        payload = await self._get(
            f"/installations/{site_id}/stats", params=params, endpoint="stats", site_id=site_id
        )
        return parse_stats(payload, codes, interval)

    async def get_energy(
        self, site_id: int, start: int, end: int, interval: str = "hours"
    ) -> VrmStats:
        """KWh per interval of each energy flow (ENERGY_FLOWS) from `start` to `end`."""
        site_id = _require_id(site_id, "site_id")
        params = stats_params((), start, end, interval, kind="kwh")
        payload = await self._get(
            f"/installations/{site_id}/stats", params=params, endpoint="stats", site_id=site_id
        )
        return parse_stats(payload, ENERGY_FLOWS, interval)

    # transport

    def _token_usable(self) -> bool:
        """A token VRM could accept: visible ASCII without spaces (it goes into a header)."""
        token = self._token
        return bool(token) and token.isascii() and token.isprintable() and " " not in token

    async def _get(
        self,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        site_id: int | None = None,
    ) -> dict[str, Any]:
        """GET with budget, hold, retries and error mapping; returns the decoded JSON object."""
        if not self._token_usable():
            raise VrmAuthenticationError(
                "The VRM access token is empty or malformed", cause="token empty or malformed"
            )
        url = f"{self._base_url}{path}"
        async with self._lock:
            attempt = 0
            failure: VrmConnectionError | None = None
            while True:
                remaining = self.budget.hold_remaining()
                if remaining > 0:
                    raise VrmRateLimitError(
                        f"VRM asked us to wait; {remaining:.0f} s left",
                        retry_after=remaining,
                        sent=False,
                    ) from failure
                try:
                    self.budget.acquire()
                except VrmBudgetExceededError as err:
                    raise err from failure
                result = await self._attempt(url, params, endpoint, site_id)
                if isinstance(result, dict):
                    return result
                failure = result
                if failure.kind != "connection" or attempt >= self._max_retries:
                    raise failure
                delay = self._backoff * 2**attempt
                attempt += 1
                _LOGGER.debug(
                    "VRM %s failed (%s); retry %d in %.1f s", endpoint, failure.kind, attempt, delay
                )
                await self._sleep(delay)

    async def _attempt(
        self,
        url: str,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None,
        endpoint: str,
        site_id: int | None,
    ) -> dict[str, Any] | VrmConnectionError:
        """One request. Returns the payload, or a transient error worth retrying; raises others."""
        headers = {"X-Authorization": f"Token {self._token}", "Accept": "application/json"}
        try:
            # No redirects: aiohttp would forward X-Authorization to wherever they point.
            async with self._session.get(
                url, params=params, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                body = await response.read()
        except TimeoutError:
            return VrmConnectionError(
                f"VRM did not answer within {self._timeout_seconds:g} s",
                kind="timeout",
                cause="timeout",
            )
        except aiohttp.ClientError as err:
            cause = connection_cause(err)
            message = _scrub_text(f"Cannot reach VRM ({cause}): {err}", self._token)
            return VrmConnectionError(message, kind="connection", cause=cause)
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            self._remember_error(status, body)
            return VrmConnectionError(
                f"VRM answered HTTP {status}", kind="server_error", status=status
            )
        return self._handle(status, retry_after, body, endpoint, site_id)

    def _remember_error(self, status: int, body: bytes) -> None:
        """Keep the status and error_code of the last failure for diagnostics, not the body."""
        self.last_payloads["last_error"] = {"status": status, "error_code": self._error_code(body)}

    def _error_code(self, body: bytes) -> str | None:
        """VRM's `error_code` from a JSON error body; the localised `errors` text is ignored."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
        code = payload.get("error_code") if isinstance(payload, dict) else None
        if not isinstance(code, str):
            return None
        return _scrub_text(code[:64], self._token)

    def _error_detail(self, payload: Mapping[str, Any]) -> str | None:
        """`error_code`, else the first `errors` text (a string, a list or a field map)."""
        code = payload.get("error_code")
        if isinstance(code, str) and code:
            return _scrub_text(code[:64], self._token)
        errors = payload.get("errors")
        if isinstance(errors, Mapping):
            errors = list(errors.values())
        if isinstance(errors, list):
            errors = next((item for item in errors if isinstance(item, str)), None)
        if not isinstance(errors, str) or not errors.strip():
            return None
        return _scrub_text(errors.strip()[:80], self._token)

    def _handle(
        self,
        status: int,
        retry_after: str | None,
        body: bytes,
        endpoint: str,
        site_id: int | None,
    ) -> dict[str, Any]:
        """Map a non-5xx answer to a payload or an error."""
        if status == HTTPStatus.UNAUTHORIZED:
            self._remember_error(status, body)
            raise VrmAuthenticationError(
                "VRM rejected the access token (invalid, revoked or expired)",
                status=status,
                cause="HTTP 401 (token rejected)",
            )
        if status == HTTPStatus.FORBIDDEN:
            self._remember_error(status, body)
            what = f"site {site_id}" if site_id is not None else "this resource"
            raise VrmForbiddenError(
                f"The VRM access token has no access to {what}", site_id=site_id
            )
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            self._remember_error(status, body)
            wait = parse_retry_after(retry_after, self._wall_clock())
            self.budget.hold(DEFAULT_RATE_LIMIT_HOLD if wait is None else wait)
            said = "no Retry-After" if wait is None else f"retry after {wait:.0f} s"
            raise VrmRateLimitError(f"VRM rate limit hit ({said})", retry_after=wait)
        if not HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES:
            self._remember_error(status, body)
            code = self._error_code(body)
            detail = f" ({code})" if code else ""
            raise VrmResponseError(f"VRM answered HTTP {status}{detail}", status=status)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as err:
            self._remember_error(status, b"")
            raise VrmResponseError(
                f"VRM answered HTTP {status} with a body that is not JSON",
                status=status,
                cause="unparsable answer",
            ) from err
        if not isinstance(payload, dict):
            raise VrmResponseError(
                f"VRM answered HTTP {status} with a non-object",
                status=status,
                cause="unexpected answer",
            )
        if payload.get("success") is False:
            self._remember_error(status, body)
            code = self._error_detail(payload)
            raise VrmResponseError(
                f"VRM reported failure ({code or 'no error_code'})",
                status=status,
                cause=f"VRM reported an error ({code})" if code else "VRM reported an error",
            )
        self.last_payloads[endpoint] = _scrub(_trim(endpoint, payload), self._token)
        return payload
