"""The Victron Cerbo GX integration: battery state from VRM and the Cerbo's local API."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant

from .coordinator import VictronConfigEntry, VictronRuntimeData

PLATFORMS: list[Platform] = []


async def async_setup_entry(hass: HomeAssistant, entry: VictronConfigEntry) -> bool:
    """Set up Victron Cerbo GX from a config entry."""
    entry.runtime_data = VictronRuntimeData()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: VictronConfigEntry) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
