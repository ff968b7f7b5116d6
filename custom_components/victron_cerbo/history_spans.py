"""The hours the VRM history import has done, as joined spans, and its kept progress.

Spans are [start, end) in unix seconds on whole UTC hours (statistics hours are UTC hours,
whatever the time zone, so DST days simply have 23 or 25 of them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from .history_energy import ENERGY_STATISTICS

HOUR: Final = 3600

type Span = tuple[int, int]  # [start, end) in unix seconds, whole hours


def floor_hour(seconds: float) -> int:
    """The start of the UTC hour: statistics hours are UTC hours, whatever the time zone."""
    return int(seconds // HOUR * HOUR)


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, joined spans."""
    result: list[Span] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], end))
        else:
            result.append((start, end))
    return result


def subtract(spans: Iterable[Span], minus: Iterable[Span]) -> list[Span]:
    """The parts of `spans` outside `minus`."""
    result = merge(spans)
    for cut_start, cut_end in merge(minus):
        pieces: list[Span] = []
        for start, end in result:
            if cut_end <= start or end <= cut_start:
                pieces.append((start, end))
                continue
            if start < cut_start:
                pieces.append((start, cut_start))
            if cut_end < end:
                pieces.append((cut_end, end))
        result = pieces
    return result


def hours_of(spans: Iterable[Span]) -> set[int]:
    """Every hour start in the spans."""
    return {hour for start, end in spans for hour in range(start, end, HOUR)}


def spans_of(hours: Iterable[int]) -> list[Span]:
    """Hours -> joined spans."""
    return merge((hour, hour + HOUR) for hour in hours)


@dataclass(kw_only=True)
class Progress:
    """What is kept across restarts."""

    done: list[Span] = field(default_factory=list)  # hours needing no fetch
    ours: list[Span] = field(default_factory=list)  # hours we imported (may overwrite)
    refetch: list[tuple[int, int, int]] = field(default_factory=list)  # start, end, due
    requests: int = 0
    rows: int = 0
    retry_at: float | None = None  # a 429's Retry-After (wall clock) or a pause after an error
    last_error: str | None = None
    energy_until: int | None = None  # the end of the hours of energy imported
    energy_next: float = 0.0  # when energy is asked for again
    energy_keys: list[str] = field(default_factory=list)  # energy statistics written so far

    def as_store(self) -> dict[str, Any]:
        """JSON for the Store."""
        return {
            "done": [list(span) for span in self.done],
            "ours": [list(span) for span in self.ours],
            "refetch": [list(item) for item in self.refetch],
            "requests": self.requests,
            "rows": self.rows,
            "retry_at": self.retry_at,
            "last_error": self.last_error,
            "energy_until": self.energy_until,
            "energy_next": self.energy_next,
            "energy_keys": self.energy_keys,
        }

    @classmethod
    def from_store(cls, data: Any) -> Progress:
        """Back from the Store; anything unreadable starts afresh (importing again is safe)."""
        if not isinstance(data, dict):
            return cls()
        try:
            return cls(
                done=merge((int(a), int(b)) for a, b in data.get("done", [])),
                ours=merge((int(a), int(b)) for a, b in data.get("ours", [])),
                refetch=[(int(a), int(b), int(c)) for a, b, c in data.get("refetch", [])],
                requests=int(data.get("requests", 0)),
                rows=int(data.get("rows", 0)),
                retry_at=float(data["retry_at"]) if data.get("retry_at") is not None else None,
                last_error=_text(data.get("last_error")),
                energy_until=(
                    int(data["energy_until"]) if data.get("energy_until") is not None else None
                ),
                energy_next=float(data.get("energy_next", 0.0)),
                energy_keys=[
                    key for key in data.get("energy_keys", []) if key in ENERGY_STATISTICS
                ],
            )
        except (TypeError, ValueError):
            return cls()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
