"""Compare the Victron shunt's state of charge with an inverter's own estimate (e.g. Sol-Ark).

Plain Python, no Home Assistant imports. The rule, stated once:

* Victron values are compared with the inverter value *in effect when the Victron value was
  sampled* (the inverter's last value change at or before that moment), so a VRM sample that is
  three minutes old is never set against an inverter reading taken three minutes later.
* The verdict (agree / disagree) changes only after the new condition has held for the dwell time,
  so one noisy sample cannot flip it.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta

FULL = 100.0  # percent

# An inverter reading taken this soon after the Victron sample may stand in for it.
MAX_LEAD = timedelta(minutes=1)
# How much inverter history to keep: enough for a VRM sample that is several minutes old.
HISTORY = timedelta(minutes=20)
# A hard bound besides: an inverter that changes every second fills 20 minutes with 1,200.
MAX_READINGS = 2000


def parse_soc(raw: object) -> float | None:
    """Return a state of charge in 0-100 from an entity state, or None when it is not one."""
    if isinstance(raw, bool):
        return None
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or not 0 <= value <= FULL:
        return None
    return value


@dataclass(frozen=True, kw_only=True)
class ComparisonResult:
    """One comparison: the two values, their difference and the verdict."""

    victron_soc: float
    other_soc: float
    difference: float  # Victron minus the other, in percentage points
    disagree: bool  # the verdict after the dwell time
    disagreeing_since: datetime | None  # when the current disagreement started (verdict or not)
    victron_sampled_at: datetime
    other_sampled_at: datetime


@dataclass
class SocComparator:
    """Keeps the inverter's recent readings and the dwell-time verdict."""

    threshold: float
    dwell: timedelta
    _times: list[datetime] = field(default_factory=list)
    _values: list[float] = field(default_factory=list)
    _verdict: bool = False
    _pending: bool | None = None  # a condition that differs from the verdict
    _pending_since: datetime | None = None
    _disagreeing_since: datetime | None = None

    def add_other(self, value: float | None, at: datetime) -> None:
        """Record an inverter reading; None (unavailable, junk) breaks the history."""
        if self._times and at < self._times[-1]:
            return  # out of order: keep the history monotonic
        if value is None:
            self.clear_other()
            return
        if self._times and at == self._times[-1]:
            # The same moment told again (the entity's attributes changed, not its state).
            self._values[-1] = value
            return
        if self._values and value == self._values[-1]:
            return  # no change: the reading kept has been in effect all along
        self._times.append(at)
        self._values.append(value)
        if len(self._times) > MAX_READINGS:
            del self._times[0], self._values[0]
        cutoff = at - HISTORY
        keep = bisect_right(self._times, cutoff)
        # Keep the last reading before the cutoff: it is still "in effect" after it.
        keep = max(keep - 1, 0)
        del self._times[:keep]
        del self._values[:keep]

    def clear_other(self) -> None:
        """Forget the inverter history (its entity went away or reported junk)."""
        self._times.clear()
        self._values.clear()

    def other_at(self, moment: datetime) -> tuple[float, datetime] | None:
        """The inverter reading to set against a Victron sample taken at a moment.

        The reading in effect then: the last one at or before it (readings are value changes,
        and unavailability clears the history, so it held until the next one). Otherwise the
        first reading after it, if that came soon after (e.g. just after start-up).
        """
        index = bisect_right(self._times, moment)
        if index > 0:
            return self._values[index - 1], self._times[index - 1]
        if index < len(self._times) and self._times[index] - moment <= MAX_LEAD:
            return self._values[index], self._times[index]
        return None

    def compare(
        self, victron_soc: float | None, victron_sampled_at: datetime | None, now: datetime
    ) -> ComparisonResult | None:
        """Compare the latest Victron value with the inverter; None when either is missing."""
        if victron_soc is None or victron_sampled_at is None:
            return None
        other = self.other_at(victron_sampled_at)
        if other is None:
            return None
        other_soc, other_sampled_at = other
        difference = round(victron_soc - other_soc, 1)
        disagree_now = abs(difference) > self.threshold
        self._update_verdict(disagree_now, now)
        return ComparisonResult(
            victron_soc=victron_soc,
            other_soc=other_soc,
            difference=difference,
            disagree=self._verdict,
            disagreeing_since=self._disagreeing_since,
            victron_sampled_at=victron_sampled_at,
            other_sampled_at=other_sampled_at,
        )

    def _update_verdict(self, disagree_now: bool, now: datetime) -> None:
        """Move the verdict only when the new condition has lasted the dwell time."""
        if disagree_now and self._disagreeing_since is None:
            self._disagreeing_since = now
        elif not disagree_now:
            self._disagreeing_since = None
        if disagree_now == self._verdict:
            self._pending = None
            self._pending_since = None
            return
        if self._pending != disagree_now:
            self._pending = disagree_now
            self._pending_since = now
        assert self._pending_since is not None
        if now - self._pending_since >= self.dwell:
            self._verdict = disagree_now
            self._pending = None
            self._pending_since = None
