"""Diagnostics: health, counters, timings, the source of each value and the last raw answers.

This module only assembles the sections; every secret is removed by the rules in `redact`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from homeassistant.util import dt as dt_util

from .api.cerbo import CerboRawPayload
from .battery import BatteryView
from .binary_sensor import BATTERY_BINARY_SENSORS, HEALTH_BINARY_SENSORS
from .entity import DeviceKind, battery_identifier
from .redact import redact_device_diagnostics, redact_entry_diagnostics, redact_text
from .sensor import HEALTH_SENSORS, SENSORS
from .sources import BatterySources

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.device_registry import DeviceEntry

    from .local_coordinator import LocalCoordinator
    from .runtime import VictronConfigEntry
    from .vrm_coordinator import VrmCoordinator


def plain(value: Any) -> Any:  # noqa: PLR0911 (one return per type)
    """JSON-friendly: dataclasses, enums, datetimes, sets and non-finite numbers converted."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return {field.name: plain(getattr(value, field.name)) for field in fields}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(item) for item in value)
    return value


def _local_payload(payload: CerboRawPayload) -> dict[str, Any]:
    """A raw local answer: parsed when it is whole JSON, else as redacted text."""
    result: dict[str, Any] = {"status": payload.status, "size": payload.size}
    try:
        result["body"] = json.loads(payload.text)
    except ValueError:
        result["text"] = redact_text(payload.text, payload.size)
    return result


def _local_section(local: LocalCoordinator, now: datetime) -> dict[str, Any]:
    health = local.health
    return {
        "last_update_success": local.last_update_success,
        "update_interval": local.update_interval.total_seconds() if local.update_interval else None,
        "last_duration": local.last_duration,
        "readings_24h": local.readings.count(now),
        "requests": local.client.request_count,
        "bytes_received": local.client.bytes_received,
        "data_age": (now - health.last_success).total_seconds() if health.last_success else None,
        "health": plain(health),
        "server": plain(local.server),
        "discovery": plain(local.discovery),
        "monitor": plain(local.data.monitor) if local.data is not None else None,
        "last_payloads": {
            key: _local_payload(payload)
            for key, payload in sorted(local.client.last_payloads.items())
        },
    }


def _vrm_section(vrm: VrmCoordinator, sources: BatterySources, now: datetime) -> dict[str, Any]:
    budget = vrm.budget
    sampled = sources.vrm_sample_time()
    return {
        "last_update_success": vrm.last_update_success,
        "update_interval": vrm.update_interval.total_seconds() if vrm.update_interval else None,
        "last_duration": vrm.last_duration,
        "readings_24h": vrm.readings.count(now),
        "battery_instance": vrm.battery_instance,
        # "account_listing": the live values from the account's installations list, shared
        # with the entries of its other sites; "own_site": this site's own request
        "live_source": "account_listing" if vrm.shared else "own_site",
        "sample_age": (now - sampled).total_seconds() if sampled else None,
        "summary_age": (now - vrm.summary_fetched_at).total_seconds()
        if vrm.shared and vrm.summary_fetched_at
        else None,
        "health": vrm.health.as_dict(now),
        # The VRM account's, shared by the entries on its token; neither the token nor its
        # digest is shown.
        "budget": {
            "scope": "vrm_account",
            "account_entries": len(vrm.account.loaded),
            "used": budget.used,
            "remaining": budget.remaining,
            "warning": budget.warning,
            "limit": budget.limit,
            "hold_remaining": budget.hold_remaining(),
        },
        "overview": plain(vrm.overview),
        "battery": plain(vrm.data.battery) if vrm.data else None,
        "last_payloads": vrm.client.last_payloads,
    }


def _values(view: BatteryView) -> dict[str, Any]:
    """Which source serves each value, how old its sample is, and the value, as entities show."""
    return {
        key: {"source": None}
        if shown is None
        else {"source": shown.source.value, "data_age": shown.data_age, "value": plain(shown.value)}
        for key, shown in view.values.items()
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant,  # noqa: ARG001 (the signature Home Assistant calls)
    entry: VictronConfigEntry,
) -> dict[str, Any]:
    """Everything needed to tell why a value came from where it did, without secrets."""
    now = dt_util.utcnow()
    runtime = entry.runtime_data
    sources = runtime.battery.sources
    view = runtime.battery.data  # what the entities show
    sections: dict[str, Any] = {
        "fresh": {source.value: sources.is_fresh(source, now) for source in sources.configured()},
        "stale": view.stale,
        "values": _values(view),
        "local": None if (local := runtime.local) is None else _local_section(local, now),
        "vrm": None if (vrm := runtime.vrm) is None else _vrm_section(vrm, sources, now),
        # the VRM history import's progress (no ids: spans, counts, causes)
        "history": None if (history := runtime.history) is None else history.as_dict(),
        # the health insight's figures (each with what it is based on) and its counts
        "insight": None if (insight := runtime.insight) is None else insight.as_dict(now),
    }
    return redact_entry_diagnostics(entry, sources, plain(sections))


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: VictronConfigEntry, device: DeviceEntry
) -> dict[str, Any]:
    """The entry's diagnostics plus which of its two devices this is and its entities."""
    kind = DeviceKind.BATTERY if battery_identifier(entry) in device.identifiers else None
    kind = kind or DeviceKind.INSTALLATION
    result = await async_get_config_entry_diagnostics(hass, entry)
    keys = [d.key for d in SENSORS if d.device is kind]
    keys += [d.key for d in BATTERY_BINARY_SENSORS if d.device is kind]
    if kind is DeviceKind.INSTALLATION:
        configured = entry.runtime_data.battery.sources.configured()
        keys += [d.key for d in HEALTH_SENSORS if d.source is None or d.source in configured]
        keys += [d.key for d in HEALTH_BINARY_SENSORS if d.source is None or d.source in configured]
    result["device"] = {
        "kind": kind.value,
        "model": device.model,
        "sw_version": device.sw_version,
        "entities": keys,
    }
    return redact_device_diagnostics(entry, device, entry.runtime_data.battery.sources, result)
