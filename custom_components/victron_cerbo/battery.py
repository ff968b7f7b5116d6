"""One battery view per update: what every entity of an entry shows, computed once.

The source coordinators poll; this coordinator polls nothing. It listens to them and, on each
of their updates and on its own 30 s timer (a source going stale is news even when no source
has anything new), merges both sources into a `BatteryView`. Entities read the view and write
their state only when a part they show has changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .api.vrm import VrmSiteLive
from .const import DOMAIN, LOGGER
from .limits import BATTERY_LIMITS, Limits
from .local_coordinator import LocalCoordinator
from .options import EntryOptions
from .problems import PROBLEMS, Verdict, judge
from .solark import ComparisonView, SolarkComparison
from .sources import VALUES, BatterySources, Reading, Source
from .vrm_coordinator import VrmCoordinator

RECHECK_INTERVAL: Final = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Shown:
    """What an entity shows of one value: the value, where it came from and how old it is."""

    value: Any
    source: Source
    data_age: int  # seconds between the sample and the view
    measured_by: str | None = None

    def attributes(self) -> dict[str, Any]:
        """`source`, `data_age` and, for a stand-in, `measured_by`."""
        attributes: dict[str, Any] = {"source": self.source.value, "data_age": self.data_age}
        if self.measured_by is not None:
            attributes["measured_by"] = self.measured_by
        return attributes


@dataclass(frozen=True, kw_only=True)
class LocalStatus:
    """How the Cerbo source is doing."""

    connected: bool  # until the third failed tick in a row
    error: str | None  # the cause of the latest failure, while the latest tick failed
    last_success: datetime | None
    failures: int


@dataclass(frozen=True, kw_only=True)
class VrmStatus:
    """How the VRM source and its request budget are doing."""

    connected: bool  # until the third failed poll in a row
    error: str | None  # the cause, while not connected
    last_success: datetime | None
    failures: int
    requests_last_hour: int  # by every entry on the VRM account: they share one budget
    budget_warning: int
    budget_limit: int
    near_limit: bool
    account_entries: int  # loaded entries sharing the account's budget
    # VRM's own active alarms of the site ("Solar Charger: Voltage"), as the account's shared
    # listing names them; empty when the entry does not read that listing
    site_alarms: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class BatteryView:
    """Everything the entities of one entry show, at one moment.

    `values` holds every value of `sources.VALUES`: None while no fresh source serves it.
    `problems` holds the verdict on each battery problem (`problems.PROBLEMS`) that the sources
    can serve: None while no fresh source serves the value it judges. `comparison` is the
    inverter comparison, None when no inverter entity is chosen. `changed` names the parts
    that differ from the previous view ("soc", "limits",
    "local.connected", ...): an entity writes its state only when a part it shows changed.
    """

    now: datetime = field(compare=False)
    values: Mapping[str, Shown | None]
    limits: Limits
    problems: Mapping[str, Verdict | None]
    comparison: ComparisonView | None
    stale: bool
    local: LocalStatus | None
    vrm: VrmStatus | None
    readings_24h: Mapping[Source, int]
    changed: frozenset[str] = field(default=frozenset(), compare=False)

    def value(self, key: str) -> Any:
        """The value shown for a key, None when unknown or unavailable."""
        shown = self.values.get(key)
        return shown.value if shown is not None else None


def _site_alarms(site: VrmSiteLive | None) -> tuple[str, ...]:
    """VRM's active alarms of a site in its own words, e.g. "Roof: Voltage", sorted."""
    if site is None:
        return ()
    texts = set()
    for alarm in site.active_alarms:
        what = alarm.description or "alarm"
        where = alarm.device_name or alarm.device
        texts.add(f"{where}: {what}" if where else what)
    return tuple(sorted(texts))


def _parts(view: BatteryView) -> dict[str, Any]:
    """The view flattened to named parts, for telling what changed."""
    parts: dict[str, Any] = dict(view.values)
    parts |= {f"problem.{key}": verdict for key, verdict in view.problems.items()}
    parts |= {
        "limits": view.limits,
        "comparison": view.comparison,
        "stale": view.stale,
        "readings_24h": view.readings_24h,
    }
    for name in ("local", "vrm"):
        status = getattr(view, name)
        for item in fields(LocalStatus if name == "local" else VrmStatus):
            parts[f"{name}.{item.name}"] = getattr(status, item.name) if status else None
    return parts


def changed_parts(old: BatteryView | None, new: BatteryView) -> frozenset[str]:
    """The parts of `new` that differ from `old` (all of them when there is no old view)."""
    new_parts = _parts(new)
    if old is None:
        return frozenset(new_parts)
    old_parts = _parts(old)
    return frozenset(name for name, part in new_parts.items() if old_parts.get(name) != part)


class BatteryCoordinator(DataUpdateCoordinator[BatteryView]):
    """Merges the entry's sources into one view on every source update and every 30 s."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        local: LocalCoordinator | None,
        vrm: VrmCoordinator | None,
        comparison: SolarkComparison | None = None,
        *,
        options: EntryOptions | None = None,
    ) -> None:
        """Merge these sources; nothing is read here, only what the sources hold."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} battery",
            update_interval=RECHECK_INTERVAL,
            # A request from `homeassistant.update_entity` recomputes at once.
            request_refresh_debouncer=Debouncer(hass, LOGGER, cooldown=0, immediate=True),
        )
        self.local = local
        self.vrm = vrm
        self.sources = BatterySources(self)
        self.comparison = comparison
        self.thresholds = (options or EntryOptions.from_entry(entry)).thresholds

    @callback
    def async_start(self) -> None:
        """Recompute whenever a source updates, until the entry unloads."""
        for source in (self.local, self.vrm):
            if source is not None:
                self.config_entry.async_on_unload(source.async_add_listener(self._async_merge))
        if self.comparison is not None:
            self.comparison.async_start(self._async_merge)
        self.async_set_updated_data(self.compute(dt_util.utcnow()))

    @callback
    def _async_merge(self) -> None:
        self.async_set_updated_data(self.compute(dt_util.utcnow()))

    async def _async_update_data(self) -> BatteryView:
        """The timer's (or a requested) recompute."""
        return self.compute(dt_util.utcnow())

    def compute(self, now: datetime) -> BatteryView:
        """Merge the sources as they are at `now`, and say what changed."""
        sources = self.sources
        values = {
            key: self._shown(sources.pick(spec, now), now)
            for key, spec in VALUES.items()
            if sources.can_serve(spec)
        }
        battery_limits = sources.pick(BATTERY_LIMITS, now)
        limits = self.thresholds.limits(battery_limits.value if battery_limits else None)
        view = BatteryView(
            now=now,
            values=values,
            limits=limits,
            problems={
                key: None
                if (shown := values.get(problem.value)) is None
                # judged from the value and its source and age, as the sensor shows them
                else judge(problem, shown.value, shown.attributes(), limits)
                for key, problem in PROBLEMS.items()
                if problem.value in values
            },
            comparison=self._compare(now),
            stale=sources.is_stale(now),
            local=self._local_status(),
            vrm=self._vrm_status(),
            readings_24h=sources.readings_24h(now),
        )
        return replace(view, changed=changed_parts(self.data, view))

    def _compare(self, now: datetime) -> ComparisonView | None:
        """The inverter comparison with the state of charge as served now."""
        if self.comparison is None:
            return None
        soc = self.sources.value("soc", now)
        if soc is None:
            return self.comparison.compare(None, now, now)
        return self.comparison.compare(soc.value, soc.sampled_at, now)

    def _shown(self, reading: Reading | None, now: datetime) -> Shown | None:
        """A reading as entities show it.

        A local value's age is counted to the Cerbo's latest tick, failed or not, so it grows
        with each failed tick and stays put between good ones; a VRM value keeps ageing.
        """
        if reading is None:
            return None
        moment = now
        if reading.source is Source.LOCAL and self.local is not None:
            moment = self.local.ticked_at or now
        age = max(0.0, (moment - reading.sampled_at).total_seconds())
        return Shown(reading.value, reading.source, round(age), reading.measured_by)

    def _local_status(self) -> LocalStatus | None:
        if self.local is None:
            return None
        health = self.local.health
        return LocalStatus(
            connected=self.local.last_update_success,
            error=health.last_error_reason if not health.reachable else None,
            last_success=health.last_success,
            failures=health.consecutive_failures,
        )

    def _vrm_status(self) -> VrmStatus | None:
        if self.vrm is None:
            return None
        health, budget = self.vrm.health, self.vrm.budget
        return VrmStatus(
            connected=health.serving,
            error=health.last_error_cause if not health.serving else None,
            last_success=health.last_success,
            failures=health.consecutive_failures,
            requests_last_hour=budget.used,
            budget_warning=budget.warning,
            budget_limit=budget.limit,
            near_limit=budget.near_limit,
            account_entries=len(self.vrm.account.loaded),
            site_alarms=_site_alarms(self.vrm.data.site if self.vrm.data else None),
        )
