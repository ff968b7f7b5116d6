"""Checks for the local API's untrusted values: a wrong type or a non-finite number is None.

Its JSON is not strict: it holds `NaN`/`Infinity`, `[]` for an invalid value and JSON inside
strings. Bodies are decoded with the standard library; every value is checked where it is read,
and a service root's values are cleaned only when read (`ServiceRoot`), not as a whole tree.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

from ..victron import ALARM_LEVELS
from .errors import CerboResponseError

MAX_INT: Final = 2**64  # D-Bus integers are at most 64 bits; anything larger is garbage
MAX_SERVICE_NAME: Final = 255  # D-Bus limit on a bus name


_SERVICE_NAME = re.compile(r"com\.victronenergy\.[A-Za-z0-9_]+(?:\.[A-Za-z0-9_-]+)*")
_PORTAL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CAN_STATISTICS = re.compile(r"CanBus/Interface/([A-Za-z0-9_]+)/Statistics")


def _clean(value: Any) -> Any:
    """Map non-finite numbers and `[]` (Victron's "invalid") to None, at every depth."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_clean(item) for item in value] if value else None
    if isinstance(value, dict):
        return {str(key): _clean(item) for key, item in value.items()}
    return value


def _num(value: Any, digits: int) -> float | None:
    """Return a finite number rounded to `digits` (float32 noise off), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    if not math.isfinite(number):
        return None
    return round(number, digits) + 0.0  # + 0.0 turns -0.0 into 0.0


def _int(value: Any) -> int | None:
    """Return an integer; a float is accepted only when it is whole."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and abs(value) <= MAX_INT:
        return value
    return None


def _str(value: Any) -> str | None:
    """Return a non-empty stripped string, else None."""
    if isinstance(value, str) and (text := value.strip()):
        return text
    return None


def _flag(value: Any) -> bool | None:
    """Return a boolean from a bool or a 0/1 number (both encodings occur)."""
    if isinstance(value, bool):
        return value
    number = _int(value)
    if number in (0, 1):
        return bool(number)
    return None


def _level(value: Any) -> int | None:
    """Return an alarm level 0 (ok), 1 (warning) or 2 (alarm)."""
    number = _int(value)
    return number if number in ALARM_LEVELS else None


def _enum(value: Any, names: Mapping[int, str]) -> str | None:
    """Return the option key of an enum code, None when unknown."""
    code = _int(value)
    return None if code is None else names.get(code)


def _service(value: Any) -> str | None:
    """Return a syntactically valid Victron D-Bus service name, else None."""
    text = _str(value)
    if text is None or len(text) > MAX_SERVICE_NAME or not _SERVICE_NAME.fullmatch(text):
        return None
    return text


def _embedded_json(value: Any) -> Any:
    """Decode a path whose value is JSON inside a string; None when it is not."""
    if isinstance(value, list | dict):
        return value
    if not isinstance(value, str):
        return None
    try:
        return _clean(json.loads(value))
    except (ValueError, RecursionError):
        return None


def _sum(values: Sequence[float | None], digits: int) -> float | None:
    """Sum the valid values (phases); None when none is valid."""
    present = [value for value in values if value is not None]
    return round(sum(present), digits) + 0.0 if present else None


def _prefixed(
    root: Mapping[str, Any], prefix: str, convert: Callable[[Any], Any]
) -> dict[str, Any]:
    """Collect `prefix<name>` keys whose converted value is valid, by name."""
    found: dict[str, Any] = {}
    for key, raw in root.items():
        if key.startswith(prefix) and (value := convert(raw)) is not None:
            found[key.removeprefix(prefix)] = value
    return dict(sorted(found.items()))


def _phases(root: Mapping[str, Any], pattern: str, digits: int) -> list[float | None]:
    """Read the L1..L3 values of a per-phase path pattern such as `Ac/Grid/{}/Power`."""
    return [_num(root.get(pattern.format(phase)), digits) for phase in ("L1", "L2", "L3")]


def _describe_body(body: bytes) -> str:
    """Say what an unusable body looked like, without echoing it."""
    head = body.lstrip()[:64].lower()
    if not head:
        return "an empty body"
    if head.startswith((b"<!doctype", b"<html", b"<")):
        return "an HTML page"
    return "malformed JSON"


def _load(body: bytes, what: str) -> Any:
    """Decode JSON with stdlib semantics (NaN and Infinity are accepted, left as they are)."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise CerboResponseError(f"{what} answered with {_describe_body(body)}") from err


def _decode(body: bytes, what: str) -> Any:
    """Decode a small answer (`/health`, `/services`) and clean all of it."""
    return _clean(_load(body, what))


class ServiceRoot(Mapping[str, Any]):
    """A service root as decoded, each value cleaned when it is read.

    Cleaning a real system root (about 54 kB, 220 keys) up front costs as much as decoding it,
    while a reading looks at some 50 of its keys and the typed readers reject `[]` and NaN
    anyway. Reading a key gives what cleaning the whole tree would have given.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: dict[str, Any]) -> None:
        """Wrap the decoded dict; nothing is copied."""
        self._raw = raw

    def __getitem__(self, key: str) -> Any:
        """The value, cleaned: `[]` and non-finite numbers are None, at every depth."""
        return _clean(self._raw[key])

    def get(self, key: str, default: Any = None) -> Any:
        """The cleaned value, or `default` when the key is absent (without raising)."""
        value = self._raw.get(key, _ABSENT)
        return default if value is _ABSENT else _clean(value)

    def __iter__(self) -> Iterator[str]:
        """The keys, as sent."""
        return iter(self._raw)

    def __len__(self) -> int:
        """How many paths the root holds."""
        return len(self._raw)


_ABSENT: Final = object()


def parse_service_root(body: bytes, service: str) -> ServiceRoot | None:
    """The flat service dict of a `/value?path=/` answer; None is "no value"."""
    payload = _load(body, f"/value for {service}")
    if not isinstance(payload, dict):
        raise CerboResponseError(f"/value for {service} did not answer with an object")
    value = payload.get("value")
    if isinstance(value, dict):
        return None if payload.get("success") is False else ServiceRoot(value)
    if payload.get("success") is False or _clean(value) is None:
        return None  # also `[]` and NaN, Victron's "invalid"
    raise CerboResponseError(f"/value for {service} did not answer with a service tree")
