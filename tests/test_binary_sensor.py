"""Binary sensors in a real Home Assistant: battery problems against the options, source health.

Values are changed at the fake Cerbo or VRM (HTTP transport) and time is moved with the freezer.
"""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant

from custom_components.victron_cerbo.binary_sensor import (
    BATTERY_BINARY_SENSORS,
    FLEET_BINARY_SENSORS,
    FULL_CHARGE_OVERDUE,
    HEALTH_BINARY_SENSORS,
)
from custom_components.victron_cerbo.const import (
    CONF_BUDGET_LIMIT,
    CONF_BUDGET_WARNING,
    CONF_LOW_SOC,
    CONF_NOMINAL_VOLTAGE,
    CONF_TEMPERATURE_MAX,
    CONF_TEMPERATURE_MIN,
    CONF_VOLTAGE_MAX,
    CONF_VOLTAGE_MIN,
    SAFE_VOLTAGE_RANGES,
)
from tests.helpers import (
    LOCAL_DATA,
    PYLONTECH,
    SYSTEM,
    VEBUS,
    VRM_DATA,
    FakeCerbo,
    FakeVrm,
    Tick,
    attributes,
    break_cerbo,
    make_entry,
    root_of,
    setup_entry,
    state_of,
    update_entity,
    vrm_json,
)

MAINTENANCE = "<html><body>Maintenance</body></html>"


async def local_entry(
    hass: HomeAssistant, cerbo: FakeCerbo, options: dict[str, Any] | None = None, **system: Any
) -> None:
    """A local-only entry whose Cerbo reports the given system values."""
    root = root_of("system.json") | system
    cerbo.set_root(SYSTEM, root)
    await setup_entry(hass, make_entry(hass, LOCAL_DATA, options))


async def set_system(cerbo: FakeCerbo, tick: Tick, **values: Any) -> None:
    cerbo.set_root(SYSTEM, root_of("system.json") | values)
    await tick(10)


# A site whose battery publishes no limits: the virtual battery monitor and no BMS.
NO_BMS: dict[str, Any] = {"ActiveBmsService": [], "ActiveBmsInstance": []}


@pytest.mark.parametrize(
    ("nominal", "inside", "below", "above"),
    [("12", 13.6, 10.9, 14.9), ("24", 27.0, 21.9, 29.7), ("48", 49.8, 43.9, 59.3)],
)
async def test_voltage_preset_without_battery_limits(
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    tick: Tick,
    *,
    nominal: str,
    inside: float,
    below: float,
    above: float,
) -> None:
    """The nominal voltage's safe range applies where the battery says nothing."""
    await local_entry(
        hass, cerbo, {CONF_NOMINAL_VOLTAGE: nominal}, **NO_BMS, **{"Dc/Battery/Voltage": inside}
    )
    low, high = SAFE_VOLTAGE_RANGES[int(nominal)]
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_OFF
    found = attributes(hass, "binary_sensor", "voltage_out_of_range")
    assert (found["minimum"], found["maximum"], found["limits_source"]) == (low, high, "preset")
    await set_system(cerbo, tick, **NO_BMS, **{"Dc/Battery/Voltage": below})
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_ON
    await set_system(cerbo, tick, **NO_BMS, **{"Dc/Battery/Voltage": high})
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_OFF  # the edge is in
    await set_system(cerbo, tick, **NO_BMS, **{"Dc/Battery/Voltage": above})
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_ON


async def test_no_false_alarms_at_defaults_on_a_15_cell_bms(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick
) -> None:
    """Issue 13: a 15-cell Pylontech resting at 49.8 V and 30.7 °C, factory settings.

    The BMS publishes its own limits (45.0 V low, 52.5 V charge voltage): the voltage sensor
    uses them, the charge voltage with a 2 % margin; the temperature sensor uses 5-45 °C.
    """
    await local_entry(hass, cerbo)
    await tick(60)  # the separate BMS root is read on the slow tier
    for key in ("voltage_out_of_range", "temperature_out_of_range"):
        assert state_of(hass, "binary_sensor", key) == STATE_OFF, key
    voltage = attributes(hass, "binary_sensor", "voltage_out_of_range")
    assert (voltage["minimum"], voltage["maximum"], voltage["limits_source"]) == (
        45.0,
        53.55,
        "battery",
    )
    temperature = attributes(hass, "binary_sensor", "temperature_out_of_range")
    assert (temperature["minimum"], temperature["maximum"], temperature["limits_source"]) == (
        5.0,
        45.0,
        "default",
    )
    # Charging at the BMS's 52.5 V target and a little above is fine; beyond the margin is not.
    await set_system(cerbo, tick, **{"Dc/Battery/Voltage": 53.5})
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_OFF
    await set_system(cerbo, tick, **{"Dc/Battery/Voltage": 53.6})
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_ON
    await set_system(cerbo, tick, **{"Dc/Battery/Voltage": 44.9})
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_ON
    for value, expected in ((4.9, STATE_ON), (45.0, STATE_OFF), (45.1, STATE_ON)):
        await set_system(cerbo, tick, **{"Dc/Battery/Temperature": value})
        assert state_of(hass, "binary_sensor", "temperature_out_of_range") == expected, value


async def test_dvcc_and_cell_count_fill_what_the_bms_leaves_out(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick
) -> None:
    """No charge voltage limit from the BMS: DVCC's; no limits at all: the cell count."""
    bms = root_of("battery_pylontech.json")
    del bms["Info/MaxChargeVoltage"]
    cerbo.set_root(PYLONTECH, bms)
    await local_entry(hass, cerbo, **{"Control/EffectiveChargeVoltage": 54.0})
    await tick(60)
    found = attributes(hass, "binary_sensor", "voltage_out_of_range")
    assert (
        dict(found).items()
        >= {
            "minimum": 45.0,
            "maximum": 55.08,
            "limits_source": "mixed",
            "minimum_source": "battery",
            "maximum_source": "dvcc",
        }.items()
    )
    bms = {k: v for k, v in bms.items() if not k.startswith("Info/")}
    cerbo.set_root(PYLONTECH, bms | {"System/NrOfCellsPerBattery": 15})
    await set_system(cerbo, tick, **{"Control/Dvcc": False, "Control/EffectiveChargeVoltage": 54.0})
    await tick(60)
    found = attributes(hass, "binary_sensor", "voltage_out_of_range")
    assert (found["minimum"], found["maximum"], found["limits_source"]) == (42.0, 54.75, "cells")
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_OFF


async def test_own_voltage_limits_win(hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick) -> None:
    """The user's limits win over the battery's, one end or both."""
    options = {CONF_NOMINAL_VOLTAGE: "48", CONF_VOLTAGE_MIN: 45.0, CONF_VOLTAGE_MAX: 53.5}
    await local_entry(hass, cerbo, options, **{"Dc/Battery/Voltage": 49.8})
    await tick(60)
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_OFF
    found = attributes(hass, "binary_sensor", "voltage_out_of_range")
    assert (found["minimum"], found["maximum"], found["limits_source"]) == (45.0, 53.5, "options")
    await set_system(cerbo, tick, **{"Dc/Battery/Voltage": 53.52})  # inside the BMS's margin
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_ON


async def test_own_voltage_limit_at_one_end(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick
) -> None:
    """The user's one end wins; the other end is the battery's."""
    await local_entry(hass, cerbo, {CONF_VOLTAGE_MIN: 48.0}, **{"Dc/Battery/Voltage": 47.9})
    await tick(60)
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_ON
    found = attributes(hass, "binary_sensor", "voltage_out_of_range")
    assert (found["minimum_source"], found["maximum_source"]) == ("options", "battery")


async def test_temperature_out_of_range_uses_the_options(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick
) -> None:
    options = {CONF_TEMPERATURE_MIN: 5.0, CONF_TEMPERATURE_MAX: 35.0}
    await local_entry(hass, cerbo, options)  # 30.7 °C
    assert state_of(hass, "binary_sensor", "temperature_out_of_range") == STATE_OFF
    assert attributes(hass, "binary_sensor", "temperature_out_of_range") | {} == {
        "device_class": "problem",
        "friendly_name": "Cabin battery Temperature out of range",
        "source": "local",
        "data_age": 0,
        "minimum": 5.0,
        "maximum": 35.0,
        "limits_source": "options",
    }
    await set_system(cerbo, tick, **{"Dc/Battery/Temperature": 4.9})
    assert state_of(hass, "binary_sensor", "temperature_out_of_range") == STATE_ON
    await set_system(cerbo, tick, **{"Dc/Battery/Temperature": 35.1})
    assert state_of(hass, "binary_sensor", "temperature_out_of_range") == STATE_ON


async def test_own_temperature_limits_keep_behaving_as_before(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick
) -> None:
    """An entry stored before options 1.2 keeps the limits its user set (15-28 °C)."""
    options = {CONF_TEMPERATURE_MIN: 15.0, CONF_TEMPERATURE_MAX: 28.0}
    entry = make_entry(hass, LOCAL_DATA, options, minor_version=1)
    cerbo.set_root(SYSTEM, root_of("system.json"))
    await setup_entry(hass, entry)
    assert state_of(hass, "binary_sensor", "temperature_out_of_range") == STATE_ON  # 30.7 °C
    found = attributes(hass, "binary_sensor", "temperature_out_of_range")
    assert (found["minimum"], found["maximum"], found["limits_source"]) == (15.0, 28.0, "options")
    assert entry.minor_version == 2


async def test_low_soc_at_or_below_the_option(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick
) -> None:
    await local_entry(hass, cerbo, {CONF_LOW_SOC: 20.0})
    assert state_of(hass, "binary_sensor", "low_soc") == STATE_OFF
    await set_system(cerbo, tick, **{"Dc/Battery/Soc": 20.0})
    assert state_of(hass, "binary_sensor", "low_soc") == STATE_ON
    assert attributes(hass, "binary_sensor", "low_soc")["threshold"] == 20.0
    await set_system(cerbo, tick, **{"Dc/Battery/Soc": 20.1})
    assert state_of(hass, "binary_sensor", "low_soc") == STATE_OFF


@pytest.mark.parametrize(
    ("low", "high", "state", "severity"),
    [
        (3.300, 3.400, STATE_OFF, "ok"),  # exactly 0.10 V is still balanced
        (3.300, 3.401, STATE_ON, "warning"),
        (3.300, 3.450, STATE_ON, "warning"),  # exactly 0.15 V is not yet critical
        (3.200, 3.351, STATE_ON, "critical"),
    ],
)
async def test_cell_imbalance(
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    tick: Tick,
    *,
    low: float,
    high: float,
    state: str,
    severity: str,
) -> None:
    bms = root_of("battery_pylontech.json")
    bms |= {"System/MinCellVoltage": low, "System/MaxCellVoltage": high}
    cerbo.set_root(PYLONTECH, bms)
    await local_entry(hass, cerbo)
    assert state_of(hass, "binary_sensor", "cell_imbalance") == state
    assert attributes(hass, "binary_sensor", "cell_imbalance")["severity"] == severity


async def test_soh_degraded_below_85(hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick) -> None:
    await local_entry(hass, cerbo)
    assert state_of(hass, "binary_sensor", "soh_degraded") == STATE_OFF
    bms = root_of("battery_pylontech.json") | {"Soh": 84.9}
    cerbo.set_root(PYLONTECH, bms)
    await tick(60)  # the separate BMS is read once a minute
    assert state_of(hass, "binary_sensor", "soh_degraded") == STATE_ON
    del bms["Soh"]
    cerbo.set_root(PYLONTECH, bms)
    await tick(60)
    # The Cerbo answers but has no state of health: unknown, not unavailable.
    assert state_of(hass, "binary_sensor", "soh_degraded") == STATE_UNKNOWN


async def test_battery_alarms_from_the_cerbo(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick
) -> None:
    await local_entry(hass, cerbo)
    assert state_of(hass, "binary_sensor", "battery_alarm") == STATE_OFF
    bms = root_of("battery_pylontech.json") | {"Alarms/HighVoltage": 1, "Alarms/CellImbalance": 2}
    cerbo.set_root(PYLONTECH, bms)
    await tick(60)
    assert state_of(hass, "binary_sensor", "battery_alarm") == STATE_ON
    found = attributes(hass, "binary_sensor", "battery_alarm")
    assert found["alarms"] == {"cell_imbalance": "alarm", "high_voltage": "warning"}
    assert found["level"] == "alarm"


async def test_battery_alarms_from_vrm(hass: HomeAssistant, vrm: FakeVrm, tick: Tick) -> None:
    vrm.summary = vrm_json("battery_summary_numeric")
    await setup_entry(hass, make_entry(hass, VRM_DATA))
    assert state_of(hass, "binary_sensor", "battery_alarm") == STATE_ON
    found = attributes(hass, "binary_sensor", "battery_alarm")
    assert found["alarms"] == {"high_voltage": "warning", "low_starter_voltage": "alarm"}
    assert found["source"] == "vrm"
    # A 12 V bank at 13.52 V is fine with the 12 V option, and out of range with the default 48 V.
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_ON


async def test_battery_without_alarms_is_unknown(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick
) -> None:
    bms = {
        k: v for k, v in root_of("battery_pylontech.json").items() if not k.startswith("Alarms/")
    }
    cerbo.set_root(PYLONTECH, bms)
    await local_entry(hass, cerbo)
    assert state_of(hass, "binary_sensor", "battery_alarm") == STATE_UNKNOWN


@pytest.mark.parametrize(
    ("vebus", "source", "state", "alarm"),
    [
        ({"Alarms/GridLost": 2}, 1, STATE_ON, "alarm"),
        ({"Ac/ActiveIn/Connected": 0}, 240, STATE_ON, "ok"),
        ({}, 1, STATE_OFF, "ok"),
    ],
)
async def test_grid_lost(
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    tick: Tick,
    *,
    vebus: dict[str, Any],
    source: int,
    state: str,
    alarm: str,
) -> None:
    cerbo.set_root(VEBUS, root_of("vebus.json") | vebus)
    await local_entry(hass, cerbo, **{"Ac/ActiveIn/Source": source})
    assert state_of(hass, "binary_sensor", "grid_lost") == state
    found = attributes(hass, "binary_sensor", "grid_lost")
    assert found["alarm"] == alarm
    assert found["active_input"] == ("grid" if source == 1 else "inverting")


async def test_grid_lost_without_an_inverter(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick
) -> None:
    del cerbo.roots[VEBUS]  # the inverter's service is gone: only the system's input is known
    await local_entry(hass, cerbo, **{"Ac/ActiveIn/Source": 240})
    assert state_of(hass, "binary_sensor", "grid_lost") == STATE_ON
    found = attributes(hass, "binary_sensor", "grid_lost")
    assert found["alarm"] is None
    assert found["ac_input_connected"] is None


async def test_grid_lost_unknown_without_any_signal(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick
) -> None:
    del cerbo.roots[VEBUS]
    await local_entry(hass, cerbo, **{"Ac/ActiveIn/Source": []})
    assert state_of(hass, "binary_sensor", "grid_lost") == STATE_UNKNOWN


async def test_problem_sensors_follow_the_source(
    hass: HomeAssistant, cerbo: FakeCerbo, vrm: FakeVrm, tick: Tick
) -> None:
    """Judged on VRM's values while the Cerbo is away; unavailable when no source is fresh."""
    cerbo.set_root(SYSTEM, root_of("system.json") | {"Dc/Battery/Voltage": 60.0})
    await setup_entry(hass, make_entry(hass, LOCAL_DATA | VRM_DATA))
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_ON  # Cerbo: 60 V
    break_cerbo(cerbo)
    await tick(30)
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_OFF  # VRM: 53.12 V
    found = attributes(hass, "binary_sensor", "voltage_out_of_range")
    # VRM publishes no limits: the preset judges its values
    assert (found["source"], found["limits_source"]) == ("vrm", "preset")
    assert state_of(hass, "binary_sensor", "grid_lost") == STATE_UNAVAILABLE  # only the Cerbo knows
    vrm.html = MAINTENANCE
    await tick(600)
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_UNAVAILABLE


async def test_connectivity_and_staleness(
    hass: HomeAssistant, cerbo: FakeCerbo, vrm: FakeVrm, tick: Tick
) -> None:
    await setup_entry(hass, make_entry(hass, LOCAL_DATA | VRM_DATA))
    assert state_of(hass, "binary_sensor", "local_reachable") == STATE_ON
    assert state_of(hass, "binary_sensor", "vrm_reachable") == STATE_ON
    assert state_of(hass, "binary_sensor", "data_stale") == STATE_OFF

    break_cerbo(cerbo)
    vrm.html = MAINTENANCE
    # Connected through two failed ticks, with the cause in plain words; off at the third.
    await tick(20)
    assert state_of(hass, "binary_sensor", "local_reachable") == STATE_ON
    assert attributes(hass, "binary_sensor", "local_reachable")["error"] == "cannot connect"
    assert state_of(hass, "sensor", "soc") == "81.0"
    await tick(10)
    assert state_of(hass, "binary_sensor", "local_reachable") == STATE_OFF
    assert attributes(hass, "binary_sensor", "local_reachable")["error"] == "cannot connect"
    await tick(150)
    # VRM's first failed poll: still connected, like its values, until the third in a row.
    assert state_of(hass, "binary_sensor", "vrm_reachable") == STATE_ON
    await tick(360)
    assert state_of(hass, "binary_sensor", "vrm_reachable") == STATE_OFF
    assert attributes(hass, "binary_sensor", "vrm_reachable")["error"] == "unparsable answer"

    # The last battery sample is the Cerbo's at START: stale ten minutes later, on the timer.
    await tick(50)
    await update_entity(hass, "binary_sensor", "data_stale")
    assert state_of(hass, "binary_sensor", "data_stale") == STATE_OFF
    await tick(10)
    await update_entity(hass, "binary_sensor", "data_stale")
    assert state_of(hass, "binary_sensor", "data_stale") == STATE_ON


@pytest.mark.usefixtures("vrm")
async def test_vrm_budget_near_its_limit(hass: HomeAssistant, tick: Tick) -> None:
    entry = make_entry(hass, VRM_DATA, {CONF_BUDGET_WARNING: 3, CONF_BUDGET_LIMIT: 10})
    await setup_entry(hass, entry)
    assert state_of(hass, "binary_sensor", "vrm_budget") == STATE_OFF
    found = attributes(hass, "binary_sensor", "vrm_budget")
    assert {key: found[key] for key in ("warning", "limit")} == {"warning": 3, "limit": 10}
    assert "requests_last_hour" not in found  # the sensor of that name has it
    await tick(180)
    # VRM's data did not change, so nothing was pushed: the 30 s timer (or a request) catches up.
    await update_entity(hass, "binary_sensor", "vrm_budget")
    assert state_of(hass, "binary_sensor", "vrm_budget") == STATE_ON
    await update_entity(hass, "sensor", "vrm_requests_last_hour")
    assert state_of(hass, "sensor", "vrm_requests_last_hour") == "3"


def test_descriptions_are_unique_and_translated() -> None:
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    strings = json.loads(
        (
            Path(__file__).parent.parent
            / "custom_components"
            / "victron_cerbo"
            / "translations"
            / "en.json"
        ).read_text(encoding="utf-8")
    )
    icons = json.loads(
        (
            Path(__file__).parent.parent / "custom_components" / "victron_cerbo" / "icons.json"
        ).read_text(encoding="utf-8")
    )
    keys = [
        d.key
        for d in (
            *HEALTH_BINARY_SENSORS,
            *BATTERY_BINARY_SENSORS,
            *FLEET_BINARY_SENSORS,
            FULL_CHARGE_OVERDUE,
        )
    ]
    assert len(keys) == len(set(keys))
    for key in keys:
        assert strings["entity"]["binary_sensor"][key]["name"]
    assert set(icons["entity"]["binary_sensor"]) <= set(keys)


async def test_a_moving_value_writes_its_problem_sensor_only_when_the_verdict_changes(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick
) -> None:
    """Voltage and SOC move every tick; their problem sensors write nothing until judged anew.

    An entity writing the same state again would move `last_reported` (and cost a state
    machine write); the battery view judges once and tells only the verdicts that changed.
    """
    await local_entry(hass, cerbo, **{"Dc/Battery/Voltage": 53.0, "Dc/Battery/Soc": 80})
    voltage = "binary_sensor.cabin_battery_voltage_out_of_range"
    low_soc = "binary_sensor.cabin_battery_low_state_of_charge"
    # the time of the last write, kept apart: a write of an equal state updates the same object
    reported = {
        entity_id: hass.states.get(entity_id).last_reported for entity_id in (voltage, low_soc)
    }
    for step in range(1, 4):
        await set_system(
            cerbo, tick, **{"Dc/Battery/Voltage": 53.0 + step / 10, "Dc/Battery/Soc": 80 - step}
        )
        assert float(state_of(hass, "sensor", "voltage")) == pytest.approx(53.0 + step / 10)
        for entity_id, last_reported in reported.items():
            state = hass.states.get(entity_id)
            assert state is not None
            assert state.state == STATE_OFF
            assert state.last_reported == last_reported  # not written again

    await set_system(cerbo, tick, **{"Dc/Battery/Voltage": 44.0, "Dc/Battery/Soc": 80})
    assert state_of(hass, "binary_sensor", "voltage_out_of_range") == STATE_ON
