"""The other roots a poll reads: the inverter/charger, the GX itself and temperature sensors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from ..victron import (
    TEMPERATURE_STATUSES,
    TEMPERATURE_TYPES,
    VEBUS_CHARGE_STATES,
    VEBUS_MODES,
    VEBUS_STATES,
)
from .parsing import (
    _CAN_STATISTICS,
    _embedded_json,
    _enum,
    _flag,
    _int,
    _level,
    _num,
    _phases,
    _prefixed,
    _str,
    _sum,
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
