"""Fault injection: what to break, for which API, for how many requests or how long."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TARGETS = ("local", "vrm")
# per-request faults: each matching request is answered badly (and consumes `count`)
REQUEST_KINDS = ("hang", "5xx", "429", "401", "403", "malformed", "html", "success_false")
# state faults: a window of simulated time during which the installation itself is different
WINDOW_KINDS = ("vanish_battery", "stale", "dbus_down")
KINDS = REQUEST_KINDS + WINDOW_KINDS
ONLY_TARGET = {"403": "vrm", "success_false": "vrm", "stale": "vrm", "dbus_down": "local"}
_FIELDS = frozenset(
    {"target", "kind", "count", "duration", "at", "retry_after", "seconds", "status"}
    | {"match", "service"}
)
DEFAULT_RETRY_AFTER = 60
HTTP_MIN, HTTP_MAX, HTTP_5XX = 200, 599, 500


class FaultError(ValueError):
    """A fault description is not acceptable."""


@dataclass(slots=True)
class Fault:
    id: int
    target: str
    kind: str
    starts_at: float  # simulated unix time
    ends_at: float | None = None
    remaining: int | None = None  # requests still to be hit; None = unlimited
    retry_after: int = DEFAULT_RETRY_AFTER
    seconds: float | None = None  # hang length in real seconds; None = the config default
    status: int | None = None
    match: str | None = None  # substring of the request path and query
    service: str | None = None  # local only: the D-Bus service it applies to
    hits: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def active(self, now: float) -> bool:
        if now < self.starts_at or (self.ends_at is not None and now >= self.ends_at):
            return False
        return self.remaining is None or self.remaining > 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "kind": self.kind,
            "starts_at": _iso(self.starts_at),
            "ends_at": None if self.ends_at is None else _iso(self.ends_at),
            "remaining": self.remaining,
            "retry_after": self.retry_after,
            "seconds": self.seconds,
            "status": self.status,
            "match": self.match,
            "service": self.service,
            "hits": self.hits,
        }


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def parse_time(value: Any, name: str) -> datetime:
    """An ISO 8601 time with a zone (a trailing Z is fine)."""
    if not isinstance(value, str):
        raise FaultError(f"{name} must be an ISO 8601 string")
    try:
        when = datetime.fromisoformat(value)
    except ValueError as err:
        raise FaultError(f"{name} is not an ISO 8601 time: {value!r}") from err
    if when.tzinfo is None:
        raise FaultError(f"{name} needs a time zone, e.g. 2026-01-15T12:00:00Z")
    return when


def _number(spec: Mapping[str, Any], key: str, *, integer: bool = False) -> float | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultError(f"{key} must be a number")
    if integer and not isinstance(value, int):
        raise FaultError(f"{key} must be an integer")
    if value < 0:
        raise FaultError(f"{key} must not be negative")
    return float(value)


def _text(spec: Mapping[str, Any], key: str) -> str | None:
    value = spec.get(key)
    if value is not None and not isinstance(value, str):
        raise FaultError(f"{key} must be a string")
    return value


class FaultInjector:
    """The active and scheduled faults of one simulated installation."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.version = 0  # bumped whenever the set of faults changes
        self.hanging = 0  # requests currently held by a hang fault
        self._next_id = 1

    def add(self, spec: Mapping[str, Any], now: float) -> Fault:
        """Validate a fault description (the POST /sim/fault body) and schedule it."""
        fault = self.parse(spec, now)
        self.faults.append(fault)
        self._next_id += 1
        self.version += 1
        return fault

    def parse(self, spec: Mapping[str, Any], now: float) -> Fault:
        unknown = set(spec) - _FIELDS
        if unknown:
            raise FaultError(f"unknown field(s): {', '.join(sorted(unknown))}")
        target, kind = spec.get("target"), spec.get("kind")
        if target not in TARGETS:
            raise FaultError(f"target must be one of {', '.join(TARGETS)}")
        if kind not in KINDS:
            raise FaultError(f"kind must be one of {', '.join(KINDS)}")
        if ONLY_TARGET.get(kind, target) != target:
            raise FaultError(f"kind {kind} only applies to target {ONLY_TARGET[kind]}")
        count = _number(spec, "count", integer=True)
        if count is not None and kind in WINDOW_KINDS:
            raise FaultError(f"count does not apply to {kind}; use duration")
        if count == 0:
            raise FaultError("count must be at least 1")
        duration = _number(spec, "duration")
        starts = parse_time(spec["at"], "at").timestamp() if spec.get("at") is not None else now
        status = _number(spec, "status", integer=True)
        if status is not None:
            low = HTTP_5XX if kind == "5xx" else HTTP_MIN
            if kind not in {"5xx", "html"} or not low <= status <= HTTP_MAX:
                raise FaultError(f"status {status:.0f} does not fit kind {kind}")
        service = _text(spec, "service")
        if service is not None and target != "local":
            raise FaultError("service only applies to target local")
        retry_after = _number(spec, "retry_after", integer=True)
        return Fault(
            id=self._next_id,
            target=target,
            kind=kind,
            starts_at=starts,
            ends_at=None if duration is None else starts + duration,
            remaining=None if count is None else int(count),
            retry_after=DEFAULT_RETRY_AFTER if retry_after is None else int(retry_after),
            seconds=_number(spec, "seconds"),
            status=None if status is None else int(status),
            match=_text(spec, "match"),
            service=service,
        )

    def clear(self, target: str | None = None, fault_id: int | None = None) -> int:
        """Remove faults (all, one target's, or one id) and release requests they hold."""
        keep: list[Fault] = []
        removed = 0
        for fault in self.faults:
            if (target is None or fault.target == target) and fault_id in (None, fault.id):
                fault.release.set()
                removed += 1
            else:
                keep.append(fault)
        self.faults = keep
        if removed:
            self.version += 1
        return removed

    def take(
        self, target: str, path_qs: str, service: str | None, now: float, *, dbus: bool
    ) -> Fault | None:
        """The request fault that applies to this request, counting it as hit."""
        for fault in self.faults:
            if fault.kind in WINDOW_KINDS or fault.target != target or not fault.active(now):
                continue
            if fault.match is not None:
                if fault.match not in path_qs:
                    continue
            elif fault.kind == "hang" and target == "local" and not dbus:
                continue  # only D-Bus calls hang on the Cerbo; /health never waits on D-Bus
            if fault.service is not None and fault.service != service:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
            fault.hits += 1
            return fault
        return None

    def window(self, kind: str, t: float) -> Fault | None:
        """The state fault of this kind in force at simulated time t."""
        for fault in self.faults:
            if fault.kind == kind and fault.active(t):
                return fault
        return None

    async def hang(self, fault: Fault, seconds: float) -> None:
        """Hold the request until the hang times out or the fault is cleared."""
        self.hanging += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fault.release.wait(), seconds)
        finally:
            self.hanging -= 1

    def describe(self, now: float) -> list[dict[str, Any]]:
        return [fault.as_dict() | {"active": fault.active(now)} for fault in self.faults]
