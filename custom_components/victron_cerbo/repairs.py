"""Fix flows for the repair issues that the user can resolve from the repairs dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from homeassistant.components.repairs import RepairsFlow
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import EntitySelector, EntitySelectorConfig

from .const import CONF_SOLARK_ENTITY

if TYPE_CHECKING:
    # HA 2026.10 types repair flow steps as RepairsFlowResult; 2026.2 as a plain FlowResult.
    try:
        from homeassistant.components.repairs import (  # type: ignore[attr-defined, unused-ignore]
            RepairsFlowResult as FixFlowResult,
        )
    except ImportError:
        from homeassistant.data_entry_flow import (  # type: ignore[assignment, unused-ignore]
            FlowResult as FixFlowResult,
        )
from .schema import vol


class SolarkEntityFixFlow(RepairsFlow):
    """Pick another inverter SOC sensor, or leave it empty to turn the comparison off."""

    def __init__(self, entry_id: str) -> None:
        """Remember which entry's comparison to fix."""
        self.entry_id = entry_id

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> FixFlowResult:
        """Go straight to the choice."""
        return await self.async_step_choose()

    async def async_step_choose(self, user_input: dict[str, Any] | None = None) -> FixFlowResult:
        """Save the new choice in the entry options and reload the entry."""
        entry = self.hass.config_entries.async_get_entry(self.entry_id)
        if entry is None:
            return self.async_abort(reason="entry_removed")
        if user_input is not None:
            options = dict(entry.options)
            if new_entity := user_input.get(CONF_SOLARK_ENTITY):
                options[CONF_SOLARK_ENTITY] = new_entity
            else:
                options.pop(CONF_SOLARK_ENTITY, None)
            self.hass.config_entries.async_update_entry(entry, options=options)
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
            return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="choose",
            data_schema=vol.Schema(
                {
                    vol.Optional(CONF_SOLARK_ENTITY): EntitySelector(
                        EntitySelectorConfig(domain="sensor", device_class="battery")
                    )
                }
            ),
            description_placeholders=self._placeholders(entry.title, entry.options),
        )

    def _placeholders(self, name: str, options: Mapping[str, Any]) -> dict[str, str]:
        """What the issue's own text names: the form repeats why the comparison stopped."""
        entity_id = str(options.get(CONF_SOLARK_ENTITY))
        state = self.hass.states.get(entity_id)
        return {"name": name, "entity_id": entity_id, "state": str(state and state.state)}


async def async_create_fix_flow(
    hass: HomeAssistant,  # noqa: ARG001 - the signature HA calls
    issue_id: str,  # noqa: ARG001
    data: dict[str, Any] | None,
) -> RepairsFlow:
    """Only the comparison issue has a fix flow; it carries its entry id."""
    assert data is not None
    return SolarkEntityFixFlow(str(data["entry_id"]))
