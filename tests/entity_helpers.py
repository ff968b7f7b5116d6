"""Shared pieces of the entity tests: entries, a fake VRM at the transport, a clock, projections.

The integration is always set up through `hass.config_entries.async_setup`; the Cerbo and VRM
are faked by `aioclient_mock` (HTTP transport), never by patching our own code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from datetime import datetime, timedelta
from enum import Enum
from typing import Any
from unittest.mock import PropertyMock, patch

import aiohttp
import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from syrupy.assertion import SnapshotAssertion
from yarl import URL

from custom_components.victron_cerbo.api.vrm import RequestBudget
from custom_components.victron_cerbo.const import (
    CONF_BATTERY_INSTANCE,
    CONF_HOST,
    CONF_PORT,
    CONF_PORTAL_ID,
    CONF_SITE_ID,
    CONF_VRM_TOKEN,
    DOMAIN,
)
from custom_components.victron_cerbo.vrm_coordinator import DATA_VRM_BUDGETS
from tests.cerbo_helpers import HOST, PORT, PORTAL_ID, FakeCerbo, Reply
from tests.vrm_helpers import BATTERY_URL, INSTANCE, OVERVIEW_URL, SITE_ID, TOKEN, vrm_json

START = datetime(2026, 1, 15, 10, 0, tzinfo=dt_util.UTC)
LOCAL_DATA = {CONF_HOST: HOST, CONF_PORT: PORT, CONF_PORTAL_ID: PORTAL_ID}
VRM_DATA = {
    CONF_VRM_TOKEN: TOKEN,
    CONF_SITE_ID: SITE_ID,
    CONF_BATTERY_INSTANCE: INSTANCE,
    CONF_PORTAL_ID: PORTAL_ID,
}
REFUSED = Reply(exc=aiohttp.ClientConnectionError("refused"))

type Tick = Callable[[float], Awaitable[None]]


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Home Assistant's snapshot extension (tests/snapshots/), on every plugin version.

    With the newest plugin set, syrupy's own `snapshot` fixture shadows the one that adds the
    extension, and snapshots would land in `__snapshots__` in another format.
    """
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create the entities that are disabled by default enabled (Home Assistant core's fixture)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


def make_entry(
    hass: HomeAssistant, data: dict[str, Any], options: dict[str, Any] | None = None
) -> MockConfigEntry:
    """An entry like the config flow creates; its VRM budget follows the frozen clock."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Cabin",
        unique_id=PORTAL_ID,
        data=data,
        options=options or {},
        minor_version=2,  # as the config flow creates it today
    )
    entry.add_to_hass(hass)
    budget = RequestBudget(clock=lambda: dt_util.utcnow().timestamp())
    hass.data.setdefault(DATA_VRM_BUDGETS, {})[entry.entry_id] = budget
    return entry


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the entry up the way Home Assistant does."""
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


def make_tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> Tick:
    """Move the clock in steps no longer than `step` and run whatever became due."""

    async def advance(seconds: float, step: float = 10.0) -> None:
        left = seconds
        while left > 0:
            move = min(step, left)
            freezer.tick(timedelta(seconds=move))
            async_fire_time_changed(hass)
            await hass.async_block_till_done()
            left -= move

    return advance


def break_cerbo(cerbo: FakeCerbo) -> None:
    """Every request to the Cerbo is refused from now on."""
    cerbo.health = REFUSED
    cerbo.services = REFUSED
    for service in list(cerbo.roots):
        cerbo.roots[service] = REFUSED


class FakeVrm:
    """The two VRM endpoints the coordinator polls, answering what the test sets."""

    def __init__(self, mocker: AiohttpClientMocker) -> None:
        """Answer with the reference fixtures until told otherwise."""
        self.overview: dict[str, Any] = vrm_json("system_overview")
        self.summary: dict[str, Any] = vrm_json("battery_summary")
        self.html: str | None = None  # answer every request with this HTML page
        self.error: tuple[int, Any] | None = None  # answer every request with (status, json)
        self.calls: list[str] = []
        mocker.get(OVERVIEW_URL, side_effect=self._answer)
        mocker.get(BATTERY_URL, side_effect=self._answer)

    def set_seconds_ago(self, seconds: float) -> None:
        """VRM's age of the sample it serves."""
        self.summary["records"]["data"]["secondsAgo"]["value"] = seconds

    async def _answer(self, method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        self.calls.append(url.path.rsplit("/", 1)[-1])
        if self.html is not None:
            # A maintenance page: no retry, no sleep, a clean VrmResponseError.
            return AiohttpClientMockResponse(method, url, status=200, text=self.html)
        if self.error is not None:
            status, error = self.error
            return AiohttpClientMockResponse(method, url, status=status, json=error)
        body = self.overview if url.path.endswith("system-overview") else self.summary
        return AiohttpClientMockResponse(method, url, json=body)


def entity_ids(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, str]:
    """unique_id -> entity_id of every registry entry of the config entry."""
    registry = er.async_get(hass)
    return {
        item.unique_id: item.entity_id
        for item in er.async_entries_for_config_entry(registry, entry.entry_id)
    }


def project(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """Registry entry and state of every entity, in fields both Home Assistant versions share."""
    registry = er.async_get(hass)
    result: dict[str, Any] = {}
    for item in sorted(
        er.async_entries_for_config_entry(registry, entry.entry_id), key=lambda e: e.entity_id
    ):
        state = hass.states.get(item.entity_id)
        result[item.entity_id] = {
            "unique_id": item.unique_id,
            "translation_key": item.translation_key,
            "original_name": item.original_name,
            "device_class": _text(item.original_device_class),
            "unit": _text(item.unit_of_measurement),
            "entity_category": _text(item.entity_category),
            "disabled_by": _text(item.disabled_by),
            "capabilities": _plain(item.capabilities),
            "options": _plain(item.options),
            "device": _device_kind(item.device_id, hass, entry),
            "state": None if state is None else state.state,
            "attributes": None if state is None else _plain(state.attributes),
        }
    return result


def _plain(value: Any) -> Any:
    """Attributes with enum keys and values as plain strings (2026.10 uses StrEnum keys)."""
    if isinstance(value, Mapping):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    return value


def _text(value: object) -> str | None:
    """Enum members as their plain values: their repr differs between versions."""
    return None if value is None else str(value)


def devices(hass: HomeAssistant, entry: MockConfigEntry) -> list[dict[str, Any]]:
    """The entry's devices; the battery names its installation by identifier, not by id."""
    registry = dr.async_get(hass)
    found = dr.async_entries_for_config_entry(registry, entry.entry_id)
    by_id = {device.id: device for device in found}
    return sorted(
        (
            {
                "identifiers": sorted(device.identifiers),
                "name": device.name,
                "manufacturer": device.manufacturer,
                "model": device.model,
                "sw_version": device.sw_version,
                "configuration_url": device.configuration_url,
                "via": sorted(by_id[device.via_device_id].identifiers)
                if device.via_device_id
                else None,
            }
            for device in found
        ),
        key=lambda device: device["identifiers"],
    )


def _device_kind(device_id: str | None, hass: HomeAssistant, entry: MockConfigEntry) -> str:
    device = dr.async_get(hass).async_get(device_id) if device_id else None
    if device is None:
        return "none"
    return "battery" if (DOMAIN, f"{entry.unique_id}_battery") in device.identifiers else "gx"


def states(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, str]:
    """key -> state of every entity that has a state."""
    prefix = f"{entry.unique_id}_"
    found: dict[str, str] = {}
    for unique_id, entity_id in entity_ids(hass, entry).items():
        if (state := hass.states.get(entity_id)) is not None:
            found[unique_id.removeprefix(prefix)] = state.state
    return found


def attributes(hass: HomeAssistant, platform: str, key: str) -> Any:
    """The state attributes of one entity by key."""
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{PORTAL_ID}_{key}")
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None, key
    return state.attributes


async def update_entity(hass: HomeAssistant, platform: str, key: str) -> None:
    """Ask Home Assistant to re-check one entity now (the `update_entity` action)."""
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{PORTAL_ID}_{key}")
    assert entity_id is not None, key
    await async_setup_component(hass, "homeassistant", {})
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": entity_id}, blocking=True
    )


async def update_all(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Re-check every entity of the entry now, so no 30 s timer phase shows in a snapshot."""
    await async_setup_component(hass, "homeassistant", {})
    enabled = [item for item in entity_ids(hass, entry).values() if hass.states.get(item)]
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": enabled}, blocking=True
    )


def state_of(hass: HomeAssistant, platform: str, key: str) -> str:
    """The state of one entity by key."""
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{PORTAL_ID}_{key}")
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None, key
    return state.state


__all__ = [
    "HOST",
    "INSTANCE",
    "LOCAL_DATA",
    "PORTAL_ID",
    "SITE_ID",
    "START",
    "TOKEN",
    "VRM_DATA",
    "FakeCerbo",
    "FakeVrm",
    "Tick",
    "attributes",
    "break_cerbo",
    "devices",
    "entity_ids",
    "entity_registry_enabled_by_default",
    "make_entry",
    "make_tick",
    "project",
    "setup_entry",
    "snapshot",
    "state_of",
    "states",
    "update_all",
    "update_entity",
]
