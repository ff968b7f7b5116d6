"""Client for the Victron VRM API v2, personal access tokens only.

Written like a standalone library: nothing here imports Home Assistant. The caller injects the
aiohttp session. Every request, including retries, passes through a `RequestBudget` that caps
the requests in a rolling hour and holds all traffic while VRM's Retry-After runs. At most one
request is in flight per client.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Final

import aiohttp

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://vrmapi.victronenergy.com/v2"
DEFAULT_TIMEOUT: Final = 10.0  # seconds for one whole request
# One quick retry, and only when the connection failed: a timeout or a 5xx waits for the next
# poll (3 minutes later), so an outage costs one request per poll, not four.
MAX_RETRIES: Final = 1
BACKOFF: Final = 1.0  # first retry delay in seconds; doubles each time
DEFAULT_RATE_LIMIT_HOLD: Final = 300.0  # a 429 without Retry-After still pauses us this long
MAX_RETRY_AFTER: Final = 86400.0  # never believe a wait longer than a day

# Battery state is derived the way Venus systemcalc derives /Dc/Battery/State (+-30 W), so
# VRM and the local API agree; the current band is used only when the voltage is missing.
IDLE_POWER_DEADBAND: Final = 30.0  # W
IDLE_CURRENT_DEADBAND: Final = 0.5  # A

_CONTROL_KEYS: Final = frozenset({"hasOldData", "secondsAgo"})
_ALARM_LEVELS: Final = frozenset({0, 1, 2})

# BatterySummary attributes: code -> (idDataAttribute, field name). Matched on code and id.
_BATTERY_FIELDS: Final[Mapping[str, tuple[int, str]]] = {
    "V": (47, "voltage"),
    "VS": (48, "starter_voltage"),
    "I": (49, "current"),
    "CE": (50, "consumed_ah"),
    "SOC": (51, "soc"),
    "TTG": (52, "time_to_go"),
    "BT": (115, "temperature"),
    "VM": (116, "midpoint_voltage"),
    "VMD": (117, "midpoint_deviation"),
    "mcV": (173, "min_cell_voltage"),
    "McV": (174, "max_cell_voltage"),
    "mvc": (274, "charge_voltage_limit"),
    "mcc": (276, "charge_current_limit"),
    "mdc": (277, "discharge_current_limit"),
}

# Alarm attributes: code -> (idDataAttribute, alarm name). Names follow the D-Bus /Alarms paths.
_BATTERY_ALARMS: Final[Mapping[str, tuple[int, str]]] = {
    "AL": (119, "low_voltage"),
    "AH": (120, "high_voltage"),
    "ALS": (121, "low_starter_voltage"),
    "AHS": (122, "high_starter_voltage"),
    "ASoc": (123, "low_soc"),
    "ALT": (124, "low_temperature"),
    "AHT": (125, "high_temperature"),
    "AM": (126, "mid_voltage"),
    "ALF": (155, "low_fused_voltage"),
    "AHF": (156, "high_fused_voltage"),
    "AFB": (157, "fuse_blown"),
    "AHIT": (158, "high_internal_temperature"),
    "ACI": (286, "cell_imbalance"),
    "AHC": (287, "high_charge_current"),
    "AHD": (288, "high_discharge_current"),
    "AIE": (289, "internal_failure"),
    "AHCT": (459, "high_charge_temperature"),
    "ALCT": (460, "low_charge_temperature"),
    "ALCV": (522, "low_cell_voltage"),
    "Abc": (739, "charge_blocked"),
    "Abd": (740, "discharge_blocked"),
}

# The GX's system battery in `installations?extended=1` (codes bv/bs/bc/bst, ids checked too):
# what VRM shows for a site whose battery is measured by an inverter or MPPT, not a monitor.
_SYSTEM_FIELDS: Final[Mapping[str, tuple[int | None, str]]] = {
    "bv": (143, "voltage"),
    "bs": (144, "soc"),
    "bc": (147, "current"),
    "bp": (None, "power"),  # id not documented; matched on code and the system service
    "bst": (215, "state"),
}
_SYSTEM_STATES: Final[Mapping[int, str]] = {0: "idle", 1: "charging", 2: "discharging"}
SYSTEM_BATTERY_INSTANCE: Final = 0
# Devices that measure the battery when there is no monitor, in the GX's order of preference.
_MEASURING_DEVICES: Final = ("VE.Bus System", "Inverter", "Solar Charger")

_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


# --- errors -------------------------------------------------------------------------------


class VrmError(Exception):
    """Base class of every VRM client error.

    `kind` is a short stable string for health reporting; `status` the HTTP status, if any;
    `cause` says in plain words what went wrong ("timeout", "HTTP 503", "connection refused").
    """

    kind: str = "error"
    cause: str = "error"

    def __init__(
        self, message: str, *, status: int | None = None, cause: str | None = None
    ) -> None:
        """Keep the HTTP status and the plain cause next to the message."""
        super().__init__(message)
        self.status = status
        if cause is not None:
            self.cause = cause
        elif status is not None:
            self.cause = f"HTTP {status}"


class VrmConnectionError(VrmError):
    """VRM could not be reached, timed out or kept answering 5xx after the retries."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "connection",
        status: int | None = None,
        cause: str | None = None,
    ) -> None:
        """`kind` is "timeout", "server_error" or "connection"."""
        super().__init__(message, status=status, cause=cause)
        self.kind = kind


class VrmAuthenticationError(VrmError):
    """401: the token is invalid, revoked or expired."""

    kind = "auth"
    cause = "token rejected"


class VrmForbiddenError(VrmError):
    """403: the token is valid but may not see this site (or user)."""

    kind = "forbidden"

    def __init__(self, message: str, *, site_id: int | None = None) -> None:
        """Remember which site was refused."""
        super().__init__(message, status=HTTPStatus.FORBIDDEN, cause="HTTP 403 (no access)")
        self.site_id = site_id


class VrmRateLimitError(VrmError):
    """429, or a request refused locally because VRM's Retry-After has not passed yet."""

    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None, sent: bool = True) -> None:
        """`retry_after` is in seconds; None when VRM did not say. `sent`: VRM answered 429."""
        cause = "HTTP 429 (rate limited)" if sent else "waiting for VRM's Retry-After"
        super().__init__(message, status=HTTPStatus.TOO_MANY_REQUESTS, cause=cause)
        self.retry_after = retry_after


class VrmBudgetExceededError(VrmError):
    """Our own cap on requests per rolling hour is reached; nothing was sent."""

    kind = "budget"
    cause = "request budget used up"

    def __init__(self, message: str, *, retry_after: float) -> None:
        """`retry_after` is the number of seconds until a slot frees up."""
        super().__init__(message)
        self.retry_after = retry_after


class VrmResponseError(VrmError):
    """VRM answered, but not with what we asked for (success:false, HTML, wrong shape, 4xx)."""

    kind = "bad_response"
    cause = "unexpected answer"


def connection_cause(err: aiohttp.ClientError) -> str:
    """Plain words for why a connection failed."""
    if isinstance(err, aiohttp.ClientConnectorDNSError):
        return "name not resolved"
    if isinstance(err, aiohttp.ClientConnectorError):
        if err.os_error.errno == errno.ECONNREFUSED:
            return "connection refused"
        return "cannot connect"
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return "connection closed"
    if isinstance(err, aiohttp.ClientPayloadError):
        return "answer cut off"
    return "connection failed"


# --- request budget -----------------------------------------------------------------------


class RequestBudget:
    """Counts every request in a rolling window and refuses the one that would exceed the cap.

    It also holds the moment until which VRM asked us to stay quiet (Retry-After), so that the
    hold survives when a new client is built around the same budget.
    """

    def __init__(
        self,
        warning: int = 40,
        limit: int = 45,
        window: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Cap at `limit` requests per `window` seconds; `near_limit` from `warning` on."""
        if window <= 0:
            raise ValueError("window must be positive")
        self._clock = clock
        self._window = float(window)
        self._sent: deque[float] = deque()
        self._hold_until: float | None = None
        self._warned = False
        self._limit = 1
        self._warning = 1
        self.configure(warning=warning, limit=limit)

    def configure(self, *, warning: int, limit: int) -> None:
        """Change the thresholds; the requests already counted stay counted."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if not 0 <= warning <= limit:
            raise ValueError("warning must be between 0 and limit")
        self._limit = int(limit)
        self._warning = int(warning)

    @property
    def limit(self) -> int:
        """Most requests allowed in one window."""
        return self._limit

    @property
    def warning(self) -> int:
        """Request count from which `near_limit` is true."""
        return self._warning

    @property
    def window(self) -> float:
        """Length of the rolling window in seconds."""
        return self._window

    def _prune(self, now: float) -> None:
        """Forget requests that left the window."""
        cutoff = now - self._window
        while self._sent and self._sent[0] <= cutoff:
            self._sent.popleft()

    @property
    def used(self) -> int:
        """Requests sent in the last window."""
        self._prune(self._clock())
        return len(self._sent)

    @property
    def remaining(self) -> int:
        """Requests still allowed in the current window."""
        return max(0, self._limit - self.used)

    @property
    def near_limit(self) -> bool:
        """True once the warning threshold is reached."""
        return self.used >= self._warning

    def seconds_until_free(self) -> float:
        """Seconds until one more request is allowed (0 when one is allowed now)."""
        now = self._clock()
        self._prune(now)
        if len(self._sent) < self._limit:
            return 0.0
        # The oldest request that must leave before the count drops below the limit.
        blocking = self._sent[len(self._sent) - self._limit]
        return max(0.0, blocking + self._window - now)

    def acquire(self) -> None:
        """Count one request, or raise VrmBudgetExceededError without counting it."""
        now = self._clock()
        self._prune(now)
        if len(self._sent) >= self._limit:
            wait = self.seconds_until_free()
            raise VrmBudgetExceededError(
                f"VRM request budget reached ({self._limit} per {self._window:.0f} s); "
                f"next slot in {wait:.0f} s",
                retry_after=wait,
            )
        self._sent.append(now)
        if len(self._sent) >= self._warning:
            if not self._warned:
                self._warned = True
                _LOGGER.warning(
                    "VRM request budget: %d of %d requests used in the last %.0f s",
                    len(self._sent),
                    self._limit,
                    self._window,
                )
        else:
            self._warned = False

    def hold(self, seconds: float) -> None:
        """Refuse every request for the next `seconds` (extends, never shortens, a hold)."""
        until = self._clock() + max(0.0, seconds)
        if self._hold_until is None or until > self._hold_until:
            self._hold_until = until

    def hold_remaining(self) -> float:
        """Seconds left of the current Retry-After hold (0 when none)."""
        if self._hold_until is None:
            return 0.0
        left = self._hold_until - self._clock()
        if left <= 0:
            self._hold_until = None
            return 0.0
        return left

    def sent_times(self) -> tuple[float, ...]:
        """Clock readings of the requests in the current window, oldest first."""
        self._prune(self._clock())
        return tuple(self._sent)


# --- data ---------------------------------------------------------------------------------


class VrmBatteryState(StrEnum):
    """Battery direction, derived from power (or current) with a dead band."""

    CHARGING = "charging"
    DISCHARGING = "discharging"
    IDLE = "idle"


@dataclass(frozen=True, kw_only=True)
class VrmUser:
    """The account behind the token (`/users/me`)."""

    id: int
    name: str | None = None
    access_token_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class VrmSite:
    """One installation. `identifier` is the VRM portal ID, equal to the Cerbo's /Serial."""

    id: int
    name: str
    identifier: str
    timezone: str | None = None


@dataclass(frozen=True, kw_only=True)
class VrmBatteryMonitor:
    """A battery monitor or BMS on the site; `instance` is what BatterySummary needs."""

    instance: int
    name: str
    product_name: str | None = None
    product_code: str | None = None
    firmware: str | None = None
    last_connection: int | None = None


@dataclass(frozen=True, kw_only=True)
class VrmDevice:
    """Any device of the site, named as the user named it where possible."""

    kind: str  # VRM's device name: "Solar Charger", "VE.Bus System", ...
    instance: int | None = None
    name: str | None = None  # the user's custom name
    product_name: str | None = None

    @property
    def label(self) -> str:
        """Custom name and product, e.g. "Roof · SmartSolar MPPT 150/35", or what is known."""
        parts = [part for part in (self.name, self.product_name) if part]
        return " · ".join(dict.fromkeys(parts)) or self.kind


@dataclass(frozen=True, kw_only=True)
class VrmSystemOverview:
    """The site's devices as far as this integration cares (`/system-overview`).

    `battery_measured_by` is the device that measures the battery when the site has no
    battery monitor (the GX then uses the inverter's or the MPPTs' own measurement).
    """

    battery_monitors: tuple[VrmBatteryMonitor, ...] = ()
    battery_measured_by: VrmDevice | None = None
    gateway_model: str | None = None
    firmware: str | None = None
    logging_interval: int | None = None  # seconds between GX uploads
    gateway_last_connection: int | None = None  # unix seconds
    device_count: int = 0


@dataclass(frozen=True, kw_only=True)
class VrmBatteryReading:
    """One BatterySummary, in SI units; a value VRM did not report (or marked invalid) is None.

    `current` and `power` are positive while charging. `power` is voltage x current (the
    widget has no power attribute). `time_to_go` is in seconds (VRM sends hours; D-Bus uses
    seconds). `alarms` maps an alarm name such as "low_voltage" to 0 ok, 1 warning, 2 alarm.
    `seconds_ago` is VRM's age of the sample; `stale_fields` names values VRM flags as old.
    """

    instance: int
    soc: float | None = None
    voltage: float | None = None
    current: float | None = None
    power: float | None = None
    temperature: float | None = None
    state: VrmBatteryState | None = None
    consumed_ah: float | None = None
    time_to_go: float | None = None
    starter_voltage: float | None = None
    midpoint_voltage: float | None = None
    midpoint_deviation: float | None = None
    min_cell_voltage: float | None = None
    max_cell_voltage: float | None = None
    charge_voltage_limit: float | None = None
    charge_current_limit: float | None = None
    discharge_current_limit: float | None = None
    alarms: dict[str, int] = field(default_factory=dict, hash=False)
    seconds_ago: float | None = None
    has_old_data: bool = False
    stale_fields: frozenset[str] = frozenset()
    system: bool = False  # the GX's system battery (no monitor), not a monitor's own values

    @property
    def highest_alarm(self) -> int:
        """The worst alarm level (0 when there are none)."""
        return max(self.alarms.values(), default=0)


# --- lenient value parsing ----------------------------------------------------------------


def _as_float(value: Any) -> float | None:
    """A finite float from a number or numeric string; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def _as_int(value: Any) -> int | None:
    """An int from an int, an integral float or a numeric string; None otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = _as_float(value)
    if number is None or not number.is_integer():
        return None
    return int(number)


def _as_str(value: Any) -> str | None:
    """A non-empty stripped string, or None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _as_bool(value: Any) -> bool:
    """VRM spells booleans as true/false, 1/0 or "1"/"0"."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return value is True or (isinstance(value, (int, float)) and value == 1)


def _is_valid(attribute: Mapping[str, Any]) -> bool:
    """An attribute without `isValid` is taken as valid."""
    return "isValid" not in attribute or _as_bool(attribute["isValid"])


def _require_id(value: Any, what: str) -> int:
    """Ids go into URL paths, so only plain non-negative ints are accepted."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative int")
    return value


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or HTTP date); None if unusable.

    `now` is the wall-clock time (unix seconds) to measure an HTTP date against.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _alarm_name(code: str | None, attribute: Mapping[str, Any]) -> str | None:
    """The alarm name for an attribute, from the known codes or its /Alarms/ D-Bus path."""
    if code is not None and code in _BATTERY_ALARMS:
        return _BATTERY_ALARMS[code][1]
    path = _as_str(attribute.get("dbusPath"))
    if path and path.startswith("/Alarms/") and path.count("/") == 2:  # noqa: PLR2004
        return _SNAKE.sub("_", path.removeprefix("/Alarms/")).lower()
    return None


def _attribute_number(attribute: Mapping[str, Any]) -> float | None:
    """The number: rawValue has full precision; fall back to valueFloat, then value."""
    for key in ("rawValue", "valueFloat", "value"):
        number = _as_float(attribute.get(key))
        if number is not None:
            return number
    return None


def _alarm_level(attribute: Mapping[str, Any]) -> int | None:
    """An alarm enum value 0/1/2, or None."""
    for key in ("rawValue", "valueEnum", "value"):
        level = _as_int(attribute.get(key))
        if level is not None:
            return level if level in _ALARM_LEVELS else None
    return None


def _seconds_ago(value: Any) -> float | None:
    """`secondsAgo` is {"value": 42, ...} in the spec, a bare number in some payloads."""
    if isinstance(value, Mapping):
        value = value.get("value")
    seconds = _as_float(value)
    return seconds if seconds is not None and seconds >= 0 else None


def _derive_state(power: float | None, current: float | None) -> VrmBatteryState | None:
    """Charging/discharging/idle from the sign of power (or current) outside a dead band."""
    if power is not None:
        value, band = power, IDLE_POWER_DEADBAND
    elif current is not None:
        value, band = current, IDLE_CURRENT_DEADBAND
    else:
        return None
    if abs(value) < band:
        return VrmBatteryState.IDLE
    return VrmBatteryState.CHARGING if value > 0 else VrmBatteryState.DISCHARGING


@dataclass
class _Collected:
    """What one pass over a widget's attributes found."""

    values: dict[str, float | None] = field(default_factory=dict)
    alarms: dict[str, int] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)
    attributes: int = 0


def _collect(data: Mapping[str, Any], meta: Mapping[str, Any]) -> _Collected:
    """Sort the widget's attribute objects into values and alarms, by code checked against id."""
    found = _Collected()
    for key, attribute in data.items():
        if key in _CONTROL_KEYS or not isinstance(attribute, Mapping):
            continue
        found.attributes += 1
        attribute_id = _as_int(key)
        if attribute_id is None:
            attribute_id = _as_int(attribute.get("idDataAttribute"))
        code = _as_str(attribute.get("code"))
        if code is None and isinstance(meta.get(key), Mapping):
            code = _as_str(meta[key].get("code"))
        known = _BATTERY_FIELDS.get(code or "")
        if known is not None:
            if attribute_id is not None and attribute_id != known[0]:
                continue  # same code, different attribute: not ours
            found.values[known[1]] = _attribute_number(attribute) if _is_valid(attribute) else None
            if _as_bool(attribute.get("hasOldData")):
                found.stale.add(known[1])
            continue
        alarm_id = _BATTERY_ALARMS.get(code or "", (attribute_id, ""))[0]
        if attribute_id is not None and attribute_id != alarm_id:
            continue
        alarm = _alarm_name(code, attribute)
        level = _alarm_level(attribute) if _is_valid(attribute) else None
        if alarm is not None and level is not None:
            found.alarms[alarm] = level
    return found


def parse_battery_summary(payload: Mapping[str, Any], instance: int) -> VrmBatteryReading | None:
    """Turn a BatterySummary payload into a reading; None when the widget holds no data."""
    records = payload.get("records")
    if not isinstance(records, Mapping) or "data" not in records:
        raise VrmResponseError("BatterySummary without records.data")
    data = records["data"]
    if data is None or (isinstance(data, list) and not data):
        return None  # PHP serialises an empty object as []
    if not isinstance(data, Mapping):
        raise VrmResponseError("BatterySummary records.data is not an object")
    meta = records.get("meta")
    found = _collect(data, meta if isinstance(meta, Mapping) else {})
    if not found.attributes:
        return None
    values = found.values

    soc = values.get("soc")
    if soc is not None and not 0 <= soc <= 100:  # noqa: PLR2004
        soc = None
    voltage = values.get("voltage")
    current = values.get("current")
    power = round(voltage * current, 2) if voltage is not None and current is not None else None
    time_to_go = values.get("time_to_go")
    if time_to_go is not None:
        time_to_go = time_to_go * 3600 if time_to_go >= 0 else None
    return VrmBatteryReading(
        instance=instance,
        soc=soc,
        voltage=voltage,
        current=current,
        power=power,
        temperature=values.get("temperature"),
        state=_derive_state(power, current),
        consumed_ah=values.get("consumed_ah"),
        time_to_go=time_to_go,
        starter_voltage=values.get("starter_voltage"),
        midpoint_voltage=values.get("midpoint_voltage"),
        midpoint_deviation=values.get("midpoint_deviation"),
        min_cell_voltage=values.get("min_cell_voltage"),
        max_cell_voltage=values.get("max_cell_voltage"),
        charge_voltage_limit=values.get("charge_voltage_limit"),
        charge_current_limit=values.get("charge_current_limit"),
        discharge_current_limit=values.get("discharge_current_limit"),
        alarms=found.alarms,
        seconds_ago=_seconds_ago(data.get("secondsAgo")),
        has_old_data=_as_bool(data.get("hasOldData")),
        stale_fields=frozenset(found.stale),
    )


def _system_value(entry: Mapping[str, Any]) -> tuple[str, float | None] | None:
    """(field, number) for one `extended` entry of the system battery; None when not one."""
    code = _as_str(entry.get("code"))
    known = _SYSTEM_FIELDS.get(code or "")
    if known is None:
        return None
    attribute_id = _as_int(entry.get("idDataAttribute"))
    if known[0] is not None and attribute_id is not None and attribute_id != known[0]:
        return None
    service = _as_str(entry.get("dbusServiceType"))
    if service is not None and service != "system":
        return None
    # rawValue only: formattedValue is localised ("Inativo", "A descarregar")
    return known[1], _as_float(entry.get("rawValue")) if _is_valid(entry) else None


def parse_system_battery(
    payload: Mapping[str, Any], site_id: int, now: float
) -> VrmBatteryReading | None:
    """The GX's system battery of one site from `installations?idSite=&extended=1`.

    None when VRM lists none of its values. `now` (unix seconds) dates the sample: its age is
    that of the oldest value used.
    """
    records = payload.get("records")
    if not isinstance(records, list):
        raise VrmResponseError("installations without a records list")
    record = next(
        (
            row
            for row in records
            if isinstance(row, Mapping) and _as_int(row.get("idSite")) == site_id
        ),
        None,
    )
    if record is None:
        raise VrmResponseError(f"installations without site {site_id}")
    extended = record.get("extended")
    values: dict[str, float | None] = {}
    stamps: list[float] = []
    for entry in extended if isinstance(extended, list) else []:
        if not isinstance(entry, Mapping) or (found := _system_value(entry)) is None:
            continue
        name, number = found
        if name in values:
            continue  # the first of a code wins
        values[name] = number
        if number is not None and (stamp := _as_float(entry.get("timestamp"))) is not None:
            stamps.append(stamp)
    if not values:
        return None
    soc = values.get("soc")
    if soc is not None and not 0 <= soc <= 100:  # noqa: PLR2004
        soc = None
    voltage, current = values.get("voltage"), values.get("current")
    power = values.get("power")
    if power is None and voltage is not None and current is not None:
        power = round(voltage * current, 2)
    level = values.get("state")
    state_name = _SYSTEM_STATES.get(int(level)) if level is not None else None
    state = VrmBatteryState(state_name) if state_name else _derive_state(power, current)
    return VrmBatteryReading(
        instance=SYSTEM_BATTERY_INSTANCE,
        soc=soc,
        voltage=voltage,
        current=current,
        power=power,
        state=state,
        seconds_ago=max(0.0, now - min(stamps)) if stamps else None,
        system=True,
    )


def _is_battery_monitor(device: Mapping[str, Any]) -> bool:
    """VRM names them "Battery Monitor" (idDeviceType 2); BMS batteries appear the same way."""
    css = device.get("class")
    return (
        device.get("name") == "Battery Monitor"
        or _as_int(device.get("idDeviceType")) == 2  # noqa: PLR2004
        or (isinstance(css, str) and "device-battery-monitor" in css)
    )


def parse_system_overview(payload: Mapping[str, Any]) -> VrmSystemOverview:
    """Pick the gateway and the battery monitors out of `/system-overview`."""
    records = payload.get("records")
    devices = records.get("devices") if isinstance(records, Mapping) else None
    if not isinstance(devices, list):
        raise VrmResponseError("system-overview without records.devices")
    monitors: dict[int, VrmBatteryMonitor] = {}
    gateway: Mapping[str, Any] = {}
    measuring: dict[str, VrmDevice] = {}
    for device in devices:
        if not isinstance(device, Mapping):
            continue
        if device.get("name") == "Gateway" and not gateway:
            gateway = device
        kind = device.get("name")
        if kind in _MEASURING_DEVICES and kind not in measuring:
            measuring[kind] = VrmDevice(
                kind=kind,
                instance=_as_int(device.get("instance")),
                name=_as_str(device.get("customName")),
                product_name=_as_str(device.get("productName")),
            )
        if not _is_battery_monitor(device):
            continue
        instance = _as_int(device.get("instance"))
        if instance is None or instance in monitors:
            continue
        monitors[instance] = VrmBatteryMonitor(
            instance=instance,
            name=_as_str(device.get("customName")) or _as_str(device.get("name")) or "Battery",
            product_name=_as_str(device.get("productName")),
            product_code=_as_str(device.get("productCode")),
            firmware=_as_str(device.get("firmwareVersion")),
            last_connection=_as_int(device.get("lastConnection")),
        )
    measured_by = next((measuring[k] for k in _MEASURING_DEVICES if k in measuring), None)
    return VrmSystemOverview(
        battery_monitors=tuple(monitors.values()),
        battery_measured_by=None if monitors else measured_by,
        gateway_model=_as_str(gateway.get("productName")),
        firmware=_as_str(gateway.get("firmwareVersion")),
        logging_interval=_as_int(gateway.get("loggingInterval")),
        gateway_last_connection=_as_int(gateway.get("lastConnection")),
        device_count=sum(1 for device in devices if isinstance(device, Mapping)),
    )


def parse_user(payload: Mapping[str, Any]) -> VrmUser:
    """`/users/me` -> VrmUser."""
    user = payload.get("user")
    user_id = _as_int(user.get("id")) if isinstance(user, Mapping) else None
    if not isinstance(user, Mapping) or user_id is None:
        raise VrmResponseError("users/me without a numeric user.id")
    return VrmUser(
        id=user_id,
        name=_as_str(user.get("name")),
        access_token_id=_as_int(user.get("idAccessToken")),
    )


def parse_installations(payload: Mapping[str, Any]) -> list[VrmSite]:
    """`/users/{id}/installations` -> sites; records without a numeric idSite are skipped."""
    records = payload.get("records")
    if not isinstance(records, list):
        raise VrmResponseError("installations without a records list")
    sites: list[VrmSite] = []
    for record in records:
        site_id = _as_int(record.get("idSite")) if isinstance(record, Mapping) else None
        if not isinstance(record, Mapping) or site_id is None:
            continue
        identifier = _as_str(record.get("identifier"))
        if identifier is None and _as_int(record.get("identifier")) is not None:
            identifier = str(record["identifier"])
        sites.append(
            VrmSite(
                id=site_id,
                name=_as_str(record.get("name")) or f"VRM site {site_id}",
                identifier=identifier or "",
                timezone=_as_str(record.get("timezone")),
            )
        )
    return sites


# --- diagnostics trimming -----------------------------------------------------------------


def _pick(source: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """The listed keys of a mapping with plain values (so copies stay small and flat)."""
    if not isinstance(source, Mapping):
        return {}
    return {
        key: source[key]
        for key in keys
        if key in source and (source[key] is None or isinstance(source[key], str | int | float))
    }


def _trim(endpoint: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Keep what helps triage and drop the bulk (meta, formats) and personal data (email)."""
    records = payload.get("records")
    if endpoint == "users_me":
        return {"user": _pick(payload.get("user"), ("id", "name", "accessLevel", "idAccessToken"))}
    keys: tuple[str, ...]
    if endpoint == "system_battery":
        rows = records if isinstance(records, list) else []
        trimmed_rows = []
        for row in rows:
            extended = row.get("extended") if isinstance(row, Mapping) else None
            kept = [
                _pick(item, ("code", "rawValue", "isValid", "instance", "timestamp"))
                for item in (extended if isinstance(extended, list) else [])
                if isinstance(item, Mapping) and item.get("code") in _SYSTEM_FIELDS
            ]
            trimmed_rows.append(
                _pick(row, ("idSite", "name", "last_timestamp", "num_alarms")) | {"extended": kept}
            )
        return {"records": trimmed_rows}
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


# --- the client ---------------------------------------------------------------------------


class VrmClient:
    """Async VRM API v2 client for one personal access token.

    `sleep` (backoff) and `clock`/`wall_clock` are injectable so tests and benchmarks never
    wait for real. `last_payloads` keeps trimmed copies of the latest answers for diagnostics;
    they never contain the token.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token: str,
        *,
        budget: RequestBudget | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = MAX_RETRIES,
        backoff: float = BACKOFF,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Use `session` for every request; `budget` defaults to 40 warning / 45 limit."""
        self._session = session
        self._token = token.strip()
        self.budget = budget if budget is not None else RequestBudget(clock=clock)
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._timeout_seconds = timeout
        self._max_retries = max(0, max_retries)
        self._backoff = backoff
        # looked up at each call, so a patched (test) clock is seen too
        self._wall_clock = wall_clock or (lambda: time.time())  # noqa: PLW0108
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self.last_payloads: dict[str, Any] = {}

    def __repr__(self) -> str:
        """Never show the token."""
        return f"VrmClient(base_url={self._base_url!r})"

    # public API

    async def get_user(self) -> VrmUser:
        """Validate the token and learn the user id (`/users/me`)."""
        payload = await self._get("/users/me", endpoint="users_me")
        return parse_user(payload)

    async def get_installations(self, user_id: int) -> list[VrmSite]:
        """The sites the token can see."""
        user_id = _require_id(user_id, "user_id")
        payload = await self._get(f"/users/{user_id}/installations", endpoint="installations")
        return parse_installations(payload)

    async def get_system_overview(self, site_id: int) -> VrmSystemOverview:
        """The site's gateway and battery monitors."""
        site_id = _require_id(site_id, "site_id")
        payload = await self._get(
            f"/installations/{site_id}/system-overview",
            endpoint="system_overview",
            site_id=site_id,
        )
        return parse_system_overview(payload)

    async def get_battery_summary(self, site_id: int, instance: int) -> VrmBatteryReading | None:
        """The latest battery values; None when VRM has no data for that instance."""
        site_id = _require_id(site_id, "site_id")
        instance = _require_id(instance, "instance")
        payload = await self._get(
            f"/installations/{site_id}/widgets/BatterySummary",
            params={"instance": str(instance)},
            endpoint="battery_summary",
            site_id=site_id,
        )
        return parse_battery_summary(payload, instance)

    async def get_system_battery(self, user_id: int, site_id: int) -> VrmBatteryReading | None:
        """The GX's system battery values of one site: one request for a site with no monitor."""
        user_id = _require_id(user_id, "user_id")
        site_id = _require_id(site_id, "site_id")
        payload = await self._get(
            f"/users/{user_id}/installations",
            params={"idSite": str(site_id), "extended": "1"},
            endpoint="system_battery",
            site_id=site_id,
        )
        return parse_system_battery(payload, site_id, self._wall_clock())

    # transport

    def _token_usable(self) -> bool:
        """A token VRM could accept: visible ASCII without spaces (it goes into a header)."""
        token = self._token
        return bool(token) and token.isascii() and token.isprintable() and " " not in token

    async def _get(
        self,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, str] | None = None,
        site_id: int | None = None,
    ) -> dict[str, Any]:
        """GET with budget, hold, retries and error mapping; returns the decoded JSON object."""
        if not self._token_usable():
            raise VrmAuthenticationError(
                "The VRM access token is empty or malformed", cause="token empty or malformed"
            )
        url = f"{self._base_url}{path}"
        async with self._lock:
            attempt = 0
            failure: VrmConnectionError | None = None
            while True:
                remaining = self.budget.hold_remaining()
                if remaining > 0:
                    raise VrmRateLimitError(
                        f"VRM asked us to wait; {remaining:.0f} s left",
                        retry_after=remaining,
                        sent=False,
                    ) from failure
                try:
                    self.budget.acquire()
                except VrmBudgetExceededError as err:
                    raise err from failure
                result = await self._attempt(url, params, endpoint, site_id)
                if isinstance(result, dict):
                    return result
                failure = result
                if failure.kind != "connection" or attempt >= self._max_retries:
                    raise failure
                delay = self._backoff * 2**attempt
                attempt += 1
                _LOGGER.debug(
                    "VRM %s failed (%s); retry %d in %.1f s", endpoint, failure.kind, attempt, delay
                )
                await self._sleep(delay)

    async def _attempt(
        self,
        url: str,
        params: Mapping[str, str] | None,
        endpoint: str,
        site_id: int | None,
    ) -> dict[str, Any] | VrmConnectionError:
        """One request. Returns the payload, or a transient error worth retrying; raises others."""
        headers = {"X-Authorization": f"Token {self._token}", "Accept": "application/json"}
        try:
            # No redirects: aiohttp would forward X-Authorization to wherever they point.
            async with self._session.get(
                url, params=params, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                body = await response.read()
        except TimeoutError:
            return VrmConnectionError(
                f"VRM did not answer within {self._timeout_seconds:g} s",
                kind="timeout",
                cause="timeout",
            )
        except aiohttp.ClientError as err:
            cause = connection_cause(err)
            message = _scrub_text(f"Cannot reach VRM ({cause}): {err}", self._token)
            return VrmConnectionError(message, kind="connection", cause=cause)
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            self._remember_error(status, body)
            return VrmConnectionError(
                f"VRM answered HTTP {status}", kind="server_error", status=status
            )
        return self._handle(status, retry_after, body, endpoint, site_id)

    def _remember_error(self, status: int, body: bytes) -> None:
        """Keep the status and error_code of the last failure for diagnostics, not the body."""
        self.last_payloads["last_error"] = {"status": status, "error_code": self._error_code(body)}

    def _error_code(self, body: bytes) -> str | None:
        """VRM's `error_code` from a JSON error body; the localised `errors` text is ignored."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
        code = payload.get("error_code") if isinstance(payload, dict) else None
        if not isinstance(code, str):
            return None
        return _scrub_text(code[:64], self._token)

    def _error_detail(self, payload: Mapping[str, Any]) -> str | None:
        """`error_code`, else the first `errors` text (a string, a list or a field map)."""
        code = payload.get("error_code")
        if isinstance(code, str) and code:
            return _scrub_text(code[:64], self._token)
        errors = payload.get("errors")
        if isinstance(errors, Mapping):
            errors = list(errors.values())
        if isinstance(errors, list):
            errors = next((item for item in errors if isinstance(item, str)), None)
        if not isinstance(errors, str) or not errors.strip():
            return None
        return _scrub_text(errors.strip()[:80], self._token)

    def _handle(
        self,
        status: int,
        retry_after: str | None,
        body: bytes,
        endpoint: str,
        site_id: int | None,
    ) -> dict[str, Any]:
        """Map a non-5xx answer to a payload or an error."""
        if status == HTTPStatus.UNAUTHORIZED:
            self._remember_error(status, body)
            raise VrmAuthenticationError(
                "VRM rejected the access token (invalid, revoked or expired)",
                status=status,
                cause="HTTP 401 (token rejected)",
            )
        if status == HTTPStatus.FORBIDDEN:
            self._remember_error(status, body)
            what = f"site {site_id}" if site_id is not None else "this resource"
            raise VrmForbiddenError(
                f"The VRM access token has no access to {what}", site_id=site_id
            )
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            self._remember_error(status, body)
            wait = parse_retry_after(retry_after, self._wall_clock())
            self.budget.hold(DEFAULT_RATE_LIMIT_HOLD if wait is None else wait)
            said = "no Retry-After" if wait is None else f"retry after {wait:.0f} s"
            raise VrmRateLimitError(f"VRM rate limit hit ({said})", retry_after=wait)
        if not HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES:
            self._remember_error(status, body)
            code = self._error_code(body)
            detail = f" ({code})" if code else ""
            raise VrmResponseError(f"VRM answered HTTP {status}{detail}", status=status)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as err:
            self._remember_error(status, b"")
            raise VrmResponseError(
                f"VRM answered HTTP {status} with a body that is not JSON",
                status=status,
                cause="unparsable answer",
            ) from err
        if not isinstance(payload, dict):
            raise VrmResponseError(
                f"VRM answered HTTP {status} with a non-object",
                status=status,
                cause="unexpected answer",
            )
        if payload.get("success") is False:
            self._remember_error(status, body)
            code = self._error_detail(payload)
            raise VrmResponseError(
                f"VRM reported failure ({code or 'no error_code'})",
                status=status,
                cause=f"VRM reported an error ({code})" if code else "VRM reported an error",
            )
        self.last_payloads[endpoint] = _scrub(_trim(endpoint, payload), self._token)
        return payload
