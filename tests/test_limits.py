"""Which limits the problem sensors use, how old options migrate, and no false alarms at rest.

The last tests run the integration in a real Home Assistant against each battery profile of the
simulator over loopback: at rest, with factory settings, no problem sensor may be on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.binary_sensor import BinarySensorDeviceClass
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from custom_components.victron_cerbo.const import (
    CONF_BATTERY_INSTANCE,
    CONF_LOW_SOC,
    CONF_NOMINAL_VOLTAGE,
    CONF_TEMPERATURE_MAX,
    CONF_TEMPERATURE_MIN,
    CONF_VOLTAGE_MAX,
    CONF_VOLTAGE_MIN,
    DOMAIN,
)
from custom_components.victron_cerbo.limits import (
    BatteryLimits,
    Limit,
    LimitSource,
    Range,
    Thresholds,
    migrate_limit_options,
)
from dev import develop
from dev.simulator import (
    PROFILES,
    ConfigError,
    SimConfig,
    SimulatedInstallation,
    monitor,
    with_profile,
)
from dev.simulator import __main__ as cli
from tests.helpers import (
    LOCAL_DATA,
    PORTAL_ID,
    advance,
    frozen_clock,
    make_entry,
    setup_entry,
    simulator,
)

PYLONTECH = BatteryLimits(low_voltage=45.0, max_charge_voltage=52.5, dvcc_charge_voltage=52.5)


def ends(found: Range) -> tuple[float, float, str, str]:
    return (found.minimum.value, found.maximum.value, found.minimum.source, found.maximum.source)


# --- the order of the limits ------------------------------------------------------------------


def test_voltage_limits_in_order() -> None:
    defaults = Thresholds.from_options({})
    assert ends(defaults.voltage(None)) == (44.0, 59.2, "preset", "preset")
    assert ends(defaults.voltage(PYLONTECH)) == (45.0, 53.55, "battery", "battery")
    dvcc_only = BatteryLimits(dvcc_charge_voltage=28.4)
    # a 24 V charge voltage cannot pair with the 48 V preset: the preset
    assert ends(defaults.voltage(dvcc_only)) == (44.0, 59.2, "preset", "preset")
    assert ends(Thresholds.from_options({CONF_NOMINAL_VOLTAGE: "24"}).voltage(dvcc_only)) == (
        22.0,
        28.97,
        "preset",
        "dvcc",
    )
    assert ends(defaults.voltage(BatteryLimits(cells=15))) == (42.0, 54.75, "cells", "cells")
    # The user's own limits win, one end or both.
    own = Thresholds.from_options({CONF_VOLTAGE_MIN: 46, CONF_VOLTAGE_MAX: "53.5"})
    assert ends(own.voltage(PYLONTECH)) == (46.0, 53.5, "options", "options")
    one = Thresholds.from_options({CONF_VOLTAGE_MAX: 54.0})
    assert ends(one.voltage(PYLONTECH)) == (45.0, 54.0, "battery", "options")
    assert ends(one.voltage(None)) == (44.0, 54.0, "preset", "options")


def test_unusable_limits_fall_through() -> None:
    defaults = Thresholds.from_options({})
    # a user's end that cannot pair with the battery's: the battery's pair
    low = Thresholds.from_options({CONF_VOLTAGE_MAX: 44.0})
    assert ends(low.voltage(PYLONTECH)) == (45.0, 53.55, "battery", "battery")
    # a battery that sends nonsense or zeros: the preset
    nonsense = BatteryLimits(low_voltage=56.0, max_charge_voltage=52.5)
    assert ends(defaults.voltage(nonsense)) == (44.0, 59.2, "preset", "preset")
    # junk options count as not set; an unknown nominal voltage is the default one
    junk = Thresholds.from_options(
        {
            CONF_NOMINAL_VOLTAGE: "36",
            CONF_VOLTAGE_MIN: "abc",
            CONF_VOLTAGE_MAX: float("nan"),
            CONF_TEMPERATURE_MIN: True,
            CONF_LOW_SOC: None,
        }
    )
    assert junk == defaults
    assert defaults.low_soc == 10.0


def test_temperature_limits() -> None:
    assert ends(Thresholds.from_options({}).temperature()) == (5.0, 45.0, "default", "default")
    own = Thresholds.from_options({CONF_TEMPERATURE_MIN: "0", CONF_TEMPERATURE_MAX: 40.0})
    assert ends(own.temperature()) == (0.0, 40.0, "options", "options")
    one = Thresholds.from_options({CONF_TEMPERATURE_MAX: 35.0})
    assert ends(one.temperature()) == (5.0, 35.0, "default", "options")
    upside_down = Thresholds.from_options({CONF_TEMPERATURE_MIN: 50.0})
    assert ends(upside_down.temperature()) == (5.0, 45.0, "default", "default")


def test_range_attributes() -> None:
    same = Range(Limit(45.0, LimitSource.BATTERY), Limit(53.55, LimitSource.BATTERY))
    assert same.attributes() == {"minimum": 45.0, "maximum": 53.55, "limits_source": "battery"}
    mixed = Range(Limit(46.0, LimitSource.OPTIONS), Limit(53.55, LimitSource.BATTERY))
    assert mixed.attributes() == {
        "minimum": 46.0,
        "maximum": 53.55,
        "limits_source": "mixed",
        "minimum_source": "options",
        "maximum_source": "battery",
    }


# --- options 1.1 -> 1.2 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "migrated"),
    [
        ({}, {}),
        # the form's pre-filled band, saved with another change: not the user's
        (
            {CONF_TEMPERATURE_MIN: 15.0, CONF_TEMPERATURE_MAX: 30.0, CONF_LOW_SOC: 20.0},
            {CONF_LOW_SOC: 20.0},
        ),
        # the user's own band stays, as judged before
        (
            {CONF_TEMPERATURE_MIN: 10.0, CONF_TEMPERATURE_MAX: 30.0},
            {CONF_TEMPERATURE_MIN: 10.0, CONF_TEMPERATURE_MAX: 30.0},
        ),
        (
            {CONF_TEMPERATURE_MIN: 40.0, CONF_TEMPERATURE_MAX: 30.0},  # was unusable: 15-30
            {},
        ),
        # one own voltage end: the other was the nominal voltage's old band, and stays so
        (
            {CONF_NOMINAL_VOLTAGE: "24", CONF_VOLTAGE_MAX: 28.4},
            {CONF_NOMINAL_VOLTAGE: "24", CONF_VOLTAGE_MIN: 26.0, CONF_VOLTAGE_MAX: 28.4},
        ),
        (
            {CONF_VOLTAGE_MIN: 45.0, CONF_VOLTAGE_MAX: 53.5},
            {CONF_VOLTAGE_MIN: 45.0, CONF_VOLTAGE_MAX: 53.5},
        ),
        ({CONF_VOLTAGE_MIN: 59.0}, {CONF_VOLTAGE_MIN: 52.0, CONF_VOLTAGE_MAX: 58.0}),
    ],
)
def test_migrate_limit_options(stored: dict[str, Any], migrated: dict[str, Any]) -> None:
    assert migrate_limit_options(stored) == migrated


async def test_entry_migrates_on_setup(hass: HomeAssistant) -> None:
    """An entry of 1.1 is migrated before setup; a newer major version is refused."""
    stored = {CONF_TEMPERATURE_MIN: 15.0, CONF_TEMPERATURE_MAX: 30.0, CONF_LOW_SOC: 20.0}
    old = make_entry(hass, {}, stored, unique_id=None, minor_version=1)
    assert await hass.config_entries.async_setup(old.entry_id)  # no source: nothing to load
    await hass.async_block_till_done()
    assert (old.minor_version, dict(old.options)) == (2, {CONF_LOW_SOC: 20.0})

    newer = make_entry(hass, LOCAL_DATA, version=2, unique_id="other")
    assert not await hass.config_entries.async_setup(newer.entry_id)
    assert newer.state is ConfigEntryState.MIGRATION_ERROR


# --- no false alarms at rest, per simulator profile ---------------------------------------------

START = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)


@pytest.fixture
async def servers(
    request: pytest.FixtureRequest, freezer: FrozenDateTimeFactory
) -> AsyncIterator[tuple[SimulatedInstallation, TestServer, TestServer]]:
    freezer.move_to(START)
    config = with_profile(SimConfig(), request.param)
    model = SimulatedInstallation(START, speed=0, seed=1, config=config, monotonic=frozen_clock)
    async with simulator(model) as (local, vrm):
        yield model, local, vrm


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize("servers", sorted(PROFILES), indirect=True)
async def test_no_problem_at_rest_in_any_profile(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    servers: tuple[SimulatedInstallation, TestServer, TestServer],
) -> None:
    """Factory settings, both sources, the entry scripts/develop writes: every problem is off."""
    model, local, vrm = servers
    assert local.port is not None
    assert vrm.port is not None
    settings = develop.Settings(
        local_port=local.port, vrm_port=vrm.port, config_dir=Path(), sim=model.config
    )
    data = develop.entry_data(settings)
    entry = make_entry(hass, data, title="Sim", unique_id=model.config.portal_id)
    await setup_entry(hass, entry)
    # two minutes: every slow root (the BMS too) has been read
    await advance(hass, freezer, 120, model=model, background=True)

    registry = er.async_get(hass)
    states: dict[str, str] = {}
    for item in er.async_entries_for_config_entry(registry, entry.entry_id):
        if item.disabled_by is not None:
            continue
        state = hass.states.get(item.entity_id)
        assert state is not None, item.entity_id
        if item.domain == "binary_sensor" and state.attributes.get("device_class") in (
            BinarySensorDeviceClass.PROBLEM,
            BinarySensorDeviceClass.BATTERY,
        ):
            states[item.unique_id.removeprefix(f"{PORTAL_ID}_")] = state.state
    assert "voltage_out_of_range" in states
    bms = monitor(model.config).bms
    expected = dict.fromkeys(states, STATE_OFF)
    if not bms:
        # A SmartShunt without a sensor has no temperature, no cells and no SOH: unknown, not on.
        for key in ("temperature_out_of_range", "cell_imbalance", "soh_degraded"):
            if key in expected:
                expected[key] = STATE_UNKNOWN
    assert states == expected
    assert STATE_ON not in states.values()
    voltage = hass.states.get(
        registry.async_get_entity_id("binary_sensor", DOMAIN, f"{PORTAL_ID}_voltage_out_of_range")
        or ""
    )
    assert voltage is not None
    assert voltage.attributes["limits_source"] == ("battery" if bms else "preset")
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


# --- the simulator's profiles -------------------------------------------------------------------


def test_profiles_publish_what_such_batteries_publish() -> None:
    """pylontech15: the reference's Pylontech; smartshunt: a VE.Direct shunt, no limits."""
    pylontech = SimulatedInstallation(
        START, speed=0, seed=1, config=with_profile(SimConfig(), "pylontech15")
    )
    assert pylontech.physics.open_circuit(80.0) == pytest.approx(49.8, abs=0.01)  # at rest
    services = pylontech.observe().services
    bms = services["com.victronenergy.battery.socketcan_can0"]
    assert (bms["Info/BatteryLowVoltage"], bms["Info/MaxChargeVoltage"]) == (45.0, 52.5)
    assert bms["System/NrOfCellsPerBattery"] == 15
    assert bms["Dc/0/Temperature"] == pytest.approx(30.7, abs=0.5)

    shunt = SimulatedInstallation(
        START, speed=0, seed=1, config=with_profile(SimConfig(), "smartshunt")
    )
    services = shunt.observe().services
    who = monitor(shunt.config)
    assert who.service == "com.victronenergy.battery.ttyS5"
    assert "com.victronenergy.battery.socketcan_can0" not in services
    root = services[who.service]
    assert not [key for key in root if key.startswith(("Info/", "System/", "Io/"))]
    assert "Soh" not in root
    assert root["Dc/0/Temperature"] == []
    system = services["com.victronenergy.system"]
    assert system["Dc/Battery/BatteryService"] == who.service
    assert system["ActiveBmsService"] == []
    assert system["Dc/Battery/Temperature"] == []
    assert system["Control/EffectiveChargeVoltage"] == []
    fitted = with_profile(SimConfig(shunt_temperature=True), "smartshunt")
    fitted_root = SimulatedInstallation(START, speed=0, seed=1, config=fitted).observe()
    assert isinstance(fitted_root.services[who.service]["Dc/0/Temperature"], float)


def test_profile_selection() -> None:
    """By scenario config ("profile", other keys override it), CLI and scripts/develop."""
    config = SimConfig.from_mapping({"profile": "pylontech15", "initial_soc": 50.0})
    assert (config.cells, config.initial_soc) == (15, 50.0)
    with pytest.raises(ConfigError, match="profile"):
        SimConfig.from_mapping({"profile": "lead_acid"})
    with pytest.raises(ConfigError, match="monitor"):
        SimConfig(monitor="bmv")

    args = cli.build_parser().parse_args(["--profile", "smartshunt", "--start", START.isoformat()])
    assert cli.make_model(args).config.monitor == "smartshunt"

    settings = develop.settings_from(
        develop.build_parser().parse_args(["--profile", "smartshunt", "--port", "18123"])
    )
    assert develop.entry_data(settings)[CONF_BATTERY_INSTANCE] == 277
    command = develop.Develop(settings, None)._simulator_command()
    assert command[command.index("--profile") + 1] == "smartshunt"
