"""Client for the Cerbo GX local "DBus HTTP API" (EnergyCitizen/ai_victron_dbus_api, port 8088).

Only `GET /health`, `GET /services` and `GET /value?service=<svc>&path=/` are ever sent. The
server is single-threaded and can hang for 25 s on one D-Bus call, so the client keeps one
request in flight and gives up after a 10 s timeout. Nothing but a `CerboError` leaves it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

import aiohttp
from yarl import URL

from .discovery import (
    MAX_BATTERY_CANDIDATES,
    PLATFORM_SERVICE,
    SYSTEM_SERVICE,
    _battery_from_system,
    _class_and_instance,
    build_discovery,
)
from .errors import CerboConnectionError, CerboResponseError, CerboTimeoutError
from .models import CerboDiscovery, CerboRawPayload, CerboServerInfo
from .parsing import _decode, _int, _service, _str, parse_service_root

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT: Final = 8088
DEFAULT_TIMEOUT: Final = 10.0  # below the server's 25 s D-Bus timeout
MAX_BODY_BYTES: Final = 4 * 1024 * 1024  # a real system root is about 50 kB
PAYLOAD_KEEP_CHARS: Final = 4096  # raw text kept per request for diagnostics


class CerboClient:
    """Talks to the DBus HTTP API on one Cerbo GX; one request at a time."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Keep the injected session; nothing is sent until a method is awaited."""
        self._session = session
        self.host = host.strip()
        if self.host.startswith("[") and self.host.endswith("]"):
            self.host = self.host[1:-1]  # "[fe80::1]" as typed in a browser
        self.port = port
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._payloads: dict[str, CerboRawPayload] = {}
        self.request_count = 0
        self.bytes_received = 0
        try:
            self._base: URL | None = URL.build(scheme="http", host=self.host, port=port)
        except (TypeError, ValueError):
            self._base = None

    @property
    def last_payloads(self) -> dict[str, CerboRawPayload]:
        """The last answer per request (`/health`, `/services` or a service name), trimmed."""
        return dict(self._payloads)

    async def _get(self, path: str, key: str, params: Mapping[str, str] | None = None) -> bytes:
        """Send one GET; return the body of a 200, raise on any other status."""
        status, body = await self._fetch(path, key, params)
        if status != 200:  # noqa: PLR2004
            raise CerboResponseError(f"{path} answered HTTP {status}")
        return body

    async def _fetch(
        self, path: str, key: str, params: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Send one GET under the lock and the timeout; return status and body."""
        if self._base is None or not self.host:
            raise CerboConnectionError(f"{self.host!r} is not a valid host name or address")
        url = self._base.with_path(path)
        async with self._lock:
            self.request_count += 1
            try:
                async with asyncio.timeout(self._timeout):
                    async with self._session.get(
                        url, params=params, allow_redirects=False
                    ) as response:
                        status = response.status
                        body = await self._read(response, path)
            except TimeoutError as err:
                raise CerboTimeoutError(f"No answer to {path} within {self._timeout:g} s") from err
            except (aiohttp.ClientError, OSError) as err:
                raise self._connection_error(err) from err
        self.bytes_received += len(body)
        self._payloads[key] = CerboRawPayload(
            status=status,
            size=len(body),
            text=body[:PAYLOAD_KEEP_CHARS].decode("utf-8", errors="replace"),
        )
        return status, body

    def _connection_error(self, err: aiohttp.ClientError | OSError) -> CerboConnectionError:
        """Name the cause: a refused connection, a name that does not resolve, or other."""
        address = f"{self.host}:{self.port}"
        if isinstance(err, aiohttp.ClientConnectorDNSError):
            return CerboConnectionError(f"Cannot resolve {self.host}", kind="unknown_host")
        cause = err.os_error if isinstance(err, aiohttp.ClientConnectorError) else err
        if isinstance(cause, ConnectionRefusedError):
            return CerboConnectionError(f"{address} refused the connection", kind="refused")
        return CerboConnectionError(f"Cannot reach {address}: {type(err).__name__}")

    def no_value_error(self, service: str) -> CerboResponseError:
        """Why a root gave nothing: the HTTP status when it was not 200, else "no value"."""
        name = "The system service" if service == SYSTEM_SERVICE else service
        status = self.last_status(service)
        if status is not None and status != 200:  # noqa: PLR2004
            return CerboResponseError(
                f"{name} answered HTTP {status}", kind="http_status", reason=f"HTTP {status}"
            )
        return CerboResponseError(f"{name} gave no value", kind="no_value")

    def last_status(self, key: str) -> int | None:
        """The HTTP status of the last answer to one request (a path or a service name)."""
        payload = self._payloads.get(key)
        return payload.status if payload else None

    @staticmethod
    async def _read(response: aiohttp.ClientResponse, path: str) -> bytes:
        """Read the body to EOF (HTTP/1.0, no Content-Length), refusing absurd sizes."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(65536):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise CerboResponseError(f"{path} answered with more than {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def health(self) -> CerboServerInfo:
        """Read `/health`, the only endpoint that needs no D-Bus call."""
        payload = _decode(await self._get("/health", "/health"), "/health")
        if not isinstance(payload, dict) or (
            payload.get("success") is not True and payload.get("status") != "healthy"
        ):
            raise CerboResponseError("/health did not report a healthy DBus HTTP API")
        uptime = _int(payload.get("uptime_seconds"))
        return CerboServerInfo(
            version=_str(payload.get("version")),
            service=_str(payload.get("service")),
            status=_str(payload.get("status")),
            started_at=_str(payload.get("started_at")),
            uptime_seconds=uptime if uptime is not None and uptime >= 0 else None,
        )

    async def services(self) -> list[str]:
        """List the Victron D-Bus services; an empty list means D-Bus failed and is an error."""
        payload = _decode(await self._get("/services", "/services"), "/services")
        raw = payload.get("services") if isinstance(payload, dict) else None
        if raw is not None and not isinstance(raw, list):
            raise CerboResponseError("/services did not answer with a list")
        names = sorted({name for item in raw or () if (name := _service(item))})
        if not names:
            # v3.2 answers count 0 with success true when D-Bus fails; a GX always has several
            raise CerboResponseError("/services listed no Victron services", kind="no_services")
        return names

    async def service_root(self, service: str) -> Mapping[str, Any] | None:
        """Read a whole service as a flat dict; None is "no value" (any non-200, or gone)."""
        status, body = await self._fetch("/value", service, {"service": service, "path": "/"})
        if status != 200:  # noqa: PLR2004
            # 404 (v3.2) and 500 (<= 3.1) both mean unknown, gone or hung; the caller rediscovers
            _LOGGER.debug("%s answered HTTP %s", service, status)
            return None
        return parse_service_root(body, service)

    async def discover(
        self,
        *,
        system_root: Mapping[str, Any] | None = None,
        platform_root: Mapping[str, Any] | None = None,
    ) -> CerboDiscovery:
        """Find the installation's services. Roots the caller already has are not read again."""
        services = await self.services()
        if system_root is None:
            system_root = await self.service_root(SYSTEM_SERVICE)
            if system_root is None:
                raise self.no_value_error(SYSTEM_SERVICE)
        if platform_root is None and PLATFORM_SERVICE in services:
            platform_root = await self.service_root(PLATFORM_SERVICE)
        battery = _battery_from_system(system_root, services)
        if battery[0] is None:
            battery = await self._battery_by_instance(system_root, services)
        return build_discovery(services, system_root, platform_root, battery)

    async def _battery_by_instance(
        self, system_root: Mapping[str, Any], services: Sequence[str]
    ) -> tuple[str | None, int | None]:
        """Match ActiveBatteryService to a listed service by reading DeviceInstance."""
        wanted = _class_and_instance(system_root.get("ActiveBatteryService"))
        if wanted is None:
            return None, None
        service_class, instance = wanted
        candidates = [name for name in services if name.startswith(f"{service_class}.")]
        for candidate in candidates[:MAX_BATTERY_CANDIDATES]:
            root = await self.service_root(candidate)
            if root is not None and _int(root.get("DeviceInstance")) == instance:
                return candidate, instance
        return None, instance
