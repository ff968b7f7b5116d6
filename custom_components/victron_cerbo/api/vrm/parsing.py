"""Lenient readers for VRM's JSON, and the parsers of the account and site endpoints."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, Final

from .errors import VrmResponseError
from .models import VrmBatteryMonitor, VrmDevice, VrmSite, VrmSystemOverview, VrmUser

MAX_RETRY_AFTER: Final = 86400.0  # never believe a wait longer than a day


# Devices that measure the battery when there is no monitor, in the GX's order of preference.
_MEASURING_DEVICES: Final = ("VE.Bus System", "Inverter", "Solar Charger")


def _as_float(value: Any) -> float | None:
    """A finite float from a number or numeric string; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if not isinstance(value, (int, float, str)):
        return None
    try:
        # an int beyond float's range (JSON allows any length) overflows
        result = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def _as_int(value: Any) -> int | None:
    """An int from an int, an integral float or a numeric string; None otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = _as_float(value)
    if number is None or not number.is_integer():
        return None
    return int(number)


def _as_str(value: Any) -> str | None:
    """A non-empty stripped string, or None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _as_bool(value: Any) -> bool:
    """VRM spells booleans as true/false, 1/0 or "1"/"0"."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return value is True or (isinstance(value, (int, float)) and value == 1)


def _is_valid(attribute: Mapping[str, Any]) -> bool:
    """An attribute without `isValid` is taken as valid."""
    return "isValid" not in attribute or _as_bool(attribute["isValid"])


def _require_id(value: Any, what: str) -> int:
    """Ids go into URL paths, so only plain non-negative ints are accepted."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative int")
    return value


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or HTTP date); None if unusable.

    `now` is the wall-clock time (unix seconds) to measure an HTTP date against.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _is_battery_monitor(device: Mapping[str, Any]) -> bool:
    """VRM names them "Battery Monitor" (idDeviceType 2); BMS batteries appear the same way."""
    css = device.get("class")
    return (
        device.get("name") == "Battery Monitor"
        or _as_int(device.get("idDeviceType")) == 2  # noqa: PLR2004
        or (isinstance(css, str) and "device-battery-monitor" in css)
    )


def parse_system_overview(payload: Mapping[str, Any]) -> VrmSystemOverview:
    """Pick the gateway and the battery monitors out of `/system-overview`."""
    records = payload.get("records")
    devices = records.get("devices") if isinstance(records, Mapping) else None
    if not isinstance(devices, list):
        raise VrmResponseError("system-overview without records.devices")
    monitors: dict[int, VrmBatteryMonitor] = {}
    gateway: Mapping[str, Any] = {}
    measuring: dict[str, VrmDevice] = {}
    for device in devices:
        if not isinstance(device, Mapping):
            continue
        if device.get("name") == "Gateway" and not gateway:
            gateway = device
        kind = device.get("name")
        if kind in _MEASURING_DEVICES and kind not in measuring:
            measuring[kind] = VrmDevice(
                kind=kind,
                instance=_as_int(device.get("instance")),
                name=_as_str(device.get("customName")),
                product_name=_as_str(device.get("productName")),
            )
        if not _is_battery_monitor(device):
            continue
        instance = _as_int(device.get("instance"))
        if instance is None or instance in monitors:
            continue
        monitors[instance] = VrmBatteryMonitor(
            instance=instance,
            name=_as_str(device.get("customName")) or _as_str(device.get("name")) or "Battery",
            product_name=_as_str(device.get("productName")),
            product_code=_as_str(device.get("productCode")),
            firmware=_as_str(device.get("firmwareVersion")),
            last_connection=_as_int(device.get("lastConnection")),
        )
    measured_by = next((measuring[k] for k in _MEASURING_DEVICES if k in measuring), None)
    return VrmSystemOverview(
        battery_monitors=tuple(monitors.values()),
        battery_measured_by=None if monitors else measured_by,
        gateway_model=_as_str(gateway.get("productName")),
        firmware=_as_str(gateway.get("firmwareVersion")),
        logging_interval=_as_int(gateway.get("loggingInterval")),
        gateway_last_connection=_as_int(gateway.get("lastConnection")),
        device_count=sum(1 for device in devices if isinstance(device, Mapping)),
    )


def parse_user(payload: Mapping[str, Any]) -> VrmUser:
    """`/users/me` -> VrmUser."""
    user = payload.get("user")
    user_id = _as_int(user.get("id")) if isinstance(user, Mapping) else None
    if not isinstance(user, Mapping) or user_id is None:
        raise VrmResponseError("users/me without a numeric user.id")
    return VrmUser(
        id=user_id,
        name=_as_str(user.get("name")),
        access_token_id=_as_int(user.get("idAccessToken")),
    )


def parse_installations(payload: Mapping[str, Any]) -> list[VrmSite]:
    """`/users/{id}/installations` -> sites; records without a numeric idSite are skipped."""
    records = payload.get("records")
    if not isinstance(records, list):
        raise VrmResponseError("installations without a records list")
    sites: list[VrmSite] = []
    for record in records:
        site_id = _as_int(record.get("idSite")) if isinstance(record, Mapping) else None
        if not isinstance(record, Mapping) or site_id is None:
            continue
        identifier = _as_str(record.get("identifier"))
        if identifier is None and _as_int(record.get("identifier")) is not None:
            identifier = str(record["identifier"])
        sites.append(
            VrmSite(
                id=site_id,
                name=_as_str(record.get("name")) or f"VRM site {site_id}",
                identifier=identifier or "",
                timezone=_as_str(record.get("timezone")),
            )
        )
    return sites
