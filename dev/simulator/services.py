"""Build the flat D-Bus service dicts that the Cerbo's HTTP API serves, from the physics."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any, NamedTuple

from .config import SimConfig
from .physics import (
    CUTOFF_SOC,
    IDLE_W,
    S_GRID,
    S_PV_JITTER,
    S_READ_CELL,
    S_READ_I,
    S_READ_T,
    S_READ_V,
    WEAK_CELL,
    BatteryState,
    Flows,
    Physics,
    gauss,
    smooth,
)

SYSTEM = "com.victronenergy.system"
BATTERY = "com.victronenergy.battery.socketcan_can0"
SHUNT = "com.victronenergy.battery.ttyS5"  # a SmartShunt on the Cerbo's first VE.Direct port
VEBUS = "com.victronenergy.vebus.ttyS4"
SOLAR = "com.victronenergy.solarcharger.ttyUSB0"
PLATFORM = "com.victronenergy.platform"
SETTINGS = "com.victronenergy.settings"
LOGGER = "com.victronenergy.logger"
HUB4 = "com.victronenergy.hub4"
TEMP_ROOM = "com.victronenergy.temperature.adc_builtin0_5"
TEMP_OUTDOOR = "com.victronenergy.temperature.adc_builtin0_6"
MANAGEMENT = (
    "com.victronenergy.adc",
    "com.victronenergy.digitalinputs",
    "com.victronenergy.modbustcp",
)

BATTERY_INSTANCE = 512
SHUNT_INSTANCE = 277
VEBUS_INSTANCE = 276
SOLAR_INSTANCE = 279
BATTERY_NAME = "280Ah LFP"
BATTERY_PRODUCT = "Pylontech battery"
SHUNT_PRODUCT = "SmartShunt 500A/50mV"
VEBUS_PRODUCT = "MultiPlus-II 48/3000/35-32"
VEBUS_NAME = "MULTI_II"
SOLAR_PRODUCT = "SmartSolar MPPT 150/100"
FIRMWARE = "v3.70~33"
FIRMWARE_BUILD = "20250909064940"

INVALID: list[Any] = []  # the Victron "no value" marker, serialised as []

# (path, value, min, max, default); gauge settings carry infinite bounds as in systemcalc
_SETTINGS: tuple[tuple[str, Any, Any, Any, Any], ...] = (
    ("/Settings/CGwacs/Hub4Mode", 1, 1, 3, 1),
    ("/Settings/CGwacs/BatteryLife/State", 10, 0, 12, 0),
    ("/Settings/SystemSetup/MaxChargeVoltage", 0.0, 0.0, 80.0, 0.0),
    ("/Settings/SystemSetup/BatteryService", "default", None, None, "default"),
    ("/Settings/Gui/Gauges/Dc/Input/Power/Max", 6000.0, -math.inf, math.inf, 0.0),
    ("/Settings/Devices/adc_builtin0_5/ClassAndVrmInstance", "temperature:27", None, None, None),
)
MIN_SOC_SETTING = "/Settings/CGwacs/BatteryLife/MinimumSocLimit"


class Monitor(NamedTuple):
    """Who measures the battery: its D-Bus service and identity."""

    service: str
    instance: int
    name: str
    product: str
    product_id: int
    product_code: str  # as VRM's system-overview shows it
    connection: str
    process: str
    bms: bool  # a BMS publishes limits (Info/*), cells and temperature; a shunt does not


def monitor(config: SimConfig) -> Monitor:
    """The battery monitor the config describes."""
    if config.monitor == "smartshunt":
        return Monitor(
            SHUNT,
            SHUNT_INSTANCE,
            config.battery_name,
            SHUNT_PRODUCT,
            0xA389,
            "A389",
            "VE.Direct",
            "/opt/victronenergy/vedirect-interface/vedirect-dbus",
            bms=False,
        )
    return Monitor(
        BATTERY,
        BATTERY_INSTANCE,
        config.battery_name,
        BATTERY_PRODUCT,
        45065,
        "B009",
        "CAN-bus",
        "dbus-canbattery",
        bms=True,
    )


def f32(value: float) -> float:
    """Round-trip through float32, as CAN-bus values are (49.79999923706055)."""
    result: float = struct.unpack("<f", struct.pack("<f", value))[0]
    return result


def alarm(value: float, warn: float, fault: float, *, above: bool) -> int:
    """Victron alarm enum: 0 ok, 1 warning, 2 alarm."""
    if above:
        return 2 if value > fault else int(value > warn)
    return 2 if value < fault else int(value < warn)


@dataclass(frozen=True, slots=True)
class Context:
    """Everything the builders need about one moment."""

    config: SimConfig
    physics: Physics
    state: BatteryState
    flows: Flows
    battery_present: bool
    upload_ok: bool
    last_contact: float
    backlog: int
    started: float


@dataclass(frozen=True, slots=True)
class Reading:
    """Measured values (noise, resolution and float32 applied) shared by several services."""

    soc: float
    voltage: float
    current: float
    power: float
    temperature: float
    state: int
    ttg: Any
    consumed: Any
    cells: tuple[float, ...]
    pv_power: int
    pv_voltage: float
    load: int
    grid: int
    ac_in_v: float
    ac_out_v: float
    frequency: float


def read(ctx: Context) -> Reading:
    cfg, flows, state = ctx.config, ctx.flows, ctx.state
    seed, tick = ctx.physics.seed, int(state.t)
    voltage = flows.battery_voltage + 0.01 * gauss(seed, S_READ_V, tick)
    current = flows.battery_current + 0.15 * gauss(seed, S_READ_I, tick)
    if flows.battery_w > IDLE_W:
        battery_state = 1
    elif flows.battery_w < -IDLE_W:
        battery_state = 2
    else:
        battery_state = 0
    ttg: Any = INVALID
    if battery_state == 2 and cfg.extended_bms and current < 0:  # noqa: PLR2004
        remaining_ah = max(0.0, state.soc - CUTOFF_SOC) / 100.0 * cfg.capacity_ah
        ttg = min(864_000, round(remaining_ah / -current * 3600.0))
    soc = state.soc
    spread = 1.0 + 8.0 * max(0.0, soc - 95.0) / 5.0 + 4.0 * max(0.0, 15.0 - soc) / 15.0
    per_cell = voltage / cfg.cells
    sink = ctx.physics.cell_sink(state.t)
    cells = tuple(
        round(
            per_cell
            + offset * spread
            - (sink if k == WEAK_CELL else 0.0)
            + 0.001 * gauss(seed, S_READ_CELL, tick * cfg.cells + k),
            3,
        )
        for k, offset in enumerate(ctx.physics.cell_offsets)
    )
    pv = flows.pv_w
    if pv > 0:
        pv = max(0.0, pv + 8.0 * gauss(seed, S_PV_JITTER, tick))
    grid_wobble = smooth(seed, S_GRID, state.t, 120.0)
    return Reading(
        soc=round(soc, 1),
        voltage=f32(round(voltage, 2)),
        current=round(current, 1),
        power=float(round(voltage * current)),
        temperature=round(state.temperature + 0.05 * gauss(seed, S_READ_T, tick), 1),
        state=battery_state,
        ttg=ttg,
        consumed=round(state.consumed_ah, 1) if cfg.extended_bms else INVALID,
        cells=cells,
        pv_power=round(pv),
        pv_voltage=round(96.0 + 20.0 * flows.pv_w / max(cfg.pv_peak_w, 1.0), 2) if pv else 0.0,
        load=round(flows.load_served_w),
        grid=round(flows.grid_w),
        ac_in_v=round(227.0 + 6.0 * grid_wobble, 1) if flows.grid_on else 0.0,
        ac_out_v=round(229.5 + 1.0 * grid_wobble, 1),
        frequency=round(49.97 + 0.06 * grid_wobble, 2),
    )


def system_state(ctx: Context, r: Reading) -> int:
    """/SystemState/State: 3 bulk, 4 absorption, 5 float, 9 inverting, 256 discharging, ..."""
    flows = ctx.flows
    if not flows.grid_on:
        return 0 if flows.inverter_off else 9
    if flows.sustain:
        return 258 if r.state == 1 else 257
    if r.state == 2:  # noqa: PLR2004
        return 256
    if ctx.state.soc >= 100.0:  # noqa: PLR2004
        return 5
    if r.state == 1:
        return 4 if ctx.state.soc >= 95.0 else 3  # noqa: PLR2004
    return 256


def _history(ctx: Context) -> dict[str, Any]:
    cfg, state = ctx.config, ctx.state
    return {
        "ConsumedAmphours": round(state.consumed_ah, 1),
        "Capacity": round(state.soc / 100.0 * cfg.capacity_ah, 1),
        "History/ChargeCycles": round(state.discharged_kwh / (cfg.capacity_ah * 0.0512)),
        "History/ChargedEnergy": round(state.charged_kwh, 2),
        "History/DischargedEnergy": round(state.discharged_kwh, 2),
        "History/MinimumVoltage": round(state.min_voltage, 2),
        "History/MaximumVoltage": round(state.max_voltage, 2),
        "History/TimeSinceLastFullCharge": round(state.t - state.last_full),
    }


def shunt(ctx: Context, r: Reading) -> dict[str, Any]:
    """A SmartShunt: voltage, current, SOC and history; no limits, cells or SOH.

    Its alarms are off by default (VictronConnect), so they stay 0.
    """
    cfg = ctx.config
    who = monitor(cfg)
    return {
        "DeviceInstance": who.instance,
        "ProductId": who.product_id,
        "ProductName": who.product,
        "CustomName": who.name,
        "Serial": "HQ2231ABCDE",
        "FirmwareVersion": 0x0421,
        "Connected": 1,
        "Mgmt/ProcessName": who.process,
        "Mgmt/Connection": who.connection,
        "Soc": r.soc,
        "Dc/0/Voltage": r.voltage,
        "Dc/0/Current": r.current,
        "Dc/0/Power": r.power,
        "Dc/0/Temperature": r.temperature if cfg.shunt_temperature else INVALID,
        "Dc/1/Voltage": INVALID,
        "TimeToGo": r.ttg,
        "Relay/0/State": 0,
        "Alarms/LowVoltage": 0,
        "Alarms/HighVoltage": 0,
        "Alarms/LowSoc": 0,
        "Alarms/LowStarterVoltage": 0,
        "Alarms/HighStarterVoltage": 0,
        "Alarms/LowTemperature": 0,
        "Alarms/HighTemperature": 0,
        "Alarms/MidVoltage": 0,
        **_history(ctx),
    }


def battery(ctx: Context, r: Reading) -> dict[str, Any]:
    cfg, flows, state = ctx.config, ctx.flows, ctx.state
    if not monitor(cfg).bms:
        return shunt(ctx, r)
    cells = r.cells
    min_cell, max_cell = min(cells), max(cells)
    imbalance = max_cell - min_cell
    min_temp = float(round(r.temperature - 0.4))
    max_temp = float(round(r.temperature + 0.6))
    values: dict[str, Any] = {
        "DeviceInstance": BATTERY_INSTANCE,
        "ProductId": 45065,
        "ProductName": BATTERY_PRODUCT,
        "CustomName": cfg.battery_name,
        "Serial": INVALID,
        "FirmwareVersion": INVALID,
        "Connected": 1,
        "Mgmt/ProcessName": "dbus-canbattery",
        "Mgmt/Connection": "CAN-bus",
        "Soc": r.soc,
        "Soh": ctx.physics.soh(state.t),
        "InstalledCapacity": cfg.capacity_ah,
        "Dc/0/Voltage": r.voltage,
        "Dc/0/Current": r.current,
        "Dc/0/Power": r.power,
        "Dc/0/Temperature": r.temperature,
        "Info/MaxChargeVoltage": round(ctx.physics.charge_voltage, 1),
        "Info/MaxChargeCurrent": round(flows.ccl, 1),
        "Info/MaxDischargeCurrent": round(flows.dcl, 1),
        "Info/BatteryLowVoltage": round(cfg.low_voltage_per_cell * cfg.cells, 1),
        "Io/AllowToCharge": int(flows.ccl > 0 or state.soc >= 100.0),  # noqa: PLR2004
        "Io/AllowToDischarge": int(flows.dcl > 0),
        "System/MinCellVoltage": min_cell,
        "System/MaxCellVoltage": max_cell,
        "System/MinVoltageCellId": f"01{cells.index(min_cell) + 1:02d}",
        "System/MaxVoltageCellId": f"01{cells.index(max_cell) + 1:02d}",
        "System/MinCellTemperature": min_temp,
        "System/MaxCellTemperature": max_temp,
        "System/MinTemperatureCellId": "0101",
        "System/MaxTemperatureCellId": "0102",
        "System/NrOfModulesOnline": 1,
        "System/NrOfModulesOffline": 0,
        "System/NrOfModulesBlockingCharge": 0,
        "System/NrOfModulesBlockingDischarge": 0,
        "System/NrOfCellsPerBattery": cfg.cells,
        "Alarms/LowVoltage": alarm(r.voltage, 3.1 * cfg.cells, 3.0 * cfg.cells, above=False),
        "Alarms/HighVoltage": alarm(r.voltage, 3.6 * cfg.cells, 3.65 * cfg.cells, above=True),
        "Alarms/LowSoc": alarm(r.soc, 10.0, 5.0, above=False),
        "Alarms/LowTemperature": alarm(r.temperature, 5.0, 0.0, above=False),
        "Alarms/HighTemperature": alarm(r.temperature, 45.0, 50.0, above=True),
        "Alarms/HighChargeCurrent": int(r.current > flows.ccl * 1.1 + 5.0),
        "Alarms/HighDischargeCurrent": int(-r.current > flows.dcl * 1.1 + 5.0),
        "Alarms/CellImbalance": alarm(imbalance, 0.1, 0.2, above=True),
        "Alarms/InternalFailure": 0,
        "Alarms/HighCellVoltage": alarm(max_cell, 3.6, 3.65, above=True),
        "Alarms/LowCellVoltage": alarm(min_cell, 3.0, 2.8, above=False),
        "Alarms/ChargeBlocked": int(flows.ccl <= 0 and state.soc < 100.0),  # noqa: PLR2004
        "Alarms/DischargeBlocked": int(flows.dcl <= 0),
    }
    if cfg.extended_bms:
        values |= {"TimeToGo": r.ttg, **_history(ctx)}
    return values


def _battery_entry(
    service: str, instance: int, name: str, r: Reading, soc: float, *, temperature: Any
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": service,
        "instance": instance,
        "voltage": round(r.voltage, 2),
        "current": r.current,
        "power": r.power,
        "soc": soc,
        "name": name,
        "state": r.state,
        "active_battery_service": True,
    }
    if temperature is not INVALID:
        entry["temperature"] = temperature
    if isinstance(r.ttg, int):
        entry["timetogo"] = r.ttg
    return entry


def system(ctx: Context, r: Reading) -> dict[str, Any]:
    cfg, flows, state = ctx.config, ctx.flows, ctx.state
    present = ctx.battery_present
    who = monitor(cfg)
    temperature: Any
    grid: Any = r.grid if flows.grid_on else INVALID
    vebus_dc_power = round(-(flows.pv_w - flows.battery_w))
    available = {"default": "Automatic", "nobattery": "No battery monitor"}
    available[f"com.victronenergy.vebus/{VEBUS_INSTANCE}"] = VEBUS_NAME
    bms: tuple[Any, Any] = (INVALID, INVALID)
    bms_list: list[dict[str, Any]] = []
    if present:
        available[f"com.victronenergy.battery/{who.instance}"] = who.name
        battery_service, active = who.service, f"com.victronenergy.battery/{who.instance}"
        auto = f"{who.product} on {who.connection}"
        soc = r.soc
        temperature = r.temperature if who.bms or cfg.shunt_temperature else INVALID
        entry = _battery_entry(who.service, who.instance, who.name, r, soc, temperature=temperature)
        if who.bms:
            bms, bms_list = (
                (who.service, who.instance),
                [{"name": who.name, "instance": who.instance}],
            )
    else:
        # systemcalc falls back to the inverter/charger as battery monitor
        battery_service, active = VEBUS, f"com.victronenergy.vebus/{VEBUS_INSTANCE}"
        auto = f"{VEBUS_PRODUCT} on VE.Bus"
        soc, temperature = round(state.soc), INVALID
        entry = _battery_entry(VEBUS, VEBUS_INSTANCE, VEBUS_NAME, r, soc, temperature=INVALID)
    measurements = {f"com_victronenergy_vebus_{VEBUS_INSTANCE}/Dc/0": VEBUS_NAME}
    if present:
        measurements[f"com_victronenergy_battery_{who.instance}/Dc/0"] = who.name
    return {
        "Mgmt/ProcessName": "dbus-systemcalc-py",
        "Mgmt/ProcessVersion": "2.230",
        "Mgmt/Connection": "data from other dbus processes",
        "DeviceInstance": 0,
        "ProductId": INVALID,
        "ProductName": INVALID,
        "Connected": 1,
        "Serial": cfg.portal_id,
        "FirmwareVersion": 225331,
        "FirmwareBuild": FIRMWARE_BUILD,
        "SystemType": "ESS",
        "Hub": 4,
        "SystemState/State": system_state(ctx, r),
        "SystemState/LowSoc": int(flows.sustain),
        "SystemState/BatteryLife": 0,
        "SystemState/ChargeDisabled": 0,
        "SystemState/DischargeDisabled": int(flows.sustain),
        "SystemState/SlowCharge": 0,
        "Dc/Battery/Soc": soc,
        "Dc/Battery/Voltage": r.voltage,
        "Dc/Battery/Current": r.current,
        "Dc/Battery/Power": r.power,
        "Dc/Battery/State": r.state,
        "Dc/Battery/ConsumedAmphours": r.consumed if present else INVALID,
        "Dc/Battery/TimeToGo": r.ttg if present else INVALID,
        "Dc/Battery/Temperature": temperature,
        "Dc/Battery/TemperatureService": INVALID,
        "Dc/Battery/BatteryService": battery_service,
        "ActiveBatteryService": active,
        "AutoSelectedBatteryService": auto,
        "AvailableBatteryServices": json.dumps(available),
        "AvailableBatteryMeasurements": measurements,
        "ActiveBmsService": bms[0],
        "ActiveBmsInstance": bms[1],
        "AvailableBmsServices": bms_list,
        "Batteries": [entry],
        "Dc/Pv/Power": r.pv_power,
        "Dc/Pv/Current": round(r.pv_power / r.voltage, 1),
        "Dc/Vebus/Current": round(vebus_dc_power / r.voltage, 1),
        "Dc/Vebus/Power": vebus_dc_power,
        "Dc/System/Power": INVALID,
        "Ac/ActiveIn/Source": 1 if flows.grid_on else 240,
        "Ac/ActiveIn/L1/Power": grid,
        "Ac/Grid/L1/Power": grid,
        "Ac/Grid/L2/Power": INVALID,
        "Ac/Grid/L3/Power": INVALID,
        "Ac/Grid/L1/Current": round(r.grid / r.ac_in_v, 2) if flows.grid_on else INVALID,
        "Ac/Grid/NumberOfPhases": 1 if flows.grid_on else INVALID,
        "Ac/Consumption/L1/Power": r.load,
        "Ac/Consumption/L2/Power": INVALID,
        "Ac/Consumption/L3/Power": INVALID,
        "Ac/Consumption/NumberOfPhases": 1,
        "Ac/ConsumptionOnOutput/L1/Power": r.load,
        "Ac/ConsumptionOnInput/L1/Power": 0 if flows.grid_on else INVALID,
        "Ac/PvOnGrid/L1/Power": INVALID,
        "Control/EssState": 10,
        "Control/ActiveSocLimit": float(cfg.min_soc),
        "Control/Dvcc": True,
        "Control/VebusSoc": 1,
        # DVCC passes a BMS's CVL on; with only a shunt (and no user limit) there is none
        "Control/EffectiveChargeVoltage": (
            round(ctx.physics.charge_voltage, 1) if present and who.bms else INVALID
        ),
        "DynamicEss/Active": 0,
        "Timers/TimeOnGrid": round(state.time_on_grid),
        "Timers/TimeOnInverter": round(state.time_on_inverter),
        "Timers/TimeOnGenerator": 0,
        "Timers/TimeOff": 14,
        "Devices/NumberOfVebusDevices": 1,
        "VebusService": VEBUS,
        "VebusInstance": VEBUS_INSTANCE,
        "Relay/0/State": 0,
    }


def vebus(ctx: Context, r: Reading) -> dict[str, Any]:
    flows, state = ctx.flows, ctx.state
    grid_on = flows.grid_on
    in_power = round(flows.load_served_w - flows.inverter_ac_w) if grid_on else 0
    out_current = round(flows.load_served_w / r.ac_out_v, 2)
    dc_power = round(-(flows.pv_w - flows.battery_w))
    if flows.inverter_off:
        vebus_state = 0
    elif not grid_on or flows.inverter_ac_w > IDLE_W:
        vebus_state = 9
    elif flows.inverter_ac_w < -IDLE_W:
        vebus_state = 4 if state.soc >= 95.0 else 3  # noqa: PLR2004
    else:
        vebus_state = 8
    return {
        "ProductName": VEBUS_PRODUCT,
        "ProductId": 9769,
        "DeviceInstance": VEBUS_INSTANCE,
        "CustomName": VEBUS_NAME,
        "FirmwareVersion": 1362,
        "Mgmt/ProcessName": "mk2-dbus",
        "Mgmt/Connection": "VE.Bus",
        "Connected": 1,
        "Mode": 3,
        "State": vebus_state,
        "ModeIsAdjustable": 1,
        "VebusChargeState": 1 if vebus_state == 3 else 0,  # noqa: PLR2004
        "VebusMainState": 9,
        "VebusError": 0,
        "Soc": round(state.soc, 1),
        "Ac/ActiveIn/L1/V": r.ac_in_v,
        "Ac/ActiveIn/L1/I": round(in_power / r.ac_in_v, 2) if grid_on else 0.0,
        "Ac/ActiveIn/L1/P": in_power,
        "Ac/ActiveIn/L1/F": r.frequency if grid_on else 0.0,
        "Ac/ActiveIn/L2/V": INVALID,
        "Ac/ActiveIn/L3/V": INVALID,
        "Ac/ActiveIn/ActiveInput": 0 if grid_on else 240,
        "Ac/ActiveIn/Connected": int(grid_on),
        "Ac/State/AcIn1Available": int(grid_on),
        "Ac/In/1/CurrentLimit": 16.0,
        "Ac/NumberOfAcInputs": 1,
        "Ac/NumberOfPhases": 1,
        "Ac/Out/L1/V": r.ac_out_v if not flows.inverter_off else 0.0,
        "Ac/Out/L1/I": out_current,
        "Ac/Out/L1/P": r.load,
        "Ac/Out/L1/F": r.frequency if grid_on else 50.0,
        "Ac/Out/L2/V": INVALID,
        "Ac/Out/L3/V": INVALID,
        "Ac/Out/P": r.load,
        "Ac/Out/NominalInverterPower": round(ctx.config.inverter_w),
        "Dc/0/Voltage": round(r.voltage - 0.14, 2),
        "Dc/0/Current": round(dc_power / r.voltage, 1),
        "Dc/0/Power": dc_power,
        "Dc/0/Temperature": INVALID,
        "Dc/0/MaxChargeCurrent": 35.0,
        "Alarms/GridLost": 0 if grid_on else 2,
        "Alarms/HighTemperature": 0,
        "Alarms/LowBattery": 2 if flows.inverter_off else 0,
        "Alarms/Overload": 0,
        "Alarms/BmsPreAlarm": INVALID,
        **_vebus_bms(ctx),
        "Energy/AcIn1ToAcOut": round(state.grid_import_kwh * 0.8, 2),
        "Energy/AcIn1ToInverter": round(state.grid_import_kwh * 0.2, 2),
        "Energy/InverterToAcOut": round(state.discharged_kwh * 0.9, 2),
        "Energy/InverterToAcIn1": round(state.grid_export_kwh, 2),
        "Devices/0/SerialNumber": "HQ2252UPUGD",
        "Devices/0/UpTime": round(state.t - ctx.started) + 6_687_900,
    }


def _vebus_bms(ctx: Context) -> dict[str, Any]:
    """What the inverter/charger gets from a BMS; nothing with only a shunt."""
    cfg, flows = ctx.config, ctx.flows
    if not monitor(cfg).bms:
        keys = ("Alarms/BmsConnectionLost", "Bms/AllowToCharge", "Bms/AllowToDischarge")
        limits = (
            "MaxChargeVoltage",
            "MaxChargeCurrent",
            "MaxDischargeCurrent",
            "BatteryLowVoltage",
        )
        return dict.fromkeys(keys + tuple(f"BatteryOperationalLimits/{k}" for k in limits), INVALID)
    return {
        "Alarms/BmsConnectionLost": 0 if ctx.battery_present else 2,
        "Bms/AllowToCharge": int(flows.ccl > 0),
        "Bms/AllowToDischarge": int(flows.dcl > 0),
        "BatteryOperationalLimits/MaxChargeVoltage": round(ctx.physics.charge_voltage, 1),
        "BatteryOperationalLimits/MaxChargeCurrent": round(flows.ccl, 1),
        "BatteryOperationalLimits/MaxDischargeCurrent": round(flows.dcl, 1),
        "BatteryOperationalLimits/BatteryLowVoltage": round(
            cfg.low_voltage_per_cell * cfg.cells, 1
        ),
    }


def solarcharger(ctx: Context, r: Reading) -> dict[str, Any]:
    flows, state = ctx.flows, ctx.state
    producing = r.pv_power > 0
    if not producing:
        charger_state = 0
    elif state.soc >= 100.0:  # noqa: PLR2004
        charger_state = 5
    elif state.soc >= 95.0:  # noqa: PLR2004
        charger_state = 4
    else:
        charger_state = 3
    throttled = flows.pv_w < flows.pv_available_w - 1.0
    return {
        "ProductName": SOLAR_PRODUCT,
        "ProductId": 41059,
        "DeviceInstance": SOLAR_INSTANCE,
        "CustomName": "Roof",
        "FirmwareVersion": 1633,
        "Mgmt/Connection": "VE.Direct",
        "Connected": 1,
        "Mode": 1,
        "State": charger_state,
        "ErrorCode": 0,
        "MppOperationMode": (1 if throttled else 2) if producing else 0,
        "Yield/Power": r.pv_power,
        "Yield/User": round(state.pv_total_kwh, 2),
        "Pv/V": r.pv_voltage,
        "Dc/0/Voltage": round(r.voltage + 0.05, 2),
        "Dc/0/Current": round(r.pv_power / r.voltage, 1),
        "History/Daily/0/Yield": round(state.pv_today_kwh, 2),
        "History/Daily/1/Yield": round(state.pv_yesterday_kwh, 2),
    }


def platform(ctx: Context) -> dict[str, Any]:
    state, flows = ctx.state, ctx.flows
    elapsed = max(0.0, state.t - ctx.started)
    statistics = [
        {
            "ifname": "can0",
            "linkinfo": {
                "info_data": {
                    "state": "ERROR-ACTIVE",
                    "berr_counter": {"tx": 0, "rx": 0},
                    "bittiming": {"bitrate": 500000, "sample_point": "0.875"},
                },
                "info_xstats": {"bus_off": 0, "error_passive": 0, "error_warning": 0},
            },
            "stats64": {
                "rx": {
                    "packets": 26_137_134 + round(elapsed * 25),
                    "bytes": 177_359_122 + round(elapsed * 200),
                    "errors": 0,
                    "dropped": 0,
                    "over_errors": 0,
                },
                "tx": {
                    "packets": 7_467_428 + round(elapsed * 7),
                    "bytes": 59_739_424 + round(elapsed * 56),
                    "errors": 649,
                    "dropped": 0,
                },
            },
        }
    ]
    alarms = 0 if flows.grid_on else 1
    values: dict[str, Any] = {
        "Device/Model": "Cerbo GX",
        "Device/HQSerialNumber": "HQ2308C9WMH",
        "Device/UniqueId": ctx.config.portal_id,
        "Device/ProductId": "C00A",
        "Device/Time": round(state.t),
        "Firmware/Installed/Version": FIRMWARE,
        "Firmware/Installed/Build": FIRMWARE_BUILD,
        "Firmware/Online/AvailableVersion": "v3.70~50",
        "Firmware/State": 1000,
        "Firmware/Progress": INVALID,
        "Network/Wifi/State": "ready",
        "Network/Wifi/SignalStrength": 70,
        "CanBus/Interface/can0/Statistics": json.dumps(statistics),
        "Notifications/NumberOfNotifications": alarms,
        "Notifications/NumberOfActiveNotifications": alarms,
        "Notifications/NumberOfActiveAlarms": alarms,
        "Notifications/NumberOfActiveWarnings": 0,
        "Notifications/NumberOfUnAcknowledgedAlarms": alarms,
        "Notifications/Alarm": bool(alarms),
        "Notifications/Alert": False,
    }
    if alarms:
        values |= {
            "Notifications/0/DateTime": round(state.t),
            "Notifications/0/Description": "Grid lost",
            "Notifications/0/DeviceName": VEBUS_NAME,
            "Notifications/0/Service": VEBUS,
            "Notifications/0/Type": 1,
            "Notifications/0/AlarmValue": 2,
            "Notifications/0/Trigger": "/Alarms/GridLost",
            "Notifications/0/Active": True,
            "Notifications/0/Acknowledged": False,
        }
    return values


def temperature_room(ctx: Context) -> dict[str, Any]:
    temp = round(
        ctx.flows.ambient_c + 0.1 * gauss(ctx.physics.seed, S_READ_T, int(ctx.state.t) + 7), 2
    )
    return {
        "DeviceInstance": 27,
        "ProductId": 41314,
        "ProductName": "Generic Temperature Input",
        "CustomName": "Battery room",
        "Mgmt/Connection": "Temperature input 4",
        "Temperature": temp,
        "Status": 0,
        "TemperatureType": 3,
        "Offset": 0.0,
        "Scale": 1.0,
        "RawValue": round((temp + 273.15) / 100.0, 3),
        "RawUnit": "V",
        "FilterLength": 10,
        "Connected": 1,
    }


def temperature_outdoor() -> dict[str, Any]:
    # an open-circuit sensor: the driver publishes NaN, which the API serialises as bare NaN
    return {
        "DeviceInstance": 26,
        "ProductId": 41314,
        "ProductName": "Generic Temperature Input",
        "CustomName": "Outdoor",
        "Mgmt/Connection": "Temperature input 3",
        "Temperature": math.nan,
        "Status": 1,
        "TemperatureType": 4,
        "Offset": 0.0,
        "Scale": 1.0,
        "RawValue": math.nan,
        "RawUnit": "V",
        "FilterLength": 10,
        "Connected": 1,
    }


def logger(ctx: Context) -> dict[str, Any]:
    return {
        "Mgmt/ProcessName": "vrmlogger",
        "Vrm/TimeLastContact": round(ctx.last_contact),
        "Vrm/ConnectionError": 0 if ctx.upload_ok else 1,
        "Vrm/ConnectionErrorMessage": "" if ctx.upload_ok else "Could not connect to VRM",
        "Buffer/Count": ctx.backlog,
        "Buffer/FreeDiskSpace": 4_243_677_184,
        "Buffer/ErrorState": 0,
    }


def hub4() -> dict[str, Any]:
    return {
        "DeviceInstance": 0,
        "ProductName": "ESS",
        "MaxChargePower": -1,
        "MaxDischargePower": -1,
        "Overrides/Setpoint": INVALID,
        "Overrides/ForceCharge": 0,
        "Overrides/FeedInExcess": 0,
        "Alarms/NoGridMeter": 0,
    }


def settings_items(config: SimConfig) -> dict[str, dict[str, Any]]:
    """The /settings shape: leading slash, Value/Text and optional Min/Max/Default."""
    who = monitor(config)
    device = who.service.rsplit(".", 1)[1]
    rows = (
        *_SETTINGS,
        (
            f"/Settings/Devices/{device}/ClassAndVrmInstance",
            f"battery:{who.instance}",
            None,
            None,
            None,
        ),
        (MIN_SOC_SETTING, float(config.min_soc), 0.0, 100.0, 10.0),
    )
    items: dict[str, dict[str, Any]] = {}
    for path, value, low, high, default in rows:
        item: dict[str, Any] = {"Value": value, "Text": str(value)}
        if low is not None:
            item["Min"] = low
            item["Max"] = high
        if default is not None:
            item["Default"] = default
        items[path] = item
    return items


def settings_values(config: SimConfig) -> dict[str, Any]:
    return {path[1:]: item["Value"] for path, item in settings_items(config).items()}


def build_all(ctx: Context) -> dict[str, dict[str, Any]]:
    """Every service the Cerbo publishes at this moment, as flat dicts."""
    r = read(ctx)
    services: dict[str, dict[str, Any]] = {
        SYSTEM: system(ctx, r),
        VEBUS: vebus(ctx, r),
        SOLAR: solarcharger(ctx, r),
        PLATFORM: platform(ctx),
        SETTINGS: settings_values(ctx.config),
        LOGGER: logger(ctx),
        HUB4: hub4(),
        TEMP_ROOM: temperature_room(ctx),
        TEMP_OUTDOOR: temperature_outdoor(),
    }
    if ctx.battery_present:
        services[monitor(ctx.config).service] = battery(ctx, r)
    for name in MANAGEMENT:
        services[name] = {"Mgmt/ProcessName": name.rsplit(".", 1)[1], "Connected": 1}
    return services
