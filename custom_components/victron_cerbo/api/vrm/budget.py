"""The request budget every VRM request passes through, retries included."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

from .errors import VrmBudgetExceededError

_LOGGER = logging.getLogger(__name__)


class RequestBudget:
    """Counts every request in a rolling window and refuses the one that would exceed the cap.

    It also holds the moment until which VRM asked us to stay quiet (Retry-After), so that the
    hold survives when a new client is built around the same budget.
    """

    def __init__(
        self,
        warning: int = 40,
        limit: int = 45,
        window: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Cap at `limit` requests per `window` seconds; `near_limit` from `warning` on."""
        if window <= 0:
            raise ValueError("window must be positive")
        self._clock = clock
        self._window = float(window)
        self._sent: deque[float] = deque()
        self._hold_until: float | None = None
        self._warned = False
        self._limit = 1
        self._warning = 1
        self.configure(warning=warning, limit=limit)

    def configure(self, *, warning: int, limit: int) -> None:
        """Change the thresholds; the requests already counted stay counted."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if not 0 <= warning <= limit:
            raise ValueError("warning must be between 0 and limit")
        self._limit = int(limit)
        self._warning = int(warning)

    @property
    def limit(self) -> int:
        """Most requests allowed in one window."""
        return self._limit

    @property
    def warning(self) -> int:
        """Request count from which `near_limit` is true."""
        return self._warning

    @property
    def window(self) -> float:
        """Length of the rolling window in seconds."""
        return self._window

    def _prune(self, now: float) -> None:
        """Forget requests that left the window."""
        cutoff = now - self._window
        while self._sent and self._sent[0] <= cutoff:
            self._sent.popleft()

    @property
    def used(self) -> int:
        """Requests sent in the last window."""
        self._prune(self._clock())
        return len(self._sent)

    @property
    def remaining(self) -> int:
        """Requests still allowed in the current window."""
        return max(0, self._limit - self.used)

    @property
    def near_limit(self) -> bool:
        """True once the warning threshold is reached."""
        return self.used >= self._warning

    def seconds_until_free(self) -> float:
        """Seconds until one more request is allowed (0 when one is allowed now)."""
        now = self._clock()
        self._prune(now)
        if len(self._sent) < self._limit:
            return 0.0
        # The oldest request that must leave before the count drops below the limit.
        blocking = self._sent[len(self._sent) - self._limit]
        return max(0.0, blocking + self._window - now)

    def acquire(self) -> None:
        """Count one request, or raise VrmBudgetExceededError without counting it."""
        now = self._clock()
        self._prune(now)
        if len(self._sent) >= self._limit:
            wait = self.seconds_until_free()
            raise VrmBudgetExceededError(
                f"VRM request budget reached ({self._limit} per {self._window:.0f} s); "
                f"next slot in {wait:.0f} s",
                retry_after=wait,
            )
        self._sent.append(now)
        if len(self._sent) >= self._warning:
            if not self._warned:
                self._warned = True
                _LOGGER.warning(
                    "VRM request budget: %d of %d requests used in the last %.0f s",
                    len(self._sent),
                    self._limit,
                    self._window,
                )
        else:
            self._warned = False

    def hold(self, seconds: float) -> None:
        """Refuse every request for the next `seconds` (extends, never shortens, a hold)."""
        until = self._clock() + max(0.0, seconds)
        if self._hold_until is None or until > self._hold_until:
            self._hold_until = until

    def hold_remaining(self) -> float:
        """Seconds left of the current Retry-After hold (0 when none)."""
        if self._hold_until is None:
            return 0.0
        left = self._hold_until - self._clock()
        if left <= 0:
            self._hold_until = None
            return 0.0
        return left

    def sent_times(self) -> tuple[float, ...]:
        """Clock readings of the requests in the current window, oldest first."""
        self._prune(self._clock())
        return tuple(self._sent)
