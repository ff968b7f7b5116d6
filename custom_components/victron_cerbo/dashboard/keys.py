"""The entity keys the dashboard looks up, read from the platforms' descriptions.

Nothing here is typed by hand, so a sensor added, renamed or removed on a platform is found (or
no longer looked for) without touching the dashboard.
"""

from __future__ import annotations

from typing import Final

# HA 2026.10 moved the class to binary_sensor.const and re-exports it implicitly; 2026.2 has no
# const module, so import it where both versions have it.
from homeassistant.components.binary_sensor import (  # type: ignore[attr-defined, unused-ignore]
    BinarySensorDeviceClass,
)

from ..binary_sensor import (
    BATTERY_BINARY_SENSORS,
    FLEET_BINARY_SENSORS,
    FULL_CHARGE_OVERDUE,
    HEALTH_BINARY_SENSORS,
    SOC_DISAGREEMENT,
)
from ..insight_entities import INSIGHT_SENSORS
from ..sensor import FLEET_SENSORS, HEALTH_SENSORS, SENSORS, SOC_DIFFERENCE

SENSOR_KEYS: Final = (
    *(description.key for description in (*SENSORS, *HEALTH_SENSORS, *INSIGHT_SENSORS)),
    SOC_DIFFERENCE,
)
BINARY_SENSOR_DESCRIPTIONS: Final = (
    *HEALTH_BINARY_SENSORS,
    *BATTERY_BINARY_SENSORS,
    FULL_CHARGE_OVERDUE,
)
BINARY_SENSOR_KEYS: Final = (
    *(description.key for description in BINARY_SENSOR_DESCRIPTIONS),
    SOC_DISAGREEMENT,
)
# What the status verdict must count: every binary sensor that is on when something is wrong,
# that is all of them except the reachability ones (on when all is well).
PROBLEM_KEYS: Final = frozenset(
    {
        *(
            description.key
            for description in BINARY_SENSOR_DESCRIPTIONS
            if description.device_class != BinarySensorDeviceClass.CONNECTIVITY
        ),
        SOC_DISAGREEMENT,
    }
)
# The fleet's entities, held by one entry of a VRM account: (platform, key).
FLEET_KEYS: Final = (
    *(("sensor", description.key) for description in FLEET_SENSORS),
    *(("binary_sensor", description.key) for description in FLEET_BINARY_SENSORS),
)
