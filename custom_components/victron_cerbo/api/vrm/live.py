"""Every site's live values from one request: the account's `installations?extended=1`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .battery import system_battery_of
from .errors import VrmResponseError
from .models import VrmAccountLive, VrmSiteAlarm, VrmSiteLive, VrmSkippedSite
from .parsing import _as_bool, _as_float, _as_int, _as_str, _is_valid

# `extended` codes read beside the system battery: code -> (D-Bus service type, field name).
# Matched on code; a listed service other than the expected one is not ours. Only rawValue is
# read: formattedValue and nameEnum are localised ("Inativo", "A descarregar").
LIVE_FIELDS: Final[Mapping[str, tuple[str, str]]] = {
    "S": ("vebus", "vebus_state"),
    "ss": ("system", "system_state"),
    "consumption": ("system", "consumption"),
    "solar_yield": ("system", "solar_power"),
}
_STATES: Final = frozenset({"vebus_state", "system_state"})


def _live_values(extended: list[Any]) -> dict[str, float | None]:
    """The first usable entry of each code in LIVE_FIELDS, by field name."""
    values: dict[str, float | None] = {}
    for entry in extended:
        if not isinstance(entry, Mapping):
            continue
        known = LIVE_FIELDS.get(_as_str(entry.get("code")) or "")
        if known is None or known[1] in values:
            continue
        service = _as_str(entry.get("dbusServiceType"))
        if service is not None and service != known[0]:
            continue
        values[known[1]] = _as_float(entry.get("rawValue")) if _is_valid(entry) else None
    return values


def _state(value: float | None) -> int | None:
    """A raw enum code: a whole non-negative number."""
    code = _as_int(value)
    return code if code is not None and code >= 0 else None


def _moment(value: Any) -> float | None:
    """A unix time in seconds; 0 and negative mean "none" (VRM sends 0 for never)."""
    stamp = _as_float(value)
    return stamp if stamp is not None and stamp > 0 else None


def _alarm_of(item: Any) -> VrmSiteAlarm | None:
    """One `current_alarms` entry: an object (as VRM sends today) or a bare text (its spec)."""
    if isinstance(item, str):
        text = _as_str(item)
        return VrmSiteAlarm(description=text) if text else None
    if not isinstance(item, Mapping):
        return None
    return VrmSiteAlarm(
        description=_as_str(item.get("description")),
        device=_as_str(item.get("device")),
        device_name=_as_str(item.get("customName")),
        instance=_as_int(item.get("instance")),
        level=_as_str(item.get("type")),
        started=_moment(item.get("started")),
        cleared=_moment(item.get("cleared")),
    )


def _alarms(record: Mapping[str, Any], problems: list[str]) -> tuple[VrmSiteAlarm, ...]:
    """The alarm objects, noting what could not be read."""
    listed = record.get("current_alarms")
    if listed is None:
        return ()
    if not isinstance(listed, list):
        problems.append("alarm list not readable")
        return ()
    alarms = [_alarm_of(item) for item in listed]
    unreadable = sum(1 for alarm in alarms if alarm is None)
    if unreadable:
        problems.append(f"{unreadable} alarm entries not readable")
    return tuple(alarm for alarm in alarms if alarm is not None)


def parse_site_live(record: Mapping[str, Any], site_id: int, now: float) -> VrmSiteLive:
    """One record's live values; never raises: what cannot be read is None and noted.

    `now` (unix seconds) dates `data_age` and the battery's `seconds_ago`.
    """
    problems: list[str] = []
    extended = record.get("extended")
    if extended is None:
        problems.append("no live values listed")
    elif not isinstance(extended, list):
        problems.append("live values not a list")
    entries = extended if isinstance(extended, list) else []
    battery = system_battery_of(record, now)
    if battery is None and entries:
        problems.append("no battery values listed")
    values = _live_values(entries)
    last = record.get("last_timestamp")
    last_timestamp = _moment(last)
    if last is not None and last_timestamp is None:
        problems.append("last data time not readable")
    count = _as_int(record.get("num_alarms"))
    flag = record.get("alarm")
    return VrmSiteLive(
        site_id=site_id,
        name=_as_str(record.get("name")) or f"VRM site {site_id}",
        battery=battery,
        alarms=_alarms(record, problems),
        alarm=None if flag is None else _as_bool(flag),
        num_alarms=count if count is not None and count >= 0 else None,
        last_timestamp=last_timestamp,
        data_age=max(0.0, now - last_timestamp) if last_timestamp is not None else None,
        vebus_state=_state(values.get("vebus_state")),
        system_state=_state(values.get("system_state")),
        consumption=values.get("consumption"),
        solar_power=values.get("solar_power"),
        problems=tuple(problems),
    )


def _site_id(record: Any) -> int | str:
    """The record's site id, or why the record is left out."""
    if not isinstance(record, Mapping):
        return "not an object"
    raw = record.get("idSite")
    if raw is None:
        return "no site id"
    site_id = _as_int(raw)
    if site_id is None or site_id < 0:
        return "site id not a whole number"
    return site_id


def parse_account_live(payload: Mapping[str, Any], now: float) -> VrmAccountLive:
    """Every site's live values from `/users/{id}/installations?extended=1`.

    Each record stands alone: a record that is not an object or has no site id is skipped
    with the reason, any other gets a site whose unreadable parts are None and named in its
    `problems`. A site listed twice keeps its first record. VrmResponseError only when there
    is no records list at all.
    """
    records = payload.get("records")
    if not isinstance(records, list):
        raise VrmResponseError("installations without a records list")
    sites: dict[int, VrmSiteLive] = {}
    skipped: list[VrmSkippedSite] = []
    for index, record in enumerate(records):
        site_id = _site_id(record)
        if isinstance(site_id, str):
            skipped.append(VrmSkippedSite(index=index, site_id=None, reason=site_id))
        elif site_id in sites:
            skipped.append(VrmSkippedSite(index=index, site_id=site_id, reason="site listed twice"))
        else:
            sites[site_id] = parse_site_live(record, site_id, now)
    return VrmAccountLive(sites=sites, skipped=tuple(skipped))
