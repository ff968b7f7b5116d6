"""A fake Cerbo GX DBus HTTP API for the tests, faked at the transport.

`FakeCerbo` answers through HA's `aioclient_mock` (a regex matcher plus a side effect that
routes by path and `service=`), so the client's real aiohttp code path runs up to the socket.
The service names and fixture readers are the client package tests' (tests/api/fakes.py).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

from tests.api import fakes
from tests.api.fakes import (
    LYNX,
    PLATFORM,
    PORTAL_ID,
    PYLONTECH,
    ROOT_FIXTURES,
    SYSTEM,
    TEMP_5,
    TEMP_6,
    VEBUS,
    VIRTUAL,
    envelope,
    fixture_json,
    fixture_text,
    root_of,
)

__all__ = [
    "BASE",
    "HOST",
    "LEGACY_500",
    "LYNX",
    "NOT_FOUND_404",
    "PLATFORM",
    "PORT",
    "PORTAL_ID",
    "PYLONTECH",
    "ROOT_FIXTURES",
    "SYSTEM",
    "TEMP_5",
    "TEMP_6",
    "VEBUS",
    "VIRTUAL",
    "FakeCerbo",
    "Reply",
    "envelope",
    "fixture_json",
    "fixture_text",
    "root_of",
]

HOST = "192.168.1.20"
PORT = 8088
BASE = f"http://{HOST}:{PORT}"


@dataclass
class Reply(fakes.Reply):
    """One canned answer; on this mocked transport also an exception the session raises."""

    exc: BaseException | None = None


NOT_FOUND_404 = Reply.fixture("error_404.json", 404)
LEGACY_500 = Reply.fixture("error_500_legacy.json", 500)


class FakeCerbo:
    """Routes the client's GETs to canned replies and counts them per path and service."""

    def __init__(self, aioclient_mock: AiohttpClientMocker, host: str = HOST) -> None:
        """Register one catch-all GET matcher for the host; every other method stays unmocked."""
        self.mock = aioclient_mock
        self.health = Reply.fixture("health_v32.json")
        self.services = Reply.fixture("services.json")
        self.roots: dict[str, Reply] = {
            service: Reply.fixture(name) for service, name in ROOT_FIXTURES.items()
        }
        self.missing = NOT_FOUND_404
        self.log: list[tuple[str, str | None]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate: asyncio.Event | None = None  # when set, every answer waits for it
        aioclient_mock.get(
            re.compile(rf"^http://{re.escape(host)}:{PORT}/"), side_effect=self._answer
        )

    def set_root(self, service: str, value: Any) -> None:
        """Serve `value` as the service's root dict."""
        self.roots[service] = Reply(text=envelope(service, value))

    async def _answer(self, method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        service = url.query.get("service") if url.path == "/value" else None
        self.log.append((url.path, service))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            reply = self._route(url, service)
            if reply.hang:
                await asyncio.Event().wait()
        finally:
            self.in_flight -= 1
        response = AiohttpClientMockResponse(method, url, status=reply.status, text=reply.text)
        response.exc = reply.exc
        return response

    def _route(self, url: URL, service: str | None) -> Reply:
        if url.path == "/health":
            return self.health
        if url.path == "/services":
            return self.services
        if url.path == "/value" and service is not None and url.query.get("path") == "/":
            return self.roots.get(service, self.missing)
        if url.path == "/value":
            return Reply.fixture("error_400.json", 400)
        return Reply.fixture("error_route_404.json", 404)

    def counts(self) -> Counter[str]:
        """Requests per `/health`, `/services` or service name."""
        return Counter(service or path for path, service in self.log)

    def reset(self) -> None:
        """Forget the request log."""
        self.log.clear()
