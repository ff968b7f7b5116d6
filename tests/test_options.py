"""The one options reader: what it makes of stored, missing and unusable options (no hass)."""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.victron_cerbo.const import (
    CONF_BUDGET_LIMIT,
    CONF_BUDGET_WARNING,
    CONF_FOLLOW_SYSTEM_BATTERY,
    CONF_LOCAL_FAST_INTERVAL,
    CONF_LOW_SOC,
    CONF_NOMINAL_VOLTAGE,
    CONF_SHOW_DASHBOARD,
    CONF_SOLARK_DWELL,
    CONF_SOLARK_ENTITY,
    CONF_SOLARK_THRESHOLD,
    CONF_TEMPERATURE_MIN,
    CONF_VOLTAGE_MAX,
    CONF_VOLTAGE_MIN,
    CONF_VRM_POLL_INTERVAL,
    DOMAIN,
)
from custom_components.victron_cerbo.limits import Thresholds
from custom_components.victron_cerbo.options import ComparisonSettings, EntryOptions

DEFAULTS = EntryOptions(
    local_fast_interval=10,
    vrm_poll_interval=180,
    budget_warning=40,
    budget_limit=45,
    follow_system_battery=False,
    thresholds=Thresholds(
        safe_voltage=(44.0, 59.2),
        voltage_min=None,
        voltage_max=None,
        temperature_min=None,
        temperature_max=None,
        low_soc=10.0,
    ),
    comparison=None,
    show_dashboard=True,
    voltage_band=(52.0, 58.0),
    temperature_band=(15.0, 30.0),
)
NUMBER_KEYS = (
    CONF_LOCAL_FAST_INTERVAL,
    CONF_VRM_POLL_INTERVAL,
    CONF_BUDGET_WARNING,
    CONF_BUDGET_LIMIT,
    CONF_LOW_SOC,
    CONF_NOMINAL_VOLTAGE,
    CONF_VOLTAGE_MIN,
    CONF_VOLTAGE_MAX,
)


def test_missing_options_are_the_defaults() -> None:
    assert EntryOptions.from_options({}) == DEFAULTS


def test_what_the_options_form_stores() -> None:
    """Number selectors store floats; intervals and budgets become whole numbers."""
    options = EntryOptions.from_options(
        {
            CONF_LOCAL_FAST_INTERVAL: 30.0,
            CONF_VRM_POLL_INTERVAL: 300.0,
            CONF_BUDGET_WARNING: 20.0,
            CONF_BUDGET_LIMIT: 30.0,
            CONF_FOLLOW_SYSTEM_BATTERY: True,
            CONF_NOMINAL_VOLTAGE: "24",
            CONF_VOLTAGE_MIN: 23.5,
            CONF_LOW_SOC: 15.0,
            CONF_SOLARK_ENTITY: "sensor.ss_battery_soc",
            CONF_SOLARK_THRESHOLD: 3.5,
            CONF_SOLARK_DWELL: 120.0,
        }
    )
    assert options == dataclasses.replace(
        DEFAULTS,
        local_fast_interval=30,
        vrm_poll_interval=300,
        budget_warning=20,
        budget_limit=30,
        follow_system_battery=True,
        thresholds=dataclasses.replace(
            DEFAULTS.thresholds, safe_voltage=(22.0, 29.6), voltage_min=23.5, low_soc=15.0
        ),
        comparison=ComparisonSettings(
            entity_id="sensor.ss_battery_soc", threshold=3.5, dwell=timedelta(seconds=120)
        ),
        voltage_band=(23.5, 29.0),
    )
    assert isinstance(options.local_fast_interval, int)
    assert isinstance(options.budget_limit, int)


@pytest.mark.parametrize("garbage", [None, "", "often", math.nan, math.inf, True, [], {}])
def test_unusable_values_fall_back_to_the_defaults(garbage: Any) -> None:
    raw = dict.fromkeys(NUMBER_KEYS, garbage) | {
        CONF_FOLLOW_SYSTEM_BATTERY: "yes",  # only a real bool turns it on
        CONF_SOLARK_ENTITY: "sensor.inverter_soc",
        CONF_SOLARK_THRESHOLD: garbage,
        CONF_SOLARK_DWELL: garbage,
    }
    assert EntryOptions.from_options(raw) == dataclasses.replace(
        DEFAULTS,
        comparison=ComparisonSettings(
            entity_id="sensor.inverter_soc", threshold=2.0, dwell=timedelta(seconds=60)
        ),
    )


@pytest.mark.parametrize("entity_id", [None, "", 5, ["sensor.soc"]])
def test_no_comparison_without_an_entity_id(entity_id: Any) -> None:
    raw = {CONF_SOLARK_ENTITY: entity_id, CONF_SOLARK_THRESHOLD: 5.0}
    assert EntryOptions.from_options(raw).comparison is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({CONF_LOCAL_FAST_INTERVAL: 1.0}, {"local_fast_interval": 5}),
        ({CONF_LOCAL_FAST_INTERVAL: 10.0**6}, {"local_fast_interval": 3600}),
        ({CONF_LOCAL_FAST_INTERVAL: "15"}, {"local_fast_interval": 15}),
        ({CONF_VRM_POLL_INTERVAL: 60.0}, {"vrm_poll_interval": 180}),
        ({CONF_VRM_POLL_INTERVAL: 7200.0}, {"vrm_poll_interval": 7200}),
        ({CONF_BUDGET_WARNING: 50.0}, {"budget_warning": 45}),
        ({CONF_BUDGET_LIMIT: 30.0}, {"budget_warning": 30, "budget_limit": 30}),
        ({CONF_BUDGET_LIMIT: 0.0}, {"budget_warning": 1, "budget_limit": 1}),
        ({CONF_BUDGET_WARNING: -3.0}, {"budget_warning": 0}),
    ],
)
def test_intervals_and_budget_are_clamped(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    assert EntryOptions.from_options(raw) == dataclasses.replace(DEFAULTS, **expected)


def test_read_from_an_entry_and_frozen() -> None:
    entry = MockConfigEntry(domain=DOMAIN, options={CONF_LOCAL_FAST_INTERVAL: 20.0})
    options = EntryOptions.from_entry(entry)
    assert options == dataclasses.replace(DEFAULTS, local_fast_interval=20)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.local_fast_interval = 5  # type: ignore[misc]


@pytest.mark.parametrize(("stored", "shown"), [(False, False), (True, True), ("no", True)])
def test_show_dashboard_only_off_when_turned_off(stored: object, shown: bool) -> None:
    assert EntryOptions.from_options({CONF_SHOW_DASHBOARD: stored}).show_dashboard is shown


def test_dashboard_bands_follow_the_users_own_ends() -> None:
    options = EntryOptions.from_options(
        {CONF_NOMINAL_VOLTAGE: "24", CONF_VOLTAGE_MAX: 28.4, CONF_TEMPERATURE_MIN: 5.0}
    )
    assert options.voltage_band == (26.0, 28.4)
    assert options.temperature_band == (5.0, 30.0)
