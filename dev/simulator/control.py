"""The /sim/* control endpoints, served next to both APIs (never faulted, never locked)."""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any

from aiohttp import web

from .faults import FaultError, parse_time
from .model import SimulatedInstallation

MODEL_KEY = web.AppKey("model", SimulatedInstallation)
CONTROL_PREFIX = "/sim/"


class ControlError(ValueError):
    """A control request is not acceptable."""


def is_control(request: web.Request) -> bool:
    return request.path.startswith(CONTROL_PREFIX)


def html_error_page(status: int) -> web.Response:
    """What a reverse proxy (nginx) answers when the app behind it is down."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    body = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return web.Response(status=status, text=body, content_type="text/html")


def _ok(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data | {"success": True}, status=status)


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message, "success": False}, status=400)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError as err:
        raise ControlError(f"body is not JSON: {err}") from err
    if not isinstance(data, dict):
        raise ControlError("body must be a JSON object")
    return data


def _model(request: web.Request) -> SimulatedInstallation:
    return request.app[MODEL_KEY]


async def get_state(request: web.Request) -> web.Response:
    return _ok(_model(request).state())


async def get_solark(request: web.Request) -> web.Response:
    model = _model(request)
    return _ok({"soc": model.solark_soc(), "timestamp": model.now().isoformat()})


async def get_faults(request: web.Request) -> web.Response:
    model = _model(request)
    return _ok({"faults": model.faults.describe(model.timestamp())})


async def post_fault(request: web.Request) -> web.Response:
    model = _model(request)
    try:
        fault = model.faults.add(await _body(request), model.timestamp())
    except (ControlError, FaultError) as err:
        return _bad(str(err))
    return _ok({"fault": fault.as_dict()}, status=201)


async def delete_faults(request: web.Request) -> web.Response:
    model = _model(request)
    target = request.query.get("target")
    raw_id = request.query.get("id")
    if raw_id is not None and not raw_id.isdigit():
        return _bad("id must be an integer")
    cleared = model.faults.clear(target, None if raw_id is None else int(raw_id))
    return _ok({"cleared": cleared})


def _finite(data: dict[str, Any], key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ControlError(f"{key} must be a finite number")
    return float(value)


async def post_time(request: web.Request) -> web.Response:
    """{"now": ISO} sets the simulated time, {"advance": s} moves it, {"speed": x} rescales."""
    model = _model(request)
    try:
        data = await _body(request)
        if not {"now", "advance", "speed"} & set(data):
            return _bad("give now, advance and/or speed")
        if "now" in data:
            model.set_time(parse_time(data["now"], "now"))
        if "advance" in data:
            model.advance(_finite(data, "advance"))
        if "speed" in data:
            model.set_speed(_finite(data, "speed"))
    except (ControlError, FaultError, ValueError) as err:
        return _bad(str(err))
    return _ok({"now": model.now().isoformat(), "speed": model.clock.speed})


async def post_grid(request: web.Request) -> web.Response:
    model = _model(request)
    try:
        data = await _body(request)
    except ControlError as err:
        return _bad(str(err))
    available = data.get("available")
    if not isinstance(available, bool):
        return _bad("available must be true or false")
    model.set_grid(available)
    return _ok({"available": model.grid_on(model.timestamp())})


async def post_override(request: web.Request) -> web.Response:
    model = _model(request)
    try:
        data = await _body(request)
    except ControlError as err:
        return _bad(str(err))
    service, path = data.get("service"), data.get("path")
    if not isinstance(service, str) or not isinstance(path, str) or "value" not in data:
        return _bad("give service, path and value")
    model.set_override(service, path, data["value"])
    return _ok({"service": service, "path": path, "value": data["value"]})


async def delete_overrides(request: web.Request) -> web.Response:
    _model(request).clear_overrides()
    return _ok({})


async def post_token(request: web.Request) -> web.Response:
    """Rotate the VRM token the server accepts: the old one now gets 401, as if revoked."""
    model = _model(request)
    try:
        data = await _body(request)
    except ControlError as err:
        return _bad(str(err))
    token = data.get("token")
    if not isinstance(token, str) or not token:
        return _bad("token must be a non-empty string")
    model.token = token
    return _ok({})


async def get_requests(request: web.Request) -> web.Response:
    return _ok(_model(request).request_counts())


async def delete_requests(request: web.Request) -> web.Response:
    _model(request).requests.clear()
    return _ok({})


def add_control_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/sim/state", get_state)
    router.add_get("/sim/solark", get_solark)
    router.add_get("/sim/fault", get_faults)
    router.add_post("/sim/fault", post_fault)
    router.add_delete("/sim/fault", delete_faults)
    router.add_post("/sim/time", post_time)
    router.add_post("/sim/grid", post_grid)
    router.add_post("/sim/override", post_override)
    router.add_delete("/sim/override", delete_overrides)
    router.add_post("/sim/token", post_token)
    router.add_get("/sim/requests", get_requests)
    router.add_delete("/sim/requests", delete_requests)
