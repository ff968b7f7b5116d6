"""Client for the Cerbo GX local "DBus HTTP API": its errors, readings, discovery and poller."""

from .client import DEFAULT_PORT, DEFAULT_TIMEOUT, MAX_BODY_BYTES, PAYLOAD_KEEP_CHARS, CerboClient
from .devices import CerboCanStats, CerboPlatform, CerboTemperature, CerboVebus
from .discovery import MAX_TEMPERATURE_SERVICES, PLATFORM_SERVICE, SYSTEM_SERVICE, build_discovery
from .errors import (
    ERROR_REASONS,
    CerboConnectionError,
    CerboError,
    CerboResponseError,
    CerboTimeoutError,
)
from .models import (
    CerboDiscovery,
    CerboHealth,
    CerboMonitor,
    CerboRawPayload,
    CerboServerInfo,
    CerboSnapshot,
)
from .parsing import ServiceRoot, parse_service_root
from .poller import MAX_BACKOFF, CerboPoller, backoff_delay
from .readings import CerboBattery, CerboSystem

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT",
    "ERROR_REASONS",
    "MAX_BACKOFF",
    "MAX_BODY_BYTES",
    "MAX_TEMPERATURE_SERVICES",
    "PAYLOAD_KEEP_CHARS",
    "PLATFORM_SERVICE",
    "SYSTEM_SERVICE",
    "CerboBattery",
    "CerboCanStats",
    "CerboClient",
    "CerboConnectionError",
    "CerboDiscovery",
    "CerboError",
    "CerboHealth",
    "CerboMonitor",
    "CerboPlatform",
    "CerboPoller",
    "CerboRawPayload",
    "CerboResponseError",
    "CerboServerInfo",
    "CerboSnapshot",
    "CerboSystem",
    "CerboTemperature",
    "CerboTimeoutError",
    "CerboVebus",
    "ServiceRoot",
    "backoff_delay",
    "build_discovery",
    "parse_service_root",
]
