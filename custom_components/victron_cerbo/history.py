"""The past from VRM: hourly mean/min/max of the battery sensors as long-term statistics.

At setup of an entry with VRM, the last `history_days` of SOC, voltage, current, power and
temperature come from VRM's `stats` (hourly mean, min and max) and are imported into the
statistics of our own sensors, so that charts and statistic cards show the past at once. Hours
missing later (Home Assistant stopped, both sources down) are filled the same way once VRM has
them, and the last hours of each fetch are fetched once more later, because a GX uploads its
back-log late.

Rules that keep this safe:
- Only hours the recorder has no row for are imported, or hours we imported ourselves (importing
  again overwrites them with the same or later values): the recorder's own statistics of hours
  the sensors were live are never touched.
- Only the five measurement sensors' means are imported into sensors (`has_sum` False). The
  energy sensors (`total_increasing`, whose sums the Energy dashboard reads) are never written:
  their keys are not in HISTORY_KEYS, and any entity whose state class is not `measurement` is
  skipped. VRM's energy goes into external statistics of our own (history_energy).
- Backfill is the lowest request class of the account's budget: it sends only while the account
  is well below its warning (room for the live polls is kept), at most BACKFILL_PER_HOUR an hour
  per account, never during a Retry-After, one request at a time, through its own client (so a
  live poll never waits for a backfill request to finish). It stops at a 429 and resumes once the
  Retry-After is over. Its progress is kept in a Store and survives restarts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.components.recorder.statistics import (
    statistics_during_period,
)
from homeassistant.components.sensor import SensorStateClass
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.recorder import get_instance
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .api.vrm import (
    VrmBudgetExceededError,
    VrmClient,
    VrmError,
    VrmRateLimitError,
    VrmStats,
)
from .const import CONF_VRM_API_URL, CONF_VRM_TOKEN, DEFAULT_VRM_API_URL, DOMAIN, LOGGER
from .history_energy import async_import_energy
from .history_measurements import HISTORY_KEYS_ALL, import_measurements
from .history_spans import (
    HOUR,
    Progress,
    Span,
    floor_hour,
    hours_of,
    merge,
    spans_of,
    subtract,
)
from .vrm_account import account_key
from .vrm_coordinator import VrmCoordinator

CHUNK: Final = 3 * 24 * HOUR  # hours of one request, newest first
TRAILING: Final = 6 * HOUR  # the last hours of a fetch are fetched again later (back-log)
ENERGY_EVERY: Final = timedelta(hours=1)  # energy is asked for at most this often per entry
FETCH_NEW: Final = "new"
FETCH_AGAIN: Final = "again"
FETCH_ENERGY: Final = "energy"
REFETCH_AFTER: Final = 3 * HOUR
# An hour is ours to fill once the recorder has compiled it (a few seconds past the hour).
SETTLE: Final = 15 * 60
FIRST_DELAY: Final = timedelta(minutes=1)  # after setup: the live polls go first
STEP_EVERY: Final = timedelta(minutes=5)
ERROR_PAUSE: Final = 30 * 60  # after a failed request (not a 429)
DEFAULT_RETRY_AFTER: Final = 300.0
BACKFILL_PER_HOUR: Final = 10  # per VRM account
LIVE_RESERVE: Final = 10  # requests of the hour kept free below the warning for live polls
STORE_VERSION: Final = 1


class HourlyShare:
    """At most `limit` requests in any rolling hour: the import's share of a VRM account.

    Not a RequestBudget: reaching this share is the normal pace of a long import, not the
    account's budget running out, so it logs nothing.
    """

    def __init__(self, limit: int) -> None:
        """A share of `limit` requests an hour."""
        self.limit = limit
        self._sent: deque[float] = deque()

    def _now(self) -> float:
        # Home Assistant's clock, read at each call (so a frozen test clock moves it too)
        now = dt_util.utcnow().timestamp()
        while self._sent and self._sent[0] <= now - HOUR:
            self._sent.popleft()
        return now

    @property
    def used(self) -> int:
        """Requests in the last hour."""
        self._now()
        return len(self._sent)

    @property
    def remaining(self) -> int:
        """Requests the share still allows this hour."""
        return max(0, self.limit - self.used)

    def acquire(self) -> None:
        """Count one request."""
        self._sent.append(self._now())


DATA_BACKFILL_SHARES: HassKey[dict[str, HourlyShare]] = HassKey(f"{DOMAIN}_history_share")


class Backfill(DataUpdateCoordinator[dict[str, Any]]):
    """The VRM history of one entry, imported a request at a time within the budget.

    A coordinator so that the progress sensor follows it like any other entity; each refresh
    is one step (at most one request). Its data is the progress as `as_dict` gives it.
    """

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        vrm: VrmCoordinator,
        days: int,
        *,
        client: VrmClient | None = None,
    ) -> None:
        """Backfill `days` for the entry's VRM site."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} history",
            update_interval=STEP_EVERY,
            always_update=False,
        )
        self.days = days
        self.site_id = vrm.site_id
        self.budget = vrm.budget  # the account's
        token = entry.data[CONF_VRM_TOKEN]
        # Its own client on the account's budget: a live poll never queues behind it.
        self.client = client or VrmClient(
            async_get_clientsession(hass),
            token,
            budget=self.budget,
            base_url=entry.data.get(CONF_VRM_API_URL, DEFAULT_VRM_API_URL),
        )
        shares = hass.data.setdefault(DATA_BACKFILL_SHARES, {})
        self.own = shares.setdefault(account_key(token), HourlyShare(BACKFILL_PER_HOUR))
        self.store = _store(hass, entry.entry_id)
        self.progress = Progress()
        self.next: str | None = None  # what the next request would fetch, for people
        self.waiting: str | None = None  # why nothing was sent at the last step
        self.data = self.as_dict()

    # --- state for people -----------------------------------------------------------------

    @property
    def days_imported(self) -> float:
        """Days of the wanted window that need no more fetching."""
        now = dt_util.utcnow().timestamp()
        window = [(self.target_start(now), self.settled_end(now))]
        missing = subtract(window, self.progress.done)
        total = window[0][1] - window[0][0]
        covered = total - sum(end - start for start, end in missing)
        return round(max(0, covered) / 86400, 2)

    def as_dict(self) -> dict[str, Any]:
        """Progress for diagnostics and the sensor's attributes."""
        return {
            "days": self.days,
            "days_imported": self.days_imported,
            "requests": self.progress.requests,
            "requests_this_hour": self.own.used,
            "rows": self.progress.rows,
            "next": self.next,
            "waiting": self.waiting,
            "retry_at": _iso(self.progress.retry_at),
            "refetch_due": [_iso(due) for _, _, due in self.progress.refetch],
            "last_error": self.progress.last_error,
            "energy_until": _iso(self.progress.energy_until),
            "energy_statistics": list(self.progress.energy_keys),
        }

    # --- planning ---------------------------------------------------------------------------

    def target_start(self, now: float) -> int:
        """The first hour wanted."""
        return floor_hour(now) - self.days * 24 * HOUR

    @staticmethod
    def settled_end(now: float) -> int:
        """The end of the hours the recorder has compiled (or would have, were it live)."""
        return floor_hour(now - SETTLE)

    def _plan(self, now: float) -> tuple[Span, str] | None:
        """The next span to fetch and what for; None when nothing is due.

        Hours never fetched come first, the newest first (the recent past matters most); then
        the energy (at most once an hour); then the refetches of back-logged hours.
        """
        todo = subtract([(self.target_start(now), self.settled_end(now))], self.progress.done)
        if todo:
            start, end = todo[-1]
            return (max(start, end - CHUNK), end), FETCH_NEW
        if (energy := self._energy_span(now)) is not None:
            return energy, FETCH_ENERGY
        due = [item for item in self.progress.refetch if item[2] <= now]
        if due:
            start, end, _ = min(due, key=lambda item: item[2])
            return (start, end), FETCH_AGAIN
        return None

    def _energy_span(self, now: float) -> Span | None:
        """From the last hours imported (again: back-log) to the newest settled hour."""
        progress = self.progress
        end = self.settled_end(now)
        if now < progress.energy_next:
            return None
        first = self.target_start(now)
        if progress.energy_until is None:
            start = first
        else:
            if progress.energy_until >= end:
                return None
            start = max(first, progress.energy_until - TRAILING)
        return (start, end) if end > start else None

    # --- running ----------------------------------------------------------------------------

    async def async_load(self) -> None:
        """Read the progress kept by an earlier run."""
        self.progress = Progress.from_store(await self.store.async_load())

    async def _async_save(self) -> None:
        await self.store.async_save(self.progress.as_store())

    def entity_ids(self) -> dict[str, str]:
        """Our measurement sensors' entity ids by key (those that exist)."""
        registry = er.async_get(self.hass)
        base = self.config_entry.unique_id or self.config_entry.entry_id  # as entity.entry_key
        found: dict[str, str] = {}
        for key in HISTORY_KEYS_ALL:
            entity_id = registry.async_get_entity_id(Platform.SENSOR, DOMAIN, f"{base}_{key}")
            if entity_id is None:
                continue
            entry = registry.async_get(entity_id)
            state_class = (entry.capabilities or {}).get("state_class") if entry else None
            # never a total or total_increasing sensor: their sums are the Energy history
            if state_class != SensorStateClass.MEASUREMENT:
                continue
            found[key] = entity_id
        return found

    async def _async_live_hours(self, entity_id: str, span: Span) -> set[int]:
        """Hours of the span the recorder has a row for that we did not import."""
        rows = await get_instance(self.hass).async_add_executor_job(
            statistics_during_period,
            self.hass,
            dt_util.utc_from_timestamp(span[0]),
            dt_util.utc_from_timestamp(span[1]),
            {entity_id},
            "hour",
            None,
            {"mean"},
        )
        present = {int(row["start"]) for row in rows.get(entity_id, [])}
        return present - hours_of(self.progress.ours)

    def _may_send(self) -> str | None:
        """Why the backfill may not send now (None: it may)."""
        if self.budget.hold_remaining() > 0:
            return "retry_after"
        if self.budget.near_limit or self.budget.used + 1 > self.budget.warning - LIVE_RESERVE:
            return "budget"
        if self.own.remaining <= 0:
            return "backfill_share"
        return None

    async def _async_update_data(self) -> dict[str, Any]:
        """One step: at most one request, when something is due and the budget allows it."""
        await self._async_step()
        return self.as_dict()

    async def _async_step(self) -> None:
        now = dt_util.utcnow().timestamp()
        progress = self.progress
        kept = progress.as_store()
        if progress.retry_at is not None and now < progress.retry_at:
            self.waiting = "retry_after"
            return
        progress.retry_at = None
        # forget what fell out of the window
        keep = self.target_start(now)
        progress.done = subtract(progress.done, [(0, keep)])
        progress.ours = subtract(progress.ours, [(0, keep - 31 * 24 * HOUR)])
        entities = self.entity_ids()
        if "soc" not in entities:
            self.next, self.waiting = None, "no_entities"
            return
        # hours the sensors recorded live need nothing from VRM (only the open hours are read)
        if todo := subtract([(keep, self.settled_end(now))], progress.done):
            live = await self._async_live_hours(entities["soc"], (todo[0][0], todo[-1][1]))
            progress.done = merge([*progress.done, *spans_of(live)])
        plan = self._plan(now)
        self.next = None if plan is None else _describe(plan[0])
        self.waiting = None if plan is None else self._may_send()
        if plan is not None and self.waiting is None:
            await self._async_fetch(now, entities, *plan)
        if progress.as_store() != kept:  # no disk write for a step that changed nothing
            await self._async_save()

    async def _async_request(self, now: float, request: Awaitable[VrmStats]) -> VrmStats | None:
        """Send one request of the share; a refusal pauses the importer (None)."""
        progress = self.progress
        self.own.acquire()
        progress.requests += 1
        try:
            stats = await request
        except VrmRateLimitError as err:
            wait = err.retry_after if err.retry_after is not None else DEFAULT_RETRY_AFTER
            progress.retry_at = now + wait
            progress.last_error = "rate_limited"
            self.waiting = "retry_after"
            LOGGER.debug("VRM history paused for %.0f s (rate limit)", wait)
            return None
        except VrmBudgetExceededError:
            self.waiting = "budget"
            return None
        except VrmError as err:
            progress.retry_at = now + ERROR_PAUSE
            progress.last_error = err.cause or str(err)
            LOGGER.debug("VRM history request failed: %s", err)
            return None
        progress.last_error = None
        return stats

    async def _async_fetch(
        self, now: float, entities: dict[str, str], span: Span, kind: str
    ) -> None:
        """One request for the span, and the import of its hours."""
        if kind == FETCH_ENERGY:
            await self._async_fetch_energy(now, span)
            return
        progress = self.progress
        codes = [HISTORY_KEYS_ALL[key] for key in entities]
        request = self.client.get_stats(self.site_id, codes, span[0], span[1], "hours")
        if (stats := await self._async_request(now, request)) is None:
            return
        live = await self._async_live_hours(entities["soc"], span)
        imported = import_measurements(self.hass, entities, stats, span, live)
        progress.rows += sum(imported.values())
        progress.ours = merge([*progress.ours, *spans_of(hours_of([span]) - live)])
        if kind == FETCH_AGAIN:
            progress.refetch = [item for item in progress.refetch if item[:2] != span]
        else:
            progress.done = merge([*progress.done, span])
            if span[1] > self.settled_end(now) - TRAILING:
                back = (max(span[0], span[1] - TRAILING), span[1], int(now + REFETCH_AFTER))
                progress.refetch.append(back)
        self.next = None

    async def _async_fetch_energy(self, now: float, span: Span) -> None:
        """The energy flows of the span into the Energy statistics."""
        progress = self.progress
        request = self.client.get_energy(self.site_id, span[0], span[1])
        if (energy := await self._async_request(now, request)) is None:
            return
        progress.energy_next = now + ENERGY_EVERY.total_seconds()
        entry = self.config_entry
        result = await async_import_energy(
            self.hass,
            base=entry.unique_id or entry.entry_id,
            title=entry.title,
            energy=energy,
            start=span[0],
            end=span[1],
            known=progress.energy_keys,
        )
        progress.energy_keys = list(result.keys)
        progress.rows += result.rows
        if result.until is not None:
            progress.energy_until = result.until
        self.next = None


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else dt_util.utc_from_timestamp(seconds).isoformat()


def _describe(span: Span) -> str:
    """`2026-01-01T10:00:00+00:00/2026-01-04T10:00:00+00:00` (ISO 8601 interval)."""
    start, end = (dt_util.utc_from_timestamp(value).isoformat() for value in span)
    return f"{start}/{end}"


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return Store(hass, STORE_VERSION, f"{DOMAIN}.history.{entry_id}")


async def async_remove_progress(hass: HomeAssistant, entry_id: str) -> None:
    """Forget a removed entry's import progress (its imported statistics stay: they are history)."""
    await _store(hass, entry_id).async_remove()


async def async_create_backfill(
    hass: HomeAssistant, entry: ConfigEntry, vrm: VrmCoordinator | None, days: int
) -> Backfill | None:
    """The importer of an entry with VRM; None for a local-only entry, 0 days or no recorder."""
    if vrm is None or days == 0 or "recorder" not in hass.config.components:
        return None
    backfill = Backfill(hass, entry, vrm, days)
    await backfill.async_load()
    backfill.data = backfill.as_dict()
    return backfill


@callback
def async_start_backfill(backfill: Backfill) -> CALLBACK_TYPE:
    """Run the steps: the first soon after setup, then every STEP_EVERY; returns the stop."""
    entry = backfill.config_entry

    @callback  # without it, HassJob would run this in the executor, off the event loop
    def first(_now: datetime) -> None:
        entry.async_create_background_task(
            backfill.hass, backfill.async_refresh(), "victron_cerbo history"
        )

    # A coordinator schedules its next refresh only while something listens.
    stops = [
        backfill.async_add_listener(lambda: None),
        async_call_later(backfill.hass, FIRST_DELAY, first),
    ]

    @callback
    def stop() -> None:
        for remove in stops:
            remove()

    return stop
