"""VRM's history of the simulated installation: `stats` (custom and kwh) and `widgets/Graph`.

Before the simulation's start the site has a past of `history_days`, integrated by the same
physics from that many days earlier (SOC eased so that it meets the start's SOC); from the start
on, the samples come from the VRM log records. The last `history_late_hours` before the start are
back-logged: VRM has them only that many hours after the start.

Energy (`type=kwh`) integrates the power samples (a past sample holds for its physics step, a
log record for the logging interval) after splitting each sample into flows by a fixed rule,
see `split_flows`.
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
# `stats?type=kwh` flows: from PV (P), the battery (B), the grid (G) and a genset (g) to
# consumers (c), the battery (b) and the grid (g); the site has no genset
FLOWS = ("Pc", "Pb", "Pg", "Bc", "Bg", "Gc", "Gb", "gc", "gb")
SPLIT = FLOWS[:7]  # what split_flows returns
# the system service's powers in a log record: PV (DC), load, battery (+ charging), grid
# (+ import)
POWER_KEYS = ("Dc/Pv/Power", "Ac/Consumption/L1/Power", "Dc/Battery/Power", "Ac/Grid/L1/Power")


def _aggregate(samples: Iterable[tuple[float, float]], length: int) -> dict[int, list[float]]:
    """(t, value) samples -> interval start -> [mean, min, max]."""
    buckets: dict[int, list[float]] = {}
    for t, value in samples:
        buckets.setdefault(int(t // length * length), []).append(value)
    return {
        start: [round(sum(v) / len(v), 3), round(min(v), 3), round(max(v), 3)]
        for start, v in buckets.items()
    }


def split_flows(pv: float, load: float, battery: float, grid: float) -> tuple[float, ...]:
    """One sample's powers (W) -> (Pc, Pb, Pg, Bc, Bg, Gc, Gb) in W.

    PV serves consumers first, the rest charges the battery, the rest goes to the grid; a
    discharging battery serves consumers, the rest goes to the grid; the grid covers what
    consumers still need and charges the battery beyond PV. The inverter/charger's conversion
    losses (what the sources give beyond load, charge and export) come off PV first, then off
    the grid import; only when the battery alone feeds the loads do they count as consumption
    (a discharge must end somewhere). So the flows add up exactly: Pc + Bc + Gc is the load
    (plus those losses), Pb + Gb the charge, Bc + Bg the discharge, Pg + Bg the export.
    """
    pv, load = max(pv, 0.0), max(load, 0.0)
    charge, discharge = max(battery, 0.0), max(-battery, 0.0)
    imported, exported = max(grid, 0.0), max(-grid, 0.0)
    given = pv + discharge + imported - charge - exported  # what reached consumers
    loss = max(0.0, given - load)
    cut = min(pv, loss)
    pv, loss = pv - cut, loss - cut
    cut = min(imported, loss)
    imported, loss = imported - cut, loss - cut
    consumers = max(0.0, min(given, load + loss))
    pc = min(pv, consumers)
    pb = min(pv - pc, charge)
    bc = min(discharge, consumers - pc)
    return (pc, pb, pv - pc - pb, bc, discharge - bc, consumers - pc - bc, charge - pb)


def _number(value: Any) -> float:
    """A logged power, 0 for Victron's invalid marker (the grid during an outage)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return 0.0


class SiteHistory:
    """The past of one simulated installation, computed once on first use."""

    def __init__(self, model: SimulatedInstallation) -> None:
        self.model = model
        self._past: dict[str, list[tuple[float, float]]] | None = None
        # (t, seconds, flows in W by SPLIT) of every past physics step
        self._past_flows: list[tuple[float, float, tuple[float, ...]]] = []
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
                split = split_flows(flows.pv_w, flows.load_served_w, flows.battery_w, flows.grid_w)
                self._past_flows.append((st.t, PAST_STEP, split))
                for code, (pick, _) in CODES.items():
                    value = pick((st, flows))
                    if code == "bs":
                        # never eased above the ESS's ceiling (100 % without one)
                        top = max(value, cfg.max_charge_soc)
                        value = min(top, max(0.0, value + gap * (st.t - first) / span))
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

    def _backlog_pending(self, t: float) -> bool:
        """True while VRM still waits for the back-logged data of time t."""
        late = self.model.config.history_late_hours * HOUR
        return self.start - late <= t < self.start and self.model.timestamp() < self.start + late

    def visible_until(self, interval_start: float) -> float:
        """The end of the data VRM has received for an interval starting then."""
        now = self.model.timestamp()
        stale = self.model.faults.window("stale", now)
        until = now if stale is None else min(now, stale.starts_at)
        if self._backlog_pending(interval_start):
            # the back-log has not been uploaded yet
            return self.start - self.model.config.history_late_hours * HOUR
        return until

    def sample_visible(self, t: float) -> bool:
        """Whether VRM has received the sample of time t (for widgets/Graph)."""
        now = self.model.timestamp()
        stale = self.model.faults.window("stale", now)
        if stale is not None and t >= stale.starts_at:
            return False
        return t <= now and not self._backlog_pending(t)

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

    def samples(self, code: str, start: float, end: float) -> list[tuple[float, float]]:
        """The (t, value) samples of one code VRM has, start <= t <= end, oldest first."""
        if code not in CODES:
            return []
        found = [(t, v) for t, v in self._past_samples()[code] if start <= t <= end]
        if end >= self.start:
            live = self._live_samples(code, max(start, self.start), end + 1)
            found += [(t, v) for t, v in live if t <= end]
        return [(t, v) for t, v in found if self.sample_visible(t)]

    def _flow_samples(
        self, start: float, end: float
    ) -> list[tuple[float, float, tuple[float, ...]]]:
        """(t, seconds, flows in W) of the past steps and log records with start <= t < end."""
        self._past_samples()
        found = [item for item in self._past_flows if start <= item[0] < end]
        interval = float(self.model.config.logging_interval)
        for log in self.model.logs_between(max(start, self.start), end):
            system = log.services.get(svc.SYSTEM, {})
            powers = (_number(system.get(key)) for key in POWER_KEYS)
            found.append((log.t, interval, split_flows(*powers)))
        return found

    def energy(self, start: int, end: int) -> dict[str, Any]:
        """The body of `stats?type=kwh&interval=hours`: kWh of each hour by flow."""
        first = int(start // HOUR * HOUR)
        hours: dict[int, list[float]] = {}
        for t, seconds, watts in self._flow_samples(first, end):
            kwh = hours.setdefault(int(t // HOUR * HOUR), [0.0] * len(SPLIT))
            for i, power in enumerate(watts):
                kwh[i] += power * seconds / 3_600_000.0
        shown = {
            begin: [round(value, 3) for value in kwh]
            for begin, kwh in sorted(hours.items())
            if begin + HOUR <= self.visible_until(begin)
        }
        records: dict[str, Any] = {}
        totals: dict[str, float] = {}
        for i, flow in enumerate(FLOWS):
            rows = (
                [[begin * 1000, kwh[i]] for begin, kwh in shown.items()] if i < len(SPLIT) else []
            )
            had = any(value > 0 for _, value in rows)  # false: never this flow in the span
            records[flow] = rows if had else False
            totals[flow] = round(sum(value for _, value in rows), 3) if had else 0
        # VRM's total of every flow per hour
        records["kwh"] = [[begin * 1000, round(sum(kwh), 3)] for begin, kwh in shown.items()]
        totals["kwh"] = round(sum(sum(kwh) for kwh in shown.values()), 3)
        return {"success": True, "records": records, "totals": totals}

    def graph(
        self, codes: list[str], start: int, end: int, max_points: int, min_max: bool
    ) -> dict[str, list[list[float]]]:
        """`widgets/Graph` points by code: `[ts_s, mean(, min, max)]`, at most max_points each.

        Above max_points the span is cut into max_points equal buckets and each bucket with
        samples gives one point at its first sample's time.
        """
        result: dict[str, list[list[float]]] = {}
        bucket = max(1.0, (end - start) / max_points)
        for code in codes:
            found = self.samples(code, start, end)
            if len(found) > max_points:
                groups: dict[int, list[tuple[float, float]]] = {}
                for t, value in found:
                    groups.setdefault(min(max_points - 1, int((t - start) // bucket)), []).append(
                        (t, value)
                    )
                chunks = [groups[key] for key in sorted(groups)]
            else:
                chunks = [[sample] for sample in found]
            points = []
            for chunk in chunks:
                values = [value for _, value in chunk]
                point = [round(chunk[0][0]), round(sum(values) / len(values), 3)]
                if min_max:
                    point += [round(min(values), 3), round(max(values), 3)]
                points.append(point)
            result[code] = points
        return result

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
