"""Scenario files: a JSON description of a run (start, speed, config, outages, faults)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .config import ConfigError, SimConfig
from .faults import FaultError, parse_time
from .model import SimulatedInstallation

_KEYS = frozenset({"start", "speed", "seed", "config", "grid_outages", "faults", "overrides"})


@dataclass(slots=True)
class Scenario:
    start: datetime | None = None
    speed: float | None = None
    seed: int | None = None
    config: SimConfig = field(default_factory=SimConfig)
    outages: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    overrides: list[dict[str, Any]] = field(default_factory=list)


def _list_of_objects(data: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ConfigError(f"{key} must be a list of objects")
    return items


def parse_scenario(data: Any) -> Scenario:
    if not isinstance(data, dict):
        raise ConfigError("a scenario must be a JSON object")
    unknown = set(data) - _KEYS
    if unknown:
        raise ConfigError(f"unknown scenario key(s): {', '.join(sorted(unknown))}")
    scenario = Scenario()
    try:
        if data.get("start") is not None:
            scenario.start = parse_time(data["start"], "start")
        for item in _list_of_objects(data, "grid_outages"):
            end = item.get("end")
            scenario.outages.append(
                (
                    parse_time(item.get("start"), "outage start"),
                    None if end is None else parse_time(end, "outage end"),
                )
            )
    except FaultError as err:
        raise ConfigError(str(err)) from err
    speed = data.get("speed")
    if speed is not None:
        if isinstance(speed, bool) or not isinstance(speed, int | float) or speed < 0:
            raise ConfigError("speed must be a number >= 0")
        scenario.speed = float(speed)
    seed = data.get("seed")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError("seed must be an integer")
        scenario.seed = seed
    config = data.get("config", {})
    if not isinstance(config, dict):
        raise ConfigError("config must be an object")
    scenario.config = SimConfig.from_mapping(config)
    scenario.faults = _list_of_objects(data, "faults")
    scenario.overrides = _list_of_objects(data, "overrides")
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read scenario {path}: {err}") from err
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ConfigError(f"scenario {path} is not valid JSON: {err}") from err
    return parse_scenario(data)


def build_installation(
    scenario: Scenario,
    *,
    start: datetime | None = None,
    speed: float | None = None,
    seed: int | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> SimulatedInstallation:
    """A model from a scenario; explicit arguments win over the file's values."""
    begin = start or scenario.start
    if begin is None:
        raise ConfigError("no start time: give one in the scenario or as an argument")
    model = SimulatedInstallation(
        begin,
        speed=speed
        if speed is not None
        else (scenario.speed if scenario.speed is not None else 1.0),
        seed=seed if seed is not None else (scenario.seed or 0),
        config=scenario.config,
        monotonic=monotonic,
    )
    for outage_start, outage_end in scenario.outages:
        model.add_outage(
            outage_start.timestamp(), None if outage_end is None else outage_end.timestamp()
        )
    try:
        for spec in scenario.faults:
            model.faults.add(spec, model.timestamp())
    except FaultError as err:
        raise ConfigError(f"bad fault in scenario: {err}") from err
    for item in scenario.overrides:
        service, path = item.get("service"), item.get("path")
        if not isinstance(service, str) or not isinstance(path, str) or "value" not in item:
            raise ConfigError("an override needs service, path and value")
        model.set_override(service, path, item["value"])
    return model
