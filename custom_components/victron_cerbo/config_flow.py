"""Config flow for the Victron Cerbo GX integration."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult

from .const import DOMAIN


class VictronCerboConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a Victron installation from the UI."""

    VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Start the setup; the source steps arrive with the setup issue."""
        return self.async_abort(reason="not_implemented")
