"""Client for the Cerbo GX local "DBus HTTP API" (EnergyCitizen/ai_victron_dbus_api, port 8088).

Written like a standalone library: nothing here imports Home Assistant, the caller injects the
aiohttp session. Only `GET /health`, `GET /services` and `GET /value?service=<svc>&path=/` are
ever sent. The server is single-threaded and can hang for 25 s on one D-Bus call, so the client
keeps one request in flight and gives up after a 10 s timeout.

Its JSON is not strict: it holds `NaN`/`Infinity`, `[]` for an invalid value and JSON inside
strings. Bodies are decoded with the standard library and every value is checked, so a wrong
type becomes None and nothing but a `CerboError` ever leaves this module.

`CerboPoller` adds the tiered cadence: the system and active battery roots every fast tick, at
most one slower root (inverter, BMS, platform, temperature) per tick, and re-discovery.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final, Self

import aiohttp
from yarl import URL

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT: Final = 8088
DEFAULT_TIMEOUT: Final = 10.0  # below the server's 25 s D-Bus timeout
MAX_BODY_BYTES: Final = 4 * 1024 * 1024  # a real system root is about 50 kB
PAYLOAD_KEEP_CHARS: Final = 4096  # raw text kept per request for diagnostics

SYSTEM_SERVICE: Final = "com.victronenergy.system"
PLATFORM_SERVICE: Final = "com.victronenergy.platform"
VEBUS_PREFIX: Final = "com.victronenergy.vebus."
TEMPERATURE_PREFIX: Final = "com.victronenergy.temperature."
BATTERY_PREFIX: Final = "com.victronenergy.battery."
MAX_TEMPERATURE_SERVICES: Final = 8  # each costs one request a minute on a single-threaded server
MAX_INT: Final = 2**64  # D-Bus integers are at most 64 bits; anything larger is garbage
MAX_SERVICE_NAME: Final = 255  # D-Bus limit on a bus name
MAX_BATTERY_CANDIDATES: Final = 4  # roots read to match ActiveBatteryService by DeviceInstance

# Cadence of the slower tiers, in seconds; the fast tier follows the caller's interval.
VEBUS_INTERVAL: Final = 30.0
SLOW_INTERVAL: Final = 60.0  # platform, temperature services, a BMS other than the battery
REDISCOVERY_INTERVAL: Final = 300.0
REDISCOVERY_MIN_TICKS: Final = 3
REDISCOVERY_MIN_GAP: Final = 60.0  # a vanished service triggers discovery, but not every tick
MISSES_BEFORE_DROPPED: Final = 3  # a root keeps its last good reading through two misses
MAX_BACKOFF: Final = 600.0  # a slow root that times out is retried at most this late

_SERVICE_NAME = re.compile(r"com\.victronenergy\.[A-Za-z0-9_]+(?:\.[A-Za-z0-9_-]+)*")
_PORTAL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CAN_STATISTICS = re.compile(r"CanBus/Interface/([A-Za-z0-9_]+)/Statistics")

# Victron's enum meanings, as snake_case option keys (dbus_api.md §8).
SYSTEM_STATES: Final[Mapping[int, str]] = {
    0: "off",
    1: "low_power",
    2: "vebus_fault",
    3: "bulk",
    4: "absorption",
    5: "float",
    6: "storage",
    7: "equalize",
    8: "passthru",
    9: "inverting",
    10: "assisting",
    244: "battery_sustain",
    252: "external_control",
    256: "discharging",
    257: "sustain",
    258: "recharge",
    259: "scheduled_recharge",
}
BATTERY_FLOW_STATES: Final[Mapping[int, str]] = {0: "idle", 1: "charging", 2: "discharging"}
ACTIVE_INPUT_SOURCES: Final[Mapping[int, str]] = {
    0: "not_available",
    1: "grid",
    2: "generator",
    3: "shore",
    240: "inverting",
}
VEBUS_MODES: Final[Mapping[int, str]] = {
    1: "charger_only",
    2: "inverter_only",
    3: "on",
    4: "off",
}
VEBUS_STATES: Final[Mapping[int, str]] = {
    0: "off",
    1: "low_power",
    2: "fault",
    3: "bulk",
    4: "absorption",
    5: "float",
    6: "storage",
    7: "equalize",
    8: "passthru",
    9: "inverting",
    10: "power_assist",
    11: "power_supply",
    252: "external_control",
}
VEBUS_CHARGE_STATES: Final[Mapping[int, str]] = {
    0: "initialising",
    1: "bulk",
    2: "absorption",
    3: "float",
    4: "storage",
    5: "absorb_repeat",
    6: "forced_absorb",
    7: "equalise",
    8: "bulk_stopped",
    9: "unknown",
}
BMS_STATES: Final[Mapping[int, str]] = {
    **dict.fromkeys(range(9), "initialising"),
    9: "running",
    10: "error",
    12: "shutdown",
    13: "slave_updating",
    14: "standby",
    15: "going_to_run",
    16: "pre_charging",
    17: "contactor_check",
}
TEMPERATURE_STATUSES: Final[Mapping[int, str]] = {
    0: "ok",
    1: "open_circuit",
    2: "short_circuited",
    3: "reverse_polarity",
    4: "unknown",
}
TEMPERATURE_TYPES: Final[Mapping[int, str]] = {
    0: "battery",
    1: "fridge",
    2: "generic",
    3: "room",
    4: "outdoor",
    5: "water_heater",
    6: "freezer",
}
ALARM_LEVELS: Final[Mapping[int, str]] = {0: "ok", 1: "warning", 2: "alarm"}


# The cause of a failure in plain words, by kind; what the health entities and the log show.
ERROR_REASONS: Final[Mapping[str, str]] = {
    "timeout": "timeout",
    "refused": "connection refused",
    "unknown_host": "unknown host name",
    "connection": "cannot connect",
    "response": "unparsable answer",
    "no_value": "no value",
    "no_services": "D-Bus not answering",
    "wrong_device": "a different GX",
}


class CerboError(Exception):
    """Any failure talking to the Cerbo's local API."""

    default_kind: str = "error"

    def __init__(self, message: str, *, kind: str | None = None, reason: str | None = None) -> None:
        """Keep a short machine-readable kind and the cause in plain words next to the message."""
        super().__init__(message)
        self.kind = kind or self.default_kind
        self.reason = reason or ERROR_REASONS.get(self.kind, "error")


class CerboConnectionError(CerboError):
    """The server could not be reached: refused, reset, no route or timed out."""

    default_kind = "connection"


class CerboTimeoutError(CerboConnectionError):
    """The server did not answer within the timeout (it hangs on a stuck D-Bus service)."""

    default_kind = "timeout"


class CerboResponseError(CerboError):
    """The server answered with something unusable: HTML, malformed JSON, a wrong shape."""

    default_kind = "response"


# --- untrusted value helpers ---------------------------------------------------------------


def _clean(value: Any) -> Any:
    """Map non-finite numbers and `[]` (Victron's "invalid") to None, at every depth."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_clean(item) for item in value] if value else None
    if isinstance(value, dict):
        return {str(key): _clean(item) for key, item in value.items()}
    return value


def _num(value: Any, digits: int) -> float | None:
    """Return a finite number rounded to `digits` (float32 noise off), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    if not math.isfinite(number):
        return None
    return round(number, digits) + 0.0  # + 0.0 turns -0.0 into 0.0


def _int(value: Any) -> int | None:
    """Return an integer; a float is accepted only when it is whole."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and abs(value) <= MAX_INT:
        return value
    return None


def _str(value: Any) -> str | None:
    """Return a non-empty stripped string, else None."""
    if isinstance(value, str) and (text := value.strip()):
        return text
    return None


def _flag(value: Any) -> bool | None:
    """Return a boolean from a bool or a 0/1 number (both encodings occur)."""
    if isinstance(value, bool):
        return value
    number = _int(value)
    if number in (0, 1):
        return bool(number)
    return None


def _level(value: Any) -> int | None:
    """Return an alarm level 0 (ok), 1 (warning) or 2 (alarm)."""
    number = _int(value)
    return number if number in ALARM_LEVELS else None


def _enum(value: Any, names: Mapping[int, str]) -> str | None:
    """Return the option key of an enum code, None when unknown."""
    code = _int(value)
    return None if code is None else names.get(code)


def _service(value: Any) -> str | None:
    """Return a syntactically valid Victron D-Bus service name, else None."""
    text = _str(value)
    if text is None or len(text) > MAX_SERVICE_NAME or not _SERVICE_NAME.fullmatch(text):
        return None
    return text


def _embedded_json(value: Any) -> Any:
    """Decode a path whose value is JSON inside a string; None when it is not."""
    if isinstance(value, list | dict):
        return value
    if not isinstance(value, str):
        return None
    try:
        return _clean(json.loads(value))
    except (ValueError, RecursionError):
        return None


def _sum(values: Sequence[float | None], digits: int) -> float | None:
    """Sum the valid values (phases); None when none is valid."""
    present = [value for value in values if value is not None]
    return round(sum(present), digits) + 0.0 if present else None


def _prefixed(
    root: Mapping[str, Any], prefix: str, convert: Callable[[Any], Any]
) -> dict[str, Any]:
    """Collect `prefix<name>` keys whose converted value is valid, by name."""
    found: dict[str, Any] = {}
    for key, raw in root.items():
        if key.startswith(prefix) and (value := convert(raw)) is not None:
            found[key.removeprefix(prefix)] = value
    return dict(sorted(found.items()))


def _phases(root: Mapping[str, Any], pattern: str, digits: int) -> list[float | None]:
    """Read the L1..L3 values of a per-phase path pattern such as `Ac/Grid/{}/Power`."""
    return [_num(root.get(pattern.format(phase)), digits) for phase in ("L1", "L2", "L3")]


def _describe_body(body: bytes) -> str:
    """Say what an unusable body looked like, without echoing it."""
    head = body.lstrip()[:64].lower()
    if not head:
        return "an empty body"
    if head.startswith((b"<!doctype", b"<html", b"<")):
        return "an HTML page"
    return "malformed JSON"


def _decode(body: bytes, what: str) -> Any:
    """Decode JSON with stdlib semantics (NaN and Infinity are accepted, then cleaned)."""
    try:
        return _clean(json.loads(body.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise CerboResponseError(f"{what} answered with {_describe_body(body)}") from err


# --- readings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CerboServerInfo:
    """What `/health` says; v1/v2 servers send no version."""

    version: str | None
    service: str | None = None
    status: str | None = None
    started_at: str | None = None
    uptime_seconds: int | None = None


@dataclass(frozen=True)
class CerboDiscovery:
    """The services that make up one installation, found from the `system` root."""

    portal_id: str  # system /Serial == the VRM portal ID
    name: str | None  # the active battery monitor's name as the GX lists it
    model: str | None  # platform /Device/Model, e.g. "Cerbo GX"
    firmware: str | None  # platform /Firmware/Installed/Version, e.g. "v3.70~33"
    battery_service: str | None
    battery_instance: int | None  # DeviceInstance, also VRM's battery monitor instance
    vebus_service: str | None
    bms_service: str | None  # only when it differs from battery_service
    temperature_services: tuple[str, ...]
    platform_service: str | None = None
    services: tuple[str, ...] = ()


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


@dataclass(frozen=True)
class CerboVebus:
    """A `com.victronenergy.vebus.*` root: MultiPlus / Quattro."""

    service: str
    instance: int | None = None
    product_name: str | None = None
    custom_name: str | None = None
    mode: int | None = None  # VEBUS_MODES (switch position)
    state: int | None = None  # VEBUS_STATES
    charge_state: int | None = None  # VEBUS_CHARGE_STATES
    error: int | None = None  # VebusError, 0 = none
    soc: float | None = None
    ac_in_voltage: float | None = None  # L1, V
    ac_in_current: float | None = None  # L1, A
    ac_in_frequency: float | None = None  # L1, Hz
    ac_in_power: float | None = None  # W, all phases
    ac_in_connected: bool | None = None
    active_input: int | None = None  # 0 AC in 1, 1 AC in 2, 240 disconnected
    ac_in_current_limit: float | None = None  # A
    ac_out_voltage: float | None = None  # L1, V
    ac_out_current: float | None = None  # L1, A
    ac_out_frequency: float | None = None  # L1, Hz
    ac_out_power: float | None = None  # W, all phases
    nominal_inverter_power: float | None = None  # W
    dc_voltage: float | None = None
    dc_current: float | None = None
    dc_power: float | None = None
    dc_temperature: float | None = None
    alarms: dict[str, int] = field(default_factory=dict)  # "GridLost", "L1/Overload" -> 0/1/2
    energy: dict[str, float] = field(default_factory=dict)  # "AcIn1ToAcOut" -> kWh

    @property
    def name(self) -> str | None:
        """The name the user gave the inverter, else its product name."""
        return self.custom_name or self.product_name

    @property
    def mode_name(self) -> str | None:
        """Option key of the switch position."""
        return _enum(self.mode, VEBUS_MODES)

    @property
    def state_name(self) -> str | None:
        """Option key of the inverter/charger state."""
        return _enum(self.state, VEBUS_STATES)

    @property
    def charge_state_name(self) -> str | None:
        """Option key of the VE.Bus charge state."""
        return _enum(self.charge_state, VEBUS_CHARGE_STATES)

    @classmethod
    def from_root(cls, service: str, root: Mapping[str, Any]) -> Self:
        """Parse a flat vebus root dict."""
        ac_out_total = _num(root.get("Ac/Out/P"), 0)
        return cls(
            service=service,
            instance=_int(root.get("DeviceInstance")),
            product_name=_str(root.get("ProductName")),
            custom_name=_str(root.get("CustomName")),
            mode=_int(root.get("Mode")),
            state=_int(root.get("State")),
            charge_state=_int(root.get("VebusChargeState")),
            error=_int(root.get("VebusError")),
            soc=_num(root.get("Soc"), 1),
            ac_in_voltage=_num(root.get("Ac/ActiveIn/L1/V"), 1),
            ac_in_current=_num(root.get("Ac/ActiveIn/L1/I"), 1),
            ac_in_frequency=_num(root.get("Ac/ActiveIn/L1/F"), 2),
            ac_in_power=_sum(_phases(root, "Ac/ActiveIn/{}/P", 0), 0),
            ac_in_connected=_flag(root.get("Ac/ActiveIn/Connected")),
            active_input=_int(root.get("Ac/ActiveIn/ActiveInput")),
            ac_in_current_limit=_num(root.get("Ac/In/1/CurrentLimit"), 1),
            ac_out_voltage=_num(root.get("Ac/Out/L1/V"), 1),
            ac_out_current=_num(root.get("Ac/Out/L1/I"), 1),
            ac_out_frequency=_num(root.get("Ac/Out/L1/F"), 2),
            ac_out_power=(
                ac_out_total
                if ac_out_total is not None
                else _sum(_phases(root, "Ac/Out/{}/P", 0), 0)
            ),
            nominal_inverter_power=_num(root.get("Ac/Out/NominalInverterPower"), 0),
            dc_voltage=_num(root.get("Dc/0/Voltage"), 2),
            dc_current=_num(root.get("Dc/0/Current"), 1),
            dc_power=_num(root.get("Dc/0/Power"), 0),
            dc_temperature=_num(root.get("Dc/0/Temperature"), 1),
            alarms=_prefixed(root, "Alarms/", _level),
            energy=_prefixed(root, "Energy/", lambda raw: _num(raw, 2)),
        )


@dataclass(frozen=True)
class CerboCanStats:
    """One CAN interface, from platform `CanBus/Interface/<if>/Statistics` (JSON in a string)."""

    interface: str
    state: str | None = None  # "ERROR-ACTIVE", "ERROR-PASSIVE", "BUS-OFF", ...
    bitrate: int | None = None
    tx_error_counter: int | None = None
    rx_error_counter: int | None = None
    bus_off: int | None = None
    error_passive: int | None = None
    error_warning: int | None = None
    rx_packets: int | None = None
    tx_packets: int | None = None
    rx_errors: int | None = None
    tx_errors: int | None = None
    rx_dropped: int | None = None
    tx_dropped: int | None = None
    rx_over_errors: int | None = None

    @classmethod
    def from_statistics(cls, interface: str, raw: Any) -> Self | None:
        """Parse the decoded `ip -details -statistics -json link` list; None when unusable."""
        decoded = _embedded_json(raw)
        entry = decoded[0] if isinstance(decoded, list) and decoded else decoded
        if not isinstance(entry, dict):
            return None

        def dig(*keys: str) -> Any:
            node: Any = entry
            for key in keys:
                node = node.get(key) if isinstance(node, dict) else None
            return node

        return cls(
            interface=interface,
            state=_str(dig("linkinfo", "info_data", "state")),
            bitrate=_int(dig("linkinfo", "info_data", "bittiming", "bitrate")),
            tx_error_counter=_int(dig("linkinfo", "info_data", "berr_counter", "tx")),
            rx_error_counter=_int(dig("linkinfo", "info_data", "berr_counter", "rx")),
            bus_off=_int(dig("linkinfo", "info_xstats", "bus_off")),
            error_passive=_int(dig("linkinfo", "info_xstats", "error_passive")),
            error_warning=_int(dig("linkinfo", "info_xstats", "error_warning")),
            rx_packets=_int(dig("stats64", "rx", "packets")),
            tx_packets=_int(dig("stats64", "tx", "packets")),
            rx_errors=_int(dig("stats64", "rx", "errors")),
            tx_errors=_int(dig("stats64", "tx", "errors")),
            rx_dropped=_int(dig("stats64", "rx", "dropped")),
            tx_dropped=_int(dig("stats64", "tx", "dropped")),
            rx_over_errors=_int(dig("stats64", "rx", "over_errors")),
        )


@dataclass(frozen=True)
class CerboPlatform:
    """The `com.victronenergy.platform` root: the GX device itself."""

    model: str | None = None
    hq_serial: str | None = None
    unique_id: str | None = None
    firmware_version: str | None = None
    firmware_build: str | None = None
    firmware_available: str | None = None
    wifi_signal: int | None = None  # %
    data_partition_free: int | None = None  # bytes
    notifications_active: int | None = None
    active_alarms: int | None = None
    active_warnings: int | None = None
    unacknowledged_alarms: int | None = None
    alarm: bool | None = None
    can_interfaces: tuple[CerboCanStats, ...] = ()

    @classmethod
    def from_root(cls, root: Mapping[str, Any]) -> Self:
        """Parse the flat platform root dict."""
        can = [
            stats
            for key in sorted(root)
            if (match := _CAN_STATISTICS.fullmatch(key))
            and (stats := CerboCanStats.from_statistics(match.group(1), root[key]))
        ]
        return cls(
            model=_str(root.get("Device/Model")),
            hq_serial=_str(root.get("Device/HQSerialNumber")),
            unique_id=_str(root.get("Device/UniqueId")),
            firmware_version=_str(root.get("Firmware/Installed/Version")),
            firmware_build=_str(root.get("Firmware/Installed/Build")),
            firmware_available=_str(root.get("Firmware/Online/AvailableVersion")),
            wifi_signal=_int(root.get("Network/Wifi/SignalStrength")),
            data_partition_free=_int(root.get("ModificationChecks/DataPartitionFreeSpace")),
            notifications_active=_int(root.get("Notifications/NumberOfActiveNotifications")),
            active_alarms=_int(root.get("Notifications/NumberOfActiveAlarms")),
            active_warnings=_int(root.get("Notifications/NumberOfActiveWarnings")),
            unacknowledged_alarms=_int(root.get("Notifications/NumberOfUnAcknowledgedAlarms")),
            alarm=_flag(root.get("Notifications/Alarm")),
            can_interfaces=tuple(can),
        )


@dataclass(frozen=True)
class CerboTemperature:
    """A `com.victronenergy.temperature.*` root."""

    service: str
    instance: int | None = None
    product_name: str | None = None
    custom_name: str | None = None
    temperature: float | None = None  # °C
    status: int | None = None  # TEMPERATURE_STATUSES
    temperature_type: int | None = None  # TEMPERATURE_TYPES
    humidity: float | None = None  # %
    pressure: float | None = None  # hPa
    battery_voltage: float | None = None  # V, wireless sensors
    connected: bool | None = None

    @property
    def name(self) -> str | None:
        """The name the user gave the sensor, else its product name."""
        return self.custom_name or self.product_name

    @property
    def status_name(self) -> str | None:
        """Option key of the sensor status."""
        return _enum(self.status, TEMPERATURE_STATUSES)

    @property
    def type_name(self) -> str | None:
        """Option key of what the sensor measures."""
        return _enum(self.temperature_type, TEMPERATURE_TYPES)

    @classmethod
    def from_root(cls, service: str, root: Mapping[str, Any]) -> Self:
        """Parse a flat temperature root dict."""
        return cls(
            service=service,
            instance=_int(root.get("DeviceInstance")),
            product_name=_str(root.get("ProductName")),
            custom_name=_str(root.get("CustomName")),
            temperature=_num(root.get("Temperature"), 1),
            status=_int(root.get("Status")),
            temperature_type=_int(root.get("TemperatureType")),
            humidity=_num(root.get("Humidity"), 1),
            pressure=_num(root.get("Pressure"), 1),
            battery_voltage=_num(root.get("BatteryVoltage"), 2),
            connected=_flag(root.get("Connected")),
        )


@dataclass(frozen=True)
class CerboHealth:
    """How the local source is doing; `last_success` is left out of comparisons."""

    reachable: bool = False
    consecutive_failures: int = 0
    server_version: str | None = None
    last_error_kind: str | None = None  # "timeout", "refused", "http_status", "no_value", ...
    last_error: str | None = None
    last_error_reason: str | None = None  # the cause in plain words: "timeout", "HTTP 500", ...
    last_success: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CerboMonitor:
    """The battery monitor whose values the poller serves, and whether it still answers.

    The monitor is the battery service the GX used when the poller was set up. When it drops
    off the bus the GX falls back to another device (often the inverter's own estimate); its
    values must not pass for the monitor's, so the poller keeps asking the monitor itself.
    `following_system` means the values follow whatever the GX uses as its battery instead:
    chosen by the user, or because the installation had no battery monitor at setup.
    """

    service: str | None
    product_name: str | None = None
    custom_name: str | None = None
    present: bool = False  # its last good reading is within the last three ticks
    following_system: bool = False
    missing_since: datetime | None = field(default=None, compare=False)
    read_at: datetime | None = field(default=None, compare=False)

    @property
    def name(self) -> str | None:
        """How the user knows it: its custom name and product name, never a serial."""
        if self.custom_name and self.product_name and self.custom_name != self.product_name:
            return f"{self.custom_name} ({self.product_name})"
        return self.custom_name or self.product_name


@dataclass(frozen=True)
class CerboSnapshot:
    """Everything one poll cycle knows; slower tiers carry their last good reading."""

    discovery: CerboDiscovery
    system: CerboSystem
    battery: CerboBattery | None
    bms: CerboBattery | None
    vebus: CerboVebus | None
    platform: CerboPlatform | None
    temperatures: tuple[CerboTemperature, ...]
    health: CerboHealth
    monitor: CerboMonitor = field(default_factory=lambda: CerboMonitor(service=None))

    @property
    def system_serves_monitor(self) -> bool:
        """Whether the GX's system battery values are the monitor's (else another device's)."""
        return self.monitor.following_system or (
            self.monitor.service is not None and self.system.battery_service == self.monitor.service
        )

    def battery_value(self, name: str) -> Any:
        """A value of the monitor's own root, else of the separate BMS root."""
        for root in (self.battery, self.bms):
            if root is not None and (value := getattr(root, name)) is not None:
                return value
        return None

    def monitor_value(self, name: str) -> Any:
        """The GX's system value while it follows the monitor, else the monitor's own value."""
        if self.system_serves_monitor and (value := getattr(self.system, name)) is not None:
            return value
        return self.battery_value(name)

    @property
    def monitor_state_name(self) -> str | None:
        """Idle, charging or discharging: the GX's verdict while it follows the monitor.

        Otherwise the sign of the monitor's own current, as the GX derives its state.
        """
        if self.system_serves_monitor:
            return self.system.battery_state_name
        current = self.battery_value("current")
        if current is None:
            return None
        return BATTERY_FLOW_STATES[1 if current > 0 else 2 if current < 0 else 0]


@dataclass(frozen=True)
class CerboRawPayload:
    """The last answer to one request, trimmed, for diagnostics."""

    status: int
    size: int
    text: str


# --- discovery -------------------------------------------------------------------------------


def backoff_delay(period: float, misses: int) -> float:
    """Seconds until a hung root is asked again: its period doubled per miss, at most MAX_BACKOFF.

    The exponent is capped too: a root hung for a week has over 1024 misses, and 2.0**1024
    overflows.
    """
    return min(period * (1 << min(misses, 16)), MAX_BACKOFF)


def _class_and_instance(value: Any) -> tuple[str, int] | None:
    """Split ActiveBatteryService `"com.victronenergy.battery/512"` into class and instance."""
    text = _str(value)
    if text is None:
        return None
    service_class, _, instance = text.rpartition("/")
    # ASCII digits only, and few: "²".isdigit() is true but int("²") raises.
    if not _service(service_class) or not re.fullmatch(r"[0-9]{1,9}", instance):
        return None
    return service_class, int(instance)


def _tracked_batteries(system_root: Mapping[str, Any]) -> list[tuple[str, int | None, str | None]]:
    """The system `Batteries` list as (service, instance, name), skipping malformed entries."""
    entries = system_root.get("Batteries")
    if not isinstance(entries, list):
        return []
    return [
        (service, _int(entry.get("instance")), _str(entry.get("name")))
        for entry in entries
        if isinstance(entry, dict) and (service := _service(entry.get("id")))
    ]


def _battery_from_system(
    system_root: Mapping[str, Any], services: Sequence[str]
) -> tuple[str | None, int | None]:
    """Find the active battery monitor without extra requests."""
    wanted = _class_and_instance(system_root.get("ActiveBatteryService"))
    tracked = _tracked_batteries(system_root)
    if service := _service(system_root.get("Dc/Battery/BatteryService")):
        instance = next((inst for svc, inst, _ in tracked if svc == service), None)
        if instance is None and wanted and service.startswith(f"{wanted[0]}."):
            instance = wanted[1]
        return service, instance
    if wanted:
        service_class, instance = wanted
        for service, tracked_instance, _ in tracked:
            if (
                tracked_instance == instance
                and service.startswith(f"{service_class}.")
                and service in services
            ):
                return service, instance
    return None, None


def _battery_name(system_root: Mapping[str, Any], service: str | None) -> str | None:
    """The active battery's name from `Batteries`, else from `AvailableBatteryServices`."""
    for tracked, _, name in _tracked_batteries(system_root):
        if tracked == service and name:
            return name
    labels = _embedded_json(system_root.get("AvailableBatteryServices"))
    active = _str(system_root.get("ActiveBatteryService"))
    if isinstance(labels, dict) and active:
        return _str(labels.get(active))
    return None


def build_discovery(
    services: Sequence[str],
    system_root: Mapping[str, Any],
    platform_root: Mapping[str, Any] | None,
    battery: tuple[str | None, int | None],
) -> CerboDiscovery:
    """Assemble the discovery from roots already read; raise when no portal ID is found."""
    platform_root = platform_root or {}
    portal_id = _str(system_root.get("Serial")) or _str(platform_root.get("Device/UniqueId"))
    if portal_id is None or not _PORTAL_ID.fullmatch(portal_id):
        raise CerboResponseError("The system service has no usable portal ID (Serial)")
    battery_service, battery_instance = battery
    vebus = _service(system_root.get("VebusService")) or next(
        (service for service in services if service.startswith(VEBUS_PREFIX)), None
    )
    bms = _service(system_root.get("ActiveBmsService"))
    temperatures = [service for service in services if service.startswith(TEMPERATURE_PREFIX)]
    return CerboDiscovery(
        portal_id=portal_id,
        name=_battery_name(system_root, battery_service),
        model=_str(platform_root.get("Device/Model")),
        firmware=_str(platform_root.get("Firmware/Installed/Version")),
        battery_service=battery_service,
        battery_instance=battery_instance,
        vebus_service=vebus,
        bms_service=bms if bms != battery_service else None,
        temperature_services=tuple(temperatures[:MAX_TEMPERATURE_SERVICES]),
        platform_service=PLATFORM_SERVICE if PLATFORM_SERVICE in services else None,
        services=tuple(services),
    )


# --- client ----------------------------------------------------------------------------------


class CerboClient:
    """Talks to the DBus HTTP API on one Cerbo GX; one request at a time."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Keep the injected session; nothing is sent until a method is awaited."""
        self._session = session
        self.host = host.strip()
        if self.host.startswith("[") and self.host.endswith("]"):
            self.host = self.host[1:-1]  # "[fe80::1]" as typed in a browser
        self.port = port
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._payloads: dict[str, CerboRawPayload] = {}
        self.request_count = 0
        self.bytes_received = 0
        try:
            self._base: URL | None = URL.build(scheme="http", host=self.host, port=port)
        except (TypeError, ValueError):
            self._base = None

    @property
    def last_payloads(self) -> dict[str, CerboRawPayload]:
        """The last answer per request (`/health`, `/services` or a service name), trimmed."""
        return dict(self._payloads)

    async def _get(self, path: str, key: str, params: Mapping[str, str] | None = None) -> bytes:
        """Send one GET; return the body of a 200, raise on any other status."""
        status, body = await self._fetch(path, key, params)
        if status != 200:  # noqa: PLR2004
            raise CerboResponseError(f"{path} answered HTTP {status}")
        return body

    async def _fetch(
        self, path: str, key: str, params: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Send one GET under the lock and the timeout; return status and body."""
        if self._base is None or not self.host:
            raise CerboConnectionError(f"{self.host!r} is not a valid host name or address")
        url = self._base.with_path(path)
        async with self._lock:
            self.request_count += 1
            try:
                async with asyncio.timeout(self._timeout):
                    async with self._session.get(
                        url, params=params, allow_redirects=False
                    ) as response:
                        status = response.status
                        body = await self._read(response, path)
            except TimeoutError as err:
                raise CerboTimeoutError(f"No answer to {path} within {self._timeout:g} s") from err
            except (aiohttp.ClientError, OSError) as err:
                raise self._connection_error(err) from err
        self.bytes_received += len(body)
        self._payloads[key] = CerboRawPayload(
            status=status,
            size=len(body),
            text=body[:PAYLOAD_KEEP_CHARS].decode("utf-8", errors="replace"),
        )
        return status, body

    def _connection_error(self, err: aiohttp.ClientError | OSError) -> CerboConnectionError:
        """Name the cause: a refused connection, a name that does not resolve, or other."""
        address = f"{self.host}:{self.port}"
        if isinstance(err, aiohttp.ClientConnectorDNSError):
            return CerboConnectionError(f"Cannot resolve {self.host}", kind="unknown_host")
        cause = err.os_error if isinstance(err, aiohttp.ClientConnectorError) else err
        if isinstance(cause, ConnectionRefusedError):
            return CerboConnectionError(f"{address} refused the connection", kind="refused")
        return CerboConnectionError(f"Cannot reach {address}: {type(err).__name__}")

    def no_value_error(self, service: str) -> CerboResponseError:
        """Why a root gave nothing: the HTTP status when it was not 200, else "no value"."""
        name = "The system service" if service == SYSTEM_SERVICE else service
        status = self.last_status(service)
        if status is not None and status != 200:  # noqa: PLR2004
            return CerboResponseError(
                f"{name} answered HTTP {status}", kind="http_status", reason=f"HTTP {status}"
            )
        return CerboResponseError(f"{name} gave no value", kind="no_value")

    def last_status(self, key: str) -> int | None:
        """The HTTP status of the last answer to one request (a path or a service name)."""
        payload = self._payloads.get(key)
        return payload.status if payload else None

    @staticmethod
    async def _read(response: aiohttp.ClientResponse, path: str) -> bytes:
        """Read the body to EOF (HTTP/1.0, no Content-Length), refusing absurd sizes."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(65536):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise CerboResponseError(f"{path} answered with more than {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def health(self) -> CerboServerInfo:
        """Read `/health`, the only endpoint that needs no D-Bus call."""
        payload = _decode(await self._get("/health", "/health"), "/health")
        if not isinstance(payload, dict) or (
            payload.get("success") is not True and payload.get("status") != "healthy"
        ):
            raise CerboResponseError("/health did not report a healthy DBus HTTP API")
        uptime = _int(payload.get("uptime_seconds"))
        return CerboServerInfo(
            version=_str(payload.get("version")),
            service=_str(payload.get("service")),
            status=_str(payload.get("status")),
            started_at=_str(payload.get("started_at")),
            uptime_seconds=uptime if uptime is not None and uptime >= 0 else None,
        )

    async def services(self) -> list[str]:
        """List the Victron D-Bus services; an empty list means D-Bus failed and is an error."""
        payload = _decode(await self._get("/services", "/services"), "/services")
        raw = payload.get("services") if isinstance(payload, dict) else None
        if raw is not None and not isinstance(raw, list):
            raise CerboResponseError("/services did not answer with a list")
        names = sorted({name for item in raw or () if (name := _service(item))})
        if not names:
            # v3.2 answers count 0 with success true when D-Bus fails; a GX always has several
            raise CerboResponseError("/services listed no Victron services", kind="no_services")
        return names

    async def service_root(self, service: str) -> dict[str, Any] | None:
        """Read a whole service as a flat dict; None is "no value" (any non-200, or gone)."""
        status, body = await self._fetch("/value", service, {"service": service, "path": "/"})
        if status != 200:  # noqa: PLR2004
            # 404 (v3.2) and 500 (<= 3.1) both mean unknown, gone or hung; the caller rediscovers
            _LOGGER.debug("%s answered HTTP %s", service, status)
            return None
        payload = _decode(body, f"/value for {service}")
        if not isinstance(payload, dict):
            raise CerboResponseError(f"/value for {service} did not answer with an object")
        value = payload.get("value")
        if payload.get("success") is False or value is None:
            return None
        if not isinstance(value, dict):
            raise CerboResponseError(f"/value for {service} did not answer with a service tree")
        return value

    async def discover(
        self,
        *,
        system_root: Mapping[str, Any] | None = None,
        platform_root: Mapping[str, Any] | None = None,
    ) -> CerboDiscovery:
        """Find the installation's services. Roots the caller already has are not read again."""
        services = await self.services()
        if system_root is None:
            system_root = await self.service_root(SYSTEM_SERVICE)
            if system_root is None:
                raise self.no_value_error(SYSTEM_SERVICE)
        if platform_root is None and PLATFORM_SERVICE in services:
            platform_root = await self.service_root(PLATFORM_SERVICE)
        battery = _battery_from_system(system_root, services)
        if battery[0] is None:
            battery = await self._battery_by_instance(system_root, services)
        return build_discovery(services, system_root, platform_root, battery)

    async def _battery_by_instance(
        self, system_root: Mapping[str, Any], services: Sequence[str]
    ) -> tuple[str | None, int | None]:
        """Match ActiveBatteryService to a listed service by reading DeviceInstance."""
        wanted = _class_and_instance(system_root.get("ActiveBatteryService"))
        if wanted is None:
            return None, None
        service_class, instance = wanted
        candidates = [name for name in services if name.startswith(f"{service_class}.")]
        for candidate in candidates[:MAX_BATTERY_CANDIDATES]:
            root = await self.service_root(candidate)
            if root is not None and _int(root.get("DeviceInstance")) == instance:
                return candidate, instance
        return None, instance


# --- tiered polling --------------------------------------------------------------------------

type _Reading = CerboBattery | CerboVebus | CerboPlatform | CerboTemperature


@dataclass
class _Slot:
    """One service root polled on its own cadence, with its last good reading."""

    role: str  # "battery", "bms", "vebus", "platform" or "temperature"
    service: str
    period: float
    next_due: float = 0.0
    misses: int = 0
    reading: _Reading | None = None
    read_at: datetime | None = None  # wall clock of the last good reading
    missing_since: datetime | None = None  # wall clock of the first miss in a row

    def parse(self, root: Mapping[str, Any]) -> _Reading:
        """Turn the root into the typed reading for this role."""
        if self.role in ("battery", "bms"):
            return CerboBattery.from_root(self.service, root)
        if self.role == "vebus":
            return CerboVebus.from_root(self.service, root)
        if self.role == "platform":
            return CerboPlatform.from_root(root)
        return CerboTemperature.from_root(self.service, root)


def _monotonic() -> float:
    """Read the monotonic clock at call time (so test clocks that patch `time` apply)."""
    return time.monotonic()


def _slow_plan(discovery: CerboDiscovery) -> list[tuple[str, str, float]]:
    """The slower roots in priority order: (role, service, period)."""
    plan: list[tuple[str, str, float]] = []
    if discovery.vebus_service:
        plan.append(("vebus", discovery.vebus_service, VEBUS_INTERVAL))
    if discovery.bms_service:
        plan.append(("bms", discovery.bms_service, SLOW_INTERVAL))
    if discovery.platform_service:
        plan.append(("platform", discovery.platform_service, SLOW_INTERVAL))
    plan.extend(
        ("temperature", service, SLOW_INTERVAL) for service in discovery.temperature_services
    )
    return plan


class CerboPoller:
    """Tiered polling of one Cerbo: fast roots every tick, at most one slow root per tick.

    A tick reads `system` and the active battery (the fast tier), then either one due slower
    root or, every 5 minutes and after a root answered "no value", a re-discovery. The first
    tick after `setup` reads every root once, then the slower roots are staggered over the
    following ticks so they do not pile up. A fast-tier failure raises; a slower root that
    fails keeps its last good reading until it has missed three times.
    """

    def __init__(
        self,
        client: CerboClient,
        *,
        fast_interval: float = 10.0,
        clock: Callable[[], float] | None = None,
        expected_portal_id: str | None = None,
        follow_system_battery: bool = False,
    ) -> None:
        """Nothing is read until `setup` or `poll`."""
        self.client = client
        # The battery monitor found at setup stays the one served, unless the values should
        # follow whatever the GX uses as its battery (chosen, or no monitor at setup).
        self._following = follow_system_battery
        self._monitor_service: str | None = None
        self._monitor_names: tuple[str | None, str | None] = (None, None)  # product, custom
        self._fast_interval = fast_interval
        self._clock = clock or _monotonic
        self._expected_portal_id = expected_portal_id
        self._discovery: CerboDiscovery | None = None
        self._server: CerboServerInfo | None = None
        self._health = CerboHealth()
        self._battery: _Slot | None = None
        self._slots: list[_Slot] = []
        self._prefetched_system: dict[str, Any] | None = None
        self._platform_root: Mapping[str, Any] = {}
        self._polled_once = False
        self._next_discovery = 0.0
        self._last_discovery = 0.0

    @property
    def discovery(self) -> CerboDiscovery | None:
        """The current discovery, None before `setup`."""
        return self._discovery

    @property
    def server(self) -> CerboServerInfo | None:
        """What `/health` said at the last discovery."""
        return self._server

    @property
    def health(self) -> CerboHealth:
        """Live health, also updated by failed ticks."""
        return self._health

    async def setup(self) -> CerboDiscovery:
        """Read `/health`, `system`, `platform` and `/services`, then discover."""
        try:
            server = await self.client.health()
            system_root = await self.client.service_root(SYSTEM_SERVICE)
            if system_root is None:
                raise self.client.no_value_error(SYSTEM_SERVICE)
            platform_root = await self.client.service_root(PLATFORM_SERVICE) or {}
            discovery = await self.client.discover(
                system_root=system_root, platform_root=platform_root
            )
            self._check_portal(discovery.portal_id)
        except CerboError as err:
            self._note_error(err)
            raise
        now = self._clock()
        self._server = server
        self._prefetched_system = system_root
        self._platform_root = platform_root
        self._apply_discovery(discovery, now)
        if platform_root and (slot := self._slot("platform")):
            slot.reading = slot.parse(platform_root)
        self._polled_once = False
        self._health = CerboHealth(
            reachable=True,
            server_version=server.version,
            last_error_kind=self._health.last_error_kind,
            last_error=self._health.last_error,
            last_error_reason=self._health.last_error_reason,
            last_success=datetime.now(UTC),
        )
        return discovery

    async def poll(self) -> CerboSnapshot:
        """Run one tick; raise `CerboError` when the fast tier failed."""
        discovery = self._discovery or await self.setup()
        now = self._clock()
        try:
            system_root = self._prefetched_system or await self.client.service_root(SYSTEM_SERVICE)
            self._prefetched_system = None
            if system_root is None:
                raise self.client.no_value_error(SYSTEM_SERVICE)
            system = CerboSystem.from_root(system_root)
            if system.portal_id is not None:
                self._check_portal(system.portal_id)
            if self._battery is not None:
                await self._poll_fast(self._battery, now)
        except CerboError as err:
            self._note_error(err)
            self._health = replace(
                self._health,
                reachable=False,
                consecutive_failures=self._health.consecutive_failures + 1,
            )
            raise
        if not self._polled_once:
            for slot in self._slots:
                # platform came with setup; after a timeout the server is still stuck on it
                if (slot.role != "platform" or slot.reading is None) and not await self._poll_slow(
                    slot, now
                ):
                    break
            self._stagger(now)
            self._polled_once = True
        elif now >= self._next_discovery - self._fast_interval / 2:
            await self._rediscover(system_root, now)
        elif due := self._due_slot(now):
            await self._poll_slow(due, now)
        self._health = CerboHealth(
            reachable=True,
            server_version=self._server.version if self._server else None,
            last_error_kind=self._health.last_error_kind,
            last_error=self._health.last_error,
            last_error_reason=self._health.last_error_reason,
            last_success=datetime.now(UTC),
        )
        return self._snapshot(self._discovery or discovery, system)

    def _check_portal(self, portal_id: str) -> None:
        """Refuse a GX other than the one this entry belongs to (e.g. after a DHCP change)."""
        expected = self._expected_portal_id or (self._discovery and self._discovery.portal_id)
        # Portal IDs are hex; VRM and the GX may not agree on the letter case.
        if expected and portal_id.lower() != expected.lower():
            raise CerboResponseError(
                "The device at this address is a different GX", kind="wrong_device"
            )

    def _note_error(self, err: CerboError) -> None:
        """Remember the most recent error for the health view."""
        _LOGGER.debug("Cerbo %s: %s (%s)", self.client.host, err, err.kind)
        self._health = replace(
            self._health,
            last_error_kind=err.kind,
            last_error=str(err),
            last_error_reason=err.reason,
        )

    def _slot(self, role: str) -> _Slot | None:
        return next((slot for slot in self._slots if slot.role == role), None)

    def _apply_discovery(self, discovery: CerboDiscovery, now: float) -> None:
        """Adopt a discovery, keeping the state of roots that did not change."""
        if self._discovery is None and not self._following:
            battery = discovery.battery_service
            if battery is not None and battery.startswith(BATTERY_PREFIX):
                self._monitor_service = battery
                self._monitor_names = (None, discovery.name)
            else:
                self._following = True  # nothing to pin: the GX measures the battery itself
        self._discovery = discovery
        self._last_discovery = now
        # At long poll intervals a fixed 300 s would make every tick a discovery tick and
        # starve the slower roots of their one slot; keep discovery to one tick in three.
        self._next_discovery = now + max(
            REDISCOVERY_INTERVAL, REDISCOVERY_MIN_TICKS * self._fast_interval
        )
        battery = discovery.battery_service if self._following else self._monitor_service
        if battery is None:
            self._battery = None
        elif self._battery is None or self._battery.service != battery:
            self._battery = _Slot("battery", battery, self._fast_interval)
        kept = {(slot.role, slot.service): slot for slot in self._slots}
        self._slots = [
            kept.get((role, service)) or _Slot(role, service, period, next_due=now)
            for role, service, period in _slow_plan(discovery)
        ]

    def _stagger(self, now: float) -> None:
        """Spread the slower roots over the next ticks instead of all at once."""
        healthy = [slot for slot in self._slots if slot.misses == 0]  # failed ones keep back-off
        for position, slot in enumerate(healthy, start=1):
            slot.next_due = now + position * self._fast_interval

    def _due_slot(self, now: float) -> _Slot | None:
        """The most overdue slower root; ties go to the earlier (higher priority) one."""
        due = [slot for slot in self._slots if slot.next_due <= now + self._fast_interval / 2]
        return min(due, key=lambda slot: slot.next_due) if due else None

    def _missed(self, slot: _Slot, now: float) -> None:
        """Count a miss; a root that vanished asks for a re-discovery, its data goes after 3.

        A root that the last discovery already found missing (a monitor off the bus) asks for
        none: it is read again on its own cadence, which also notices its return.
        """
        slot.misses += 1
        if slot.missing_since is None:
            slot.missing_since = datetime.now(UTC)
        if slot.misses >= MISSES_BEFORE_DROPPED:
            slot.reading = None
        if self._discovery is None or slot.service in self._discovery.services:
            self._next_discovery = min(
                self._next_discovery, max(now, self._last_discovery + REDISCOVERY_MIN_GAP)
            )

    @staticmethod
    def _took(slot: _Slot, root: Mapping[str, Any]) -> None:
        """Keep a good reading of a root."""
        slot.reading = slot.parse(root)
        slot.misses = 0
        slot.read_at = datetime.now(UTC)
        slot.missing_since = None

    async def _poll_fast(self, slot: _Slot, now: float) -> None:
        """Read a fast root; its errors fail the tick, "no value" is a miss."""
        root = await self.client.service_root(slot.service)
        if root is None:
            self._note_error(self.client.no_value_error(slot.service))
            self._missed(slot, now)
            return
        self._took(slot, root)
        if isinstance(slot.reading, CerboBattery):
            self._monitor_names = (slot.reading.product_name, slot.reading.custom_name)

    async def _poll_slow(self, slot: _Slot, now: float) -> bool:
        """Read a slower root; its errors never fail the tick. False after a timeout."""
        slot.next_due = now + slot.period  # a late root queues behind those that waited
        try:
            root = await self.client.service_root(slot.service)
        except CerboError as err:
            self._note_error(err)
            self._missed(slot, now)
            if isinstance(err, CerboConnectionError):
                # a hung service blocks the whole server: back off from it
                slot.next_due = now + backoff_delay(slot.period, slot.misses)
                return False
            return True
        if root is None:
            self._note_error(self.client.no_value_error(slot.service))
            self._missed(slot, now)
            return True
        self._took(slot, root)
        if slot.role == "platform":
            self._platform_root = root
        return True

    async def _rediscover(self, system_root: Mapping[str, Any], now: float) -> None:
        """Re-read `/services` and `/health`; adopt a changed set of services."""
        self._last_discovery = now
        self._next_discovery = now + REDISCOVERY_MIN_GAP  # until it succeeds
        try:
            discovery = await self.client.discover(
                system_root=system_root, platform_root=self._platform_root
            )
            server = await self.client.health()
        except CerboError as err:
            self._note_error(err)
            return
        self._server = server
        old_battery = self._battery
        self._apply_discovery(discovery, now)
        if self._battery is not None and self._battery is not old_battery:
            try:
                await self._poll_fast(self._battery, now)
            except CerboError as err:
                self._note_error(err)

    def _snapshot(self, discovery: CerboDiscovery, system: CerboSystem) -> CerboSnapshot:
        """Assemble the typed readings of this tick and the slower tiers."""

        def reading[T](role: str, kind: type[T]) -> T | None:
            slot = self._slot(role) if role != "battery" else self._battery
            value = slot.reading if slot else None
            return value if isinstance(value, kind) else None

        slot = self._battery
        product, custom = self._monitor_names
        monitor = CerboMonitor(
            service=slot.service if slot else self._monitor_service,
            product_name=product,
            custom_name=custom,
            present=slot is not None and slot.reading is not None,
            following_system=self._following,
            missing_since=slot.missing_since if slot else None,
            read_at=slot.read_at if slot else None,
        )
        return CerboSnapshot(
            monitor=monitor,
            discovery=discovery,
            system=system,
            battery=reading("battery", CerboBattery),
            bms=reading("bms", CerboBattery),
            vebus=reading("vebus", CerboVebus),
            platform=reading("platform", CerboPlatform),
            temperatures=tuple(
                slot.reading for slot in self._slots if isinstance(slot.reading, CerboTemperature)
            ),
            health=self._health,
        )
