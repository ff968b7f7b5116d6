"""Which services make up one installation, found from the `system` root without extra requests."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from .errors import CerboResponseError
from .models import CerboDiscovery
from .parsing import _PORTAL_ID, _embedded_json, _int, _service, _str

SYSTEM_SERVICE: Final = "com.victronenergy.system"
PLATFORM_SERVICE: Final = "com.victronenergy.platform"
VEBUS_PREFIX: Final = "com.victronenergy.vebus."
TEMPERATURE_PREFIX: Final = "com.victronenergy.temperature."
BATTERY_PREFIX: Final = "com.victronenergy.battery."
MAX_TEMPERATURE_SERVICES: Final = 8  # each costs one request a minute on a single-threaded server


MAX_BATTERY_CANDIDATES: Final = 4  # roots read to match ActiveBatteryService by DeviceInstance


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
