"""What the builder needs from Home Assistant: entity ids (registry) and settings (options).

The options are read through the entry's one options reader (`options.EntryOptions`).
"""

from __future__ import annotations

from typing import Any

from homeassistant.const import Platform, UnitOfTemperature
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util.unit_conversion import TemperatureConverter

from ..const import DOMAIN
from ..options import EntryOptions
from ..runtime import VictronConfigEntry
from .builder import build_dashboard
from .cards import SOLARK, DashboardSettings
from .keys import BINARY_SENSOR_KEYS, SENSOR_KEYS


def dashboard_settings(hass: HomeAssistant, entry: VictronConfigEntry) -> DashboardSettings:
    """Return the dashboard settings from the entry's options and the user's units."""
    options = EntryOptions.from_entry(entry)
    unit = _temperature_unit(hass, entry)
    low, high = (
        round(TemperatureConverter.convert(value, UnitOfTemperature.CELSIUS, unit), 1)
        for value in options.temperature_band
    )
    solark = options.comparison.entity_id if options.comparison else None
    missing = None
    if solark is not None and _solark_entity(hass, solark) is None:
        missing = solark
    return DashboardSettings(
        title=entry.title,
        voltage_range=options.voltage_band,
        temperature_range=(low, high),
        temperature_unit=unit,
        missing_solark=missing,
    )


def _temperature_unit(hass: HomeAssistant, entry: VictronConfigEntry) -> str:
    """The unit the temperature sensor is shown in: its state's, else the unit system's."""
    entity_id = _entity_id(er.async_get(hass), entry, Platform.SENSOR, "temperature")
    state = hass.states.get(entity_id) if entity_id else None
    unit = state.attributes.get("unit_of_measurement") if state else None
    if unit in (UnitOfTemperature.CELSIUS, UnitOfTemperature.FAHRENHEIT):
        return str(unit)
    return hass.config.units.temperature_unit


def _solark_entity(hass: HomeAssistant, entity_id: str) -> str | None:
    """Return the Sol-Ark entity id when it exists and is enabled."""
    registry_entry = er.async_get(hass).async_get(entity_id)
    if registry_entry is not None:
        return None if registry_entry.disabled_by else entity_id
    return entity_id if hass.states.get(entity_id) is not None else None


def _entity_id(
    registry: er.EntityRegistry, entry: VictronConfigEntry, platform: Platform, key: str
) -> str | None:
    entity_id = registry.async_get_entity_id(platform, DOMAIN, f"{entry.unique_id}_{key}")
    if entity_id is None:
        return None
    registry_entry = registry.async_get(entity_id)
    # A disabled entity has no state: a card for it would say "entity not available".
    return None if registry_entry is None or registry_entry.disabled_by else entity_id


def dashboard_entities(hass: HomeAssistant, entry: VictronConfigEntry) -> dict[str, str]:
    """Return key -> current entity id for this entry's enabled entities (and the Sol-Ark one)."""
    registry = er.async_get(hass)
    found: dict[str, str] = {}
    for platform, keys in (
        (Platform.SENSOR, SENSOR_KEYS),
        (Platform.BINARY_SENSOR, BINARY_SENSOR_KEYS),
    ):
        for key in keys:
            if entity_id := _entity_id(registry, entry, platform, key):
                found[key] = entity_id
    comparison = EntryOptions.from_entry(entry).comparison
    if comparison is not None and (entity_id := _solark_entity(hass, comparison.entity_id)):
        found[SOLARK] = entity_id
    return found


def async_build_dashboard(hass: HomeAssistant, entry: VictronConfigEntry) -> dict[str, Any]:
    """Return this entry's dashboard config as of now."""
    return build_dashboard(dashboard_entities(hass, entry), dashboard_settings(hass, entry))
