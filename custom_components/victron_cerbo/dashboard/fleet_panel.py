"""The fleet's sidebar panel: every installation of a VRM account on one page.

Registered while the fleet's entities exist (two or more of the account's entries loaded), if
the entry that holds them (`fleet.Fleet.owner`) shows dashboards (its "Show the dashboard"
option); removed when that ends. Rebuilt from the entity registry on every load, like each
entry's own dashboard (`panel`), and refreshed in open browsers when installations come or go
or one of their entities is renamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, override

from homeassistant.components import frontend
from homeassistant.components.lovelace.const import LOVELACE_DATA, MODE_YAML
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util.hass_dict import HassKey

from ..const import DOMAIN, LOGGER
from ..fleet import Fleet
from .fleet_builder import FLEET_TITLE, FleetInstallation, build_fleet_dashboard
from .keys import FLEET_KEYS
from .panel import URL_PREFIX, RebuiltDashboard, VictronDashboard, dashboard_url_path
from .registry import dashboard_entities

FLEET_ICON: Final = "mdi:map-marker-multiple"
_FOLLOWED: HassKey[dict[str, Fleet]] = HassKey(f"{DOMAIN}_fleet_dashboards")


def fleet_url_path(fleet: Fleet) -> str:
    """The fleet dashboard's URL path: stable, one per VRM account, no token in it."""
    return f"{URL_PREFIX}-fleet-{fleet.key[:8]}"


def fleet_entities(hass: HomeAssistant, fleet: Fleet) -> dict[str, str]:
    """Return key -> entity id of the fleet's enabled entities."""
    registry = er.async_get(hass)
    found: dict[str, str] = {}
    for platform, key in FLEET_KEYS:
        entity_id = registry.async_get_entity_id(platform, DOMAIN, f"{fleet.unique_base}_{key}")
        item = registry.async_get(entity_id) if entity_id else None
        if entity_id and item is not None and not item.disabled_by:
            found[key] = entity_id
    return found


def async_build_fleet_dashboard(hass: HomeAssistant, fleet: Fleet) -> dict[str, Any]:
    """The fleet dashboard as of now."""
    lovelace = hass.data.get(LOVELACE_DATA)
    shown = lovelace.dashboards if lovelace is not None else {}
    installations = []
    for entry in fleet.ordered():
        url_path = dashboard_url_path(entry)
        own = url_path if isinstance(shown.get(url_path), VictronDashboard) else None
        installations.append(
            FleetInstallation(
                title=entry.title, entities=dashboard_entities(hass, entry), dashboard=own
            )
        )
    return build_fleet_dashboard(fleet_entities(hass, fleet), installations)


class VictronFleetDashboard(RebuiltDashboard):
    """A read-only dashboard of one fleet, rebuilt from the registry on every load."""

    def __init__(self, hass: HomeAssistant, fleet: Fleet, url_path: str) -> None:
        """Initialise for one VRM account's fleet."""
        config = {
            "mode": MODE_YAML,
            "title": FLEET_TITLE,
            "icon": FLEET_ICON,
            "show_in_sidebar": True,
            "require_admin": False,
        }
        super().__init__(hass, url_path, config)
        self.fleet = fleet
        self.unsubscribe: CALLBACK_TYPE | None = None

    @override
    def build(self) -> dict[str, Any]:
        return async_build_fleet_dashboard(self.hass, self.fleet)


@callback
def async_follow_fleet(hass: HomeAssistant, fleet: Fleet) -> None:
    """Keep the fleet's panel in step with the fleet from now on (once per fleet)."""
    followed = hass.data.setdefault(_FOLLOWED, {})
    if followed.get(fleet.key) is fleet:
        return
    followed[fleet.key] = fleet
    fleet.async_add_change_listener(lambda: _async_update_panel(hass, fleet))


@callback
def _async_update_panel(hass: HomeAssistant, fleet: Fleet) -> None:
    """Register, refresh or remove the fleet's panel as the fleet now stands."""
    lovelace = hass.data.get(LOVELACE_DATA)
    if lovelace is None:
        return  # no frontend (tests, minimal setups): nothing to show
    url_path = fleet_url_path(fleet)
    current = lovelace.dashboards.get(url_path)
    ours = current if isinstance(current, VictronFleetDashboard) else None
    owner = fleet.owner_entry
    wanted = owner is not None and owner.runtime_data.options.show_dashboard
    if ours is not None and not wanted:
        async_unregister_fleet_dashboard(hass, fleet)
    elif ours is not None:
        ours.async_config_changed()
    elif wanted:
        _async_register(hass, fleet, url_path)


def _async_register(hass: HomeAssistant, fleet: Fleet, url_path: str) -> None:
    lovelace = hass.data[LOVELACE_DATA]
    if url_path in lovelace.dashboards or url_path in hass.data.get(frontend.DATA_PANELS, {}):
        LOGGER.warning("A dashboard already uses /%s; the fleet dashboard is not added", url_path)
        return
    dashboard = VictronFleetDashboard(hass, fleet, url_path)
    lovelace.dashboards[url_path] = dashboard
    frontend.async_register_built_in_panel(
        hass,
        "lovelace",
        sidebar_title=FLEET_TITLE,
        sidebar_icon=FLEET_ICON,
        frontend_url_path=url_path,
        config={"mode": MODE_YAML},
        require_admin=False,
    )

    @callback
    def _registry_changed(event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        data: Mapping[str, Any] = event.data
        item = er.async_get(hass).async_get(data["entity_id"])
        if item is not None and (
            item.config_entry_id in fleet.members or item.unique_id.startswith(fleet.unique_base)
        ):
            dashboard.async_config_changed()

    dashboard.unsubscribe = hass.bus.async_listen(
        er.EVENT_ENTITY_REGISTRY_UPDATED, _registry_changed
    )


@callback
def async_unregister_fleet_dashboard(hass: HomeAssistant, fleet: Fleet) -> None:
    """Remove the fleet's panel; safe to call when there is none."""
    url_path = fleet_url_path(fleet)
    lovelace = hass.data.get(LOVELACE_DATA)
    if lovelace is None:
        return
    dashboard = lovelace.dashboards.get(url_path)
    if not isinstance(dashboard, VictronFleetDashboard):
        return
    if dashboard.unsubscribe is not None:
        dashboard.unsubscribe()
    lovelace.dashboards.pop(url_path)
    frontend.async_remove_panel(hass, url_path, warn_if_unknown=False)
