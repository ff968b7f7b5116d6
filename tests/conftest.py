"""Fixtures of the integration tests: one entry, one fake per source, one clock.

In the style of Home Assistant core's model integrations: `mock_config_entry` is the entry the
config flow would create for the `source` in use (local, vrm or both; parametrize `source` to
change it), `init_integration` sets it up against the fakes, `cerbo` and `vrm` are the fakes at
the HTTP transport, `tick` moves the frozen clock. The classes and functions behind them live in
tests/helpers.py. The library's tests in tests/api have their own conftest, without `hass`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any
from unittest.mock import PropertyMock, patch

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from syrupy.assertion import SnapshotAssertion

from tests.helpers import (
    SOURCE_DATA,
    START,
    FakeCerbo,
    FakeVrm,
    Tick,
    make_entry,
    make_tick,
    setup_entry,
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(request: pytest.FixtureRequest) -> None:
    """Let Home Assistant load custom_components/victron_cerbo in every test.

    A test that records states gets its recorder before `hass`, as the recorder requires.
    """
    if "recorder_mock" in request.fixturenames:
        request.getfixturevalue("recorder_mock")
    request.getfixturevalue("enable_custom_integrations")


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


@pytest.fixture
def cerbo(aioclient_mock: AiohttpClientMocker) -> FakeCerbo:
    """The fake Cerbo GX DBus HTTP API on HA's HTTP transport."""
    return FakeCerbo(aioclient_mock)


@pytest.fixture
def vrm(aioclient_mock: AiohttpClientMocker) -> FakeVrm:
    """The fake VRM API on HA's HTTP transport."""
    return FakeVrm(aioclient_mock)


@pytest.fixture
def tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> Tick:
    """From START, move the frozen clock in steps and run whatever became due."""
    freezer.move_to(START)
    return make_tick(hass, freezer)


@pytest.fixture
def source() -> str:
    """The sources of the entry: "local", "vrm" or "both" (parametrize to change)."""
    return "both"


@pytest.fixture
def entry_options() -> dict[str, Any]:
    """The entry's options (parametrize to change)."""
    return {}


@pytest.fixture
def mock_config_entry(
    hass: HomeAssistant, source: str, entry_options: dict[str, Any]
) -> MockConfigEntry:
    """The entry the config flow creates for `source`, added to Home Assistant, not set up."""
    return make_entry(hass, SOURCE_DATA[source], entry_options)


@pytest.fixture
async def init_integration(
    request: pytest.FixtureRequest,
    hass: HomeAssistant,
    source: str,
    mock_config_entry: MockConfigEntry,
) -> MockConfigEntry:
    """The entry set up against the fake of each of its sources."""
    if source in ("local", "both"):
        request.getfixturevalue("cerbo")
    if source in ("vrm", "both"):
        request.getfixturevalue("vrm")
    await setup_entry(hass, mock_config_entry)
    return mock_config_entry
