"""The battery side of a poll: the GX's `system` root and a battery monitor's or BMS's root."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from ..victron import (
    ACTIVE_INPUT_SOURCES,
    BATTERY_FLOW_STATES,
    BMS_STATES,
    SYSTEM_STATES,
)
from .parsing import (
    _PORTAL_ID,
    _enum,
    _flag,
    _int,
    _level,
    _num,
    _phases,
    _prefixed,
    _service,
    _str,
    _sum,
)


@dataclass(frozen=True)
class CerboSystem:
    """The `com.victronenergy.system` root: the GX's view of the whole installation."""

    portal_id: str | None = None
    system_type: str | None = None
    state: int | None = None  # SYSTEM_STATES
    soc: float | None = None  # %
    voltage: float | None = None  # V
    current: float | None = None  # A, + charging
    power: float | None = None  # W, + charging
    temperature: float | None = None  # °C
    battery_state: int | None = None  # BATTERY_FLOW_STATES
    consumed_ah: float | None = None  # Ah, <= 0
    time_to_go: int | None = None  # s; None while not discharging
    battery_service: str | None = None
    grid_power: float | None = None  # W, + import, sum of phases
    grid_l1_power: float | None = None
    grid_l2_power: float | None = None
    grid_l3_power: float | None = None
    consumption_power: float | None = None  # W, AC loads, sum of phases
    dc_pv_power: float | None = None
    ac_pv_power: float | None = None  # on grid, output and genset, all phases
    pv_power: float | None = None  # DC + AC
    genset_power: float | None = None
    dc_system_power: float | None = None
    vebus_dc_power: float | None = None
    active_input_source: int | None = None  # ACTIVE_INPUT_SOURCES
    active_soc_limit: float | None = None  # %
    ess_state: int | None = None
    dvcc: bool | None = None
    charge_voltage: float | None = None  # V, what DVCC tells the chargers
    low_soc: bool | None = None
    charge_disabled: bool | None = None
    discharge_disabled: bool | None = None
    dynamic_ess_active: int | None = None
    dynamic_ess_target_soc: float | None = None

    @property
    def state_name(self) -> str | None:
        """Option key of the system state."""
        return _enum(self.state, SYSTEM_STATES)

    @property
    def battery_state_name(self) -> str | None:
        """Option key of idle/charging/discharging."""
        return _enum(self.battery_state, BATTERY_FLOW_STATES)

    @property
    def active_input_name(self) -> str | None:
        """Option key of the active AC input source."""
        return _enum(self.active_input_source, ACTIVE_INPUT_SOURCES)

    @classmethod
    def from_root(cls, root: Mapping[str, Any]) -> Self:
        """Parse the flat `system` root dict."""
        grid = _phases(root, "Ac/Grid/{}/Power", 0)
        pv_on = [
            value
            for place in ("PvOnGrid", "PvOnOutput", "PvOnGenset")
            for value in _phases(root, f"Ac/{place}/{{}}/Power", 0)
        ]
        dc_pv = _num(root.get("Dc/Pv/Power"), 0)
        ac_pv = _sum(pv_on, 0)
        portal = _str(root.get("Serial"))
        return cls(
            portal_id=portal if portal and _PORTAL_ID.fullmatch(portal) else None,
            system_type=_str(root.get("SystemType")),
            state=_int(root.get("SystemState/State")),
            soc=_num(root.get("Dc/Battery/Soc"), 1),
            voltage=_num(root.get("Dc/Battery/Voltage"), 2),
            current=_num(root.get("Dc/Battery/Current"), 1),
            power=_num(root.get("Dc/Battery/Power"), 0),
            temperature=_num(root.get("Dc/Battery/Temperature"), 1),
            battery_state=_int(root.get("Dc/Battery/State")),
            consumed_ah=_num(root.get("Dc/Battery/ConsumedAmphours"), 1),
            time_to_go=_int(_num(root.get("Dc/Battery/TimeToGo"), 0)),
            battery_service=_service(root.get("Dc/Battery/BatteryService")),
            grid_power=_sum(grid, 0),
            grid_l1_power=grid[0],
            grid_l2_power=grid[1],
            grid_l3_power=grid[2],
            consumption_power=_sum(_phases(root, "Ac/Consumption/{}/Power", 0), 0),
            dc_pv_power=dc_pv,
            ac_pv_power=ac_pv,
            pv_power=_sum([dc_pv, ac_pv], 0),
            genset_power=_sum(_phases(root, "Ac/Genset/{}/Power", 0), 0),
            dc_system_power=_num(root.get("Dc/System/Power"), 0),
            vebus_dc_power=_num(root.get("Dc/Vebus/Power"), 0),
            active_input_source=_int(root.get("Ac/ActiveIn/Source")),
            active_soc_limit=_num(root.get("Control/ActiveSocLimit"), 1),
            ess_state=_int(root.get("Control/EssState")),
            dvcc=_flag(root.get("Control/Dvcc")),
            charge_voltage=_num(root.get("Control/EffectiveChargeVoltage"), 2),
            low_soc=_flag(root.get("SystemState/LowSoc")),
            charge_disabled=_flag(root.get("SystemState/ChargeDisabled")),
            discharge_disabled=_flag(root.get("SystemState/DischargeDisabled")),
            dynamic_ess_active=_int(root.get("DynamicEss/Active")),
            dynamic_ess_target_soc=_num(root.get("DynamicEss/TargetSoc"), 1),
        )


@dataclass(frozen=True)
class CerboBattery:
    """A `com.victronenergy.battery.*` root: CAN-BMS, Lynx Smart BMS, shunt or virtual."""

    service: str
    instance: int | None = None
    product_name: str | None = None
    custom_name: str | None = None
    connected: bool | None = None
    soc: float | None = None  # %
    soh: float | None = None  # %
    voltage: float | None = None  # V
    current: float | None = None  # A, + charging
    power: float | None = None  # W, + charging
    temperature: float | None = None  # °C
    state: int | None = None  # BMS_STATES (Lynx / Smart BMS)
    error_code: int | None = None
    consumed_ah: float | None = None  # Ah, <= 0
    time_to_go: int | None = None  # s
    capacity: float | None = None  # Ah
    installed_capacity: float | None = None  # Ah
    min_cell_voltage: float | None = None  # V, 0.001
    max_cell_voltage: float | None = None
    min_cell_voltage_id: str | None = None
    max_cell_voltage_id: str | None = None
    min_cell_temperature: float | None = None
    max_cell_temperature: float | None = None
    modules_online: int | None = None
    modules_offline: int | None = None
    modules_blocking_charge: int | None = None
    modules_blocking_discharge: int | None = None
    cells_per_battery: int | None = None  # often not published
    batteries_series: int | None = None
    allow_to_charge: bool | None = None
    allow_to_discharge: bool | None = None
    max_charge_voltage: float | None = None  # V (CVL)
    max_charge_current: float | None = None  # A (CCL)
    max_discharge_current: float | None = None  # A (DCL)
    low_voltage: float | None = None  # V
    charge_cycles: int | None = None
    full_discharges: int | None = None
    charged_energy: float | None = None  # kWh
    discharged_energy: float | None = None  # kWh
    history_min_voltage: float | None = None
    history_max_voltage: float | None = None
    time_since_last_full_charge: int | None = None  # s
    alarms: dict[str, int] = field(default_factory=dict)  # "LowVoltage" -> 0/1/2

    @property
    def name(self) -> str | None:
        """The name the user gave the battery, else its product name."""
        return self.custom_name or self.product_name

    @property
    def state_name(self) -> str | None:
        """Option key of the BMS state."""
        return _enum(self.state, BMS_STATES)

    @property
    def cell_voltage_spread(self) -> float | None:
        """Highest minus lowest cell voltage, V."""
        if self.min_cell_voltage is None or self.max_cell_voltage is None:
            return None
        return round(self.max_cell_voltage - self.min_cell_voltage, 3) + 0.0

    @property
    def highest_alarm(self) -> int | None:
        """The worst alarm level, None when the battery reports no alarms."""
        return max(self.alarms.values()) if self.alarms else None

    @classmethod
    def from_root(cls, service: str, root: Mapping[str, Any]) -> Self:
        """Parse a flat battery root dict."""
        return cls(
            service=service,
            instance=_int(root.get("DeviceInstance")),
            product_name=_str(root.get("ProductName")),
            custom_name=_str(root.get("CustomName")),
            connected=_flag(root.get("Connected")),
            soc=_num(root.get("Soc"), 1),
            soh=_num(root.get("Soh"), 1),
            voltage=_num(root.get("Dc/0/Voltage"), 2),
            current=_num(root.get("Dc/0/Current"), 1),
            power=_num(root.get("Dc/0/Power"), 0),
            temperature=_num(root.get("Dc/0/Temperature"), 1),
            state=_int(root.get("State")),
            error_code=_int(root.get("ErrorCode")),
            consumed_ah=_num(root.get("ConsumedAmphours"), 1),
            time_to_go=_int(_num(root.get("TimeToGo"), 0)),
            capacity=_num(root.get("Capacity"), 1),
            installed_capacity=_num(root.get("InstalledCapacity"), 1),
            min_cell_voltage=_num(root.get("System/MinCellVoltage"), 3),
            max_cell_voltage=_num(root.get("System/MaxCellVoltage"), 3),
            min_cell_voltage_id=_str(root.get("System/MinVoltageCellId")),
            max_cell_voltage_id=_str(root.get("System/MaxVoltageCellId")),
            min_cell_temperature=_num(root.get("System/MinCellTemperature"), 1),
            max_cell_temperature=_num(root.get("System/MaxCellTemperature"), 1),
            modules_online=_int(root.get("System/NrOfModulesOnline")),
            modules_offline=_int(root.get("System/NrOfModulesOffline")),
            modules_blocking_charge=_int(root.get("System/NrOfModulesBlockingCharge")),
            modules_blocking_discharge=_int(root.get("System/NrOfModulesBlockingDischarge")),
            cells_per_battery=_int(root.get("System/NrOfCellsPerBattery")),
            batteries_series=_int(root.get("System/BatteriesSeries")),
            allow_to_charge=_flag(root.get("Io/AllowToCharge")),
            allow_to_discharge=_flag(root.get("Io/AllowToDischarge")),
            max_charge_voltage=_num(root.get("Info/MaxChargeVoltage"), 2),
            max_charge_current=_num(root.get("Info/MaxChargeCurrent"), 1),
            max_discharge_current=_num(root.get("Info/MaxDischargeCurrent"), 1),
            low_voltage=_num(root.get("Info/BatteryLowVoltage"), 2),
            charge_cycles=_int(root.get("History/ChargeCycles")),
            full_discharges=_int(root.get("History/FullDischarges")),
            charged_energy=_num(root.get("History/ChargedEnergy"), 2),
            discharged_energy=_num(root.get("History/DischargedEnergy"), 2),
            history_min_voltage=_num(root.get("History/MinimumVoltage"), 2),
            history_max_voltage=_num(root.get("History/MaximumVoltage"), 2),
            time_since_last_full_charge=_int(root.get("History/TimeSinceLastFullCharge")),
            alarms=_prefixed(root, "Alarms/", _level),
        )
