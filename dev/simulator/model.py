"""One simulated installation behind both APIs: clock, physics, VRM logger, faults, overrides."""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import services as svc
from .clock import SimClock
from .config import STEP_SECONDS, SimConfig
from .faults import FaultInjector
from .history import SiteHistory
from .physics import BatteryState, Flows, Physics

CHECKPOINT_STEPS = 120  # keep the state every simulated hour, to go back in time cheaply
LOG_HISTORY = 2000  # VRM log records kept (about a week at 5 minutes)
# the services the VRM logger uploads, by VRM "Device"
LOGGED_SERVICES = (svc.SYSTEM, svc.BATTERY, svc.SHUNT, svc.VEBUS, svc.SOLAR)


@dataclass(frozen=True, slots=True)
class LogRecord:
    """What the GX's VRM logger sampled at one logging instant."""

    t: float
    services: dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float | None = None

    def contains(self, t: float) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


@dataclass(slots=True)
class _RateBucket:
    level: float = 0.0
    last: float = 0.0


@dataclass(slots=True)
class Observation:
    t: float
    state: BatteryState
    flows: Flows
    services: dict[str, dict[str, Any]] = field(repr=False)


class SimulatedInstallation:
    """A Cerbo GX site (48 V LiFePO4, PV, grid, loads) with a VRM account watching it."""

    def __init__(
        self,
        start: datetime,
        speed: float = 1.0,
        seed: int = 0,
        config: SimConfig | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or SimConfig()
        self.seed = seed
        self.monotonic = monotonic
        self.clock = SimClock(start, speed, monotonic)
        self.physics = Physics(self.config, seed, start.timestamp())
        self.faults = FaultInjector()
        self.token = self.config.token
        self.overrides: dict[tuple[str, str], Any] = {}
        self.outages: list[Window] = []
        self.local_lock = asyncio.Lock()  # the Cerbo's server answers one request at a time
        self.requests: Counter[str] = Counter()
        self._rate: dict[str, _RateBucket] = {}
        self._version = 0
        self.started = start.timestamp()
        self._t0 = math.floor(self.started / STEP_SECONDS) * STEP_SECONDS
        self._state = self.physics.initial_state(self._t0)
        self._step = 0
        self._checkpoints: dict[int, BatteryState] = {0: self._state}
        self._logs: deque[LogRecord] = deque(maxlen=LOG_HISTORY)
        self._cache: tuple[float, tuple[int, int], Observation] | None = None
        self.history = SiteHistory(self)
        # VRM already has a record from before we started (the site was running before)
        interval = self.config.logging_interval
        first = math.floor(self._t0 / interval) * interval
        self._logs.append(self._make_log(first, self._observe_state(self._state, self._t0)))

    # --- time ------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def timestamp(self) -> float:
        return self.clock.timestamp()

    def set_time(self, when: datetime) -> None:
        if when.timestamp() < self._t0:
            raise ValueError("cannot go back before the simulation start")
        self.clock.set(when)

    def advance(self, seconds: float) -> None:
        self.set_time(datetime.fromtimestamp(self.timestamp() + seconds, UTC))

    def set_speed(self, speed: float) -> None:
        self.clock.set_speed(speed)

    # --- environment controls ---------------------------------------------------------------

    def grid_on(self, t: float) -> bool:
        return not any(window.contains(t) for window in self.outages)

    def add_outage(self, start: float, end: float | None) -> None:
        self.outages.append(Window(start, end))
        self._touch()

    def set_grid(self, available: bool) -> None:
        """Start an open-ended outage now, or end every outage running now."""
        now = self.timestamp()
        if available:
            self.outages = [Window(w.start, now) if w.contains(now) else w for w in self.outages]
        elif self.grid_on(now):
            self.outages.append(Window(now))
        self._touch()

    def set_override(self, service: str, path: str, value: Any) -> None:
        """Force a published value (e.g. an alarm); VRM sees it from the next log on."""
        self.overrides[(service, path.lstrip("/"))] = value
        self._touch()

    def clear_overrides(self) -> None:
        self.overrides.clear()
        self._touch()

    def _touch(self) -> None:
        self._version += 1

    # --- physics integration ------------------------------------------------------------------

    def _advance_to(self, t: float) -> None:
        target = max(0, math.floor((t - self._t0) / STEP_SECONDS))
        if target < self._step:
            self._rewind(target)
        interval = self.config.logging_interval
        while self._step < target:
            self._state = self.physics.step(self._state, STEP_SECONDS, self.grid_on(self._state.t))
            self._step += 1
            if self._step % CHECKPOINT_STEPS == 0:
                self._checkpoints[self._step] = self._state
            stamp = round(self._state.t)
            if stamp % interval == 0:
                self._logs.append(self._make_log(stamp, self._observe_state(self._state, stamp)))

    def _rewind(self, target: int) -> None:
        base = max(k for k in self._checkpoints if k <= target)
        self._checkpoints = {k: v for k, v in self._checkpoints.items() if k <= base}
        self._state, self._step = self._checkpoints[base], base
        keep_until = self._state.t
        while len(self._logs) > 1 and self._logs[-1].t > keep_until:
            self._logs.pop()

    def _observe_state(self, state: BatteryState, t: float) -> Observation:
        flows = self.physics.flows(state, self.grid_on(t))
        upload = self.upload_status(t)
        ctx = svc.Context(
            config=self.config,
            physics=self.physics,
            state=state,
            flows=flows,
            battery_present=self.faults.window("vanish_battery", t) is None,
            upload_ok=upload[0],
            last_contact=upload[1],
            backlog=upload[2],
            started=self.started,
        )
        services = svc.build_all(ctx)
        for (service, key), value in self.overrides.items():
            if service in services:
                services[service][key] = value
        return Observation(t, state, flows, services)

    def observe(self, t: float | None = None) -> Observation:
        """Everything the Cerbo publishes at simulated time t (default: now)."""
        if t is None:
            t = self.timestamp()
        key = (self._version, self.faults.version)
        if self._cache is not None and self._cache[0] == t and self._cache[1] == key:
            return self._cache[2]
        self._advance_to(t)
        state = self._state
        if t > state.t:
            state = self.physics.step(state, t - state.t, self.grid_on(state.t))
        observation = self._observe_state(state, t)
        self._cache = (t, key, observation)
        return observation

    # --- local API view -----------------------------------------------------------------------

    def dbus_down(self) -> bool:
        return self.faults.window("dbus_down", self.timestamp()) is not None

    def service_names(self) -> list[str]:
        if self.dbus_down():
            return []
        return sorted(self.observe().services)

    def service_values(self, service: str) -> dict[str, Any] | None:
        if self.dbus_down():
            return None
        return self.observe().services.get(service)

    def solark_soc(self) -> int:
        """What a Sol-Ark inverter on the same bank would show: drifts a few points off."""
        return self.physics.solark_soc(self.observe().state)

    # --- VRM view -----------------------------------------------------------------------------

    def _make_log(self, t: float, observation: Observation) -> LogRecord:
        logged = {name: dict(values) for name, values in observation.services.items()}
        return LogRecord(t, {name: logged[name] for name in LOGGED_SERVICES if name in logged})

    def upload_status(self, t: float) -> tuple[bool, float, int]:
        """(uploading, time of last successful upload, records waiting) at simulated time t."""
        stale = self.faults.window("stale", t)
        if stale is None:
            done = next((log.t for log in reversed(self._logs) if log.t <= t), t)
            return True, done, 0
        times = [log.t for log in self._logs]
        before = bisect.bisect_left(times, stale.starts_at)
        upto = bisect.bisect_right(times, t)
        last = times[before - 1] if before else stale.starts_at
        return False, last, max(0, upto - before)

    def latest_log(self) -> LogRecord:
        """The newest record VRM has received: the logger lags and may be cut off."""
        now = self.timestamp()
        self._advance_to(now)
        stale = self.faults.window("stale", now)
        cutoff = now if stale is None else min(now, stale.starts_at - 1e-6)
        for record in reversed(self._logs):
            if record.t <= cutoff:
                return record
        return self._logs[0]

    def logs_between(self, start: float, end: float) -> list[LogRecord]:
        """The VRM log records from start (inclusive) to end (exclusive), as far as simulated."""
        self._advance_to(min(end, self.timestamp()))
        return [log for log in self._logs if start <= log.t < end]

    def rate_limited(self, key: str) -> int | None:
        """VRM's rolling window: seconds to wait, or None when the request may pass."""
        cfg = self.config
        now = self.monotonic()
        bucket = self._rate.setdefault(key, _RateBucket(last=now))
        bucket.level = max(0.0, bucket.level - (now - bucket.last) / cfg.rate_limit_leak_seconds)
        bucket.last = now
        if bucket.level + 1.0 > cfg.rate_limit_capacity:
            excess = bucket.level + 1.0 - cfg.rate_limit_capacity
            return max(1, math.ceil(excess * cfg.rate_limit_leak_seconds))
        bucket.level += 1.0
        return None

    # --- bookkeeping --------------------------------------------------------------------------

    def count_request(self, target: str, method: str, path_qs: str) -> None:
        self.requests[f"{target} {method} {path_qs}"] += 1

    def request_counts(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for target in ("local", "vrm"):
            prefix = f"{target} "
            mine = {k[len(prefix) :]: v for k, v in self.requests.items() if k.startswith(prefix)}
            result[target] = {"total": sum(mine.values()), "requests": dict(sorted(mine.items()))}
        return result

    def state(self) -> dict[str, Any]:
        """A summary for GET /sim/state: truth values, VRM lag, faults, request counts."""
        now = self.timestamp()
        obs = self.observe(now)
        flows, st = obs.flows, obs.state
        log = self.latest_log()
        return {
            "now": datetime.fromtimestamp(now, UTC).isoformat(),
            "local_time": self.physics.local(now).isoformat(),
            "speed": self.clock.speed,
            "seed": self.seed,
            "portal_id": self.config.portal_id,
            "site_id": self.config.site_id,
            "battery": {
                "soc": round(st.soc, 2),
                "voltage": round(flows.battery_voltage, 3),
                "current": round(flows.battery_current, 2),
                "power": round(flows.battery_w),
                "temperature": round(st.temperature, 2),
                "present": self.faults.window("vanish_battery", now) is None,
            },
            "pv_w": round(flows.pv_w),
            "load_w": round(flows.load_served_w),
            "grid_w": round(flows.grid_w),
            "grid_available": flows.grid_on,
            "solark_soc": self.physics.solark_soc(st),
            "vrm": {
                "logging_interval": self.config.logging_interval,
                "last_log": datetime.fromtimestamp(log.t, UTC).isoformat(),
                "seconds_ago": round(now - log.t),
            },
            "faults": self.faults.describe(now),
            "hanging": self.faults.hanging,
            "overrides": [
                {"service": service, "path": "/" + path, "value": value}
                for (service, path), value in self.overrides.items()
            ],
            "requests": self.request_counts(),
        }
