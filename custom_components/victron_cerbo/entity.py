"""Devices and the entity base shared by the sensor and binary sensor platforms.

Every entry has one device for the installation (the GX) and one for the battery monitor it
tracks, linked to the installation. Entities show parts of the entry's battery view
(`battery.py`), merged once per update from both sources.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, cast

from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from yarl import URL

from .battery import BatteryCoordinator, BatteryView
from .const import CONF_HOST, CONF_SITE_ID, DOMAIN
from .fleet import Fleet, FleetSummary

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .runtime import VictronConfigEntry

MANUFACTURER: Final = "Victron Energy"
VRM_SITE_URL: Final = "https://vrm.victronenergy.com/installation/{site_id}/dashboard"
VRM_INSTALLATIONS_URL: Final = "https://vrm.victronenergy.com/installations"
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


@callback
def async_refresh_devices(hass: HomeAssistant, entry: VictronConfigEntry) -> None:
    """Bring both devices' model and firmware up to date, e.g. once VRM's device list came."""
    async_register_installation_device(hass, entry)
    registry = dr.async_get(hass)
    if (battery := registry.async_get_device(identifiers={battery_identifier(entry)})) is not None:
        registry.async_update_device(battery.id, model=_battery_model(entry))


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


class VictronEntity(CoordinatorEntity[BatteryCoordinator]):
    """An entity that shows part of its entry's battery view.

    The view is computed once per update for every entity; an entity writes its state only
    when a part it shows (`parts`) changed, so a tick that moves the voltage writes the voltage
    and what judges it, nothing else.
    """

    _attr_has_entity_name = True
    _unrecorded_attributes = UNRECORDED

    def __init__(
        self,
        entry: VictronConfigEntry,
        description: EntityDescription,
        device_info: DeviceInfo,
        parts: frozenset[str],
    ) -> None:
        """Bind the entity to its entry's battery view."""
        super().__init__(entry.runtime_data.battery)
        self.entity_description = description
        self._attr_unique_id = f"{entry_key(entry)}_{description.key}"
        self._attr_translation_key = description.translation_key or description.key
        self._attr_device_info = device_info
        self.parts = parts

    @property
    def view(self) -> BatteryView:
        """The entry's battery view as of the last update."""
        return self.coordinator.data

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write the state when a part this entity shows changed."""
        if self.coordinator.data.changed & self.parts:
            self.async_write_ha_state()


class ComparisonEntity(VictronEntity):
    """Base of the two comparison entities: both show the one comparison in the view."""

    # these follow every sample; the recorder keeps only the state and the stable attributes
    _unrecorded_attributes = UNRECORDED | {"victron_soc", "solark_soc"}

    def __init__(
        self, entry: VictronConfigEntry, description: EntityDescription, device_info: DeviceInfo
    ) -> None:
        """Bind the entity to its entry's battery view; it shows the comparison only."""
        super().__init__(entry, description, device_info, frozenset({"comparison"}))

    @property
    def available(self) -> bool:
        """Unavailable, never 0, while either side cannot be compared."""
        comparison = self.view.comparison
        return comparison is not None and comparison.result is not None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Both values and what they are compared with."""
        comparison = self.view.comparison
        return comparison.attributes() if comparison is not None else {}


def fleet_device_info(fleet: Fleet) -> DeviceInfo:
    """The VRM account's device: a service, not hardware; it holds the fleet's entities."""
    return DeviceInfo(
        identifiers={(DOMAIN, fleet.unique_base)},
        translation_key="vrm_account",
        manufacturer=MANUFACTURER,
        entry_type=DeviceEntryType.SERVICE,
        configuration_url=VRM_INSTALLATIONS_URL,
    )


class FleetEntity(Entity):
    """An entity of a VRM account's fleet: totals over every installation loaded on it.

    It polls nothing: the fleet tells it when its members' views change the summary, and it
    writes its state only when what it shows changed.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, fleet: Fleet, description: EntityDescription) -> None:
        """Bind the entity to its fleet; unique ids hold a hash of the account only."""
        self.fleet = fleet
        self.entity_description = description
        self._attr_unique_id = f"{fleet.unique_base}_{description.key}"
        self._attr_translation_key = description.translation_key or description.key
        self._attr_device_info = fleet_device_info(fleet)
        self._shown: tuple[Any, Any] | None = None

    @property
    def summary(self) -> FleetSummary:
        """The fleet as of its members' latest views."""
        return self.fleet.summary

    async def async_added_to_hass(self) -> None:
        """Follow the fleet while added."""
        await super().async_added_to_hass()
        self.async_on_remove(self.fleet.async_add_listener(self._handle_fleet_update))
        self.fleet.async_release_device()  # its registry entry now names this owner
        self._shown = (self.state, self.extra_state_attributes)

    @callback
    def _handle_fleet_update(self) -> None:
        """Write the state when the state or an attribute changed, not on every view."""
        shown = (self.state, self.extra_state_attributes)
        if shown != self._shown:
            self._shown = shown
            self.async_write_ha_state()
