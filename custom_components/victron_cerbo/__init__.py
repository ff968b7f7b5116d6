"""The Victron Cerbo GX integration: battery state from VRM and the Cerbo's local API."""

from __future__ import annotations

import asyncio

from homeassistant.const import Platform
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .api.cerbo import CerboClient
from .api.vrm import VrmClient
from .assist import async_setup_assist
from .battery import BatteryCoordinator
from .const import (
    CONF_HOST,
    CONF_PORT,
    CONF_VRM_API_URL,
    CONF_VRM_TOKEN,
    DEFAULT_LOCAL_PORT,
    DEFAULT_VRM_API_URL,
    DOMAIN,
    LOGGER,
)
from .dashboard import async_follow_fleet, async_register_dashboard
from .entity import async_refresh_devices, async_register_installation_device
from .fleet import async_join_fleet, async_remove_fleet_leftovers
from .history import async_create_backfill, async_remove_progress, async_start_backfill
from .insight_coordinator import async_create_insight, async_remove_events
from .issues import async_delete_issues, async_setup_issue_checks
from .limits import migrate_limit_options
from .local_coordinator import LocalCoordinator
from .options import EntryOptions
from .runtime import VictronConfigEntry, VictronRuntimeData
from .solark import (
    SolarkComparison,
    async_delete_comparison_issue,
    async_remove_comparison_entities,
)
from .vrm_account import vrm_accounts
from .vrm_coordinator import VrmCoordinator

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:  # noqa: ARG001
    """Offer the battery to Assist and to LLM conversation agents (read-only)."""
    async_setup_assist(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: VictronConfigEntry) -> bool:
    """Set up Victron Cerbo GX from a config entry."""
    session = async_get_clientsession(hass)
    options = EntryOptions.from_entry(entry)
    local: LocalCoordinator | None = None
    vrm: VrmCoordinator | None = None
    if CONF_HOST in entry.data:
        cerbo = CerboClient(
            session, entry.data[CONF_HOST], entry.data.get(CONF_PORT, DEFAULT_LOCAL_PORT)
        )
        local = LocalCoordinator(hass, entry, cerbo, options=options)
    if CONF_VRM_TOKEN in entry.data:
        client = VrmClient(
            session,
            entry.data[CONF_VRM_TOKEN],
            base_url=entry.data.get(CONF_VRM_API_URL, DEFAULT_VRM_API_URL),
        )
        vrm = VrmCoordinator(hass, entry, client, options=options)

    try:
        await _async_first_refresh(local, vrm)
    except BaseException:
        # not loaded: its budget options no longer count among the account's
        vrm_accounts(hass).detach(entry)
        raise
    if local is not None and vrm is not None:
        # While the Cerbo answers, VRM is a backup; a failing tick calls it in at once.
        entry.async_on_unload(vrm.async_follow_local(local))
    comparison = _comparison(hass, entry, options)
    battery = BatteryCoordinator(hass, entry, local, vrm, comparison, options=options)
    history = await async_create_backfill(hass, entry, vrm, options.history_days)
    insight = await async_create_insight(hass, entry, battery, options)
    entry.runtime_data = VictronRuntimeData(
        options=options,
        local=local,
        vrm=vrm,
        battery=battery,
        comparison=comparison,
        history=history,
        insight=insight,
    )
    # the first view, then one per source update, inverter change and every 30 s
    battery.async_start()
    if insight is not None:
        # its first figures before the entities and the repair check that read them
        entry.async_on_unload(await insight.async_start())
    if local is not None or vrm is not None:
        # Battery devices link to it by device id (via_device_id), so it must exist first.
        async_register_installation_device(hass, entry)
    if vrm is not None and vrm.overview is None:
        entry.async_on_unload(_async_refresh_devices_with_overview(hass, entry, vrm))
    async_setup_issue_checks(hass, entry)
    # before the platforms, which offer to hold the fleet's entities
    if (fleet := async_join_fleet(hass, entry)) is not None:
        async_follow_fleet(hass, fleet)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    async_register_dashboard(hass, entry)  # built from the registry, so after the platforms
    # VRM's past into our sensors' statistics: needs their entity ids, so after the platforms
    if history is not None:
        entry.async_on_unload(async_start_backfill(history))
    return True


@callback
def _async_refresh_devices_with_overview(
    hass: HomeAssistant, entry: VictronConfigEntry, vrm: VrmCoordinator
) -> CALLBACK_TYPE:
    """Give the devices their model and firmware once VRM's device list comes.

    A site set up beside others of its account reads that list later, in the account's extra
    requests. Returns the unsubscribe.
    """
    unsubscribe: CALLBACK_TYPE | None = None

    @callback
    def updated() -> None:
        nonlocal unsubscribe
        if vrm.overview is None or unsubscribe is None:
            return
        unsubscribe()
        unsubscribe = None
        async_refresh_devices(hass, entry)

    unsubscribe = vrm.async_add_listener(updated)

    @callback
    def remove() -> None:
        if unsubscribe is not None:
            unsubscribe()

    return remove


async def async_migrate_entry(hass: HomeAssistant, entry: VictronConfigEntry) -> bool:
    """Bring an entry stored by an older version up to date; refuse a newer major version."""
    if entry.version > 1:
        return False
    if entry.minor_version < 2:  # noqa: PLR2004
        hass.config_entries.async_update_entry(
            entry, options=migrate_limit_options(entry.options), minor_version=2
        )
        LOGGER.debug("Migrated the options of %s to version 1.2", entry.title)
    return True


async def _async_first_refresh(local: LocalCoordinator | None, vrm: VrmCoordinator | None) -> None:
    """Refresh every configured source; one of two may fail without blocking setup.

    An authentication failure always propagates so that reauthentication starts.
    """
    configured = [coordinator for coordinator in (local, vrm) if coordinator is not None]
    results = await asyncio.gather(
        *(coordinator.async_config_entry_first_refresh() for coordinator in configured),
        return_exceptions=True,
    )
    failures: list[ConfigEntryNotReady] = []
    for result in results:
        if isinstance(result, ConfigEntryNotReady):
            failures.append(result)
        elif isinstance(result, BaseException):
            raise result
    if failures and len(failures) == len(configured):
        raise failures[0]
    for failure in failures:
        LOGGER.info("Starting with one source unavailable: %s", failure)


def _comparison(
    hass: HomeAssistant, entry: VictronConfigEntry, options: EntryOptions
) -> SolarkComparison | None:
    """Compare with the inverter's SOC when the user chose its entity; else clear what was."""
    settings = options.comparison
    if settings is None:
        async_delete_comparison_issue(hass, entry)
        async_remove_comparison_entities(hass, entry)
        return None
    return SolarkComparison(hass, entry, settings)


async def async_unload_entry(hass: HomeAssistant, entry: VictronConfigEntry) -> bool:
    """Unload a config entry; its repair issues go too (a disabled entry has nothing to fix)."""
    if not await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        return False
    async_delete_issues(hass, entry)
    async_delete_comparison_issue(hass, entry)
    vrm_accounts(hass).detach(entry)  # the account's budget stays; its options no longer apply
    return True


async def async_remove_entry(hass: HomeAssistant, entry: VictronConfigEntry) -> None:
    """Forget what outlives reloads but not removal: the VRM account and the history's progress.

    The VRM account goes only if no other entry uses it.

    The fleet's entities go too when fewer than two of the account's entries are left.

    Repair issues go too, for an entry removed while it was not loaded.
    """
    vrm_accounts(hass).forget(hass, entry)
    await async_remove_progress(hass, entry.entry_id)
    await async_remove_events(hass, entry.entry_id)
    async_remove_fleet_leftovers(hass, entry)
    async_delete_issues(hass, entry)
    async_delete_comparison_issue(hass, entry)
