"""The VRM API v2 subset, served from what the simulated GX logger has uploaded."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from aiohttp import web

from . import services as svc
from .account import ACCOUNT_KEY, SimulatedAccount, get_account
from .config import SimConfig
from .control import MODEL_KEY, add_control_routes, html_error_page, is_control
from .faults import Fault
from .model import LogRecord, SimulatedInstallation

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ACCESS_TOKEN_ID = 98765
ALARM_ENUM = [
    {"nameEnum": "Ok", "valueEnum": 0},
    {"nameEnum": "Warning", "valueEnum": 1},
    {"nameEnum": "Alarm", "valueEnum": 2},
]
STATE_ENUM = [
    {"nameEnum": "Idle", "valueEnum": 0},
    {"nameEnum": "Charging", "valueEnum": 1},
    {"nameEnum": "Discharging", "valueEnum": 2},
]

# BatterySummary meta, exactly the attribute list VRM returns for a battery (id -> fields)
META: tuple[tuple[int, str, str, str, str, str | None], ...] = (
    (47, "V", "Voltage", "%.2F", "%.2F V", "Battery Voltage"),
    (48, "VS", "Starter battery voltage", "%.2F", "%.2F V", None),
    (49, "I", "Current", "%.2F", "%.2F A", "Battery Current"),
    (50, "CE", "Consumed Amphours", "%.2F", "%.2F Ah", None),
    (51, "SOC", "State of charge", "%.1F", "%.1F %%", "Percentage"),
    (52, "TTG", "Time to go", "%.2F", "%.2F h", None),
    (54, "Relay", "Relay status", "%s", "%s", None),
    (115, "BT", "Battery temperature", "%.0F", "%.0F °C", None),
    (116, "VM", "Mid-point voltage of the battery bank", "%.2F", "%.2F V", "Battery Voltage"),
    (117, "VMD", "Mid-point deviation of the battery bank", "%.1F", "%.1F %%", "Percentage"),
    (119, "AL", "Low voltage alarm", "%s", "%s", None),
    (120, "AH", "High voltage alarm", "%s", "%s", None),
    (121, "ALS", "Low starter-voltage alarm", "%s", "%s", None),
    (122, "AHS", "High starter-voltage alarm", "%s", "%s", None),
    (123, "ASoc", "Low state-of-charge alarm", "%s", "%s", None),
    (124, "ALT", "Low battery temperature alarm", "%s", "%s", None),
    (125, "AHT", "High battery temperature alarm", "%s", "%s", None),
    (126, "AM", "Mid-voltage alarm", "%s", "%s", None),
    (155, "ALF", "Low fused-voltage alarm", "%s", "%s", None),
    (156, "AHF", "High fused-voltage alarm", "%s", "%s", None),
    (157, "AFB", "Fuse blown alarm", "%s", "%s", None),
    (158, "AHIT", "High internal-temperature alarm", "%s", "%s", None),
    (173, "mcV", "Minimum cell voltage", "%.2F", "%.2F V", None),
    (174, "McV", "Maximum cell voltage", "%.2F", "%.2F V", None),
    (182, "eRelay", "IO; external relay", "%s", "%s", None),
    (286, "ACI", "Cell Imbalance alarm", "%s", "%s", None),
    (289, "AIE", "Internal error alarm", "%s", "%s", None),
    (522, "ALCV", "Low cell voltage", "%s", "%s", None),
)
META_BY_ID = {row[0]: row for row in META}
ATTRIBUTE_ORDER = [119, 120, 121, 122, 123, 124, 125, 126, 155, 156, 157, 158, 47, 49, 50, 51]
ATTRIBUTE_ORDER += [52, 48, 115, 116, 117, 54, 182, 173, 174, 286, 289, 522]

# (id, D-Bus path on the battery service, decimals or None for an enum); the order VRM uses
BATTERY_ATTRIBUTES: tuple[tuple[int, str, int | None], ...] = (
    (47, "/Dc/0/Voltage", 2),
    (49, "/Dc/0/Current", 2),
    (50, "/ConsumedAmphours", 1),
    (51, "/Soc", 1),
    (52, "/TimeToGo", 2),  # VRM shows hours; D-Bus has seconds
    (115, "/Dc/0/Temperature", 1),
    (173, "/System/MinCellVoltage", 3),
    (174, "/System/MaxCellVoltage", 3),
    (119, "/Alarms/LowVoltage", None),
    (120, "/Alarms/HighVoltage", None),
    (123, "/Alarms/LowSoc", None),
    (124, "/Alarms/LowTemperature", None),
    (125, "/Alarms/HighTemperature", None),
    (286, "/Alarms/CellImbalance", None),
    (289, "/Alarms/InternalFailure", None),
    (522, "/Alarms/LowCellVoltage", None),
)
KEY_ATTRIBUTE = 47

# "System overview" diagnostics: (id, code, description, format, path, decimals or None)
SYSTEM_ATTRIBUTES: tuple[tuple[int, str, str, str, str, int | None], ...] = (
    (144, "bs", "Battery SOC", "%.1F %%", "/Dc/Battery/Soc", 1),
    (143, "bv", "Battery voltage", "%.2F V", "/Dc/Battery/Voltage", 2),
    (147, "bc", "Battery current", "%.1F A", "/Dc/Battery/Current", 1),
    (243, "bp", "Battery Power", "%.0F W", "/Dc/Battery/Power", 0),
    (215, "bst", "Battery state", "%s", "/Dc/Battery/State", None),
    (222, "bT", "Battery temperature", "%.1F °C", "/Dc/Battery/Temperature", 1),
)

# widgets/Graph attributes of the system (instance 0): code -> (id, description, format of the
# value, format with unit, axis group); bs and bv as in VRM's Graph answers, the other ids are
# those of the diagnostics above
GRAPH_META: dict[str, tuple[int, str, str, str, str | None]] = {
    "bs": (144, "Battery SOC", "%.1F", "%.1F %%", "Percentage"),
    "bv": (143, "Battery voltage", "%.2F", "%.2F V", "Battery Voltage"),
    "bc": (147, "Battery current", "%.1F", "%.1F A", "Battery Current"),
    "bp": (243, "Battery Power", "%.0F", "%.0F W", None),
    "bT": (222, "Battery temperature", "%.1F", "%.1F °C", None),
}
GRAPH_CODES = {str(row[0]): code for code, row in GRAPH_META.items()}
MAX_SPAN = 31 * 86400  # VRM's longest span of hours or 15mins


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


def _error(status: int, errors: str, code: str | None) -> web.Response:
    return _json({"success": False, "errors": errors, "error_code": code}, status)


def unauthorized() -> web.Response:
    return _error(401, "Login required", "invalid_credentials")


def _forbidden_body(path: str) -> dict[str, Any]:
    if "/users/" in path:
        text = "Not authorized to view installations for this user"
    elif path.endswith("/diagnostics"):
        text = "Not authorized to get log data for this installation"
    else:
        text = "Not authorized to view devices for this installation"
    return {"success": False, "errors": text, "error_code": "forbidden"}


def _forbidden(path: str) -> web.Response:
    return _json(_forbidden_body(path), 403)


def _valid_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text_number(value: float, decimals: int) -> str:
    text = f"{round(value, decimals):.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _format(fmt: str, value: Any) -> str:
    return str(fmt % value)


def _alarm_name(value: int) -> str:
    return {0: "Ok", 1: "Warning", 2: "Alarm"}.get(value, str(value))


def _log_age(model: SimulatedInstallation, log: LogRecord) -> int:
    return max(0, round(model.timestamp() - log.t))


def _has_old_data(model: SimulatedInstallation, age: int) -> bool:
    return age >= 3 * model.config.logging_interval


def _attribute(
    model: SimulatedInstallation,
    attr_id: int,
    *,
    path: str,
    decimals: int | None,
    raw: Any,
    age: int,
) -> dict[str, Any]:
    _, code, name, fmt_value, fmt_unit, _ = META_BY_ID[attr_id]
    numeric = model.config.vrm_numeric
    enum = decimals is None
    if decimals is None:
        value: Any = int(raw)
        shown = _alarm_name(value)
        text_value = str(value)
    else:
        value = raw / 3600.0 if attr_id == 52 else raw  # noqa: PLR2004 - TTG in hours
        value = round(value, decimals)
        shown = _format(fmt_unit, value)
        text_value = _text_number(value, decimals)
    interval = model.config.logging_interval
    plain: Any = value if numeric else text_value
    result: dict[str, Any] = {
        "code": code,
        "dataAttributeName": name,
        "dataType": "enum" if enum else "float",
        "dbusPath": path,
        "dbusServiceType": "battery",
        "formatValueOnly": fmt_value,
        "formatWithUnit": fmt_unit,
        "formattedValue": shown,
        "hasOldData": _has_old_data(model, age),
        "idDataAttribute": attr_id if numeric else str(attr_id),
        "instance": svc.monitor(model.config).instance,
        "isKeyDataAttribute": _flag(attr_id == KEY_ATTRIBUTE, numeric=numeric),
        "isValid": 1 if numeric else "1",
        "nameEnum": shown if enum else None,
        "rawValue": plain,
        "secondsAgo": age if numeric else str(age),
        "secondsToNextLog": _next_log(interval, age, numeric=numeric),
        "value": plain,
        "valueEnum": plain if enum else None,
        "valueFloat": None if enum else plain,
        "valueFormattedValueOnly": shown if enum else _format(fmt_value, value),
        "valueFormattedWithUnit": shown,
        "valueString": None,
    }
    if enum:
        result["dataAttributeEnumValues"] = ALARM_ENUM
    return result


def _flag(value: bool, *, numeric: bool) -> Any:
    return int(value) if numeric else str(int(value))


def _next_log(interval: int, age: int, *, numeric: bool) -> Any:
    left = max(0, interval - age)
    return left if numeric else str(left)


def _meta(code: str, description: str, fmt_value: str, fmt_unit: str, axis: str) -> dict[str, str]:
    """VRM's description of one attribute (diagnostics records and Graph answers)."""
    return {
        "code": code,
        "description": description,
        "formatValueOnly": fmt_value,
        "formatWithUnit": fmt_unit,
        "axisGroup": axis,
    }


def battery_summary(model: SimulatedInstallation, instance: int) -> dict[str, Any]:
    log = model.latest_log()
    age = _log_age(model, log)
    data: dict[str, Any] = {
        "hasOldData": _has_old_data(model, age),
        "secondsAgo": {"value": age, "valueFormattedWithUnit": f"{age}s"},
    }
    who = svc.monitor(model.config)
    battery = log.services.get(who.service) if model.config.vrm_battery_monitor else None
    if battery is not None and instance == who.instance:
        for attr_id, path, decimals in BATTERY_ATTRIBUTES:
            raw = battery.get(path[1:])
            if _valid_number(raw):
                data[str(attr_id)] = _attribute(
                    model, attr_id, path=path, decimals=decimals, raw=raw, age=age
                )
    meta = {
        str(attr_id): _meta(code, description, fmt_value, fmt_unit, axis)
        for attr_id, code, description, fmt_value, fmt_unit, axis in META
    }
    return {
        "success": True,
        "records": {"data": data, "meta": meta, "attributeOrder": ATTRIBUTE_ORDER},
    }


class _DiagRow(NamedTuple):
    device: str
    instance: int
    service_type: str
    values: dict[str, Any]
    attr_id: int
    code: str
    description: str
    fmt: str
    path: str
    decimals: int | None


def _diagnostic_rows(log: LogRecord, config: SimConfig) -> list[_DiagRow]:
    system = log.services.get(svc.SYSTEM, {})
    rows = [
        _DiagRow("System overview", 0, "system", system, attr_id, code, desc, fmt, path, decimals)
        for attr_id, code, desc, fmt, path, decimals in SYSTEM_ATTRIBUTES
    ]
    who = svc.monitor(config)
    battery = log.services.get(who.service) if config.vrm_battery_monitor else None
    if battery is not None:
        for attr_id, path, decimals in BATTERY_ATTRIBUTES:
            _, code, desc, _, fmt, _ = META_BY_ID[attr_id]
            rows.append(
                _DiagRow(
                    device="Battery Monitor",
                    instance=who.instance,
                    service_type="battery",
                    values=battery,
                    attr_id=attr_id,
                    code=code,
                    description=desc,
                    fmt=fmt,
                    path=path,
                    decimals=decimals,
                )
            )
    return rows


def diagnostics_records(model: SimulatedInstallation) -> list[dict[str, Any]]:
    """The latest logged value of every attribute, as /diagnostics lists them."""
    log = model.latest_log()
    stamp = round(log.t)
    records: list[dict[str, Any]] = []
    for row in _diagnostic_rows(log, model.config):
        raw: Any = row.values.get(row.path[1:])
        if not _valid_number(raw):
            continue
        record: dict[str, Any] = {
            "idSite": model.config.site_id,
            "timestamp": stamp,
            "Device": row.device,
            "instance": row.instance,
            "idDataAttribute": row.attr_id,
            "description": row.description,
            "formatWithUnit": row.fmt,
            "dbusServiceType": row.service_type,
            "dbusPath": row.path,
            "code": row.code,
            "bitmask": 0,
        }
        if row.decimals is None:
            enum = STATE_ENUM if row.code == "bst" else ALARM_ENUM
            names = {item["valueEnum"]: item["nameEnum"] for item in enum}
            value: Any = int(raw)
            record |= {"formattedValue": names.get(value, str(value)), "rawValue": value}
        else:
            value = raw / 3600.0 if row.code == "TTG" else raw
            value = round(value, row.decimals) if row.decimals else round(value)
            record |= {"formattedValue": _format(row.fmt, value), "rawValue": value}
        record["id"] = 9_000_000_000 + (stamp // 60 % 1_000_000) * 100 + len(records) + 1
        if row.decimals is None:
            record["dataAttributeEnumValues"] = enum
        records.append(record)
    return records


def installation_record(model: SimulatedInstallation, *, extended: bool) -> dict[str, Any]:
    cfg = model.config
    record: dict[str, Any] = {
        "idSite": cfg.site_id,
        "accessLevel": 0,
        "owner": True,
        "is_admin": False,
        "name": cfg.site_name,
        "identifier": cfg.portal_id,
        "idUser": cfg.user_id,
        "pvMax": round(cfg.pv_peak_w),
        "timezone": cfg.timezone,
        "phonenumber": None,
        "notes": None,
        "geofence": None,
        "geofenceEnabled": False,
        "realtimeUpdates": True,
        "hasMains": 1,
        "hasGenerator": 0,
        "noDataAlarmTimeout": None,
        "alarmMonitoring": 1,
        "invalidVRMAuthTokenUsedInLogRequest": 0,
        "syscreated": 1643115186,
        "shared": False,
        "device_icon": "solar",
    }
    if extended:
        log = model.latest_log()
        battery = log.services.get(svc.monitor(cfg).service, {})
        alarms = [
            _alarm_object(cfg, attr_id, round(log.t))
            for attr_id, path, decimals in BATTERY_ATTRIBUTES
            if decimals is None and battery.get(path[1:]) == 2  # noqa: PLR2004
        ]
        local = datetime.fromtimestamp(model.timestamp(), ZoneInfo(cfg.timezone))
        offset = local.utcoffset()
        record |= {
            "alarm": bool(alarms),
            "current_alarms": alarms,
            "num_alarms": len(alarms),
            "last_timestamp": round(log.t),
            "timezone_offset": round(offset.total_seconds()) if offset is not None else 0,
            "current_time": local.strftime("%H:%M"),
            "demo_mode": False,
            "mqtt_host": "mqtt1.victronenergy.com",
            "mqtt_webhost": "webmqtt1.victronenergy.com",
            "high_workload": False,
            "avatar_url": None,
            "tags": [],
            "images": False,
            "view_permissions": {
                "update_settings": True,
                "settings": True,
                "diagnostics": True,
                "share": True,
                "vnc": True,
                "mqtt_rpc": True,
                "vebus": True,
                "twoway": True,
                "exact_location": True,
                "nodered": True,
                "nodered_dash": True,
                "signalk": True,
                "paygo": False,
                "paygo_customer": False,
                "rc_classic": True,
                "rc_gui_v2": True,
            },
            "extended": _extended(log),
        }
    return record


def _alarm_object(cfg: SimConfig, attr_id: int, started: int) -> dict[str, Any]:
    """`current_alarms` entries are objects on real accounts, not strings."""
    return {
        "idAlarm": 5_500_000 + attr_id,
        "idSite": cfg.site_id,
        "instance": svc.BATTERY_INSTANCE,
        "type": "alarm",
        "description": META_BY_ID[attr_id][2],
        "started": started,
        "cleared": None,
        "idDataAttribute": attr_id,
        "device": "Battery Monitor",
        "customName": svc.BATTERY_NAME,
        "nameEnum": "Alarm",
    }


def _extended(log: LogRecord) -> list[dict[str, Any]]:
    """The system battery summary real accounts get with extended=1 (bv, bs, bc, bst)."""
    system = log.services.get(svc.SYSTEM, {})
    entries: list[dict[str, Any]] = []
    for attr_id, code, description, fmt, path, decimals in SYSTEM_ATTRIBUTES:
        raw = system.get(path[1:])
        if code not in {"bv", "bs", "bc", "bst"} or not _valid_number(raw):
            continue
        if decimals is None:
            value: Any = int(raw)
            shown = {item["valueEnum"]: item["nameEnum"] for item in STATE_ENUM}[value]
        else:
            value = round(raw, decimals)
            shown = _format(fmt, value)
        entries.append(
            {
                "idDataAttribute": attr_id,
                "code": code,
                "description": description,
                "formatWithUnit": fmt,
                "dataType": "enum" if decimals is None else "float",
                "rawValue": value,
                "formattedValue": shown,
                "instance": 0,
                "timestamp": round(log.t),
                "dbusServiceType": "system",
                "dbusPath": path,
            }
        )
    return entries


def system_overview(model: SimulatedInstallation) -> dict[str, Any]:
    cfg = model.config
    log = model.latest_log()
    seen = round(log.t)
    devices: list[dict[str, Any]] = [
        {
            "name": "Gateway",
            "productName": "Cerbo GX",
            "productCode": "C00A",
            "idSite": cfg.site_id,
            "firmwareVersion": svc.FIRMWARE,
            "lastConnection": seen,
            "class": "device-gateway device-icon-gateway",
            "loggingInterval": cfg.logging_interval,
            "identifier": None,
            "lastPowerUpOrRestart": round(model.started) - 86_400,
            "machineSerialNumber": "HQ2308C9WMH",
            "instance": 0,
            "idDeviceType": 0,
            "settings": [],
        },
    ]
    who = svc.monitor(cfg)
    if who.service in log.services and cfg.vrm_battery_monitor:
        devices.append(
            {
                "name": "Battery Monitor",
                "customName": who.name,
                "productCode": who.product_code,
                "productName": who.product,
                "idSite": cfg.site_id,
                "instance": who.instance,
                "idDeviceType": 2,
                "lastConnection": seen,
                "firmwareVersion": None,
                "class": "device-battery-monitor device-icon-battery",
                "settings": [],
            }
        )
    devices += [
        {
            "name": "VE.Bus System",
            "customName": svc.VEBUS_NAME,
            "productCode": "2629",
            "productName": svc.VEBUS_PRODUCT,
            "idSite": cfg.site_id,
            "instance": svc.VEBUS_INSTANCE,
            "idDeviceType": 1,
            "lastConnection": seen,
            "firmwareVersion": "v552",
            "class": "device-ve-bus-system device-icon-inverter",
            "settings": [],
        },
        {
            "name": "Solar Charger",
            "customName": "Roof",
            "productCode": "A063",
            "productName": svc.SOLAR_PRODUCT,
            "idSite": cfg.site_id,
            "instance": svc.SOLAR_INSTANCE,
            "idDeviceType": 3,
            "lastConnection": seen,
            "firmwareVersion": "v1.61",
            "class": "device-solar-charger device-icon-solar",
            "settings": [],
        },
    ]
    return {"success": True, "records": {"devices": devices, "unconfigured_devices": False}}


# --- request handling --------------------------------------------------------------------------


def _fault_response(fault: Fault, path: str) -> web.Response:  # noqa: PLR0911
    kind = fault.kind
    if kind == "5xx":
        return _error(fault.status or 500, "Internal server error", "internal_error")
    if kind == "429":
        response = _error(429, "Too many requests, please retry later", "rate_limited")
        response.headers["Retry-After"] = str(fault.retry_after)
        return response
    if kind == "401":
        return unauthorized()
    if kind == "403":
        return _forbidden(path)
    if kind == "malformed":
        return web.Response(
            body=b'{"success":true,"records":{"data":{"hasOldData":fal',
            content_type="application/json",
        )
    if kind == "success_false":
        return _error(200, "Something went wrong, please try again later", "general_error")
    return html_error_page(fault.status or 502)  # kind == "html"


def _authorised(model: SimulatedInstallation, request: web.Request) -> bool:
    scheme, _, token = request.headers.get("X-Authorization", "").partition(" ")
    return scheme.lower() == "token" and token == model.token


@web.middleware
async def _vrm_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_control(request):
        return await handler(request)
    model = request.app[MODEL_KEY]
    model.count_request("vrm", request.method, request.path_qs)
    fault = model.faults.take("vrm", request.path_qs, None, model.timestamp(), dbus=False)
    if fault is not None:
        if fault.kind != "hang":
            return _fault_response(fault, request.path)
        seconds = model.config.vrm_hang_seconds if fault.seconds is None else fault.seconds
        await model.faults.hang(fault, seconds)
    if request.match_info.http_exception is not None:
        status = request.match_info.http_exception.status
        return _error(status, "Route not found" if status == 404 else "Not allowed", "not_found")  # noqa: PLR2004
    retry = model.rate_limited(request.headers.get("X-Authorization", ""))
    if retry is not None:
        response = _error(429, "Too many requests, please retry later", "rate_limited")
        response.headers["Retry-After"] = str(retry)
        return response
    if not _authorised(model, request):
        return unauthorized()
    return await handler(request)


def _int_query(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"success":false,"errors":"Invalid parameter ' + name + '",'
            '"error_code":"invalid_parameters"}',
            content_type="application/json",
        ) from None


def _sites(app: web.Application) -> dict[int, SimulatedInstallation]:
    """The account's installations by site ID (one, unless the app serves an account)."""
    account = app.get(ACCOUNT_KEY)
    if account is not None:
        return account.sites
    model = app[MODEL_KEY]
    return {model.config.site_id: model}


def _site(request: web.Request) -> SimulatedInstallation:
    # a site this token cannot see is a 403 on VRM, not a 404
    model = _sites(request.app).get(int(request.match_info["site"]))
    if model is None:
        raise _forbidden_exception(request.path)
    return model


def _forbidden_exception(path: str) -> web.HTTPForbidden:
    return web.HTTPForbidden(
        text=json.dumps(_forbidden_body(path)), content_type="application/json"
    )


async def users_me(request: web.Request) -> web.Response:
    cfg = request.app[MODEL_KEY].config
    user = {
        "id": cfg.user_id,
        "name": cfg.user_name,
        "email": cfg.user_email,
        "country": "Netherlands",
        "accessLevel": 1,
        "idAccessToken": ACCESS_TOKEN_ID,
    }
    return _json({"success": True, "user": user})


async def installations(request: web.Request) -> web.Response:
    model = request.app[MODEL_KEY]
    if int(request.match_info["user"]) != model.config.user_id:
        raise _forbidden_exception(request.path)
    extended = request.query.get("extended") in {"1", "true"}
    wanted = _int_query(request, "idSite", 0)
    records = [
        installation_record(site, extended=extended)
        for site_id, site in _sites(request.app).items()
        if wanted in (0, site_id)
    ]
    return _json({"success": True, "records": records})


async def access_tokens(request: web.Request) -> web.Response:
    model = request.app[MODEL_KEY]
    if int(request.match_info["user"]) != model.config.user_id:
        raise _forbidden_exception(request.path)
    token = {
        "name": "Home Assistant",
        "idAccessToken": str(ACCESS_TOKEN_ID),
        "createdOn": "1736000000",
        "scope": "all",
        "expires": None,
        "lastSuccessfulAuth": round(model.timestamp()),
    }
    return _json({"success": True, "tokens": [token]})


async def overview(request: web.Request) -> web.Response:
    return _json(system_overview(_site(request)))


async def battery_widget(request: web.Request) -> web.Response:
    model = _site(request)
    return _json(battery_summary(model, _int_query(request, "instance", 0)))


async def diagnostics(request: web.Request) -> web.Response:
    model = _site(request)
    count = max(1, _int_query(request, "count", 100))
    page = max(1, _int_query(request, "page", 1))
    records = diagnostics_records(model)
    chunk = records[(page - 1) * count : page * count]
    return _json({"success": True, "records": chunk, "num_records": len(records)})


def _invalid(text: str = "Invalid parameters") -> web.Response:
    return _error(400, text, "invalid_parameters")


async def stats(request: web.Request) -> web.Response:
    """`stats?type=custom` (hours or 15mins) or `type=kwh` (hours) from the site's history."""
    model = _site(request)
    history = model.history
    history.stats_requests += 1
    every = model.config.stats_429_every
    if every and history.stats_requests % every == 0:
        response = _error(429, "Too many requests, please retry later", "rate_limited")
        response.headers["Retry-After"] = "60"
        return response
    kind = request.query.get("type")
    interval = request.query.get("interval", "hours")
    codes = request.query.getall("attributeCodes[]", [])
    if kind == "kwh":
        if interval != "hours":
            return _invalid()
    elif kind != "custom" or not codes or interval not in ("hours", "15mins"):
        return _invalid()
    now = round(model.timestamp())
    end = _int_query(request, "end", now)
    start = _int_query(request, "start", end - 86400)
    if end <= start or end - start > MAX_SPAN:
        return _invalid("Invalid time span")
    if kind == "kwh":
        return _json(history.energy(start, end))
    return _json(history.stats(codes, start, end, interval))


async def graph_widget(request: web.Request) -> web.Response:
    """`widgets/Graph`: the system battery's samples (instance 0), downsampled."""
    model = _site(request)
    wanted = list(request.query.getall("attributeCodes[]", []))
    wanted += [GRAPH_CODES.get(raw, raw) for raw in request.query.getall("attributeIds[]", [])]
    if not wanted:
        return _invalid()
    instance = _int_query(request, "instance", 0)
    width = _int_query(request, "width", 768)
    per_pixel = _int_query(request, "pointsPerPixel", 2)
    now = round(model.timestamp())
    end = _int_query(request, "end", now)
    start = _int_query(request, "start", end - 86400)
    if width <= 0 or per_pixel <= 0:
        return _invalid()
    if end <= start or end - start > MAX_SPAN:
        return _invalid("Invalid time span")
    codes = [code for code in dict.fromkeys(wanted) if code in GRAPH_META and instance == 0]
    min_max = request.query.get("useMinMax") in {"1", "true"}
    points = model.history.graph(codes, start, end, width * per_pixel, min_max)
    data = {str(GRAPH_META[code][0]): points[code] for code in codes}
    meta = {
        str(attr_id): _meta(code, description, fmt_value, fmt_unit, axis)
        for code, (attr_id, description, fmt_value, fmt_unit, axis) in GRAPH_META.items()
        if code in codes
    }
    return _json({"success": True, "records": {"data": data, "meta": meta, "instance": instance}})


def create_vrm_app(model: SimulatedInstallation) -> web.Application:
    """An aiohttp app serving the VRM API under /v2 plus the /sim control endpoints."""
    app = web.Application(middlewares=[_vrm_middleware])
    app[MODEL_KEY] = model
    add_control_routes(app)
    site = "/v2/installations/{site:\\d+}"
    app.router.add_get("/v2/users/me", users_me)
    app.router.add_get("/v2/users/{user:\\d+}/installations", installations)
    app.router.add_get("/v2/users/{user:\\d+}/accesstokens/list", access_tokens)
    app.router.add_get(f"{site}/system-overview", overview)
    app.router.add_get(f"{site}/widgets/BatterySummary", battery_widget)
    app.router.add_get(f"{site}/diagnostics", diagnostics)
    app.router.add_get(f"{site}/stats", stats)
    app.router.add_get(f"{site}/widgets/Graph", graph_widget)
    return app


def create_account_vrm_app(account: SimulatedAccount) -> web.Application:
    """The VRM API of one user with every installation of `account` (plus GET /sim/account).

    Request counts, VRM faults, the token and the rate window are the account's, kept on its
    first installation, whose /sim/* endpoints this app serves.
    """
    app = create_vrm_app(account.primary)
    app[ACCOUNT_KEY] = account
    app.router.add_get("/sim/account", get_account)
    return app
