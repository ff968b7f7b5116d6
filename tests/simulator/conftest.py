"""Fixtures of the simulator's tests: its servers listen on loopback."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _loopback(socket_enabled: None) -> None:
    """The test plugin blocks sockets unless a test opts in; the servers are on 127.0.0.1."""
