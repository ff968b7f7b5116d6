"""The bundled Lovelace dashboard: built from the entity registry, one sidebar panel per entry.

One builder (`build_dashboard`, in `builder`, `cards` and `status`: no Home Assistant there)
turns "which entity ids exist" plus the entry's settings into a dashboard config made of core
cards only. It serves three consumers:

* the sidebar dashboard (`panel`), rebuilt on every load, so renamed entities keep working;
* the "Copy as YAML" subview of that dashboard (the same config with the user's entity ids);
* `dashboards/victron_cerbo.yaml` in the repository (`example`), rendered with example entity
  ids by `scripts/dashboard_yaml.py` (and `dashboards/victron_fleet.yaml` for the fleet's).

With two or more installations on one VRM account, a fleet dashboard (`fleet_builder`,
`fleet_panel`) shows them all on one page, with the account's totals.

`registry` reads the entity ids and the settings; `keys` takes the keys it looks up from the
platforms' descriptions.
"""

from __future__ import annotations

from .builder import COPY_VIEW_PATH, RANGES, build_dashboard
from .cards import MINUS, SOLARK, TO, DashboardSettings, axis_range
from .dump import dashboard_yaml
from .example import EXAMPLE_HEADER, example_entities, example_fleet_yaml, example_yaml
from .fleet_builder import FLEET_TITLE, FleetInstallation, build_fleet_dashboard
from .fleet_panel import (
    VictronFleetDashboard,
    async_build_fleet_dashboard,
    async_follow_fleet,
    async_unregister_fleet_dashboard,
    fleet_entities,
    fleet_url_path,
)
from .keys import BINARY_SENSOR_KEYS, FLEET_KEYS, PROBLEM_KEYS, SENSOR_KEYS
from .panel import (
    ICON,
    URL_PREFIX,
    VictronDashboard,
    async_register_dashboard,
    async_unregister_dashboard,
    dashboard_url_path,
)
from .registry import async_build_dashboard, dashboard_entities, dashboard_settings
from .status import PROBLEMS

__all__ = [
    "BINARY_SENSOR_KEYS",
    "COPY_VIEW_PATH",
    "EXAMPLE_HEADER",
    "FLEET_KEYS",
    "FLEET_TITLE",
    "ICON",
    "MINUS",
    "PROBLEMS",
    "PROBLEM_KEYS",
    "RANGES",
    "SENSOR_KEYS",
    "SOLARK",
    "TO",
    "URL_PREFIX",
    "DashboardSettings",
    "FleetInstallation",
    "VictronDashboard",
    "VictronFleetDashboard",
    "async_build_dashboard",
    "async_build_fleet_dashboard",
    "async_follow_fleet",
    "async_register_dashboard",
    "async_unregister_dashboard",
    "async_unregister_fleet_dashboard",
    "axis_range",
    "build_dashboard",
    "build_fleet_dashboard",
    "dashboard_entities",
    "dashboard_settings",
    "dashboard_url_path",
    "dashboard_yaml",
    "example_entities",
    "example_fleet_yaml",
    "example_yaml",
    "fleet_entities",
    "fleet_url_path",
]
