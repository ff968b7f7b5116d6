"""Every redaction rule of the diagnostics: which keys, which known values, which patterns.

Secrets are the VRM token, the site and portal IDs, the host, serials, names, location and
network details. The config entry goes through Home Assistant's `async_redact_data` with
`TO_REDACT`. The device and cloud payloads need more: their keys come in any letter case and as
paths ("Devices/0/SerialNumber"), some hold JSON in strings, and cut-off ones are kept as text;
`redact_keys` and `redact_text` handle those. Last, a `Scrubber` removes from every string the
values we know (error messages name the host; service names carry serials).

The VRM client keeps its own token out of its error texts and payload copies: it is the only
holder of that token, and its messages reach logs, not just these diagnostics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.diagnostics import REDACTED, async_redact_data

from .const import CONF_HOST, CONF_PORTAL_ID, CONF_SITE_ID, CONF_VRM_TOKEN

if TYPE_CHECKING:
    from homeassistant.helpers.device_registry import DeviceEntry

    from .local_coordinator import LocalCoordinator
    from .runtime import VictronConfigEntry
    from .sources import BatterySources
    from .vrm_coordinator import VrmCoordinator

__all__ = [
    "REDACTED",
    "SECRET_KEYS",
    "TO_REDACT",
    "Scrubber",
    "redact_device_diagnostics",
    "redact_entry",
    "redact_entry_diagnostics",
    "redact_keys",
    "redact_text",
]

MIN_SECRET_LENGTH: Final = 3  # shorter "secrets" would shred unrelated text

# The config entry's secrets (its data and options, and the entry itself).
TO_REDACT: Final = frozenset(
    {CONF_VRM_TOKEN, CONF_SITE_ID, CONF_PORTAL_ID, CONF_HOST, "title", "unique_id"}
)
# Keys whose values are secret wherever they appear in a payload (compared case-insensitively,
# last path segment: "Devices/0/SerialNumber" is "serialnumber").
SECRET_KEYS: Final = TO_REDACT | frozenset(
    {
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


def redact_entry(entry: VictronConfigEntry) -> dict[str, Any]:
    """The entry's title, data and options, with the secrets of `TO_REDACT` replaced."""
    entry_part = {"title": entry.title, "data": dict(entry.data), "options": dict(entry.options)}
    return async_redact_data(entry_part, TO_REDACT)


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
            decoded = json.loads(value)  # text that starts so and parses is an object or array
        except (ValueError, RecursionError):
            return value
        return json.dumps(redact_keys(decoded))
    return value


def redact_text(text: str, size: int) -> str:
    """Text kept of a `size`-byte answer, with secret "key": value pairs redacted.

    Cut-off JSON no longer parses, so its pairs are found by pattern.
    """
    if size > len(text.encode()) and "\n" in text:
        text = text.rsplit("\n", 1)[0]  # drop the cut-off last line: it may hold half a secret
    return _TEXT_PAIR.sub(_redact_pair, text)


def _redact_pair(match: re.Match[str]) -> str:
    if _secret_key(match.group("key")):
        return f'"{match.group("key")}": "{REDACTED}"'
    return match.group(0)


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


def redact_entry_diagnostics(
    entry: VictronConfigEntry, sources: BatterySources, sections: Mapping[str, Any]
) -> dict[str, Any]:
    """The entry part and the (JSON-friendly) sections, with every secret removed.

    Keys first, then whatever value we know is secret, wherever it is left.
    """
    result = {"entry": redact_entry(entry)} | redact_keys(sections)
    scrubbed: dict[str, Any] = _entry_scrubber(entry, sources)(result)
    return scrubbed


def redact_device_diagnostics(
    entry: VictronConfigEntry,
    device: DeviceEntry,
    sources: BatterySources,
    diagnostics: Mapping[str, Any],
) -> dict[str, Any]:
    """The entry's redacted diagnostics with a device part: the names it adds removed too."""
    public = set(_product_names(sources))
    names = [name for name in (entry.title, device.name) if name and name not in public]
    scrubbed: dict[str, Any] = Scrubber([entry.unique_id], names)(diagnostics)
    return scrubbed


def _entry_scrubber(entry: VictronConfigEntry, sources: BatterySources) -> Scrubber:
    """A scrubber for the identifiers and names the entry and its sources know."""
    secrets: list[object] = [
        entry.unique_id,
        *(entry.data.get(key) for key in (CONF_VRM_TOKEN, CONF_SITE_ID, CONF_PORTAL_ID, CONF_HOST)),
    ]
    names: list[object] = [entry.title]
    runtime = entry.runtime_data
    if runtime.local is not None:
        local_secrets, local_names = _local_secrets(runtime.local)
        secrets += local_secrets
        names += local_names
    if runtime.vrm is not None:
        secrets.append(runtime.vrm.site_id)
        names += _vrm_names(runtime.vrm)
    # A default title or monitor name ("Cerbo GX", "Battery Monitor") is not personal, and
    # scrubbing it would hide the model.
    public = set(_product_names(sources))
    return Scrubber(secrets, [name for name in names if _personal(name, public)])


def _personal(name: object, public: set[str]) -> bool:
    return name is None or str(name).strip() not in public


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
