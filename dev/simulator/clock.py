"""A simulated wall clock that can run faster than real time, be frozen, set or advanced."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimClock:
    """Simulated time = anchor + (real elapsed since anchoring) x speed.

    speed 0 freezes the clock, which is what tests want: they move it with set() or advance().
    The real time source is injectable so nothing here ever needs a real sleep.
    """

    def __init__(
        self,
        start: datetime,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._monotonic = monotonic
        self._anchor = start.timestamp()
        self._anchor_real = monotonic()
        self._speed = float(speed)

    @property
    def speed(self) -> float:
        return self._speed

    def timestamp(self) -> float:
        """Current simulated time as unix seconds."""
        return self._anchor + (self._monotonic() - self._anchor_real) * self._speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("time must be timezone-aware")
        self._anchor = when.timestamp()
        self._anchor_real = self._monotonic()

    def advance(self, seconds: float) -> None:
        self.set(self.now() + timedelta(seconds=seconds))

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        # re-anchor so the current simulated time does not jump
        self._anchor = self.timestamp()
        self._anchor_real = self._monotonic()
        self._speed = float(speed)
