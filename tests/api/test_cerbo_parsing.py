"""The local API's readings: every root parses, and nothing untrusted gets through."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.victron_cerbo.api.cerbo import (
    CerboBattery,
    CerboCanStats,
    CerboMonitor,
    CerboPlatform,
    CerboSystem,
    CerboTemperature,
    CerboVebus,
    ServiceRoot,
)
from custom_components.victron_cerbo.api.cerbo.parsing import _clean

from .fakes import (
    LYNX,
    PORTAL_ID,
    PYLONTECH,
    TEMP_5,
    TEMP_6,
    VEBUS,
    VIRTUAL,
    root_of,
)

# --- parsing -------------------------------------------------------------------------------


def test_system_reading() -> None:
    system = CerboSystem.from_root(root_of("system.json"))
    assert system.portal_id == PORTAL_ID
    assert system.system_type == "ESS"
    assert system.state == 256
    assert system.state_name == "discharging"  # not "Idle", as the repo's docs claim
    assert system.soc == 81.0
    assert system.voltage == 49.8
    assert system.current == -0.9
    assert system.power == -44.0
    assert system.temperature == 30.7
    assert system.battery_state_name == "discharging"
    assert system.consumed_ah is None
    assert system.time_to_go is None
    assert system.battery_service == VIRTUAL
    assert system.grid_power == 167.0
    assert (system.grid_l1_power, system.grid_l2_power, system.grid_l3_power) == (167.0, None, None)
    assert system.consumption_power == 148.0
    assert system.dc_pv_power is None
    assert system.ac_pv_power is None
    assert system.pv_power is None
    assert system.genset_power is None
    assert system.vebus_dc_power == 31.0
    assert system.active_input_name == "grid"
    assert system.active_soc_limit == 40.0
    assert system.ess_state == 10
    assert system.dvcc is True
    assert system.low_soc is False
    assert system.dynamic_ess_active == 1
    assert system.dynamic_ess_target_soc == 82.0


def test_system_pv_and_phases_add_up() -> None:
    root = root_of("system.json") | {
        "Dc/Pv/Power": 812.4000244140625,
        "Ac/PvOnGrid/L1/Power": 1200,
        "Ac/PvOnOutput/L2/Power": 300.5,
        "Ac/Grid/L2/Power": -50.0,
        "Ac/Grid/L3/Power": 10.2,
        "Dc/Battery/TimeToGo": 184800.0,
        "Dc/Battery/ConsumedAmphours": -0.04,
        "SystemState/State": 9999,
    }
    system = CerboSystem.from_root(root)
    assert system.dc_pv_power == 812.0
    assert system.ac_pv_power == 1500.0
    assert system.pv_power == 2312.0
    assert system.grid_power == 127.0
    assert system.time_to_go == 184800
    assert system.consumed_ah == 0.0  # no "-0.0"
    assert system.state_name is None  # unknown codes stay unnamed


def test_out_of_range_numbers_become_none() -> None:
    system = CerboSystem.from_root(
        {
            "Dc/Battery/Soc": 10**400,
            "Dc/Battery/Voltage": float("nan"),
            "Dc/Battery/State": 1e300,
            "Dc/Battery/TimeToGo": 2**65,
            "SystemState/State": 2**64,
        }
    )
    assert (system.soc, system.voltage, system.battery_state) == (None, None, None)
    assert (system.time_to_go, system.state) == (None, 2**64)


def test_system_wrong_types_become_none() -> None:
    system = CerboSystem.from_root(root_of("system_wrong_types.json"))
    assert system.portal_id == PORTAL_ID
    assert system.active_input_source == 1  # 1.0 is a whole number
    for name in (
        "system_type",
        "state",
        "soc",
        "voltage",
        "current",
        "power",
        "battery_state",
        "time_to_go",
        "battery_service",
        "grid_power",
        "dvcc",
        "low_soc",
        "ess_state",
    ):
        assert getattr(system, name) is None, name


def test_pylontech_reading() -> None:
    battery = CerboBattery.from_root(PYLONTECH, root_of("battery_pylontech.json"))
    assert battery.instance == 512
    assert battery.name == "8kWh"
    assert battery.product_name == "Pylontech battery"
    assert battery.connected is True
    assert (battery.soc, battery.soh) == (81.0, 99.0)
    assert (battery.voltage, battery.current, battery.power) == (49.8, -0.9, -44.0)
    assert battery.temperature == 30.7
    assert battery.installed_capacity == 174.0
    assert (battery.min_cell_voltage, battery.max_cell_voltage) == (3.318, 3.323)
    assert battery.cell_voltage_spread == 0.005
    assert (battery.min_cell_voltage_id, battery.max_cell_voltage_id) == ("0101", "0101")
    assert (battery.min_cell_temperature, battery.max_cell_temperature) == (30.0, 31.0)
    assert (battery.modules_online, battery.modules_offline) == (2, 0)
    assert (battery.modules_blocking_charge, battery.modules_blocking_discharge) == (0, 0)
    assert (battery.allow_to_charge, battery.allow_to_discharge) == (True, True)
    assert (battery.max_charge_voltage, battery.max_charge_current) == (52.5, 117.0)
    assert (battery.max_discharge_current, battery.low_voltage) == (117.0, 45.0)
    assert len(battery.alarms) == 12
    assert set(battery.alarms.values()) == {0}
    assert list(battery.alarms)[:2] == ["CellImbalance", "ChargeBlocked"]  # sorted
    assert battery.highest_alarm == 0
    assert battery.state_name is None
    assert battery.charge_cycles is None


def test_lynx_reading() -> None:
    battery = CerboBattery.from_root(LYNX, root_of("battery_lynx.json"))
    assert battery.name == "Lynx Smart BMS 500"
    assert battery.state_name == "running"
    assert battery.error_code == 0
    assert battery.soc == 66.4
    assert battery.temperature is None
    assert battery.consumed_ah == -399.8
    assert battery.time_to_go == 184800
    assert battery.capacity == 1180.0
    assert battery.charge_cycles == 152
    assert battery.full_discharges == 0
    assert (battery.charged_energy, battery.discharged_energy) == (9432.39, 9179.88)
    assert (battery.history_min_voltage, battery.history_max_voltage) == (50.6, 64.06)
    assert battery.time_since_last_full_charge == 1181666
    assert battery.alarms == {"HighTemperature": 0, "LowCellVoltage": 0, "LowSoc": 0}


def test_battery_without_alarms() -> None:
    battery = CerboBattery.from_root(VIRTUAL, root_of("battery_virtual.json"))
    assert battery.alarms == {}
    assert battery.highest_alarm is None
    assert battery.name == "Virtual"


def test_vebus_reading() -> None:
    vebus = CerboVebus.from_root(VEBUS, root_of("vebus.json"))
    assert vebus.name == "MULTI_II"
    assert vebus.instance == 276
    assert (vebus.mode, vebus.mode_name) == (3, "on")  # not "Passthrough"
    assert (vebus.state, vebus.state_name) == (3, "bulk")
    assert vebus.charge_state_name == "bulk"
    assert vebus.error is None
    assert vebus.soc == 81.0
    assert (vebus.ac_in_voltage, vebus.ac_in_current, vebus.ac_in_frequency) == (225.0, 1.0, 50.1)
    assert vebus.ac_in_power == 159.0
    assert vebus.ac_in_connected is True
    assert vebus.active_input == 0
    assert vebus.ac_in_current_limit == 16.0
    assert (vebus.ac_out_voltage, vebus.ac_out_current, vebus.ac_out_frequency) == (
        225.0,
        2.2,
        49.95,
    )
    assert vebus.ac_out_power == 149.0  # no Ac/Out/P: the phases are added up
    assert vebus.nominal_inverter_power == 2500.0
    assert (vebus.dc_voltage, vebus.dc_current, vebus.dc_temperature) == (49.66, -0.7, None)
    assert vebus.alarms["GridLost"] == 0
    assert "BmsPreAlarm" not in vebus.alarms
    assert vebus.energy == {"AcIn1ToAcOut": 152.4, "AcIn1ToInverter": 64.6, "InverterToAcOut": 13.9}


def test_vebus_grid_lost_and_total_power() -> None:
    root = root_of("vebus.json") | {"Alarms/GridLost": 2, "Ac/Out/P": 1490.0, "State": 9}
    vebus = CerboVebus.from_root(VEBUS, root)
    assert vebus.alarms["GridLost"] == 2  # sources.GridStatus judges it
    assert vebus.ac_out_power == 1490.0
    assert vebus.state_name == "inverting"
    assert "GridLost" not in CerboVebus.from_root(VEBUS, {}).alarms


def test_platform_reading() -> None:
    platform = CerboPlatform.from_root(root_of("platform.json"))
    assert platform.model == "Cerbo GX"
    assert platform.hq_serial == "HQ2308C9WMH"
    assert platform.unique_id == PORTAL_ID
    assert (platform.firmware_version, platform.firmware_available) == ("v3.70~33", "v3.70~50")
    assert platform.firmware_build == "20250909064940"
    assert platform.wifi_signal == 70
    assert platform.data_partition_free == 4243677184
    assert (platform.active_alarms, platform.active_warnings) == (0, 0)
    assert (platform.notifications_active, platform.unacknowledged_alarms) == (0, 0)
    assert platform.alarm is False
    assert platform.can_interfaces == (
        CerboCanStats(
            interface="can0",
            state="ERROR-ACTIVE",
            bitrate=500000,
            tx_error_counter=0,
            rx_error_counter=0,
            bus_off=0,
            error_passive=0,
            error_warning=0,
            rx_packets=26137134,
            tx_packets=7467428,
            rx_errors=0,
            tx_errors=649,
            rx_dropped=0,
            tx_dropped=0,
            rx_over_errors=0,
        ),
    )  # can1 is [] (invalid) and is skipped


@pytest.mark.parametrize(
    "raw",
    ["{not json", "42", "[]", "[42]", 17, None, '{"linkinfo": "x"}'],
)
def test_can_statistics_garbage(raw: Any) -> None:
    stats = CerboCanStats.from_statistics("can0", raw)
    assert stats is None or stats == CerboCanStats(interface="can0")


def test_can_statistics_as_a_decoded_object() -> None:
    stats = CerboCanStats.from_statistics("can1", {"linkinfo": {"info_data": {"state": "BUS-OFF"}}})
    assert stats == CerboCanStats(interface="can1", state="BUS-OFF")


def test_temperature_readings() -> None:
    first = CerboTemperature.from_root(TEMP_5, root_of("temperature_5.json"))
    assert first.name == "Вхід теплоносія"  # the server escapes non-ASCII as \uXXXX
    assert first.instance == 27
    assert first.temperature == 35.9
    assert first.status_name == "ok"
    assert first.type_name == "generic"
    assert first.connected is True
    assert first.humidity is None
    second = CerboTemperature.from_root(TEMP_6, root_of("temperature_6.json"))
    assert second.name == "Generic Temperature Input"
    assert second.temperature == 64.8
    assert second.type_name == "battery"


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_KEYS = sorted(
    {
        *root_of("system.json"),
        *root_of("battery_pylontech.json"),
        *root_of("battery_lynx.json"),
        *root_of("vebus.json"),
        *root_of("platform.json"),
        *root_of("temperature_5.json"),
        "Ac/Out/P",
        "Dc/Pv/Power",
        "Alarms/L1/Overload",
    }
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(st.sampled_from(_KEYS), _JSON, max_size=30))
def test_any_untrusted_root_parses(root: dict[str, Any]) -> None:
    readings = [
        CerboSystem.from_root(root),
        CerboBattery.from_root(PYLONTECH, root),
        CerboVebus.from_root(VEBUS, root),
        CerboPlatform.from_root(root),
        CerboTemperature.from_root(TEMP_5, root),
    ]
    for reading in readings:
        for name, value in vars(reading).items():
            if isinstance(value, float):
                assert value == value, name  # noqa: PLR0124 - NaN never gets through
                assert abs(value) != float("inf"), name
            assert not isinstance(value, list), name


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(st.text(max_size=8), _JSON, max_size=20))
def test_a_root_cleaned_when_read_equals_the_root_cleaned_whole(raw: dict[str, Any]) -> None:
    root = ServiceRoot(raw)
    whole = _clean(raw)
    assert dict(root) == whole
    assert len(root) == len(whole)
    assert all(root.get(key) == whole[key] for key in raw)
    assert root.get("/absent", "default") == "default"


@pytest.mark.parametrize(
    ("custom", "product", "label"),
    [
        ("House bank", "SmartShunt 500A", "House bank (SmartShunt 500A)"),
        (None, "SmartShunt 500A", "SmartShunt 500A"),
        ("", None, "(no name)"),
    ],
)
def test_monitor_label_never_shows_the_service(
    custom: str | None, product: str | None, label: str
) -> None:
    """A VE.Can service name carries the device's serial; logs and repairs name it otherwise."""
    service = "com.victronenergy.battery.socketcan_can1_vi0_uc12345"
    monitor = CerboMonitor(service=service, product_name=product, custom_name=custom)
    assert monitor.label == label
