"""Loading and unloading the integration in a real Home Assistant."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.victron_cerbo.const import DOMAIN


async def test_setup_and_unload(hass: HomeAssistant) -> None:
    """A config entry loads, keeps runtime data and unloads cleanly."""
    entry = MockConfigEntry(domain=DOMAIN, data={}, unique_id="c0619ab1e2f3")
    entry.add_to_hass(hass)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not None

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
