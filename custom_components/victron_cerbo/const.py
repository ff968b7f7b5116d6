"""Constants for the Victron Cerbo GX integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "victron_cerbo"
LOGGER = logging.getLogger(__package__)

# entry.data: connection data. A source is configured when its keys are present.
CONF_VRM_TOKEN: Final = "vrm_token"
CONF_SITE_ID: Final = "site_id"  # VRM idSite (int)
CONF_BATTERY_INSTANCE: Final = "battery_instance"  # VRM battery monitor instance (int)
# VRM idUser (int); with battery_instance None the site has no monitor and the GX's system
# battery is read from the user's installations list
CONF_VRM_USER_ID: Final = "vrm_user_id"
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_PORTAL_ID: Final = "portal_id"  # VRM identifier == the Cerbo's system /Serial

DEFAULT_LOCAL_PORT: Final = 8088

# Not asked in the UI: lets scripts/develop and the end-to-end tests point VRM at the simulator.
CONF_VRM_API_URL: Final = "vrm_api_url"
DEFAULT_VRM_API_URL: Final = "https://vrmapi.victronenergy.com/v2"

# entry.options: behaviour that the user can change without re-adding the entry.
CONF_VRM_POLL_INTERVAL: Final = "vrm_poll_interval"
CONF_LOCAL_FAST_INTERVAL: Final = "local_fast_interval"
CONF_BUDGET_WARNING: Final = "vrm_budget_warning"
CONF_BUDGET_LIMIT: Final = "vrm_budget_limit"
CONF_NOMINAL_VOLTAGE: Final = "nominal_voltage"
CONF_VOLTAGE_MIN: Final = "voltage_min"  # optional: overrides the nominal voltage's range
CONF_VOLTAGE_MAX: Final = "voltage_max"
CONF_TEMPERATURE_MIN: Final = "temperature_min"
CONF_TEMPERATURE_MAX: Final = "temperature_max"
CONF_LOW_SOC: Final = "low_soc"
CONF_SOLARK_ENTITY: Final = "solark_soc_entity"
CONF_SOLARK_THRESHOLD: Final = "solark_threshold"
CONF_SOLARK_DWELL: Final = "solark_dwell"
CONF_SHOW_DASHBOARD: Final = "show_dashboard"

DEFAULT_VRM_POLL_INTERVAL: Final = 180  # seconds; VRM itself logs every 1-15 minutes
MIN_VRM_POLL_INTERVAL: Final = 180
DEFAULT_LOCAL_FAST_INTERVAL: Final = 10  # seconds
DEFAULT_BUDGET_WARNING: Final = 40  # VRM requests per rolling hour
DEFAULT_BUDGET_LIMIT: Final = 45
DEFAULT_NOMINAL_VOLTAGE: Final = 48
DEFAULT_TEMPERATURE_MIN: Final = 15.0
DEFAULT_TEMPERATURE_MAX: Final = 30.0
DEFAULT_LOW_SOC: Final = 10.0
DEFAULT_SOLARK_THRESHOLD: Final = 2.0  # percentage points
DEFAULT_SOLARK_DWELL: Final = 60  # seconds a verdict must hold before it flips
DEFAULT_SHOW_DASHBOARD: Final = True

# Normal battery voltage per nominal system voltage (seed 000: 48 V -> 52-58 V; the others scale).
# The voltage health sensor and the dashboard both use it; the options flow describes it.
VOLTAGE_RANGES: Final[dict[int, tuple[float, float]]] = {
    12: (13.0, 14.5),
    24: (26.0, 29.0),
    48: (52.0, 58.0),
}
