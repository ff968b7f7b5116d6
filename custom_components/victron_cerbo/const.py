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

# Either source keeps serving its last data through two failed polls in a row; the third makes
# its entities unavailable.
FAILURES_BEFORE_UNAVAILABLE: Final = 3

# Not asked in the UI: lets scripts/develop and the end-to-end tests point VRM at the simulator.
CONF_VRM_API_URL: Final = "vrm_api_url"
DEFAULT_VRM_API_URL: Final = "https://vrmapi.victronenergy.com/v2"
# Development only (scripts/develop sets it): the config flow talks to this VRM API instead,
# the simulator's, and its entry keeps the address in CONF_VRM_API_URL. Never shown to users.
ENV_DEV_VRM_API_URL: Final = "VICTRON_CERBO_DEV_VRM_URL"

# entry.options: behaviour that the user can change without re-adding the entry.
CONF_VRM_POLL_INTERVAL: Final = "vrm_poll_interval"
CONF_LOCAL_FAST_INTERVAL: Final = "local_fast_interval"
CONF_BUDGET_WARNING: Final = "vrm_budget_warning"
CONF_BUDGET_LIMIT: Final = "vrm_budget_limit"
CONF_NOMINAL_VOLTAGE: Final = "nominal_voltage"
CONF_VOLTAGE_MIN: Final = "voltage_min"  # optional: the user's own limit wins over all others
CONF_VOLTAGE_MAX: Final = "voltage_max"
CONF_TEMPERATURE_MIN: Final = "temperature_min"
CONF_TEMPERATURE_MAX: Final = "temperature_max"
CONF_LOW_SOC: Final = "low_soc"
CONF_SOLARK_ENTITY: Final = "solark_soc_entity"
CONF_SOLARK_THRESHOLD: Final = "solark_threshold"
CONF_SOLARK_DWELL: Final = "solark_dwell"
CONF_SHOW_DASHBOARD: Final = "show_dashboard"
# Serve whatever the GX uses as its battery, also when the monitor set up drops off the bus.
CONF_FOLLOW_SYSTEM_BATTERY: Final = "follow_system_battery"

DEFAULT_VRM_POLL_INTERVAL: Final = 180  # seconds; VRM itself logs every 1-15 minutes
MIN_VRM_POLL_INTERVAL: Final = 180
DEFAULT_LOCAL_FAST_INTERVAL: Final = 10  # seconds
DEFAULT_BUDGET_WARNING: Final = 40  # VRM requests per rolling hour
DEFAULT_BUDGET_LIMIT: Final = 45
DEFAULT_NOMINAL_VOLTAGE: Final = 48
# The optimal temperature band the dashboard draws; until options 1.2 the form pre-filled it.
DEFAULT_TEMPERATURE_MIN: Final = 15.0
DEFAULT_TEMPERATURE_MAX: Final = 30.0
# Where "Temperature out of range" turns on without limits of the user's own: LiFePO4 must not
# be charged below about 5 °C nor run above about 45-50 °C (Victron's Lithium Battery Smart
# datasheet allows charging at 5-50 °C and discharging from -20 °C).
SAFE_TEMPERATURE_MIN: Final = 5.0
SAFE_TEMPERATURE_MAX: Final = 45.0
DEFAULT_LOW_SOC: Final = 10.0
DEFAULT_SOLARK_THRESHOLD: Final = 2.0  # percentage points
DEFAULT_SOLARK_DWELL: Final = 60  # seconds a verdict must hold before it flips
DEFAULT_SHOW_DASHBOARD: Final = True

# The optimal voltage band per nominal system voltage (seed 000: 48 V -> 52-58 V; the others
# scale): the dashboard's gauge arc and chart axis. A 15-cell bank rests below it, so it is no
# fault limit.
VOLTAGE_RANGES: Final[dict[int, tuple[float, float]]] = {
    12: (13.0, 14.5),
    24: (26.0, 29.0),
    48: (52.0, 58.0),
}
# Where "Voltage out of range" turns on when neither the battery nor the user gives limits: wide
# enough for 4/8/15-16-cell LiFePO4 (2.8-3.7 V a cell) and 6/12/24-cell lead-acid (1.83 V a cell
# is empty at rest, 2.47 V is above any absorption voltage) at rest and while charging.
SAFE_VOLTAGE_RANGES: Final[dict[int, tuple[float, float]]] = {
    12: (11.0, 14.8),
    24: (22.0, 29.6),
    48: (44.0, 59.2),
}
