"""Shared fixtures for the Victron Cerbo GX tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from tests.cerbo_helpers import FakeCerbo

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/victron_cerbo in every test."""


@pytest.fixture
def cerbo(aioclient_mock: AiohttpClientMocker) -> FakeCerbo:
    """The fake Cerbo GX DBus HTTP API on HA's HTTP transport."""
    return FakeCerbo(aioclient_mock)


def load_json_fixture(name: str) -> Any:
    """Return the parsed JSON of tests/fixtures/<name>."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def load_text_fixture(name: str) -> str:
    """Return the raw text of tests/fixtures/<name> (for bodies that are not valid JSON)."""
    return (FIXTURES / name).read_text(encoding="utf-8")
