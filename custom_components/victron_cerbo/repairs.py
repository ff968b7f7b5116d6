"""Fix flows for the repair issues that the user can resolve from the repairs dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from homeassistant.components.repairs import RepairsFlow
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import TextSelector

from .const import CONF_HOST, CONF_PORT, CONF_PORTAL_ID, CONF_SOLARK_ENTITY, DEFAULT_LOCAL_PORT
from .flow_helpers import PORT_SELECTOR, async_probe_address, is_own_entity, solark_selector
from .issues import ISSUE_LOCAL_UNREACHABLE

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
        errors: dict[str, str] = {}
        if user_input is not None:
            options = dict(entry.options)
            new_entity = user_input.get(CONF_SOLARK_ENTITY)
            if new_entity and is_own_entity(self.hass, new_entity):
                errors["base"] = "solark_own_entity"
            else:
                if new_entity:
                    options[CONF_SOLARK_ENTITY] = new_entity
                else:
                    options.pop(CONF_SOLARK_ENTITY, None)
                self.hass.config_entries.async_update_entry(entry, options=options)
                self.hass.config_entries.async_schedule_reload(entry.entry_id)
                return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="choose",
            data_schema=vol.Schema({vol.Optional(CONF_SOLARK_ENTITY): solark_selector(self.hass)}),
            description_placeholders=self._placeholders(entry.title, entry.options),
            errors=errors,
        )

    def _placeholders(self, name: str, options: Mapping[str, Any]) -> dict[str, str]:
        """What the issue's own text names: the form repeats why the comparison stopped."""
        entity_id = str(options.get(CONF_SOLARK_ENTITY))
        state = self.hass.states.get(entity_id)
        return {"name": name, "entity_id": entity_id, "state": str(state and state.state)}


class LocalAddressFixFlow(RepairsFlow):
    """The Cerbo's DBus HTTP API does not answer: take a new address, checked like at setup."""

    def __init__(self, entry_id: str) -> None:
        """Remember which entry's address to fix."""
        self.entry_id = entry_id

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> FixFlowResult:
        """Go straight to the address."""
        return await self.async_step_address()

    async def async_step_address(self, user_input: dict[str, Any] | None = None) -> FixFlowResult:
        """Check the new address reaches the same installation, save it and reload the entry."""
        entry = self.hass.config_entries.async_get_entry(self.entry_id)
        if entry is None:
            return self.async_abort(reason="entry_removed")
        errors: dict[str, str] = {}
        if user_input is not None:
            probed = await async_probe_address(
                self.hass, user_input[CONF_HOST], int(user_input[CONF_PORT])
            )
            if isinstance(probed, str):
                errors["base"] = probed
            else:
                host, port, discovery = probed
                expected = entry.data.get(CONF_PORTAL_ID) or entry.unique_id or ""
                if discovery.portal_id.strip().lower() != expected.lower():
                    errors["base"] = "wrong_device"
                else:
                    self.hass.config_entries.async_update_entry(
                        entry, data=entry.data | {CONF_HOST: host, CONF_PORT: port}
                    )
                    self.hass.config_entries.async_schedule_reload(entry.entry_id)
                    return self.async_create_entry(data={})
        current = entry.data.get(CONF_HOST)
        port = entry.data.get(CONF_PORT, DEFAULT_LOCAL_PORT)
        schema = vol.Schema(
            {
                vol.Required(CONF_HOST, default=current): TextSelector(),
                vol.Required(CONF_PORT, default=port): PORT_SELECTOR,
            }
        )
        return self.async_show_form(
            step_id="address",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            description_placeholders={"name": entry.title, "host": str(current), "port": str(port)},
            errors=errors,
        )


async def async_create_fix_flow(
    hass: HomeAssistant,  # noqa: ARG001 - the signature HA calls
    issue_id: str,
    data: dict[str, Any] | None,
) -> RepairsFlow:
    """The fixable issues carry their entry id; the issue's kind picks the flow."""
    assert data is not None
    if issue_id.startswith(f"{ISSUE_LOCAL_UNREACHABLE}_"):
        return LocalAddressFixFlow(str(data["entry_id"]))
    return SolarkEntityFixFlow(str(data["entry_id"]))
