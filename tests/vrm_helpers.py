"""Shared pieces of the VRM integration tests: full URLs for HA's `aioclient_mock`.

The account, site, fixtures and clock are the client package tests' (tests/api/fakes.py).
"""

from __future__ import annotations

from typing import Any

from custom_components.victron_cerbo.api.vrm import DEFAULT_BASE_URL
from tests.api.fakes import (
    BATTERY,
    INSTALLATIONS,
    INSTANCE,
    OVERVIEW,
    SITE_ID,
    TOKEN,
    USER_ID,
    USERS_ME,
    FakeClock,
    vrm_json,
    vrm_text,
)

__all__ = [
    "BATTERY_URL",
    "INSTALLATIONS_URL",
    "INSTANCE",
    "OVERVIEW_URL",
    "SITE_ID",
    "TOKEN",
    "USERS_ME_URL",
    "USER_ID",
    "FakeClock",
    "request_count",
    "vrm_json",
    "vrm_text",
]

USERS_ME_URL = f"{DEFAULT_BASE_URL}{USERS_ME}"
INSTALLATIONS_URL = f"{DEFAULT_BASE_URL}{INSTALLATIONS}"
OVERVIEW_URL = f"{DEFAULT_BASE_URL}{OVERVIEW}"
BATTERY_URL = f"{DEFAULT_BASE_URL}{BATTERY}"


def request_count(mocker: Any, fragment: str = "") -> int:
    """Requests the AiohttpClientMocker saw whose URL contains `fragment`."""
    return sum(1 for call in mocker.mock_calls if fragment in str(call[1]))
