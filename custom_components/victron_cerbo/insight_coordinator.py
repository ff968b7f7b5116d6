"""Battery health insight of one entry, from the recorder's statistics and the battery view.

The recorder is the history: the figures come from the hourly statistics of the entry's own
sensors (and so from VRM's past once the history import has brought it), nothing is requested
from a source, and nothing is lost on a restart. The statistics change once an hour, so they
are read once an hour (the last 31 days of five sensors, one query) and the state of health's
year once every six hours (one query); the figures are recomputed every 5 minutes from those
rows and the battery view, whose alarms, modules and counters change any time.

Three counts have no history anywhere (VE.Bus alarms in a week, VRM connection failures in a
day, CAN bus error growth in a day): they are noted from the battery view as it updates and
kept in a store (`victron_cerbo.insight.<entry_id>`) across restarts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform, UnitOfElectricPotential, UnitOfEnergy, UnitOfTemperature
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.recorder import get_instance
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .battery import BatteryCoordinator, BatteryView
from .const import DOMAIN, LOGGER
from .insight import (
    Ageing,
    Balance,
    Condition,
    Cycles,
    DeepestDischarge,
    FullCharge,
    HealthScores,
    Heat,
    HourStat,
    HourSum,
    Risk,
    ageing,
    balance,
    capacity_kwh,
    cycles,
    deepest_discharge,
    full_charge,
    health_scores,
    heat,
    hour_stats,
    hour_sums,
    nominal_battery_voltage,
    risk,
)
from .insight_events import InstallationEvents
from .options import EntryOptions

UPDATE_INTERVAL: Final = timedelta(minutes=5)
HOUR: Final = 3600
RECENT_DAYS: Final = 31  # the longest recent window (cycles: 30 days) and a day to spare
AGEING_DAYS: Final = 365
AGEING_EVERY: Final = 6 * HOUR
SETTLE: Final = 60  # s after an hour ends: the recorder compiles it 10 s after
STORE_VERSION: Final = 1
SAVE_DELAY: Final = 60  # s: events come in bursts; one write for a burst

# the sensors whose statistics are read, and the units the figures are computed in
MEASURED_KEYS: Final = ("soc", "temperature", "cell_voltage_spread")
ENERGY_KEYS: Final = ("charged_energy", "discharged_energy")
RECENT_KEYS: Final = MEASURED_KEYS + ENERGY_KEYS
UNITS: Final = {
    "temperature": UnitOfTemperature.CELSIUS,
    "voltage": UnitOfElectricPotential.VOLT,
    "energy": UnitOfEnergy.KILO_WATT_HOUR,
}
ALARM: Final = 2  # D-Bus alarm level: 0 ok, 1 warning, 2 alarm


@dataclass(frozen=True, kw_only=True)
class InsightView:
    """Every figure of the insight at one moment, with the condition scored."""

    computed_at: datetime
    ageing: Ageing
    cycles: Cycles
    balance: Balance
    heat: Heat
    full_charge: FullCharge
    deepest_discharge: DeepestDischarge
    condition: Condition
    risk: Risk
    scores: HealthScores
    can_errors_since: datetime | None  # the first CAN sample of the day's growth
    options: InsightOptions


@dataclass(frozen=True, kw_only=True)
class InsightOptions:
    """The user's figures the insight judges against."""

    end_of_life_soh: float
    rated_cycles: int
    full_charge_days: int


class InsightCoordinator(DataUpdateCoordinator[InsightView]):
    """Recomputes the entry's battery health insight every 5 minutes."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        battery: BatteryCoordinator,
        options: EntryOptions,
    ) -> None:
        """Read the statistics of this entry's sensors and the battery view."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} insight",
            update_interval=UPDATE_INTERVAL,
        )
        self.battery = battery
        self.options = InsightOptions(
            end_of_life_soh=options.end_of_life_soh,
            rated_cycles=options.rated_cycles,
            full_charge_days=options.full_charge_days,
        )
        self.store: Store[dict[str, Any]] = _store(hass, entry.entry_id)
        self.events = InstallationEvents()
        self.queries = 0  # recorder queries since setup, for the benchmark and diagnostics
        # the recent rows, converted once when read (a recompute then only walks them)
        self._recent_stats: dict[str, list[HourStat]] = {}
        self._recent_sums: dict[str, list[HourSum]] = {}
        # the hour after the newest compiled one, and the sensors, that the rows were read for
        self._recent_read: tuple[int, dict[str, str]] | None = None
        self._soh: list[HourStat] = []
        self._soh_read: tuple[float, dict[str, str]] | None = None
        self._vrm_failures_seen = 0

    async def async_load(self) -> None:
        """Restore the counted events."""
        self.events = InstallationEvents.from_dict(await self.store.async_load())

    async def async_start(self) -> CALLBACK_TYPE:
        """The first figures, then events from every battery view; returns the stop.

        The figures are there even when the recorder fails to answer the first read. The
        events are saved when the entry unloads: a reload must not lose the last minute's.
        """
        self.data = self.compute(dt_util.utcnow())
        self.config_entry.async_on_unload(self._async_save_events)
        stop = self.battery.async_add_listener(self._async_note_events)
        await self.async_refresh()
        return stop

    @callback
    def _async_note_events(self) -> None:
        """Count new VE.Bus alarms, new VRM failures and the CAN error counters."""
        view = self.battery.data
        moment = view.now.timestamp()
        changed = False
        local = self.battery.local
        data = local.data if local is not None and local.last_update_success else None
        if data is not None and data.vebus is not None:
            changed |= self.events.note_vebus(moment, data.vebus.alarms, data.vebus.error)
        if data is not None and data.platform is not None and data.platform.can_interfaces:
            total = sum(
                (can.rx_errors or 0) + (can.tx_errors or 0) for can in data.platform.can_interfaces
            )
            changed |= self.events.can_errors.add(moment, total)
        if view.vrm is not None:
            failures = view.vrm.failures
            for _ in range(max(0, failures - self._vrm_failures_seen)):
                self.events.vrm_failures.add(moment)
                changed = True
            self._vrm_failures_seen = failures
        if changed:
            self.store.async_delay_save(self.events.as_dict, SAVE_DELAY)

    async def _async_save_events(self) -> None:
        """Write the counted events now (a pending delayed write is dropped)."""
        await self.store.async_save(self.events.as_dict())

    def as_dict(self, now: datetime) -> dict[str, Any]:
        """For the diagnostics: the figures, the counted events and the recorder queries."""
        moment = now.timestamp()
        return {
            "queries": self.queries,
            "vebus_alarms_week": self.events.vebus_alarms.count(moment),
            "vrm_failures_day": self.events.vrm_failures.count(moment),
            "can_error_samples": len(self.events.can_errors.samples),
            "figures": self.data,
        }

    def statistic_ids(self, keys: tuple[str, ...]) -> dict[str, str]:
        """The entity ids (statistic ids) of this entry's sensors by key, for those that exist."""
        registry = er.async_get(self.hass)
        base = self.config_entry.unique_id or self.config_entry.entry_id  # as entity.entry_key
        found: dict[str, str] = {}
        for key in keys:
            entity_id = registry.async_get_entity_id(Platform.SENSOR, DOMAIN, f"{base}_{key}")
            if entity_id is not None:
                found[key] = entity_id
        return found

    async def _async_read(
        self, ids: dict[str, str], start: float, end: float, types: set[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """Hourly statistics of these sensors by key (one recorder query)."""
        if not ids:
            return {}
        self.queries += 1
        rows = await get_instance(self.hass).async_add_executor_job(
            statistics_during_period,
            self.hass,
            dt_util.utc_from_timestamp(start),
            dt_util.utc_from_timestamp(end),
            set(ids.values()),
            "hour",
            dict(UNITS),
            types,
        )
        return {
            key: [dict(row) for row in rows.get(entity_id, [])] for key, entity_id in ids.items()
        }

    async def _async_refresh_rows(self, now: float) -> None:
        """Read the statistics again when a new hour was compiled (and the SOH's year 4x a day)."""
        newest = int((now - SETTLE) // HOUR) * HOUR  # start of the hour after the newest compiled
        ids = self.statistic_ids(RECENT_KEYS)
        if self._recent_read != (newest, ids):
            recent = await self._async_read(
                ids, newest - RECENT_DAYS * 86400, newest, {"mean", "min", "max", "sum"}
            )
            self._recent_stats = {key: hour_stats(recent.get(key, [])) for key in MEASURED_KEYS}
            self._recent_sums = {key: hour_sums(recent.get(key, [])) for key in ENERGY_KEYS}
            self._recent_read = (newest, ids)
        soh_ids = self.statistic_ids(("soh",))
        read = self._soh_read
        if read is None or read[1] != soh_ids or now - read[0] >= AGEING_EVERY:
            soh = await self._async_read(soh_ids, newest - AGEING_DAYS * 86400, newest, {"mean"})
            self._soh = hour_stats(soh.get("soh", []))
            self._soh_read = (now, soh_ids)

    async def _async_update_data(self) -> InsightView:
        """Every figure, from the rows read this hour and the battery view as it is now."""
        now = dt_util.utcnow()
        await self._async_refresh_rows(now.timestamp())
        return self.compute(now)

    def compute(self, now: datetime) -> InsightView:
        """The figures at `now` from the rows held and the latest battery view."""
        moment = int(now.timestamp())
        view = self.battery.data
        options = self.options
        soc = self._recent_stats.get("soc", [])
        since_full = view.value("time_since_full")
        balance_figure = balance(self._recent_stats.get("cell_voltage_spread", []), moment)
        heat_figure = heat(self._recent_stats.get("temperature", []), moment)
        full = full_charge(
            soc,
            moment,
            full_at=() if since_full is None else (moment - int(since_full),),
            max_days=options.full_charge_days,
        )
        condition = self._condition(view, moment, balance_figure, heat_figure, full)
        growth_since = self.events.can_errors.since()
        return InsightView(
            computed_at=now,
            ageing=ageing(self._soh, moment, end_of_life=options.end_of_life_soh),
            cycles=_cycles(self._recent_sums, moment, view, options.rated_cycles),
            balance=balance_figure,
            heat=heat_figure,
            full_charge=full,
            deepest_discharge=deepest_discharge(soc, moment),
            condition=condition,
            risk=risk(condition),
            scores=health_scores(condition),
            can_errors_since=(
                None if growth_since is None else dt_util.utc_from_timestamp(growth_since)
            ),
            options=options,
        )

    def _condition(
        self,
        view: BatteryView,
        moment: int,
        balance_figure: Balance,
        heat_figure: Heat,
        full: FullCharge,
    ) -> Condition:
        """What the risk and the scores judge: None wherever a source does not tell."""
        local = self.battery.local
        data = local.data if local is not None and local.last_update_success else None
        vebus = data.vebus if data is not None else None
        alarms = view.value("alarms")
        events = self.events
        return Condition(
            soh=view.value("soh"),
            imbalance_alarm=(None if alarms is None else alarms.get("cell_imbalance", 0) >= ALARM),
            balance_level=balance_figure.level,
            modules_offline=view.value("modules_offline"),
            weekly_mean_temperature=heat_figure.mean,
            full_charge_overdue=full.overdue,
            vebus_alarms_week=None if vebus is None else events.vebus_alarms.count(moment),
            inverter_temperature_alarm=(
                None
                if vebus is None
                else any(
                    level >= ALARM
                    for name, level in vebus.alarms.items()
                    if name.endswith("HighTemperature")
                )
            ),
            vrm_failures_day=(
                None if self.battery.vrm is None else events.vrm_failures.count(moment)
            ),
            can_errors_growth_day=events.can_errors.growth(moment),
        )


def _cycles(
    sums: Mapping[str, list[HourSum]], moment: int, view: BatteryView, rated: int
) -> Cycles:
    """Cycles from the energy sensors' sums; the total from the monitor's lifetime counters."""
    capacity_ah = view.value("installed_capacity")
    nominal = nominal_battery_voltage(view.value("voltage"))
    charged, discharged = view.value("charged_energy"), view.value("discharged_energy")
    capacity = capacity_kwh(capacity_ah, nominal)
    lifetime = (
        None
        if capacity is None or charged is None or discharged is None
        else (charged + discharged) / 2 / capacity
    )
    return cycles(
        sums.get("charged_energy", []),
        sums.get("discharged_energy", []),
        moment,
        capacity_ah=capacity_ah,
        nominal_voltage=nominal,
        rated=rated,
        lifetime_cycles=lifetime,
    )


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return Store(hass, STORE_VERSION, f"{DOMAIN}.insight.{entry_id}")


async def async_remove_events(hass: HomeAssistant, entry_id: str) -> None:
    """Forget a removed entry's counted events."""
    await _store(hass, entry_id).async_remove()


async def async_create_insight(
    hass: HomeAssistant, entry: ConfigEntry, battery: BatteryCoordinator, options: EntryOptions
) -> InsightCoordinator | None:
    """The entry's insight; None without the recorder (there is no history to read)."""
    if "recorder" not in hass.config.components:
        return None
    insight = InsightCoordinator(hass, entry, battery, options)
    await insight.async_load()
    return insight
