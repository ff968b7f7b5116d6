"""Shared pieces of the VRM tests: ids, URLs, fixtures and a fake clock."""

from __future__ import annotations

import copy
from typing import Any

from custom_components.victron_cerbo.api.vrm import DEFAULT_BASE_URL
from tests.conftest import load_json_fixture, load_text_fixture

TOKEN = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
USER_ID = 22222
SITE_ID = 123456
INSTANCE = 512

USERS_ME_URL = f"{DEFAULT_BASE_URL}/users/me"
INSTALLATIONS_URL = f"{DEFAULT_BASE_URL}/users/{USER_ID}/installations"
OVERVIEW_URL = f"{DEFAULT_BASE_URL}/installations/{SITE_ID}/system-overview"
BATTERY_URL = f"{DEFAULT_BASE_URL}/installations/{SITE_ID}/widgets/BatterySummary"


def vrm_json(name: str) -> Any:
    """A fresh copy of tests/fixtures/vrm/<name>.json (safe to mutate)."""
    return copy.deepcopy(load_json_fixture(f"vrm/{name}.json"))


def vrm_text(name: str) -> str:
    """The raw text of tests/fixtures/vrm/<name>."""
    return load_text_fixture(f"vrm/{name}")


class FakeClock:
    """A monotonic clock that only moves when told; `sleep` moves it and records the delay."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def request_count(mocker: Any, fragment: str = "") -> int:
    """Requests the AiohttpClientMocker saw whose URL contains `fragment`."""
    return sum(1 for call in mocker.mock_calls if fragment in str(call[1]))
