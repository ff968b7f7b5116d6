"""The sidebar panel: the only code that touches Lovelace's internals.

One read-only dashboard per entry, rebuilt from the entity registry on every load, so renamed
entities keep working; it is refreshed in open browsers when one of its entities changes.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, Final, override

from homeassistant.components import frontend
from homeassistant.components.lovelace.const import LOVELACE_DATA, MODE_YAML
from homeassistant.components.lovelace.dashboard import LovelaceConfig
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.json import json_bytes, json_fragment

from ..const import LOGGER
from ..runtime import VictronConfigEntry
from .registry import async_build_dashboard, dashboard_entities

URL_PREFIX: Final = "victron-cerbo"  # lovelace needs a hyphen in a dashboard's URL path
ICON: Final = "mdi:home-battery"


def dashboard_url_path(entry: VictronConfigEntry) -> str:
    """Return the dashboard's URL path: one per installation, stable across restarts."""
    ident = (entry.unique_id or entry.entry_id).lower()
    return f"{URL_PREFIX}-{''.join(c if c.isalnum() else '-' for c in ident)}"


class RebuiltDashboard(LovelaceConfig):
    """A read-only dashboard whose config is rebuilt (`build`) from the registry every load."""

    @abstractmethod
    def build(self) -> dict[str, Any]:
        """The dashboard's config as of now."""
        raise NotImplementedError

    @property
    @override
    def mode(self) -> str:
        """YAML mode: the frontend offers no editing, which could not be saved anyway."""
        return MODE_YAML

    @override
    async def async_get_info(self) -> dict[str, Any]:
        """Return what system health shows."""
        return {"mode": self.mode, "views": len((await self.async_load(force=False))["views"])}

    @override
    async def async_load(self, force: bool) -> dict[str, Any]:
        """Build the config from the entity registry as it is now."""
        return self.build()

    @override
    async def async_json(self, force: bool) -> json_fragment:
        """Return the config as JSON for the websocket API."""
        return json_fragment(json_bytes(await self.async_load(force)))

    @callback
    def async_config_changed(self) -> None:
        """Tell open browsers to fetch the config again."""
        self._config_updated()


class VictronDashboard(RebuiltDashboard):
    """The dashboard of one config entry."""

    def __init__(
        self, hass: HomeAssistant, entry: VictronConfigEntry, url_path: str, config: dict[str, Any]
    ) -> None:
        """Initialise for one config entry."""
        super().__init__(hass, url_path, config)
        self._entry = entry

    @override
    def build(self) -> dict[str, Any]:
        return async_build_dashboard(self.hass, self._entry)


@callback
def async_register_dashboard(hass: HomeAssistant, entry: VictronConfigEntry) -> bool:
    """Add the entry's dashboard to the sidebar unless the options turn it off.

    Removes itself when the entry unloads. Returns whether a dashboard was registered; an
    existing dashboard or panel at the same URL is never replaced.
    """
    if not entry.runtime_data.options.show_dashboard:
        return False
    lovelace = hass.data.get(LOVELACE_DATA)
    if lovelace is None:
        # Only without the frontend (tests, minimal setups): nothing the user could act on.
        LOGGER.debug("Dashboards are not set up; the Victron dashboard is not added")
        return False
    url_path = dashboard_url_path(entry)
    if url_path in lovelace.dashboards or url_path in hass.data.get(frontend.DATA_PANELS, {}):
        LOGGER.warning("A dashboard already uses /%s; the Victron dashboard is not added", url_path)
        return False
    config = {
        "mode": MODE_YAML,
        "title": entry.title,
        "icon": ICON,
        "show_in_sidebar": True,
        "require_admin": False,
    }
    dashboard = VictronDashboard(hass, entry, url_path, config)
    lovelace.dashboards[url_path] = dashboard
    frontend.async_register_built_in_panel(
        hass,
        "lovelace",
        sidebar_title=entry.title,
        sidebar_icon=ICON,
        frontend_url_path=url_path,
        config={"mode": MODE_YAML},
        require_admin=False,
    )
    entry.async_on_unload(
        hass.bus.async_listen(
            er.EVENT_ENTITY_REGISTRY_UPDATED, _registry_listener(hass, entry, dashboard)
        )
    )
    entry.async_on_unload(lambda: async_unregister_dashboard(hass, entry))
    return True


def _registry_listener(
    hass: HomeAssistant, entry: VictronConfigEntry, dashboard: VictronDashboard
) -> Callable[[Event[er.EventEntityRegistryUpdatedData]], None]:
    """Refresh open dashboards when one of their entities is renamed, added or removed."""
    shown = set(dashboard_entities(hass, entry).values())

    @callback
    def _changed(event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        nonlocal shown
        data: Mapping[str, Any] = event.data
        ids = {data["entity_id"], data.get("old_entity_id")} - {None}
        registry_entry = er.async_get(hass).async_get(data["entity_id"])
        ours = registry_entry is not None and registry_entry.config_entry_id == entry.entry_id
        comparison = entry.runtime_data.options.comparison
        if ours or ids & shown or (comparison is not None and comparison.entity_id in ids):
            shown = set(dashboard_entities(hass, entry).values())
            dashboard.async_config_changed()

    return _changed


@callback
def async_unregister_dashboard(hass: HomeAssistant, entry: VictronConfigEntry) -> None:
    """Remove the entry's dashboard from the sidebar; safe to call when there is none."""
    url_path = dashboard_url_path(entry)
    lovelace = hass.data.get(LOVELACE_DATA)
    if lovelace is None or not isinstance(lovelace.dashboards.get(url_path), VictronDashboard):
        return
    lovelace.dashboards.pop(url_path)
    frontend.async_remove_panel(hass, url_path, warn_if_unknown=False)
