"""VRM's aggregated history (`/installations/{id}/stats?type=custom`), parsed leniently.

VRM answers one series per attribute code, each a list of `[timestamp_ms, mean, min, max]`
(min and max may be missing). A code without data is `false` (or `null`, or an empty list);
with `show_instance` a code maps to one series per instance. Values come as numbers, numeric
strings, localised decimal commas or junk; a point whose mean cannot be read is skipped and
counted, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import VrmResponseError
from .parsing import _as_float

# Intervals and the longest span VRM answers for each (seconds).
_DAY: Final = 86400
STATS_INTERVALS: Final[Mapping[str, tuple[int, int]]] = {
    # name: (length of one interval, longest span of one request)
    "15mins": (900, 31 * _DAY),
    "hours": (3600, 31 * _DAY),
    "2hours": (7200, 31 * _DAY),
    "days": (_DAY, 180 * _DAY),
}
# Attribute codes go into the query string: VRM's are short letters and digits.
_CODE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,15}$")
_DECIMAL_COMMA: Final = re.compile(r"^\s*-?\d+,\d+\s*$")
# Below this a timestamp is in seconds, not milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD: Final = 1e11


@dataclass(frozen=True, kw_only=True)
class VrmStatPoint:
    """One interval of one attribute: its start (unix seconds, UTC) and mean/min/max."""

    start: int
    mean: float
    min: float
    max: float


@dataclass(frozen=True, kw_only=True)
class VrmStats:
    """The series of one stats answer, by attribute code; a code without data has none."""

    interval: str
    series: Mapping[str, tuple[VrmStatPoint, ...]] = field(default_factory=dict)
    skipped: int = 0  # points that could not be read

    def points(self, code: str) -> tuple[VrmStatPoint, ...]:
        """The points of one code, oldest first (empty when VRM had none)."""
        return self.series.get(code, ())


def _number(value: Any) -> float | None:
    """A finite float; also "78,2" (a localised decimal comma)."""
    if isinstance(value, str) and _DECIMAL_COMMA.match(value):
        value = value.replace(",", ".")
    return _as_float(value)


def _timestamp(value: Any) -> int | None:
    """Unix seconds from VRM's milliseconds (seconds also accepted); None when unusable."""
    number = _as_float(value)
    if number is None or number <= 0:
        return None
    seconds = number / 1000 if number >= _MS_THRESHOLD else number
    return int(seconds)


def _point(raw: Any) -> VrmStatPoint | None:
    """`[ts, mean, min, max]` (or a `{"timestamp", "mean", ...}` object) -> a point."""
    if isinstance(raw, Mapping):
        raw = [raw.get("timestamp"), raw.get("mean"), raw.get("min"), raw.get("max")]
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) < 2:  # noqa: PLR2004
        return None
    start = _timestamp(raw[0])
    mean = _number(raw[1])
    if start is None or mean is None:
        return None
    low = _number(raw[2]) if len(raw) > 2 else None  # noqa: PLR2004
    high = _number(raw[3]) if len(raw) > 3 else None  # noqa: PLR2004
    values = [mean] + [value for value in (low, high) if value is not None]
    # a min above the mean (seen with rounding) is widened rather than trusted
    return VrmStatPoint(start=start, mean=mean, min=min(values), max=max(values))


def _series(raw: Any) -> tuple[list[VrmStatPoint], int]:
    """The points of one code and how many were skipped; per-instance maps are merged."""
    if isinstance(raw, Mapping):
        # show_instance: {"0": [...], "1": [...]}; the lowest instance wins a shared interval
        merged: dict[int, VrmStatPoint] = {}
        skipped = 0
        for key in sorted(raw, key=lambda key: (_as_float(key) is None, _as_float(key), key)):
            points, bad = _series(raw[key])
            skipped += bad
            for point in points:
                merged.setdefault(point.start, point)
        return list(merged.values()), skipped
    if not isinstance(raw, list):  # false, null, a message
        return [], 0
    read = [_point(item) for item in raw]
    points = [point for point in read if point is not None]
    return points, len(read) - len(points)


def parse_stats(payload: Mapping[str, Any], codes: Sequence[str], interval: str) -> VrmStats:
    """`stats?type=custom` -> VrmStats with every asked code (missing ones empty).

    Raises VrmResponseError only when the answer has no records at all.
    """
    if "records" not in payload:
        raise VrmResponseError("stats without records")
    records = payload.get("records")
    if not isinstance(records, Mapping):
        # PHP writes an empty map as [] (and some answers carry a text): no data
        records = {}
    series: dict[str, tuple[VrmStatPoint, ...]] = {}
    skipped = 0
    for code in codes:
        points, bad = _series(records.get(code))
        skipped += bad
        unique = {point.start: point for point in points}  # a repeated interval: the last wins
        series[code] = tuple(sorted(unique.values(), key=lambda point: point.start))
    return VrmStats(interval=interval, series=series, skipped=skipped)


# `stats?type=kwh`: the energy of each interval (kWh) by flow, the categories of VRM's own
# Consumption and Solar yield pages: from PV (P), the grid (G), a genset (g) and the battery (B)
# to consumers (c), the battery (b) and the grid (g).
ENERGY_FLOWS: Final = ("Pc", "Pb", "Pg", "Bc", "Bg", "Gc", "Gb", "gc", "gb")


def stats_params(
    codes: Sequence[str], start: int, end: int, interval: str, kind: str = "custom"
) -> list[tuple[str, str]]:
    """The query of one request; ValueError for what VRM would refuse or we never send.

    `kind` "custom" asks for `codes`; "kwh" answers every energy flow and takes no codes.
    """
    if interval not in STATS_INTERVALS:
        raise ValueError(f"unknown interval {interval!r}")
    if kind not in ("custom", "kwh"):
        raise ValueError(f"unknown stats type {kind!r}")
    if kind == "custom" and (
        not codes or any(not isinstance(c, str) or not _CODE.match(c) for c in codes)
    ):
        raise ValueError("codes must be VRM attribute codes")
    for value in (start, end):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("start and end must be unix seconds (non-negative ints)")
    if end <= start:
        raise ValueError("end must be after start")
    if end - start > STATS_INTERVALS[interval][1]:
        raise ValueError(f"VRM answers at most {STATS_INTERVALS[interval][1]} s of {interval}")
    params = [("type", kind)]
    if kind == "custom":
        params += [("attributeCodes[]", code) for code in dict.fromkeys(codes)]
    params += [("interval", interval), ("start", str(start)), ("end", str(end))]
    return params
