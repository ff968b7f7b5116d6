"""Trimmed, token-free copies of VRM's answers, kept for diagnostics."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from .battery import _CONTROL_KEYS, _SYSTEM_FIELDS
from .live import LIVE_FIELDS


def _pick(source: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """The listed keys of a mapping with plain values (so copies stay small and flat)."""
    if not isinstance(source, Mapping):
        return {}
    return {
        key: source[key]
        for key in keys
        if key in source and (source[key] is None or isinstance(source[key], str | int | float))
    }


_ALARM_KEYS = ("type", "description", "device", "instance", "started", "cleared")


def _live_rows(records: Any, codes: Collection[str]) -> list[dict[str, Any]]:
    """Each listed site's id, freshness and alarms, and the `extended` values of these codes."""
    rows = records if isinstance(records, list) else []
    trimmed = []
    for row in rows:
        extended = row.get("extended") if isinstance(row, Mapping) else None
        alarms = row.get("current_alarms") if isinstance(row, Mapping) else None
        kept = [
            _pick(item, ("code", "rawValue", "isValid", "instance", "timestamp"))
            for item in (extended if isinstance(extended, list) else [])
            # a code may be any JSON (a list is not even hashable)
            if isinstance(item, Mapping)
            and isinstance(item.get("code"), str)
            and item["code"] in codes
        ]
        picked = _pick(row, ("idSite", "name", "last_timestamp", "alarm", "num_alarms"))
        if isinstance(alarms, list):
            picked["current_alarms"] = [
                item[:200] if isinstance(item, str) else _pick(item, _ALARM_KEYS) for item in alarms
            ]
        trimmed.append(picked | {"extended": kept})
    return trimmed


def _stats_counts(records: Any) -> dict[str, Any]:
    """How many points each code of a stats answer had (`false`/`null` kept as such)."""
    rows: Mapping[Any, Any] = records if isinstance(records, Mapping) else {}
    return {
        str(code): len(series) if isinstance(series, list | Mapping) else series
        for code, series in rows.items()
        if series is None or isinstance(series, bool | list | Mapping)
    }


def _trim(endpoint: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Keep what helps triage and drop the bulk (meta, formats) and personal data (email)."""
    records = payload.get("records")
    if endpoint == "users_me":
        return {"user": _pick(payload.get("user"), ("id", "name", "accessLevel", "idAccessToken"))}
    keys: tuple[str, ...]
    if endpoint in {"system_battery", "account_live"}:
        codes = set(_SYSTEM_FIELDS)
        codes |= set(LIVE_FIELDS) if endpoint == "account_live" else set()
        return {"records": _live_rows(records, codes)}
    if endpoint == "stats":
        return {"records": _stats_counts(records)}
    if endpoint == "installations":
        keys = ("idSite", "name", "identifier", "timezone")
        rows = records if isinstance(records, list) else []
        return {"records": [_pick(row, keys) for row in rows]}
    if endpoint == "system_overview":
        keys = (
            "name",
            "customName",
            "productName",
            "productCode",
            "firmwareVersion",
            "instance",
            "idDeviceType",
            "loggingInterval",
            "lastConnection",
        )
        devices = records.get("devices") if isinstance(records, Mapping) else None
        rows = devices if isinstance(devices, list) else []
        return {"records": {"devices": [_pick(row, keys) for row in rows]}}
    data = records.get("data") if isinstance(records, Mapping) else None
    trimmed: dict[str, Any] = {}
    if isinstance(data, Mapping):
        keys = ("code", "rawValue", "isValid", "hasOldData", "secondsAgo")
        for key, value in data.items():
            if key == "secondsAgo" and isinstance(value, Mapping):
                trimmed[key] = _pick(value, ("value",))
            elif key in _CONTROL_KEYS:
                trimmed[key] = _pick({key: value}, (key,)).get(key)
            else:
                trimmed[key] = _pick(value, keys)
    return {"records": {"data": trimmed}}


def _scrub_text(text: str, secret: str) -> str:
    """The text with the secret blanked out."""
    return text.replace(secret, "**REDACTED**") if secret else text


def _scrub(value: Any, secret: str) -> Any:
    """Replace the secret wherever it appears in a nested structure of strings."""
    if isinstance(value, str):
        return _scrub_text(value, secret)
    if isinstance(value, Mapping):
        return {key: _scrub(item, secret) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secret) for item in value]
    return value
