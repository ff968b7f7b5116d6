"""VRM's aggregated history (`stats?type=custom`) of the simulated installation.

Before the simulation's start the site has a past of `history_days`, integrated by the same
physics from that many days earlier (SOC eased so that it meets the start's SOC); from the start
on, the hours come from the VRM log records. The last `history_late_hours` before the start are
back-logged: VRM has them only that many hours after the start.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from . import services as svc

if TYPE_CHECKING:
    from .model import SimulatedInstallation

HOUR = 3600
PAST_STEP = 60.0  # seconds per physics step of the past (coarser than the live 30 s)
# attribute code -> (value of the past physics from (state, flows), key of the system service)
CODES: dict[str, tuple[Callable[[Any], float], str]] = {
    "bs": (lambda both: both[0].soc, "Dc/Battery/Soc"),
    "bv": (lambda both: both[1].battery_voltage, "Dc/Battery/Voltage"),
    "bc": (lambda both: both[1].battery_current, "Dc/Battery/Current"),
    "bp": (lambda both: both[1].battery_w, "Dc/Battery/Power"),
    "bT": (lambda both: both[0].temperature, "Dc/Battery/Temperature"),
}
INTERVALS = {"15mins": 900, "hours": HOUR}


def _aggregate(samples: Iterable[tuple[float, float]], length: int) -> dict[int, list[float]]:
    """(t, value) samples -> interval start -> [mean, min, max]."""
    buckets: dict[int, list[float]] = {}
    for t, value in samples:
        buckets.setdefault(int(t // length * length), []).append(value)
    return {
        start: [round(sum(v) / len(v), 3), round(min(v), 3), round(max(v), 3)]
        for start, v in buckets.items()
    }


class SiteHistory:
    """The past of one simulated installation, computed once on first use."""

    def __init__(self, model: SimulatedInstallation) -> None:
        self.model = model
        self._past: dict[str, list[tuple[float, float]]] | None = None
        self.stats_requests = 0

    @property
    def start(self) -> float:
        return self.model.started

    def _past_samples(self) -> dict[str, list[tuple[float, float]]]:
        if self._past is None:
            model, cfg = self.model, self.model.config
            first = math.floor((self.start - cfg.history_days * 86400) / HOUR) * HOUR
            physics = model.physics
            state = physics.initial_state(first)
            samples: dict[str, list[tuple[float, float]]] = {code: [] for code in CODES}
            raw: list[tuple[Any, Any]] = []
            while state.t < self.start:
                flows = physics.flows(state, model.grid_on(state.t))
                raw.append((state, flows))
                state = physics.step(state, PAST_STEP, flows.grid_on)
            # ease SOC so that the past ends where the live simulation begins
            gap = cfg.initial_soc - state.soc
            span = max(1.0, self.start - first)
            for st, flows in raw:
                for code, (pick, _) in CODES.items():
                    value = pick((st, flows))
                    if code == "bs":
                        value = min(100.0, max(0.0, value + gap * (st.t - first) / span))
                    samples[code].append((st.t, value))
            self._past = samples
        return self._past

    def _live_samples(self, code: str, start: float, end: float) -> list[tuple[float, float]]:
        key = CODES[code][1]
        samples = []
        for log in self.model.logs_between(start, end):
            value = log.services.get(svc.SYSTEM, {}).get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                samples.append((log.t, float(value)))
        return samples

    def visible_until(self, interval_start: float) -> float:
        """The end of the data VRM has received for an interval starting then."""
        now = self.model.timestamp()
        stale = self.model.faults.window("stale", now)
        until = now if stale is None else min(now, stale.starts_at)
        late_from = self.start - self.model.config.history_late_hours * HOUR
        if late_from <= interval_start < self.start and now < self.start + (
            self.model.config.history_late_hours * HOUR
        ):
            return late_from  # the back-log has not been uploaded yet
        return until

    def series(self, code: str, start: int, end: int, length: int) -> list[list[float]] | bool:
        """VRM's `[ts_ms, mean, min, max]` rows of one code, or False without data."""
        if code not in CODES:
            return False
        first = int(start // length * length)
        samples = [(t, v) for t, v in self._past_samples()[code] if first <= t < end]
        samples += self._live_samples(code, max(first, self.start), end)
        rows = []
        for begin, values in sorted(_aggregate(samples, length).items()):
            if begin + length <= self.visible_until(begin) and begin + length <= end + length:
                rows.append([begin * 1000, *values])
        return rows or False

    def stats(self, codes: list[str], start: int, end: int, interval: str) -> dict[str, Any]:
        """The body of `stats?type=custom`."""
        length = INTERVALS[interval]
        records = {code: self.series(code, start, end, length) for code in codes}
        totals = {
            code: round(sum(row[1] for row in rows) / len(rows), 3) if rows else False
            for code, rows in records.items()
            if isinstance(rows, list) or rows is False
        }
        return {"success": True, "records": records, "totals": totals}
