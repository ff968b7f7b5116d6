"""Devices and the entity base shared by the sensor and binary sensor platforms.

Every entry has one device for the installation (the GX) and one for the battery monitor it
tracks, linked to the installation. Entities listen to both coordinators and re-check freshness
on a timer, because a source going stale is news even when no coordinator has anything new.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, cast

from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util
from yarl import URL

from .const import CONF_HOST, CONF_SITE_ID, DOMAIN
from .sources import BatterySources, Reading, Source

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .coordinator import VictronConfigEntry

MANUFACTURER: Final = "Victron Energy"
VRM_SITE_URL: Final = "https://vrm.victronenergy.com/installation/{site_id}/dashboard"
# How often freshness is checked between coordinator updates.
RECHECK_INTERVAL: Final = timedelta(seconds=30)
# How an entity names its parent device: by device id since Home Assistant 2026.8.
VIA_DEVICE_KEY: Final = (
    "via_device_id" if "via_device_id" in DeviceInfo.__annotations__ else "via_device"
)
# Attributes that change with every sample or request: kept out of the recorder.
UNRECORDED: Final = frozenset({"data_age", "local_readings", "vrm_readings"})


class DeviceKind(StrEnum):
    """Which of the entry's two devices an entity belongs to."""

    INSTALLATION = "installation"
    BATTERY = "battery"


def entry_key(entry: VictronConfigEntry) -> str:
    """The stable base of unique IDs: the lowercase VRM portal ID."""
    return entry.unique_id or entry.entry_id


def battery_identifier(entry: VictronConfigEntry) -> tuple[str, str]:
    """The battery device's identifier; it does not depend on which source serves."""
    return (DOMAIN, f"{entry_key(entry)}_battery")


def _configuration_url(entry: VictronConfigEntry) -> str | None:
    """The VRM dashboard of the site when VRM is configured, else the GX's own web page."""
    if (site_id := entry.data.get(CONF_SITE_ID)) is not None:
        return VRM_SITE_URL.format(site_id=site_id)
    if host := entry.data.get(CONF_HOST):
        try:
            return str(URL.build(scheme="http", host=str(host).strip("[]")))
        except (TypeError, ValueError):
            return None
    return None


def installation_device_info(entry: VictronConfigEntry) -> DeviceInfo:
    """The GX: model and firmware from the Cerbo when it answered, else from VRM."""
    runtime = entry.runtime_data
    model: str | None = None
    firmware: str | None = None
    if runtime.local is not None and (local := runtime.local.data) is not None:
        platform = local.platform
        model = (platform.model if platform else None) or local.discovery.model
        firmware = (platform.firmware_version if platform else None) or local.discovery.firmware
    if runtime.vrm is not None and (overview := runtime.vrm.overview) is not None:
        model = model or overview.gateway_model
        firmware = firmware or overview.firmware
    return DeviceInfo(
        identifiers={(DOMAIN, entry_key(entry))},
        manufacturer=MANUFACTURER,
        model=model,
        name=entry.title,
        sw_version=firmware,
        configuration_url=_configuration_url(entry),
    )


@callback
def async_register_installation_device(
    hass: HomeAssistant, entry: VictronConfigEntry
) -> dr.DeviceEntry:
    """Register (or refresh) the installation device; battery devices link to its id."""
    info = installation_device_info(entry)
    return dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers=info["identifiers"],
        manufacturer=info["manufacturer"],
        model=info["model"],
        name=info["name"],
        sw_version=info["sw_version"],
        configuration_url=info["configuration_url"],
    )


def _battery_model(entry: VictronConfigEntry) -> str | None:
    """The battery monitor's product name, from the Cerbo or else from VRM's device list."""
    runtime = entry.runtime_data
    if runtime.local is not None and (local := runtime.local.data) is not None:
        for root in (local.battery, local.bms):
            if root is not None and root.product_name:
                return root.product_name
    if runtime.vrm is not None and (overview := runtime.vrm.overview) is not None:
        if runtime.vrm.battery_instance is None and overview.battery_measured_by is not None:
            return f"No battery monitor; measured by {overview.battery_measured_by.label}"
        for monitor in overview.battery_monitors:
            if monitor.instance == runtime.vrm.battery_instance:
                return monitor.product_name
    return None


def battery_device_info(entry: VictronConfigEntry, installation_id: str) -> DeviceInfo:
    """The battery monitor, linked to the installation device.

    Home Assistant 2026.8 replaced `via_device=(domain, id)` with `via_device_id=<device id>`;
    older versions know only the first, so the key follows what `DeviceInfo` declares.
    """
    info: dict[str, Any] = {
        "identifiers": {battery_identifier(entry)},
        "translation_key": "battery",  # "{title} battery"
        "translation_placeholders": {"title": entry.title},
        "manufacturer": MANUFACTURER,
        "model": _battery_model(entry),
    }
    via: Any = installation_id if VIA_DEVICE_KEY == "via_device_id" else (DOMAIN, entry_key(entry))
    info[VIA_DEVICE_KEY] = via
    return cast("DeviceInfo", info)


class EntryDevices:
    """The device info of an entry's two devices, built once per platform setup."""

    def __init__(self, hass: HomeAssistant, entry: VictronConfigEntry) -> None:
        """Make sure the installation device exists, then describe both devices."""
        installation = async_register_installation_device(hass, entry)
        self.installation = installation_device_info(entry)
        self.battery = battery_device_info(entry, installation.id)

    def info(self, kind: DeviceKind) -> DeviceInfo:
        """The device info for a kind of entity."""
        return self.battery if kind is DeviceKind.BATTERY else self.installation


class VictronEntity(Entity):
    """An entity fed by the entry's sources rather than by one coordinator.

    It listens to every configured coordinator and re-checks itself every 30 s. Subclasses
    implement `_recompute` and return a fingerprint of what the state shows; the state is
    written when the fingerprint changes, when the source that serves the entity delivered
    a new sample (so `data_age` follows that source, and only that source), and on each
    recheck while VRM serves it (so its `data_age` grows between polls).
    """

    _attr_has_entity_name = True
    _attr_should_poll = False
    _unrecorded_attributes = UNRECORDED

    def __init__(
        self,
        entry: VictronConfigEntry,
        description: EntityDescription,
        device_info: DeviceInfo,
    ) -> None:
        """Bind the entity to its entry's sources."""
        self.entity_description = description
        self._attr_unique_id = f"{entry_key(entry)}_{description.key}"
        self._attr_translation_key = description.translation_key or description.key
        self._attr_device_info = device_info
        self.sources = BatterySources(entry.runtime_data)
        self.entry = entry
        self._served_by: Source | None = None
        self._fingerprint: Hashable = None

    def _recompute(self, now: datetime) -> Hashable:
        """Update the `_attr_*` values from the sources; return what the state shows."""
        raise NotImplementedError

    async def async_added_to_hass(self) -> None:
        """Listen to each configured coordinator and re-check freshness on a timer."""
        await super().async_added_to_hass()
        runtime = self.entry.runtime_data
        coordinators: list[tuple[Source, Callable[[CALLBACK_TYPE], CALLBACK_TYPE]]] = []
        if runtime.local is not None:
            coordinators.append((Source.LOCAL, runtime.local.async_add_listener))
        if runtime.vrm is not None:
            coordinators.append((Source.VRM, runtime.vrm.async_add_listener))
        for source, add_listener in coordinators:
            self.async_on_remove(add_listener(self._listener(source)))
        self.async_on_remove(
            async_track_time_interval(self.hass, self._async_recheck, RECHECK_INTERVAL)
        )
        self._fingerprint = self._recompute(dt_util.utcnow())

    async def async_update(self) -> None:
        """Re-check now (the `homeassistant.update_entity` action); nothing is polled."""
        self._fingerprint = self._recompute(dt_util.utcnow())

    def _listener(self, source: Source) -> CALLBACK_TYPE:
        @callback
        def updated() -> None:
            self._async_refresh(source)

        return updated

    @callback
    def _async_recheck(self, now: datetime) -> None:
        self._async_refresh(None)

    @callback
    def _async_refresh(self, trigger: Source | None) -> None:
        """Recompute; write the state when it shows something new.

        A VRM sample is polled every few minutes but keeps ageing: the recheck writes its
        growing `data_age` (unrecorded). Local samples are new on every tick anyway.
        """
        fingerprint = self._recompute(dt_util.utcnow())
        ageing = (
            trigger is None
            and self._served_by is Source.VRM
            and "data_age" in (self._attr_extra_state_attributes or {})
        )
        if (
            fingerprint != self._fingerprint
            or (trigger is not None and trigger is self._served_by)
            or ageing
        ):
            self._fingerprint = fingerprint
            self.async_write_ha_state()


def source_attributes(reading: Reading, now: datetime) -> dict[str, Any]:
    """Where a value came from and how old its sample was when the state was written.

    `measured_by` names the device behind it when it is not the battery monitor: whatever the
    GX uses as its battery (when the values follow it), or the inverter or MPPT of a VRM site
    without a battery monitor.
    """
    attributes: dict[str, Any] = {
        "source": reading.source.value,
        "data_age": round(reading.age(now)),
    }
    if reading.measured_by is not None:
        attributes["measured_by"] = reading.measured_by
    return attributes


def recorded(attributes: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    """The attributes that the recorder keeps, hashable, for a fingerprint."""
    if not attributes:
        return ()
    return tuple(
        (key, _hashable(value))
        for key, value in sorted(attributes.items())
        if key not in UNRECORDED
    )


def _hashable(value: Any) -> Hashable:
    if isinstance(value, Mapping):
        return tuple((key, _hashable(item)) for key, item in sorted(value.items()))
    if isinstance(value, list | tuple):
        return tuple(_hashable(item) for item in value)
    return cast("Hashable", value)
