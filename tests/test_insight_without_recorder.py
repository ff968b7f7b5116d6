"""Without the recorder there is no history to read: no insight and none of its entities."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.victron_cerbo.insight_entities import INSIGHT_SENSORS
from tests.helpers import PORTAL_ID, entity_ids


async def test_no_insight_without_the_recorder(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    assert "recorder" not in hass.config.components
    assert init_integration.runtime_data.insight is None
    unique_ids = entity_ids(hass, init_integration)
    assert f"{PORTAL_ID}_soc" in unique_ids  # the battery's own sensors are there
    insight_keys = [description.key for description in INSIGHT_SENSORS]
    assert [
        key for key in (*insight_keys, "full_charge_overdue") if f"{PORTAL_ID}_{key}" in unique_ids
    ] == []
