"""Diagnostics: health, counters, timings, the source of each value and the last raw answers.

Secrets are the VRM token, the site and portal IDs, the host, serials, names and location. They
are removed by key wherever a payload is structured, and every remaining string is scrubbed of
the values we know (error messages name the host; embedded JSON strings carry battery names).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Final

from homeassistant.util import dt as dt_util

from .api.cerbo import CerboRawPayload
from .binary_sensor import BATTERY_BINARY_SENSORS, HEALTH_BINARY_SENSORS
from .const import CONF_HOST, CONF_PORTAL_ID, CONF_SITE_ID, CONF_VRM_TOKEN
from .entity import DeviceKind, battery_identifier
from .sensor import HEALTH_SENSORS, SENSORS
from .sources import VALUES, BatterySources

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.device_registry import DeviceEntry

    from .coordinator import LocalCoordinator, VictronConfigEntry, VrmCoordinator

REDACTED: Final = "**REDACTED**"
MIN_SECRET_LENGTH: Final = 3  # shorter "secrets" would shred unrelated text

# Keys whose values are secret wherever they appear (compared case-insensitively, last path
# segment: "Devices/0/SerialNumber" is "serialnumber").
SECRET_KEYS: Final = frozenset(
    {
        CONF_VRM_TOKEN,
        CONF_SITE_ID,
        CONF_PORTAL_ID,
        CONF_HOST,
        "title",
        "unique_id",
        "serial",
        "serialnumber",
        "hqserialnumber",
        "hq_serial",
        "machineserialnumber",
        "uniqueid",
        "identifier",
        "idsite",
        "id",
        "iduser",
        "idaccesstoken",
        "name",
        "customname",
        "custom_name",
        "devicename",
        "email",
        "latitude",
        "longitude",
        "geofence",
        "location",
        "timezone",
        "token",
        "access_token",
        # network details (platform Network/*): addresses, MACs and Wi-Fi names
        "address",
        "ipaddress",
        "mac",
        "macaddress",
        "ssid",
        "gateway",
        "nameserver",
        "nameservers",
    }
)
# Some services carry a serial in their name: energy meters ...acload.cg_<serial>, VE.Can
# devices ...battery.socketcan_can0_vi6_uc<serial>.
_SERVICE_SERIAL = re.compile(r"(?:(?<=\.cg_)|(?<=_uc))[A-Za-z0-9]{4,}")
# "key": value pairs in JSON text that no longer parses (payloads are cut at 4 kB).
_TEXT_PAIR = re.compile(r'"(?P<key>[^"\\]{1,200})"\s*:\s*(?P<value>"(?:[^"\\]|\\.)*"|[^,\n}\]]+)')


def _secret_key(key: object) -> bool:
    return isinstance(key, str) and key.rsplit("/", 1)[-1].lower() in SECRET_KEYS


def redact_keys(value: Any) -> Any:
    """Replace the values of secret keys at every depth, JSON held in strings included.

    The GX stores some values as JSON text (platform `Network/Services`), whose keys would
    otherwise hide from this.
    """
    if isinstance(value, Mapping):
        return {
            key: REDACTED if _secret_key(key) and item is not None else redact_keys(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_keys(item) for item in value]
    if isinstance(value, str) and value.lstrip()[:1] in {"{", "["}:
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            return value
        if isinstance(decoded, dict | list):
            return json.dumps(redact_keys(decoded))
    return value


class Scrubber:
    """Removes known secret values from every string, whatever key they hide under.

    Identifiers (token, host, portal and site IDs, serials) go wherever they appear, in any
    letter case. Names only go as whole words in their own spelling, so that a battery called
    "Virtual" does not shred the service name `com.victronenergy.battery.virtual_...`.
    """

    def __init__(self, secrets: Iterable[object], names: Iterable[object] = ()) -> None:
        """Longest first, so a secret that contains another is removed whole."""
        self._secrets = _pattern(secrets, "{}", re.IGNORECASE)
        self._names = _pattern(names, r"(?<![\w.-]){}(?![\w.-])", 0)

    def text(self, text: str) -> str:
        """The text without any known secret."""
        for pattern in (self._secrets, self._names, _SERVICE_SERIAL):
            if pattern is not None:
                text = pattern.sub(REDACTED, text)
        return text

    def __call__(self, value: Any) -> Any:
        """Scrub every string (keys included) at every depth."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self(key): self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        return value


def _pattern(values: Iterable[object], frame: str, flags: int) -> re.Pattern[str] | None:
    texts = {str(value).strip() for value in values if value is not None}
    usable = sorted((t for t in texts if len(t) >= MIN_SECRET_LENGTH), key=len, reverse=True)
    if not usable:
        return None
    return re.compile("|".join(frame.format(re.escape(text)) for text in usable), flags)


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
    """A raw local answer: parsed and redacted by key when it is whole JSON, else as text."""
    result: dict[str, Any] = {"status": payload.status, "size": payload.size}
    try:
        result["body"] = redact_keys(plain(json.loads(payload.text)))
    except ValueError:
        text = payload.text
        if payload.size > len(text.encode()) and "\n" in text:
            text = text.rsplit("\n", 1)[0]  # drop the cut-off last line: it may hold half a secret
        result["text"] = _TEXT_PAIR.sub(_redact_pair, text)
    return result


def _redact_pair(match: re.Match[str]) -> str:
    if _secret_key(match.group("key")):
        return f'"{match.group("key")}": "{REDACTED}"'
    return match.group(0)


def _local_secrets(local: LocalCoordinator) -> tuple[list[object], list[object]]:
    """Identifiers and names the local source knows."""
    secrets: list[object] = [local.client.host]
    names: list[object] = []
    if (discovery := local.discovery) is not None:
        secrets.append(discovery.portal_id)
        names.append(discovery.name)
    if (data := local.data) is not None:
        secrets.append(data.system.portal_id)
        if data.platform is not None:
            secrets += [data.platform.hq_serial, data.platform.unique_id]
        readings = [data.battery, data.bms, data.vebus, *data.temperatures]
        names += [reading.custom_name for reading in readings if reading is not None]
        names.append(data.monitor.custom_name)
    return secrets, names


def _vrm_names(vrm: VrmCoordinator) -> list[object]:
    if vrm.overview is None:
        return []
    return [monitor.name for monitor in vrm.overview.battery_monitors]


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
        "sample_age": (now - sampled).total_seconds() if sampled else None,
        "health": vrm.health.as_dict(now),
        "budget": {
            "used": budget.used,
            "remaining": budget.remaining,
            "warning": budget.warning,
            "limit": budget.limit,
            "hold_remaining": budget.hold_remaining(),
        },
        "overview": plain(vrm.overview),
        "battery": plain(vrm.data.battery) if vrm.data else None,
        "last_payloads": redact_keys(plain(vrm.client.last_payloads)),
    }


def _values(sources: BatterySources, now: datetime) -> dict[str, Any]:
    """Which source serves each value now, how old its sample is, and the value."""
    values: dict[str, Any] = {}
    for key, spec in VALUES.items():
        if not sources.can_serve(spec):
            continue
        reading = sources.pick(spec, now)
        values[key] = (
            {"source": None}
            if reading is None
            else {
                "source": reading.source.value,
                "data_age": reading.age(now),
                "value": plain(reading.value),
            }
        )
    return values


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant,  # noqa: ARG001 (the signature Home Assistant calls)
    entry: VictronConfigEntry,
) -> dict[str, Any]:
    """Everything needed to tell why a value came from where it did, without secrets."""
    now = dt_util.utcnow()
    sources = BatterySources(entry.runtime_data)
    secrets: list[object] = [
        entry.unique_id,
        *(entry.data.get(key) for key in (CONF_VRM_TOKEN, CONF_SITE_ID, CONF_PORTAL_ID, CONF_HOST)),
    ]
    names: list[object] = [entry.title]
    result: dict[str, Any] = {
        "entry": {"title": entry.title, "data": dict(entry.data), "options": dict(entry.options)},
        "fresh": {source.value: sources.is_fresh(source, now) for source in sources.configured()},
        "stale": sources.is_stale(now),
        "values": _values(sources, now),
        "local": None,
        "vrm": None,
    }
    if sources.local is not None:
        result["local"] = _local_section(sources.local, now)
        local_secrets, local_names = _local_secrets(sources.local)
        secrets += local_secrets
        names += local_names
    if sources.vrm is not None:
        result["vrm"] = _vrm_section(sources.vrm, sources, now)
        secrets.append(sources.vrm.site_id)
        names += _vrm_names(sources.vrm)
    # A default title or monitor name ("Cerbo GX", "Battery Monitor") is not personal, and
    # scrubbing it would hide the model.
    public = set(_product_names(sources))
    names = [name for name in names if name is None or str(name).strip() not in public]
    scrubbed: dict[str, Any] = Scrubber(secrets, names)(redact_keys(plain(result)))
    return scrubbed


def _product_names(sources: BatterySources) -> list[str]:
    names = ["Battery Monitor"]
    if sources.local is not None and (data := sources.local.data) is not None:
        names += [data.discovery.model or ""]
        if data.platform is not None:
            names += [data.platform.model or ""]
        readings = [data.battery, data.bms, data.vebus, *data.temperatures]
        names += [reading.product_name or "" for reading in readings if reading is not None]
    if sources.vrm is not None and (overview := sources.vrm.overview) is not None:
        names += [overview.gateway_model or ""]
        names += [monitor.product_name or "" for monitor in overview.battery_monitors]
    return [name for name in names if name]


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
        configured = BatterySources(entry.runtime_data).configured()
        keys += [d.key for d in HEALTH_SENSORS if d.source is None or d.source in configured]
        keys += [d.key for d in HEALTH_BINARY_SENSORS if d.source is None or d.source in configured]
    result["device"] = {
        "kind": kind.value,
        "model": device.model,
        "sw_version": device.sw_version,
        "entities": keys,
    }
    public = set(_product_names(BatterySources(entry.runtime_data)))
    names = [name for name in (entry.title, device.name) if name and name not in public]
    scrubbed: dict[str, Any] = Scrubber([entry.unique_id], names)(result)
    return scrubbed
