"""Client for the Victron VRM API v2: its errors, request budget, readings and parsers."""

from .battery import (
    IDLE_CURRENT_DEADBAND,
    IDLE_POWER_DEADBAND,
    SYSTEM_BATTERY_INSTANCE,
    parse_battery_summary,
    parse_system_battery,
)
from .budget import RequestBudget
from .client import (
    BACKOFF,
    DEFAULT_BASE_URL,
    DEFAULT_RATE_LIMIT_HOLD,
    DEFAULT_TIMEOUT,
    MAX_RETRIES,
    VrmClient,
)
from .errors import (
    VrmAuthenticationError,
    VrmBudgetExceededError,
    VrmConnectionError,
    VrmError,
    VrmForbiddenError,
    VrmRateLimitError,
    VrmResponseError,
    connection_cause,
)
from .models import (
    VrmBatteryMonitor,
    VrmBatteryReading,
    VrmBatteryState,
    VrmDevice,
    VrmSite,
    VrmSystemOverview,
    VrmUser,
)
from .parsing import (
    MAX_RETRY_AFTER,
    parse_installations,
    parse_retry_after,
    parse_system_overview,
    parse_user,
)

__all__ = [
    "BACKOFF",
    "DEFAULT_BASE_URL",
    "DEFAULT_RATE_LIMIT_HOLD",
    "DEFAULT_TIMEOUT",
    "IDLE_CURRENT_DEADBAND",
    "IDLE_POWER_DEADBAND",
    "MAX_RETRIES",
    "MAX_RETRY_AFTER",
    "SYSTEM_BATTERY_INSTANCE",
    "RequestBudget",
    "VrmAuthenticationError",
    "VrmBatteryMonitor",
    "VrmBatteryReading",
    "VrmBatteryState",
    "VrmBudgetExceededError",
    "VrmClient",
    "VrmConnectionError",
    "VrmDevice",
    "VrmError",
    "VrmForbiddenError",
    "VrmRateLimitError",
    "VrmResponseError",
    "VrmSite",
    "VrmSystemOverview",
    "VrmUser",
    "connection_cause",
    "parse_battery_summary",
    "parse_installations",
    "parse_retry_after",
    "parse_system_battery",
    "parse_system_overview",
    "parse_user",
]
