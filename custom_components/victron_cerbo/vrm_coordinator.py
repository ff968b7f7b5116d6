"""The VRM (cloud) coordinator of a config entry, with the health of its polls.

One request per poll (the monitor's BatterySummary, or for a site without a monitor the
account's installations list with the GX's system battery), discovery at most hourly. At the
180 s default that is 20 requests an hour plus one system-overview. A failed poll keeps the last
data until the third failure in a row; `health` records every attempt for the health entities.

When entries of two or more sites use one VRM account, one installations list serves all of
them (`vrm_account.AccountListing`): each entry reads its site's system battery from it and polls
just after the account's last listing, so a round costs one request. An entry with a battery
monitor uses it only when the site has no other monitor (the system battery is then that
monitor); its BatterySummary (temperature, cells, time to go, alarms) and each site's overview
take turns in the account's extra requests, five an hour in all. Its values carry their own age.
The listing, too, waits while no site that needs fresh values has a new upload due.

VRM only has what the GX uploaded, every logging interval (1-15 minutes). When that interval
is longer than the poll interval, the next poll waits for the next upload instead (the interval
again when an upload is late). While the entry's Cerbo answers, its values win anyway: VRM is
then a backup, polled every 15 minutes to keep its health known. The first failed local tick
polls VRM at once and brings back the full cadence, so VRM's values are fresh when the local
ones go at the third; after the Cerbo recovers, VRM's next poll returns to the backup cadence.
A Retry-After or a full budget is always waited out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api.vrm import (
    DEFAULT_RATE_LIMIT_HOLD,
    VrmAuthenticationError,
    VrmBatteryReading,
    VrmBudgetExceededError,
    VrmClient,
    VrmConnectionError,
    VrmError,
    VrmForbiddenError,
    VrmRateLimitError,
    VrmResponseError,
    VrmSiteLive,
    VrmSystemOverview,
)
from .const import (
    CONF_BATTERY_INSTANCE,
    CONF_SITE_ID,
    CONF_VRM_USER_ID,
    DOMAIN,
    FAILURES_BEFORE_UNAVAILABLE,
    LOGGER,
)
from .models import RollingCount, VrmData
from .options import EntryOptions
from .vrm_account import vrm_accounts

if TYPE_CHECKING:
    from homeassistant.core import CALLBACK_TYPE, HomeAssistant


OVERVIEW_REFRESH: Final = timedelta(hours=1)
# An entry reading the shared listing refreshes its overview in the account's extra requests.
SHARED_OVERVIEW_REFRESH: Final = timedelta(hours=24)
BACKUP_INTERVAL: Final = timedelta(minutes=15)  # while the entry's Cerbo answers
# An upload reaches VRM some seconds after the GX took the sample: poll this much after it.
UPLOAD_MARGIN: Final = 30.0
HEALTHY_WITHIN: Final = timedelta(minutes=10)
# Entries reading the shared listing poll this long after the account's last one, each a
# little later than the one before (within LISTING_SPREAD, by the golden ratio's sequence) so
# that fifty of them do not update in the same loop iteration; all read one listing.
LISTING_MARGIN: Final = timedelta(seconds=2)  # Home Assistant rounds timers to the second
LISTING_SPREAD: Final = 20.0  # seconds; well below half an interval, the listing's reuse
GOLDEN_FRACTION: Final = 0.6180339887498949


class LocalTicks(Protocol):
    """The entry's local coordinator, as the VRM backup cadence follows it."""

    @property
    def data(self) -> object | None:
        """The last good tick's snapshot; None before the first."""

    @property
    def serves_battery(self) -> bool:
        """True while the latest tick succeeded and read the battery."""

    def async_add_tick_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener` after every tick; returns the unsubscribe."""


@dataclass(kw_only=True)
class VrmHealth:
    """How the VRM source is doing, updated on every attempt."""

    last_attempt: datetime | None = None
    last_success: datetime | None = None
    consecutive_failures: int = 0
    last_error_kind: str | None = None  # timeout, auth, rate_limited, forbidden, ...
    last_error_cause: str | None = None  # plain words: "timeout", "HTTP 503", ...
    last_error: str | None = None
    last_error_at: datetime | None = None
    vrm_seconds_ago: float | None = None  # VRM's sample age when it was fetched
    reading_fetched_at: datetime | None = None
    has_old_data: bool | None = None

    @property
    def serving(self) -> bool:
        """True from the first success until the third failure in a row.

        One rule for the values, the connection sensor and the log: a failed poll or two
        (however long each took) keep the last values; the third makes them unavailable.
        """
        return (
            self.last_success is not None
            and self.consecutive_failures < FAILURES_BEFORE_UNAVAILABLE
        )

    @property
    def status(self) -> str:
        """Return "ok" while the latest attempt succeeded, else the kind of the last error."""
        if self.consecutive_failures == 0 and self.last_success is not None:
            return "ok"
        return self.last_error_kind or "unknown"

    def data_age(self, now: datetime | None = None) -> float | None:
        """Seconds since VRM took the sample we hold: its secondsAgo plus time since fetch."""
        if self.vrm_seconds_ago is None or self.reading_fetched_at is None:
            return None
        now = now or dt_util.utcnow()
        return self.vrm_seconds_ago + max(0.0, (now - self.reading_fetched_at).total_seconds())

    def is_healthy(self, now: datetime | None = None) -> bool:
        """True when a poll succeeded within the last ten minutes."""
        if self.last_success is None:
            return False
        return (now or dt_util.utcnow()) - self.last_success <= HEALTHY_WITHIN

    @property
    def healthy(self) -> bool:
        """`is_healthy()` at the current time."""
        return self.is_healthy()

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """A JSON-friendly view for diagnostics."""
        now = now or dt_util.utcnow()

        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "status": self.status,
            "healthy": self.is_healthy(now),
            "last_attempt": iso(self.last_attempt),
            "last_success": iso(self.last_success),
            "consecutive_failures": self.consecutive_failures,
            "last_error_kind": self.last_error_kind,
            "last_error_cause": self.last_error_cause,
            "last_error": self.last_error,
            "last_error_at": iso(self.last_error_at),
            "data_age": self.data_age(now),
            "has_old_data": self.has_old_data,
        }


class VrmCoordinator(DataUpdateCoordinator[VrmData]):
    """Polls one site's BatterySummary; keeps the system overview fresh once an hour."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        client: VrmClient,
        *,
        options: EntryOptions | None = None,
    ) -> None:
        """Read the site and battery instance from the entry; `options` as read at setup."""
        options = options or EntryOptions.from_entry(entry)
        interval = options.vrm_poll_interval
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} VRM",
            update_interval=timedelta(seconds=interval),
            always_update=False,
        )
        self.client = client
        self.site_id = int(entry.data[CONF_SITE_ID])
        instance = entry.data.get(CONF_BATTERY_INSTANCE)
        # None: no battery monitor on the site; the GX's system battery is read instead.
        self.battery_instance: int | None = None if instance is None else int(instance)
        user_id = entry.data.get(CONF_VRM_USER_ID)
        self.user_id: int | None = None if user_id is None else int(user_id)
        # Keep counting across reloads and entries: adopt the account's budget into this client.
        self.account = vrm_accounts(hass).attach(hass, entry, options, client.budget)
        client.budget = self.budget = self.account.budget
        self.health = VrmHealth()  # the budget itself tells its own state
        self.overview: VrmSystemOverview | None = None
        self._overview_checked: datetime | None = None
        self._poll_seconds = float(interval)
        # For the health entities and diagnostics: polls that brought a battery reading.
        self.readings = RollingCount()
        self.last_duration: float | None = None  # seconds the last poll took
        # The entry's Cerbo, when it has one: while it serves the battery, VRM is a backup.
        self.local: LocalTicks | None = None
        # True while the next poll is due at the backup cadence only (no Retry-After or full
        # budget to wait out): a failing local tick may then poll at once.
        self.backup = False
        # True while the live values come from the account's shared listing; the rotating
        # BatterySummary then serves what the listing lacks, with its own age.
        self.shared = False
        self.summary: VrmBatteryReading | None = None
        self.summary_fetched_at: datetime | None = None
        self.site: VrmSiteLive | None = None  # the site's record in the shared listing
        self.account.sites[entry.entry_id] = self.site_id
        if self.user_id is not None:
            self.account.user_id = self.user_id

    # --- refresh ------------------------------------------------------------------------

    async def _async_setup(self) -> None:
        """Discover the site's devices once, before the first poll."""
        now = self._begin_attempt()
        try:
            if self.battery_instance is None and self._account_user_id() is None:
                self.user_id = self.account.user_id = (await self.client.get_user()).id
            if self.account.shares_listing:
                # The account's listing serves the live values; the overview (the device
                # list) takes its turn in the extra requests, so that setting up many sites at
                # once costs one listing rather than one request each.
                return
            self.overview = await self.client.get_system_overview(self.site_id)
        except VrmResponseError as err:
            # A malformed overview must not block battery data; it is retried within the hour.
            LOGGER.warning("VRM system overview unusable, continuing without it: %s", err)
        except VrmError as err:
            self._record_failure(err)
            raise self._translate(err) from err
        self._overview_checked = now

    async def _async_update_data(self) -> VrmData:
        """One battery request (plus the hourly overview).

        A failed poll keeps the last data until the third failure in a row; only then is
        UpdateFailed raised, which Home Assistant logs once (and "recovered" once after).
        """
        now = self._begin_attempt()
        started = time.monotonic()
        try:
            reading = await self._async_read_battery(now)
        except VrmError as err:
            self._record_failure(err)
            return self._keep_or_raise(err)
        except Exception as err:
            self._record_failure(err)
            raise
        finally:
            self.last_duration = time.monotonic() - started
        if self.shared:
            await self._async_extra(now)
        else:
            await self._async_refresh_overview(now)
        self._record_success(now, reading)
        self.update_interval = self._next_poll(reading)
        return VrmData(
            battery=reading,
            overview=self.overview,
            fetched_at=now,
            summary=self.summary if self.shared else None,
            summary_fetched_at=self.summary_fetched_at if self.shared else None,
            site=self.site if self.shared else None,
        )

    def _local_answers(self) -> bool:
        """True while the entry's Cerbo has data and its latest tick read the battery."""
        local = self.local
        return local is not None and local.data is not None and local.serves_battery

    def _next_poll(self, reading: VrmBatteryReading | None) -> timedelta:
        """When to poll next: backup cadence, just after the next upload, or the interval.

        Reading the shared listing: one interval after the account's last listing, so the
        entries of the account poll together and share the next one too.
        """
        self.backup = self._local_answers()
        interval = BACKUP_INTERVAL if self.backup else timedelta(seconds=self._poll_seconds)
        if self.shared and (due := self.account.listing.next_round(interval)) is not None:
            quiet = self.account.quiet_until()
            if not self.backup and quiet is not None:
                due = max(due, quiet)  # nothing new before the next upload of any waiting site
            due += LISTING_MARGIN + timedelta(seconds=self._listing_offset())
            return max(due - dt_util.utcnow(), LISTING_MARGIN)
        if self.backup:
            return BACKUP_INTERVAL
        seconds = self._poll_seconds
        upload_every = self.overview.logging_interval if self.overview else None
        sample_age = reading.seconds_ago if reading else None
        if upload_every is not None and sample_age is not None and upload_every > seconds:
            # Nothing new before the next upload. When it is late (the sample older than the
            # logging interval), this is below the interval, which then applies.
            seconds = max(seconds, upload_every - sample_age + UPLOAD_MARGIN)
        return timedelta(seconds=seconds)

    @callback
    def async_follow_local(self, local: LocalTicks) -> CALLBACK_TYPE:
        """Be the backup of the entry's Cerbo; call after both first refreshes.

        Nothing is scheduled before the first listener, so the first poll, made while the
        Cerbo was still starting, can still take the backup cadence. Returns the unsubscribe.
        """
        self.local = local
        if self.last_update_success and self.data is not None:  # the first poll succeeded
            self.update_interval = self._next_poll(self.data.battery)
        return local.async_add_tick_listener(self.async_local_ticked)

    @callback
    def async_local_ticked(self) -> None:
        """A local tick ended: when it failed while VRM was only a backup, poll VRM now.

        Local values stay served until the third failed tick; VRM's are then fresh. A poll
        waiting out a Retry-After or the budget keeps waiting (`backup` is False then).
        """
        if self.backup and not self._local_answers():
            self.backup = False
            self.update_interval = timedelta(seconds=self._poll_seconds)
            self.config_entry.async_create_background_task(
                self.hass, self.async_request_refresh(), f"{DOMAIN} VRM poll, Cerbo failing"
            )

    def _listing_offset(self) -> float:
        """Seconds after the account's listing this entry polls: 0 for the first entry."""
        order = list(self.account.sites).index(self.config_entry.entry_id)
        return (order * GOLDEN_FRACTION) % 1.0 * LISTING_SPREAD

    def _account_user_id(self) -> int | None:
        return self.user_id if self.user_id is not None else self.account.user_id

    def _may_share(self) -> bool:
        """Whether the account's shared listing can serve this entry's live values.

        Only while entries of two or more sites use the account. A monitor's values are the
        GX's system battery only when the site has no other monitor, which its overview tells;
        until the overview comes (first in the extra requests) the site is taken to have one
        monitor, as most have: the flow picks the only monitor of such a site by itself.
        """
        if not self.account.shares_listing:
            return False
        return (
            self.battery_instance is None
            or self.overview is None
            or len(self.overview.battery_monitors) <= 1
        )

    async def _async_read_battery(self, now: datetime) -> VrmBatteryReading | None:
        """The battery: the site's system battery from the shared listing, or the summary.

        The listing when it can serve the entry (`_may_share`), else the monitor's
        BatterySummary, or for a site without a monitor its own installations record.
        """
        self.shared = False
        if not self._may_share():
            self.account.next_uploads.pop(self.config_entry.entry_id, None)
        else:
            site = await self._async_listed_site(now)
            if site is not None and (site.battery is not None or self.battery_instance is None):
                self.shared, self.site = True, site
                return site.battery
        if self.battery_instance is not None:
            reading = await self.client.get_battery_summary(self.site_id, self.battery_instance)
            # kept for when the listing serves: what it lacks then comes from here
            self.summary, self.summary_fetched_at = reading, now
            return reading
        user_id = self._account_user_id()
        assert user_id is not None  # learnt in _async_setup
        return await self.client.get_system_battery(user_id, self.site_id)

    async def _async_listed_site(self, now: datetime) -> VrmSiteLive | None:
        """The site's record in the account's listing, as of at most half an interval ago.

        A site without a monitor that the listing lacks is an error; a monitor's entry then
        reads its BatterySummary instead (None).
        """
        user_id = self._account_user_id()
        if user_id is None:
            user_id = self.user_id = self.account.user_id = (await self.client.get_user()).id
        backup = self._local_answers()
        interval = BACKUP_INTERVAL if backup else timedelta(seconds=self._poll_seconds)
        listing = self.account.listing
        max_age = interval / 2
        quiet = self.account.quiet_until()
        if quiet is not None and now < quiet and listing.error is None:
            # no site waiting for fresh values has uploaded since: the last listing will do
            max_age = max(max_age, quiet - now + interval)
        live = await listing.async_get(self.client, user_id, now, max_age)
        site = live.sites.get(self.site_id)
        self._expect_upload(site, backup=backup)
        if site is None and self.battery_instance is None:
            raise VrmResponseError(f"installations without site {self.site_id}")
        return site

    def _expect_upload(self, site: VrmSiteLive | None, *, backup: bool) -> None:
        """Tell the account when this site's next upload is due, as far as it is known.

        Only while this entry wants fresh values: a backup of a Cerbo waits for nobody.
        """
        entry_id = self.config_entry.entry_id
        if backup:
            self.account.next_uploads.pop(entry_id, None)
            return
        every = self.overview.logging_interval if self.overview else None
        last = site.last_timestamp if site else None
        self.account.next_uploads[entry_id] = (
            None
            if every is None or last is None
            else dt_util.utc_from_timestamp(last + every + UPLOAD_MARGIN)
        )

    async def _async_extra(self, now: datetime) -> None:
        """The overview or BatterySummary, when the account grants this entry its turn.

        A failure keeps what was there: the live values came from the listing.
        """
        checked = self._overview_checked
        overview_due = (
            self.overview is None or checked is None or now - checked >= SHARED_OVERVIEW_REFRESH
        )
        summary_wanted = self.battery_instance is not None and not self._local_answers()
        if not self.account.grant_extra(
            self.config_entry.entry_id,
            now,
            wants=overview_due or summary_wanted,
            missing_overview=self.overview is None,
        ):
            return
        try:
            if overview_due:
                self._overview_checked = now
                self.overview = await self.client.get_system_overview(self.site_id)
            else:
                assert self.battery_instance is not None
                self.summary = await self.client.get_battery_summary(
                    self.site_id, self.battery_instance
                )
                self.summary_fetched_at = now
        except VrmError as err:
            LOGGER.debug("VRM extra request failed, keeping what was there: %s", err)

    def _keep_or_raise(self, err: VrmError) -> VrmData:
        """The last data while fewer than three polls failed in a row; else the error."""
        failures = self.health.consecutive_failures
        data: VrmData | None = self.data  # None until the first success
        if (
            data is None
            or isinstance(err, VrmAuthenticationError)
            or failures >= FAILURES_BEFORE_UNAVAILABLE
        ):
            raise self._translate(err, running=data is not None) from err
        LOGGER.debug(
            "VRM poll failed (%s in a row, %s), keeping the last data: %s",
            failures,
            err.cause,
            err,
        )
        # What UpdateFailed(retry_after=...) would do, without marking the data failed:
        # nothing is sent to VRM before its Retry-After (or a free budget slot). The
        # coordinator waits `update_interval` after this poll; a good poll sets it back.
        hold = self._wait_after(err)
        # A plain failure while the Cerbo answers is retried at the backup cadence.
        self.backup = hold is None and self._local_answers()
        if hold is not None:
            self.update_interval = timedelta(seconds=hold)
        elif self.backup:
            self.update_interval = BACKUP_INTERVAL
        else:
            self.update_interval = timedelta(seconds=self._poll_seconds)
        return replace(data, failures=failures)

    def _wait_after(self, err: VrmError) -> float | None:
        """Seconds to wait before the next poll after a rate limit or a full budget."""
        if isinstance(err, VrmRateLimitError):
            wait = DEFAULT_RATE_LIMIT_HOLD if err.retry_after is None else err.retry_after
            return max(wait, self._poll_seconds)
        if isinstance(err, VrmBudgetExceededError):
            return max(err.retry_after, self._poll_seconds)
        return None

    async def _async_refresh_overview(self, now: datetime) -> None:
        """Refetch the device list when an hour has passed, unless the budget is tight."""
        if self._overview_checked is not None and now - self._overview_checked < OVERVIEW_REFRESH:
            return
        if self.budget.near_limit:
            LOGGER.debug("VRM budget near its limit; system overview refresh postponed")
            return
        self._overview_checked = now
        try:
            self.overview = await self.client.get_system_overview(self.site_id)
        except VrmError as err:
            LOGGER.debug("VRM system overview refresh failed, keeping the old one: %s", err)

    # --- health ---------------------------------------------------------------------------

    def _begin_attempt(self) -> datetime:
        now = dt_util.utcnow()
        self.health.last_attempt = now
        return now

    def _record_success(self, now: datetime, reading: VrmBatteryReading | None) -> None:
        health = self.health
        health.last_success = now
        health.consecutive_failures = 0
        if reading is not None:
            self.readings.add(now)
            health.vrm_seconds_ago = reading.seconds_ago
            health.reading_fetched_at = now
            health.has_old_data = reading.has_old_data

    def _record_failure(self, err: Exception) -> None:
        health = self.health
        health.consecutive_failures += 1
        health.last_error_kind = err.kind if isinstance(err, VrmError) else "unexpected"
        health.last_error_cause = err.cause if isinstance(err, VrmError) else "unexpected error"
        health.last_error = str(err) if isinstance(err, VrmError) else type(err).__name__
        health.last_error_at = health.last_attempt

    # --- errors ---------------------------------------------------------------------------

    def _translate(
        self, err: VrmError, *, running: bool = False
    ) -> ConfigEntryAuthFailed | UpdateFailed:
        """Map a client error to what the coordinator machinery understands.

        `running`: the source had data, so this is its third failure in a row.
        """
        if isinstance(err, VrmAuthenticationError):
            return ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="vrm_auth_failed"
            )
        placeholders = {"site_id": str(self.site_id), "error": str(err), "cause": err.cause}
        retry_after = self._wait_after(err)
        if running:
            # one message for every cause; the cause itself is a placeholder
            key = "vrm_unavailable"
            placeholders["failures"] = str(self.health.consecutive_failures)
        elif isinstance(err, VrmForbiddenError):
            key = "vrm_forbidden"
        elif isinstance(err, VrmRateLimitError):
            key = "vrm_rate_limited"
        elif isinstance(err, VrmBudgetExceededError):
            key = "vrm_budget_exceeded"
            placeholders["limit"] = str(self.budget.limit)
        elif isinstance(err, VrmConnectionError):
            key = {"timeout": "vrm_timeout", "server_error": "vrm_server_error"}.get(
                err.kind, "vrm_cannot_connect"
            )
        else:
            key = "vrm_bad_response"
        if retry_after is not None:
            placeholders["retry_after"] = f"{retry_after:.0f}"
        return UpdateFailed(
            translation_domain=DOMAIN,
            translation_key=key,
            translation_placeholders=placeholders,
            retry_after=retry_after,
        )
