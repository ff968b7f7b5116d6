"""Physics of the simulated site: sun, household loads, ESS decisions and a LiFePO4 bank.

Everything is a pure function of (config, seed, state, time). Randomness comes from a counter
based hash (splitmix64) keyed on the seed, a stream number and a time tick, so the value at a
given simulated time never depends on which other times were looked at before.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from .config import SimConfig

_MASK = (1 << 64) - 1
_TWO_64 = float(1 << 64)

# noise streams
S_CLOUD_DAY = 1
S_CLOUD_FAST = 2
S_LOAD_SPIKE = 3
S_LOAD_FRIDGE = 4
S_LOAD_JITTER = 5
S_DRIFT = 6
S_CELL_OFFSET = 7
S_READ_V = 8
S_READ_I = 9
S_READ_T = 10
S_READ_CELL = 11
S_GRID = 12
S_PV_JITTER = 13

# LiFePO4 open-circuit voltage per cell against SOC
_OCV = (
    (0.0, 2.90),
    (5.0, 3.10),
    (10.0, 3.18),
    (20.0, 3.23),
    (30.0, 3.26),
    (40.0, 3.28),
    (50.0, 3.29),
    (60.0, 3.30),
    (70.0, 3.31),
    (80.0, 3.32),
    (90.0, 3.34),
    (95.0, 3.36),
    (98.0, 3.40),
    (100.0, 3.45),
)
PACK_RESISTANCE = 0.010  # ohm: 16 cells x 0.25 mOhm plus busbars, fuse and cable
CELL_MIN_V = 2.5
CELL_MAX_V = 3.65
MAX_C_RATE = 0.5
TAPER_START_SOC = 90.0
FULL_SOC = 99.95
DCL_TAPER_SOC = 10.0
CUTOFF_SOC = 5.0  # BMS stops discharge; the inverter shuts down
BLOCK_BELOW = CUTOFF_SOC + 0.5  # the taper never quite reaches the cut-off, so stop here
RELEASE_ABOVE = CUTOFF_SOC + 3.0
RECHARGE_BELOW = 3.0  # ESS recharges from the grid this far under the minimum SOC
RECHARGE_W = 300.0
INVERTER_EFFICIENCY = 0.94
IDLE_W = 30.0  # systemcalc's idle band for battery state
COLD_CHARGE_C = 5.0
HOT_CHARGE_C = 50.0
THERMAL_TAU = 3600.0
SELF_HEATING = 6e-4  # degC per A^2 above ambient at equilibrium
DRIFT_LIMIT = 8.0
HOUR = 3600.0
DAY = 24 * HOUR
MONTH = 365.25 / 12 * DAY
WEAK_CELL = 0  # the cell that sinks in an imbalance episode
_EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()
SOLARK_CAPACITY_RATIO = 1.07  # the inverter believes the bank is 7 % bigger


def _mix(value: int) -> int:
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


@functools.cache
def _stream_key(seed: int, stream: int) -> int:
    return _mix(_mix(seed & _MASK) ^ stream)


def uniform(seed: int, stream: int, tick: int) -> float:
    """Deterministic uniform number in [0, 1)."""
    return _mix(_stream_key(seed, stream) ^ (tick & _MASK)) / _TWO_64


def gauss(seed: int, stream: int, tick: int) -> float:
    """Deterministic standard normal number (Box-Muller)."""
    u1 = uniform(seed, stream, 2 * tick)
    u2 = uniform(seed, stream, 2 * tick + 1)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def smooth(seed: int, stream: int, t: float, period: float) -> float:
    """Value noise in [0, 1) that changes smoothly over `period` seconds."""
    k = math.floor(t / period)
    frac = t / period - k
    w = (1.0 - math.cos(math.pi * frac)) / 2.0
    return uniform(seed, stream, k) * (1.0 - w) + uniform(seed, stream, k + 1) * w


def ocv_per_cell(soc: float) -> float:
    soc = min(100.0, max(0.0, soc))
    for (s0, v0), (s1, v1) in itertools.pairwise(_OCV):
        if soc <= s1:
            return v0 + (v1 - v0) * (soc - s0) / (s1 - s0)
    return _OCV[-1][1]  # pragma: no cover - soc is clamped to 100


def bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2))


@dataclass(frozen=True, slots=True)
class BatteryState:
    """Integrated quantities at simulated unix time t."""

    t: float
    soc: float
    temperature: float
    drift: float  # Sol-Ark SOC minus shunt SOC, percentage points
    consumed_ah: float  # <= 0, since the last full charge
    charged_kwh: float
    discharged_kwh: float
    pv_today_kwh: float
    pv_yesterday_kwh: float
    pv_total_kwh: float
    grid_import_kwh: float
    grid_export_kwh: float
    time_on_grid: float
    time_on_inverter: float
    last_full: float
    min_voltage: float
    max_voltage: float
    day: int  # local date ordinal of pv_today_kwh
    blocked: bool = False  # BMS stopped discharge at the cut-off; released a few % higher


@dataclass(frozen=True, slots=True)
class Flows:
    """Instantaneous powers (W), currents (A) and states at one moment."""

    pv_available_w: float
    pv_w: float
    load_w: float  # demand
    load_served_w: float
    battery_w: float  # + charging, - discharging
    battery_current: float
    battery_voltage: float
    inverter_ac_w: float  # + inverting to AC, - charging from AC
    grid_w: float  # + import, - export; 0 during an outage
    grid_on: bool
    ccl: float
    dcl: float
    ambient_c: float
    sustain: bool  # at ESS minimum SOC, discharge disabled
    inverter_off: bool  # outage and battery at cut-off


class Physics:
    def __init__(self, config: SimConfig, seed: int, started: float = 0.0) -> None:
        self.config = config
        self.seed = seed
        self.started = started  # the simulation's start: the ageing's days count from it
        self.tz = ZoneInfo(config.timezone)
        self.capacity = config.capacity_ah
        self.max_current = config.capacity_ah * MAX_C_RATE
        self.charge_voltage = config.charge_voltage_per_cell * config.cells
        # manufacturing spread of the cells, volts
        self.cell_offsets = tuple(
            0.002 * gauss(seed, S_CELL_OFFSET, i) for i in range(config.cells)
        )

    # --- environment -------------------------------------------------------------------

    def local(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, self.tz)

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one Physics per installation, few hours
    def _utc_offset(self, hour: int) -> float:
        offset = datetime.fromtimestamp(hour * 3600, self.tz).utcoffset()
        return offset.total_seconds() if offset is not None else 0.0

    def local_hour(self, t: float) -> float:
        """Hour of the local day, 0 <= h < 24 (fast: the zone offset is cached per hour)."""
        return ((t + self._utc_offset(int(t // 3600))) % 86_400.0) / 3600.0

    def local_day(self, t: float) -> int:
        """Local date as a proleptic Gregorian ordinal, like date.toordinal()."""
        return int((t + self._utc_offset(int(t // 3600))) // 86_400.0) + _EPOCH_ORDINAL

    @functools.lru_cache(maxsize=4096)  # noqa: B019
    def _season(self, day: int) -> float:
        doy = datetime.fromtimestamp(day * 86_400, UTC).timetuple().tm_yday
        return math.cos(2.0 * math.pi * (doy - 172) / 365.25)

    def season(self, t: float) -> float:
        """+1 at midsummer, -1 at midwinter (northern hemisphere)."""
        return self._season(int(t // 86_400))

    def solar_fraction(self, t: float) -> float:
        season = self.season(t)
        solar_hour = (t / 3600.0 + self.config.longitude / 15.0) % 24.0
        day_length = 12.0 + 3.5 * season
        x = (solar_hour - (12.0 - day_length / 2.0)) / day_length
        if not 0.0 < x < 1.0:
            return 0.0
        return float((0.8 + 0.2 * season) * math.sin(math.pi * x) ** 1.5)

    def cloud_factor(self, t: float) -> float:
        day = self.local_day(t)
        clear = 0.55 + 0.45 * uniform(self.seed, S_CLOUD_DAY, day)  # 1 = clear day
        passing = smooth(self.seed, S_CLOUD_FAST, t, 600.0)
        return clear * (1.0 - 0.6 * (1.0 - clear) / 0.45 * passing)

    def pv_available(self, t: float) -> float:
        return self.config.pv_peak_w * self.solar_fraction(t) * self.cloud_factor(t)

    def load(self, t: float) -> float:
        hour = self.local_hour(t)
        watts = self.config.base_load_w
        watts += 500.0 * bump(hour, 7.5, 1.0) + 250.0 * bump(hour, 12.5, 1.2)
        watts += 1100.0 * bump(hour, 19.5, 1.6)
        if smooth(self.seed, S_LOAD_FRIDGE, t, 900.0) > 0.5:  # noqa: PLR2004 - compressor duty
            watts += 120.0
        bucket = int(t // 300)
        awake = 6.0 <= hour < 23.0  # noqa: PLR2004
        if awake and uniform(self.seed, S_LOAD_SPIKE, bucket) < 0.08:  # noqa: PLR2004
            watts += 1800.0  # kettle, oven, hair dryer
        return watts

    def heat_wave(self, t: float) -> bool:
        cfg = self.config
        begin = self.started + cfg.heat_wave_start_day * DAY
        return bool(cfg.heat_wave_c) and begin <= t < begin + cfg.heat_wave_days * DAY

    def ambient(self, t: float) -> float:
        hour = self.local_hour(t)
        cfg = self.config
        mean = cfg.heat_wave_c if self.heat_wave(t) else cfg.ambient_c + 4.0 * self.season(t)
        return mean + 2.0 * math.sin(2.0 * math.pi * (hour - 9.0) / 24.0)

    # --- ageing ------------------------------------------------------------------------

    def soh(self, t: float) -> float:
        """The BMS's state of health, to 0.1 %: it loses a little every month."""
        cfg = self.config
        return round(cfg.soh - cfg.soh_loss_per_month * (t - self.started) / MONTH, 1)

    def cell_sink(self, t: float) -> float:
        """How far the weak cell lags the others (V): rising, then staying without balancing."""
        cfg = self.config
        if not cfg.imbalance_v:
            return 0.0
        begin = self.started + cfg.imbalance_start_hours * HOUR
        share = (t - begin) / (cfg.imbalance_rise_hours * HOUR)
        return cfg.imbalance_v * min(1.0, max(0.0, share))

    # --- battery -----------------------------------------------------------------------

    def open_circuit(self, soc: float) -> float:
        return ocv_per_cell(soc) * self.config.cells

    def charge_limit(self, soc: float, temperature: float) -> float:
        """BMS charge current limit (CCL), tapering to zero at full."""
        if not COLD_CHARGE_C <= temperature <= HOT_CHARGE_C:
            ccl = 0.2 * self.max_current if 0.0 <= temperature < COLD_CHARGE_C else 0.0
        else:
            ccl = self.max_current
        if soc >= FULL_SOC:
            return 0.0
        if soc > TAPER_START_SOC:
            ccl *= (100.0 - soc) / (100.0 - TAPER_START_SOC)
        return ccl

    def discharge_limit(self, soc: float, blocked: bool = False) -> float:
        """BMS discharge current limit (DCL), tapering towards the cut-off SOC."""
        if blocked or soc <= CUTOFF_SOC:
            return 0.0
        if soc < DCL_TAPER_SOC:
            return self.max_current * (soc - CUTOFF_SOC) / (DCL_TAPER_SOC - CUTOFF_SOC)
        return self.max_current

    def initial_state(self, t: float) -> BatteryState:
        soc = self.config.initial_soc
        voltage = self.open_circuit(soc)
        return BatteryState(
            t=t,
            soc=soc,
            temperature=self.ambient(t) + 1.0,
            drift=1.5,
            consumed_ah=-(100.0 - soc) / 100.0 * self.capacity,
            charged_kwh=1523.4,
            discharged_kwh=1480.9,
            pv_today_kwh=0.0,
            pv_yesterday_kwh=18.7,
            pv_total_kwh=4210.3,
            grid_import_kwh=812.5,
            grid_export_kwh=603.1,
            time_on_grid=3_730_466.0,
            time_on_inverter=3_312.0,
            last_full=t - self.config.days_since_full * DAY,
            min_voltage=min(voltage, 49.8),
            max_voltage=max(voltage, 56.9),
            day=self.local_day(t),
        )

    def flows(self, state: BatteryState, grid_on: bool) -> Flows:
        cfg = self.config
        t, soc = state.t, state.soc
        pv_available = self.pv_available(t)
        load = self.load(t)
        emf = self.open_circuit(soc)
        ccl = self.charge_limit(soc, state.temperature)
        dcl = self.discharge_limit(soc, state.blocked)
        # the ESS's own ceiling; the BMS still allows charging (no charge-blocked alarm)
        ceiling = cfg.max_charge_soc < 100.0 and soc >= cfg.max_charge_soc  # noqa: PLR2004
        max_charge_w = 0.0 if ceiling else ccl * emf
        max_inverter_dc = cfg.inverter_w / INVERTER_EFFICIENCY
        surplus = pv_available - load / INVERTER_EFFICIENCY  # DC watts left for the battery
        sustain = inverter_off = False
        pv = pv_available
        load_served = load
        if grid_on:
            if surplus >= 0.0:
                battery = min(surplus, max_charge_w)  # the rest is fed in
            elif soc > cfg.min_soc:
                battery = max(surplus, -dcl * emf, pv_available - max_inverter_dc)
                if ceiling and battery > 0.0:  # PV beyond the inverter: the MPPT throttles
                    battery, pv = 0.0, max_inverter_dc
            else:
                sustain = True
                recharge = soc < cfg.min_soc - RECHARGE_BELOW
                battery = min(RECHARGE_W, max_charge_w) if recharge else 0.0
        elif surplus >= 0.0:
            battery = min(surplus, max_charge_w)
            pv = battery + load / INVERTER_EFFICIENCY  # MPPT throttles: nowhere to send it
        elif dcl > 0.0:
            battery = max(surplus, -dcl * emf, pv_available - max_inverter_dc)
            load_served = min(load, (pv_available - battery) * INVERTER_EFFICIENCY)
        else:
            inverter_off = True
            load_served = 0.0
            battery = min(pv_available, max_charge_w)
            pv = battery
        inverter_dc = pv - battery
        if inverter_dc >= 0.0:
            inverter_ac = inverter_dc * INVERTER_EFFICIENCY
        else:
            inverter_ac = inverter_dc / INVERTER_EFFICIENCY
        grid = load_served - inverter_ac if grid_on else 0.0
        current = battery / emf
        voltage = emf + current * PACK_RESISTANCE
        voltage = min(max(voltage, CELL_MIN_V * cfg.cells), self.charge_voltage)
        return Flows(
            pv_available_w=pv_available,
            pv_w=pv,
            load_w=load,
            load_served_w=load_served,
            battery_w=battery,
            battery_current=current,
            battery_voltage=voltage,
            inverter_ac_w=inverter_ac,
            grid_w=grid,
            grid_on=grid_on,
            ccl=ccl,
            dcl=dcl,
            ambient_c=self.ambient(t),
            sustain=sustain,
            inverter_off=inverter_off,
        )

    def step(self, state: BatteryState, dt: float, grid_on: bool) -> BatteryState:
        """Integrate dt seconds from state, with the flows at its start."""
        flows = self.flows(state, grid_on)
        current = flows.battery_current
        hours = dt / 3600.0
        efficiency = 0.99 if current > 0 else 1.0
        soc = state.soc + current * efficiency * hours / self.capacity * 100.0
        soc = min(100.0, max(0.0, soc))
        consumed = min(0.0, state.consumed_ah + current * efficiency * hours)
        last_full = state.last_full
        drift_target = 3.0 * math.tanh(current / 40.0) - (2.0 if soc < 25.0 else 0.0)  # noqa: PLR2004
        drift = state.drift + (drift_target - state.drift) * dt / 1800.0
        drift += 0.05 * math.sqrt(dt / 30.0) * gauss(self.seed, S_DRIFT, int(state.t))
        drift = min(DRIFT_LIMIT, max(-DRIFT_LIMIT, drift))
        if soc >= FULL_SOC:
            soc, consumed, last_full, drift = 100.0, 0.0, state.t + dt, 0.0  # both resync
        blocked = soc <= BLOCK_BELOW or (state.blocked and soc < RELEASE_ABOVE)
        temperature = state.temperature + (
            flows.ambient_c + SELF_HEATING * current * current - state.temperature
        ) * min(1.0, dt / THERMAL_TAU)
        kwh = dt / 3_600_000.0
        new_t = state.t + dt
        day = self.local_day(new_t)
        pv_today, pv_yesterday = state.pv_today_kwh, state.pv_yesterday_kwh
        if day != state.day:
            pv_today, pv_yesterday = 0.0, pv_today
        return replace(
            state,
            t=new_t,
            soc=soc,
            temperature=temperature,
            drift=drift,
            consumed_ah=consumed,
            charged_kwh=state.charged_kwh + max(flows.battery_w, 0.0) * kwh,
            discharged_kwh=state.discharged_kwh + max(-flows.battery_w, 0.0) * kwh,
            pv_today_kwh=pv_today + flows.pv_w * kwh,
            pv_yesterday_kwh=pv_yesterday,
            pv_total_kwh=state.pv_total_kwh + flows.pv_w * kwh,
            grid_import_kwh=state.grid_import_kwh + max(flows.grid_w, 0.0) * kwh,
            grid_export_kwh=state.grid_export_kwh + max(-flows.grid_w, 0.0) * kwh,
            time_on_grid=state.time_on_grid + (dt if grid_on else 0.0),
            time_on_inverter=state.time_on_inverter + (0.0 if grid_on else dt),
            last_full=last_full,
            min_voltage=min(state.min_voltage, flows.battery_voltage),
            max_voltage=max(state.max_voltage, flows.battery_voltage),
            day=day,
            blocked=blocked,
        )

    def solark_soc(self, state: BatteryState) -> int:
        """The inverter counts against its own (mis-set) capacity and resyncs only at full."""
        counted = 100.0 - (100.0 - state.soc) / SOLARK_CAPACITY_RATIO
        return round(min(100.0, max(0.0, counted + state.drift)))
