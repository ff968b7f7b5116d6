"""The development simulator (dev/simulator): a Cerbo GX DBus HTTP API and VRM API v2 on loopback.

The expected shapes below are transcribed from shared/reference (dbus_api.md §3.5 and §10,
vrm_api.md §1-§5, vrm_battery_summary.sample.json, vrm_diagnostics.sample.json).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from dev.simulator import (
    BATTERY,
    SYSTEM,
    VEBUS,
    ConfigError,
    SimClock,
    SimConfig,
    SimulatedInstallation,
    bench,
    build_installation,
    create_local_app,
    create_vrm_app,
    load_scenario,
    parse_scenario,
)
from dev.simulator import __main__ as cli
from dev.simulator.faults import FaultError, FaultInjector
from dev.simulator.physics import ocv_per_cell
from tests.api.fakes import FakeClock

START = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)  # noon in Amsterdam, a VRM log instant
TOKEN = "simulated-token"
AUTH = {"X-Authorization": f"Token {TOKEN}"}
SITE = 123456
USER = 22451
PLATFORM = "com.victronenergy.platform"
TEMP_ROOM = "com.victronenergy.temperature.adc_builtin0_5"
TEMP_OUTDOOR = "com.victronenergy.temperature.adc_builtin0_6"
LOGGER = "com.victronenergy.logger"
SUMMARY = f"/v2/installations/{SITE}/widgets/BatterySummary?instance=512"
DIAGNOSTICS = f"/v2/installations/{SITE}/diagnostics"
OVERVIEW = f"/v2/installations/{SITE}/system-overview"

Client = TestClient[Any, Any]


# --- reference shapes ----------------------------------------------------------------------

INV = "invalid"  # must be [] (Victron's "no value")
NUM = (int, float)
JSON_TEXT = "json-text"  # a string that holds JSON
TTG = "ttg"  # seconds while discharging, [] otherwise

# dbus_api.md §10.1: every key of the sample system root, with the type it must have here
SYSTEM_SCHEMA: dict[str, Any] = {
    "Mgmt/ProcessName": str,
    "Mgmt/ProcessVersion": str,
    "Mgmt/Connection": str,
    "DeviceInstance": int,
    "ProductId": INV,
    "ProductName": INV,
    "Connected": int,
    "Serial": str,
    "FirmwareVersion": int,
    "FirmwareBuild": str,
    "SystemType": str,
    "Hub": int,
    "SystemState/State": int,
    "SystemState/LowSoc": int,
    "SystemState/BatteryLife": int,
    "SystemState/ChargeDisabled": int,
    "SystemState/DischargeDisabled": int,
    "SystemState/SlowCharge": int,
    "Dc/Battery/Soc": float,
    "Dc/Battery/Voltage": float,
    "Dc/Battery/Current": float,
    "Dc/Battery/Power": float,
    "Dc/Battery/State": int,
    "Dc/Battery/ConsumedAmphours": float,
    "Dc/Battery/TimeToGo": TTG,
    "Dc/Battery/Temperature": float,
    "Dc/Battery/TemperatureService": INV,
    "Dc/Battery/BatteryService": str,
    "ActiveBatteryService": str,
    "AutoSelectedBatteryService": str,
    "AvailableBatteryServices": JSON_TEXT,
    "ActiveBmsService": str,
    "ActiveBmsInstance": int,
    "Batteries": list,
    "Dc/Pv/Power": int,
    "Dc/Pv/Current": float,
    "Dc/Vebus/Current": float,
    "Dc/Vebus/Power": int,
    "Dc/System/Power": INV,
    "Ac/ActiveIn/Source": int,
    "Ac/ActiveIn/L1/Power": int,
    "Ac/Grid/L1/Power": int,
    "Ac/Grid/L2/Power": INV,
    "Ac/Grid/L3/Power": INV,
    "Ac/Grid/L1/Current": float,
    "Ac/Grid/NumberOfPhases": int,
    "Ac/Consumption/L1/Power": int,
    "Ac/Consumption/NumberOfPhases": int,
    "Ac/ConsumptionOnOutput/L1/Power": int,
    "Ac/PvOnGrid/L1/Power": INV,
    "Control/EssState": int,
    "Control/ActiveSocLimit": float,
    "Control/Dvcc": bool,
    "Control/VebusSoc": int,
    "DynamicEss/Active": int,
    "Timers/TimeOnGrid": int,
    "Timers/TimeOnInverter": int,
    "Timers/TimeOnGenerator": int,
    "Timers/TimeOff": int,
    "Devices/NumberOfVebusDevices": int,
    "VebusService": str,
    "VebusInstance": int,
}

# dbus_api.md §10.2 (Pylontech CAN-BMS root)
BATTERY_SCHEMA: dict[str, Any] = {
    "DeviceInstance": int,
    "ProductId": int,
    "ProductName": str,
    "CustomName": str,
    "Serial": INV,
    "FirmwareVersion": INV,
    "Connected": int,
    "Mgmt/Connection": str,
    "Soc": float,
    "Soh": float,
    "InstalledCapacity": NUM,
    "Dc/0/Voltage": float,
    "Dc/0/Current": float,
    "Dc/0/Power": float,
    "Dc/0/Temperature": float,
    "Info/MaxChargeVoltage": float,
    "Info/MaxChargeCurrent": float,
    "Info/MaxDischargeCurrent": float,
    "Info/BatteryLowVoltage": float,
    "Io/AllowToCharge": int,
    "Io/AllowToDischarge": int,
    "System/MinCellVoltage": float,
    "System/MaxCellVoltage": float,
    "System/MinVoltageCellId": str,
    "System/MaxVoltageCellId": str,
    "System/MinCellTemperature": float,
    "System/MaxCellTemperature": float,
    "System/MinTemperatureCellId": str,
    "System/MaxTemperatureCellId": str,
    "System/NrOfModulesOnline": int,
    "System/NrOfModulesOffline": int,
    "System/NrOfModulesBlockingCharge": int,
    "System/NrOfModulesBlockingDischarge": int,
    **{
        f"Alarms/{name}": int
        for name in (
            "LowVoltage",
            "HighVoltage",
            "LowTemperature",
            "HighTemperature",
            "HighChargeCurrent",
            "HighDischargeCurrent",
            "CellImbalance",
            "InternalFailure",
            "HighCellVoltage",
            "LowCellVoltage",
            "ChargeBlocked",
            "DischargeBlocked",
        )
    },
}

# dbus_api.md §10.4 (vebus fragment)
VEBUS_SCHEMA: dict[str, Any] = {
    "ProductName": str,
    "ProductId": int,
    "DeviceInstance": int,
    "CustomName": str,
    "FirmwareVersion": int,
    "Mgmt/Connection": str,
    "Connected": int,
    "Mode": int,
    "State": int,
    "ModeIsAdjustable": int,
    "VebusChargeState": int,
    "VebusMainState": int,
    "Soc": float,
    "Ac/ActiveIn/L1/V": float,
    "Ac/ActiveIn/L1/I": float,
    "Ac/ActiveIn/L1/P": int,
    "Ac/ActiveIn/L1/F": float,
    "Ac/ActiveIn/L2/V": INV,
    "Ac/ActiveIn/ActiveInput": int,
    "Ac/ActiveIn/Connected": int,
    "Ac/In/1/CurrentLimit": float,
    "Ac/Out/L1/V": float,
    "Ac/Out/L1/I": float,
    "Ac/Out/L1/P": int,
    "Ac/Out/L1/F": float,
    "Ac/Out/L2/V": INV,
    "Ac/Out/NominalInverterPower": int,
    "Dc/0/Voltage": float,
    "Dc/0/Current": float,
    "Dc/0/Temperature": INV,
    "Alarms/GridLost": int,
    "Alarms/HighTemperature": int,
    "Alarms/LowBattery": int,
    "Alarms/Overload": int,
    "Alarms/BmsConnectionLost": int,
    "Alarms/BmsPreAlarm": INV,
    "Energy/AcIn1ToAcOut": float,
    "Energy/AcIn1ToInverter": float,
    "Energy/InverterToAcOut": float,
    "Devices/0/SerialNumber": str,
    "Devices/0/UpTime": int,
}

# dbus_api.md §10.4 (temperature input)
TEMPERATURE_SCHEMA: dict[str, Any] = {
    "DeviceInstance": int,
    "ProductId": int,
    "ProductName": str,
    "CustomName": str,
    "Mgmt/Connection": str,
    "Temperature": float,
    "Status": int,
    "TemperatureType": int,
    "Offset": float,
    "Scale": float,
    "RawValue": float,
    "RawUnit": str,
    "FilterLength": int,
    "Connected": int,
}

# vrm_battery_summary.sample.json, attribute "47" (float) and "119" (enum): key -> type
SUMMARY_FLOAT_SAMPLE: dict[str, Any] = {
    "code": "V",
    "dataAttributeName": "Voltage",
    "dataType": "float",
    "dbusPath": "/Dc/0/Voltage",
    "dbusServiceType": "battery",
    "formatValueOnly": "%.2F",
    "formatWithUnit": "%.2F V",
    "formattedValue": "53.12 V",
    "hasOldData": False,
    "idDataAttribute": "47",
    "instance": 512,
    "isKeyDataAttribute": "1",
    "isValid": "1",
    "nameEnum": None,
    "rawValue": "53.12",
    "secondsAgo": "42",
    "secondsToNextLog": "18",
    "value": "53.12",
    "valueEnum": None,
    "valueFloat": "53.12",
    "valueFormattedValueOnly": "53.12",
    "valueFormattedWithUnit": "53.12 V",
    "valueString": None,
}
SUMMARY_ENUM_SAMPLE: dict[str, Any] = SUMMARY_FLOAT_SAMPLE | {
    "code": "AL",
    "dataAttributeName": "Low voltage alarm",
    "dataType": "enum",
    "dbusPath": "/Alarms/LowVoltage",
    "formatValueOnly": "%s",
    "formatWithUnit": "%s",
    "formattedValue": "Ok",
    "idDataAttribute": "119",
    "isKeyDataAttribute": "0",
    "nameEnum": "Ok",
    "rawValue": "0",
    "value": "0",
    "valueEnum": "0",
    "valueFloat": None,
    "valueFormattedValueOnly": "Ok",
    "valueFormattedWithUnit": "Ok",
    "dataAttributeEnumValues": [
        {"nameEnum": "Ok", "valueEnum": 0},
        {"nameEnum": "Warning", "valueEnum": 1},
        {"nameEnum": "Alarm", "valueEnum": 2},
    ],
}
SUMMARY_DATA_IDS = ["47", "49", "50", "51", "52", "115", "173", "174"]
SUMMARY_DATA_IDS += ["119", "120", "123", "124", "125", "286", "289", "522"]
SUMMARY_META_IDS = [47, 48, 49, 50, 51, 52, 54, 115, 116, 117, 119, 120, 121, 122, 123, 124]
SUMMARY_META_IDS += [125, 126, 155, 156, 157, 158, 173, 174, 182, 286, 289, 522]
SUMMARY_ORDER = [119, 120, 121, 122, 123, 124, 125, 126, 155, 156, 157, 158, 47, 49, 50, 51]
SUMMARY_ORDER += [52, 48, 115, 116, 117, 54, 182, 173, 174, 286, 289, 522]
# vrm_diagnostics.sample.json record keys
DIAG_KEYS = {
    "idSite",
    "timestamp",
    "Device",
    "instance",
    "idDataAttribute",
    "description",
    "formatWithUnit",
    "dbusServiceType",
    "dbusPath",
    "code",
    "bitmask",
    "formattedValue",
    "rawValue",
    "id",
}
# vrm_api.md §2: the required installation fields
INSTALLATION_KEYS = {
    "idSite",
    "accessLevel",
    "owner",
    "is_admin",
    "name",
    "identifier",
    "idUser",
    "pvMax",
    "timezone",
    "phonenumber",
    "notes",
    "geofence",
    "geofenceEnabled",
    "realtimeUpdates",
    "hasMains",
    "hasGenerator",
    "noDataAlarmTimeout",
    "alarmMonitoring",
    "invalidVRMAuthTokenUsedInLogRequest",
    "syscreated",
    "shared",
    "device_icon",
}


def assert_schema(values: dict[str, Any], schema: dict[str, Any]) -> None:
    missing = set(schema) - set(values)
    assert not missing, f"missing keys {sorted(missing)}"
    for key, expected in schema.items():
        value = values[key]
        if expected == INV:
            assert value == [], key
        elif expected == JSON_TEXT:
            assert isinstance(json.loads(value), dict), key
        elif expected == TTG:
            assert value == [] or (type(value) is int and value > 0), key
        elif expected is int:
            assert type(value) is int, (key, value)
        elif expected is float:
            assert type(value) is float, (key, value)
        else:
            assert isinstance(value, expected), (key, value)
            assert not isinstance(value, bool) or expected is bool, key


def same_types(actual: dict[str, Any], sample: dict[str, Any]) -> None:
    assert set(actual) == set(sample)
    for key, value in sample.items():
        assert type(actual[key]) is type(value), (key, actual[key], value)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def model() -> SimulatedInstallation:
    return SimulatedInstallation(START, speed=0, seed=1)


async def value(client: Client, service: str, path: str = "/") -> Any:
    response = await client.get("/value", params={"service": service, "path": path})
    assert response.status == 200, await response.text()
    return (await response.json())["value"]


async def summary(client: Client, url: str = SUMMARY) -> dict[str, Any]:
    response = await client.get(url, headers=AUTH)
    assert response.status == 200, await response.text()
    data: dict[str, Any] = (await response.json())["records"]["data"]
    return data


async def add_fault(client: Client, **spec: Any) -> dict[str, Any]:
    response = await client.post("/sim/fault", json=spec)
    assert response.status == 201, await response.text()
    fault: dict[str, Any] = (await response.json())["fault"]
    return fault


async def wait_for(condition: Callable[[], bool]) -> None:
    """Yield to the loop (no sleeping) until condition holds."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    pytest.fail("condition never became true")


# --- local API: shapes -------------------------------------------------------------------------


async def test_health_and_services(local: Client) -> None:
    response = await local.get("/health")
    assert response.status == 200
    # what http.server + json.dumps(indent=2) send: no charset, CORS, one request per connection
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Server"].startswith("BaseHTTP/0.6 Python/")
    assert response.headers["Connection"] == "close"
    assert (await response.text()).startswith('{\n  "service"')
    health = await response.json()
    assert health == {
        "service": "dbus-api-server",
        "version": "3.2.0",
        "status": "healthy",
        "started_at": "2026-04-15T12:00:00",  # local time of the Cerbo, no zone
        "uptime_seconds": 0,
        "success": True,
    }

    body = await (await local.get("/services")).json()
    assert list(body) == ["services", "count", "success"]
    assert body["services"] == sorted(body["services"])
    assert body["count"] == len(body["services"]) == 13
    assert {SYSTEM, BATTERY, VEBUS, PLATFORM, TEMP_ROOM, "com.victronenergy.settings"} <= set(
        body["services"]
    )
    assert all("victron" in name for name in body["services"])


@pytest.mark.parametrize(
    ("service", "schema"),
    [
        (SYSTEM, SYSTEM_SCHEMA),
        (BATTERY, BATTERY_SCHEMA),
        (VEBUS, VEBUS_SCHEMA),
        (TEMP_ROOM, TEMPERATURE_SCHEMA),
    ],
)
async def test_service_roots_match_reference(
    local: Client, service: str, schema: dict[str, Any]
) -> None:
    response = await local.get(f"/value?service={service}&path=/")
    body = await response.json()
    assert list(body) == ["service", "path", "value", "success"]
    assert body["service"] == service
    assert body["path"] == "/"
    assert body["success"] is True
    root = body["value"]
    assert all(not key.startswith("/") for key in root)  # relative keys, flat
    assert_schema(root, schema)


async def test_system_root_details(local: Client, model: SimulatedInstallation) -> None:
    system = await value(local, SYSTEM)
    battery = await value(local, BATTERY)
    # systemcalc copies the active battery's readings
    assert system["Dc/Battery/BatteryService"] == BATTERY
    assert system["ActiveBatteryService"] == "com.victronenergy.battery/512"
    assert system["ActiveBmsInstance"] == battery["DeviceInstance"] == 512
    assert system["Dc/Battery/Voltage"] == battery["Dc/0/Voltage"]
    assert system["Dc/Battery/Soc"] == battery["Soc"]
    assert system["Dc/Battery/Current"] == battery["Dc/0/Current"]
    # float32 noise, as CAN values arrive
    assert system["Dc/Battery/Voltage"] != round(system["Dc/Battery/Voltage"], 2)
    assert abs(system["Dc/Battery/Voltage"] - round(system["Dc/Battery/Voltage"], 2)) < 1e-5
    assert json.loads(system["AvailableBatteryServices"])["com.victronenergy.battery/512"]
    [entry] = system["Batteries"]
    assert entry["id"] == BATTERY
    assert entry["active_battery_service"] is True
    assert system["Control/ActiveSocLimit"] == model.config.min_soc
    assert battery["System/MinCellVoltage"] <= battery["System/MaxCellVoltage"]
    assert battery["System/MinVoltageCellId"].startswith("01")
    # the power balance closes: PV + grid = consumption + battery + losses
    balance = (
        system["Dc/Pv/Power"]
        + system["Ac/Grid/L1/Power"]
        - system["Ac/Consumption/L1/Power"]
        - system["Dc/Battery/Power"]
    )
    assert 0 <= balance < 0.1 * (system["Dc/Pv/Power"] + system["Ac/Consumption/L1/Power"]) + 50


async def test_nan_and_invalid(local: Client) -> None:
    response = await local.get(f"/value?service={TEMP_OUTDOOR}&path=/")
    text = await response.text()
    assert '"Temperature": NaN' in text  # bare NaN: not strict JSON, stdlib json accepts it
    with pytest.raises(ValueError, match="NaN"):
        json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    outdoor = json.loads(text)["value"]
    assert math.isnan(outdoor["Temperature"])
    assert outdoor["Status"] == 1  # open circuit
    body = await (await local.get(f"/value?service={SYSTEM}&path=/Dc/System/Power")).json()
    assert body == {
        "service": SYSTEM,
        "path": "/Dc/System/Power",
        "value": [],
        "success": True,
    }
    settings = await (await local.get("/settings")).text()
    assert "Infinity" in settings
    items = json.loads(settings)["settings"]
    assert items["/Settings/CGwacs/BatteryLife/MinimumSocLimit"]["Value"] == 20.0
    assert items["/Settings/Gui/Gauges/Dc/Input/Power/Max"]["Max"] == math.inf
    assert "Min" not in items["/Settings/SystemSetup/BatteryService"]


async def test_leaf_subtree_and_text(local: Client) -> None:
    system = await value(local, SYSTEM)
    assert await value(local, SYSTEM, "/Dc/Battery/Soc") == system["Dc/Battery/Soc"]
    subtree = await value(local, SYSTEM, "/Dc/Battery")
    assert subtree["Soc"] == system["Dc/Battery/Soc"]
    assert subtree["BatteryService"] == BATTERY
    assert all("/" not in key for key in subtree)
    # percent-encoding and parse_qs-style '+' handling
    encoded = await local.get(f"/value?service={SYSTEM}&path=%2FDc%2FBattery%2FSoc")
    assert (await encoded.json())["value"] == system["Dc/Battery/Soc"]

    async def text(path: str) -> str:
        response = await local.get(f"/text?service={SYSTEM}&path={path}")
        body = await response.json()
        assert list(body) == ["service", "path", "text", "success"]
        result: str = body["text"]
        return result

    assert await text("/Dc/Battery/Soc") == f"{system['Dc/Battery/Soc']:.0f} %"
    assert await text("/Dc/Battery/Voltage") == f"{system['Dc/Battery/Voltage']:.2f} V"
    assert await text("/Dc/Battery/TimeToGo") in {"---", str(system["Dc/Battery/TimeToGo"])}
    assert await text("/Dc/System/Power") == "---"
    assert await text("/Serial") == "c0619ab4e53f"
    assert await text("/Hub") == "4"
    assert (await text("/Dc/Battery")).startswith("dbus.Dictionary({dbus.String('Soc')")


@pytest.mark.parametrize(
    "query",
    [
        "service=com.victronenergy.nope&path=/",
        f"service={SYSTEM}&path=/No/Such/Path",
        f"service={SYSTEM}&path=Dc/Battery/Soc",  # not a D-Bus object path
        f"service={SYSTEM}&path=/Dc/Battery/",
        f"service={SYSTEM}&path=/Dc+Battery",  # '+' is a space, which is not allowed
    ],
)
async def test_value_404_envelope(local: Client, query: str) -> None:
    response = await local.get(f"/value?{query}")
    assert response.status == 404
    body = await response.json()
    assert list(body) == ["service", "path", "value", "error", "success"]
    assert body["value"] is None
    assert body["success"] is False
    assert body["error"] == f"Path {body['path']} not available on {body['service']}"


@pytest.mark.parametrize(
    "url",
    ["/value", f"/value?service={SYSTEM}", f"/value?service={SYSTEM}&path=", "/text?path=/"],
)
async def test_value_400_envelope(local: Client, url: str) -> None:
    response = await local.get(url)
    assert response.status == 400
    assert await response.json() == {"error": "Missing service or path parameter", "success": False}


async def test_other_routes_and_methods(local: Client) -> None:
    for url in ("/value/", "/nope", "/health/"):
        response = await local.get(url)
        assert response.status == 404
        assert await response.json() == {"error": "Not found", "success": False}
    info = await (await local.get("/")).json()
    assert info["version"] == "3.2.0"
    assert info["ai_write_enabled"] is False
    status = await (await local.get("/ai-write-status")).json()
    assert status["enabled"] is False
    assert status["success"] is True
    response = await local.post("/value", json={"service": SYSTEM, "path": "/Relay/0/State"})
    assert response.status == 403
    assert (await response.json())["error"] == "AI write is disabled"
    assert (await local.post("/restart")).status == 404
    response = await local.options("/value")
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    response = await local.put("/value")
    assert response.status == 501
    assert "Unsupported method ('PUT')" in await response.text()
    assert (await local.head("/health")).status == 501


# --- VRM API: shapes ---------------------------------------------------------------------------


async def test_users_me_and_installations(vrm: Client) -> None:
    me = await (await vrm.get("/v2/users/me", headers=AUTH)).json()
    assert me["success"] is True
    assert set(me["user"]) == {"id", "name", "email", "country", "accessLevel", "idAccessToken"}
    assert me["user"]["id"] == USER

    body = await (await vrm.get(f"/v2/users/{USER}/installations", headers=AUTH)).json()
    [site] = body["records"]
    assert set(site) == INSTALLATION_KEYS
    assert site["idSite"] == SITE
    assert site["identifier"] == "c0619ab4e53f"

    url = f"/v2/users/{USER}/installations?extended=1&idSite={SITE}"
    [extended] = (await (await vrm.get(url, headers=AUTH)).json())["records"]
    assert set(extended) > INSTALLATION_KEYS
    assert extended["last_timestamp"] == int(START.timestamp())
    assert extended["alarm"] is False
    assert extended["current_alarms"] == []
    assert extended["timezone_offset"] == 7200
    assert extended["current_time"] == "12:00"
    assert extended["view_permissions"]["diagnostics"] is True

    url = f"/v2/users/{USER}/installations?idSite=999"
    assert (await (await vrm.get(url, headers=AUTH)).json())["records"] == []
    tokens = await (await vrm.get(f"/v2/users/{USER}/accesstokens/list", headers=AUTH)).json()
    assert tokens["tokens"][0]["expires"] is None


async def test_system_overview(vrm: Client) -> None:
    body = await (await vrm.get(OVERVIEW, headers=AUTH)).json()
    devices = body["records"]["devices"]
    assert body["records"]["unconfigured_devices"] is False
    gateway = devices[0]
    assert gateway["name"] == "Gateway"
    assert gateway["loggingInterval"] == 300
    assert isinstance(gateway["lastConnection"], int)
    [monitor] = [d for d in devices if d["name"] == "Battery Monitor"]
    assert monitor["instance"] == 512
    assert monitor["idDeviceType"] == 2


async def test_battery_summary_matches_sample(vrm: Client) -> None:
    body = await (await vrm.get(SUMMARY, headers=AUTH)).json()
    assert body["success"] is True
    records = body["records"]
    assert set(records) == {"data", "meta", "attributeOrder"}
    assert records["attributeOrder"] == SUMMARY_ORDER
    assert [int(key) for key in records["meta"]] == SUMMARY_META_IDS
    assert records["meta"]["51"] == {
        "code": "SOC",
        "description": "State of charge",
        "formatValueOnly": "%.1F",
        "formatWithUnit": "%.1F %%",
        "axisGroup": "Percentage",
    }
    data = records["data"]
    assert data["hasOldData"] is False
    assert data["secondsAgo"] == {"value": 0, "valueFormattedWithUnit": "0s"}
    # charging at noon: no time-to-go, as VRM leaves it out while not discharging
    expected = [k for k in SUMMARY_DATA_IDS if k != "52"]
    assert [k for k in data if k not in {"hasOldData", "secondsAgo"}] == expected
    same_types(data["47"], SUMMARY_FLOAT_SAMPLE)
    same_types(data["119"], SUMMARY_ENUM_SAMPLE)
    assert data["119"]["dataAttributeEnumValues"] == SUMMARY_ENUM_SAMPLE["dataAttributeEnumValues"]
    voltage = data["47"]
    assert voltage["isKeyDataAttribute"] == "1"
    assert voltage["formattedValue"] == f"{float(voltage['rawValue']):.2f} V"
    assert data["51"]["formattedValue"].endswith(" %")
    assert data["115"]["formattedValue"].endswith(" °C")
    assert data["173"]["rawValue"].count(".") == 1
    # instance defaults to 0: meta and order stay, data has only the two control keys
    empty = await (await vrm.get(SUMMARY.split("?", maxsplit=1)[0], headers=AUTH)).json()
    assert set(empty["records"]["data"]) == {"hasOldData", "secondsAgo"}
    assert empty["records"]["attributeOrder"] == SUMMARY_ORDER


async def test_battery_summary_while_discharging_has_ttg(
    vrm: Client, model: SimulatedInstallation
) -> None:
    model.set_time(START + timedelta(hours=10))  # 22:00 local
    data = await summary(vrm)
    local = model.observe(model.latest_log().t).services[BATTERY]
    assert local["TimeToGo"] > 0
    assert data["52"]["formattedValue"].endswith(" h")
    assert float(data["52"]["rawValue"]) == pytest.approx(local["TimeToGo"] / 3600, abs=0.01)
    assert float(data["49"]["rawValue"]) < 0


async def test_vrm_numeric_variant() -> None:
    model = SimulatedInstallation(START, speed=0, seed=1, config=SimConfig(vrm_numeric=True))
    async with TestClient(TestServer(create_vrm_app(model))) as client:
        data = await summary(client)
    assert isinstance(data["47"]["rawValue"], float)
    assert data["47"]["idDataAttribute"] == 47
    assert data["47"]["isValid"] == 1
    assert data["119"]["valueEnum"] == 0
    assert isinstance(data["47"]["secondsAgo"], int)


async def test_diagnostics(vrm: Client) -> None:
    body = await (await vrm.get(DIAGNOSTICS, headers=AUTH)).json()
    records = body["records"]
    assert body["num_records"] == len(records) > 10
    for record in records:
        assert DIAG_KEYS <= set(record) <= DIAG_KEYS | {"dataAttributeEnumValues"}
    by_code = {(r["Device"], r["code"]): r for r in records}
    soc = by_code[("System overview", "bs")]
    assert soc["idDataAttribute"] == 144
    assert soc["instance"] == 0
    assert isinstance(soc["rawValue"], float)
    assert soc["timestamp"] == int(START.timestamp())
    state = by_code[("System overview", "bst")]
    assert state["formattedValue"] in {"Idle", "Charging", "Discharging"}
    assert state["dataAttributeEnumValues"][2] == {"nameEnum": "Discharging", "valueEnum": 2}
    assert by_code[("Battery Monitor", "V")]["instance"] == 512
    assert len({r["id"] for r in records}) == len(records)
    # paging with count and page
    page2 = await (await vrm.get(f"{DIAGNOSTICS}?count=5&page=2", headers=AUTH)).json()
    assert page2["num_records"] == len(records)
    assert page2["records"] == records[5:10]
    response = await vrm.get(f"{DIAGNOSTICS}?count=abc", headers=AUTH)
    assert response.status == 400
    assert (await response.json())["error_code"] == "invalid_parameters"


async def test_vrm_auth(vrm: Client) -> None:
    expected = {"success": False, "errors": "Login required", "error_code": "invalid_credentials"}
    for headers in (
        {},
        {"X-Authorization": "Token wrong"},
        {"X-Authorization": f"Bearer {TOKEN}"},
        {"X-Authorization": TOKEN},
    ):
        response = await vrm.get("/v2/users/me", headers=headers)
        assert response.status == 401
        assert await response.json() == expected
    response = await vrm.get("/v2/users/me", headers={"x-authorization": f"token {TOKEN}"})
    assert response.status == 200
    # a revoked or rotated token stops working
    assert (await vrm.post("/sim/token", json={"token": "new-token"})).status == 200
    assert (await vrm.get("/v2/users/me", headers=AUTH)).status == 401
    new = {"X-Authorization": "Token new-token"}
    assert (await vrm.get("/v2/users/me", headers=new)).status == 200
    assert (await vrm.post("/sim/token", json={"token": ""})).status == 400
    assert (await vrm.post("/sim/token", data=b"[1")).status == 400


async def test_vrm_forbidden_and_not_found(vrm: Client) -> None:
    users = "Not authorized to view installations for this user"
    devices = "Not authorized to view devices for this installation"
    cases = {
        "/v2/users/1/installations": users,
        "/v2/users/1/accesstokens/list": users,
        "/v2/installations/1/system-overview": devices,
        "/v2/installations/1/diagnostics": "Not authorized to get log data for this installation",
        "/v2/installations/1/widgets/BatterySummary": devices,
    }
    for url, text in cases.items():
        response = await vrm.get(url, headers=AUTH)
        assert response.status == 403
        assert await response.json() == {
            "success": False,
            "errors": text,
            "error_code": "forbidden",
        }
    response = await vrm.get("/v2/nothing/here", headers=AUTH)
    assert response.status == 404
    assert (await response.json())["success"] is False
    assert (await vrm.post("/v2/users/me", headers=AUTH)).status == 405
    response = await vrm.get(f"{SUMMARY.split('?', maxsplit=1)[0]}?instance=x", headers=AUTH)
    assert response.status == 400


async def test_vrm_rate_limit_window() -> None:
    clock = FakeClock()
    config = SimConfig(rate_limit_capacity=3, rate_limit_leak_seconds=0.5)
    model = SimulatedInstallation(START, speed=0, seed=1, config=config, monotonic=clock)
    async with TestClient(TestServer(create_vrm_app(model))) as client:
        for _ in range(3):
            assert (await client.get("/v2/users/me", headers=AUTH)).status == 200
        response = await client.get("/v2/users/me", headers=AUTH)
        assert response.status == 429
        assert response.headers["Retry-After"] == "1"
        assert (await response.json())["error_code"] == "rate_limited"
        clock.now += 0.5  # one request leaves the window
        assert (await client.get("/v2/users/me", headers=AUTH)).status == 200
        assert (await client.get("/v2/users/me", headers=AUTH)).status == 429
        # another token has its own window
        assert (await client.get("/v2/users/me", headers={"X-Authorization": "x"})).status == 401
        counts = await (await client.get("/sim/requests")).json()
        assert counts["vrm"]["total"] == 7
        assert counts["vrm"]["requests"] == {"GET /v2/users/me": 7}


# --- one installation behind both APIs -----------------------------------------------------


async def test_portal_id_is_the_same_everywhere() -> None:
    config = SimConfig(portal_id="d41243cd7c66", site_id=777, user_id=5)
    model = SimulatedInstallation(START, speed=0, seed=3, config=config)
    local_app, vrm_app = create_local_app(model), create_vrm_app(model)
    async with TestClient(TestServer(local_app)) as local, TestClient(TestServer(vrm_app)) as vrm:
        serial = await value(local, SYSTEM, "/Serial")
        unique = await value(local, PLATFORM, "/Device/UniqueId")
        body = await (await vrm.get("/v2/users/5/installations", headers=AUTH)).json()
    assert serial == unique == body["records"][0]["identifier"] == "d41243cd7c66"
    assert body["records"][0]["idSite"] == 777


async def test_vrm_lags_behind_local(local: Client, vrm: Client) -> None:
    # at 10:05:00 the logger samples what the Cerbo shows at that instant
    await local.post("/sim/time", json={"now": "2026-04-15T10:05:00Z"})
    at_log = await value(local, BATTERY)
    system_at_log = await value(local, SYSTEM)
    await local.post("/sim/time", json={"advance": 130})
    now = await value(local, BATTERY)
    assert now["Soc"] != at_log["Soc"]  # charging: the live value has moved on
    data = await summary(vrm)
    assert data["secondsAgo"] == {"value": 130, "valueFormattedWithUnit": "130s"}
    assert data["51"]["secondsAgo"] == "130"
    assert data["51"]["secondsToNextLog"] == "170"
    assert float(data["51"]["rawValue"]) == at_log["Soc"]
    assert float(data["47"]["rawValue"]) == pytest.approx(at_log["Dc/0/Voltage"], abs=0.006)
    assert float(data["49"]["rawValue"]) == pytest.approx(at_log["Dc/0/Current"])
    assert float(data["173"]["rawValue"]) == at_log["System/MinCellVoltage"]
    diag = await (await vrm.get(DIAGNOSTICS, headers=AUTH)).json()
    soc = next(r for r in diag["records"] if r["code"] == "bs")
    assert soc["timestamp"] == int(START.timestamp()) + 300
    assert soc["rawValue"] == system_at_log["Dc/Battery/Soc"]
    # the next log instant catches up
    await local.post("/sim/time", json={"advance": 170})
    data = await summary(vrm)
    assert data["secondsAgo"]["value"] == 0
    assert float(data["51"]["rawValue"]) == (await value(local, BATTERY))["Soc"]


async def test_one_minute_logging_interval() -> None:
    model = SimulatedInstallation(START, speed=0, seed=1, config=SimConfig(logging_interval=60))
    model.advance(90)
    async with TestClient(TestServer(create_vrm_app(model))) as client:
        data = await summary(client)
        devices = (await (await client.get(OVERVIEW, headers=AUTH)).json())["records"]["devices"]
    assert data["secondsAgo"]["value"] == 30
    assert data["47"]["secondsToNextLog"] == "30"
    assert devices[0]["loggingInterval"] == 60


def soc_at(model: SimulatedInstallation, when: datetime) -> float:
    model.set_time(when)
    soc: float = model.observe().services[SYSTEM]["Dc/Battery/Soc"]
    return soc


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_day_cycle(seed: int) -> None:
    """SOC rises while the sun shines and falls through the night, for several days."""
    model = SimulatedInstallation(datetime(2026, 4, 15, 0, tzinfo=UTC), speed=0, seed=seed)
    for day in range(3):
        midnight = datetime(2026, 4, 15, tzinfo=UTC) + timedelta(days=day)  # 02:00 local
        morning = soc_at(model, midnight + timedelta(hours=6))  # 08:00 local
        afternoon = soc_at(model, midnight + timedelta(hours=13))  # 15:00 local
        evening = soc_at(model, midnight + timedelta(hours=19))  # 21:00 local
        night = soc_at(model, midnight + timedelta(hours=27))  # 05:00 local, next day
        assert afternoon > morning + 10, (day, morning, afternoon)
        assert night < evening - 10, (day, evening, night)


@pytest.mark.parametrize(
    ("start", "seed"),
    [
        (datetime(2026, 1, 10, tzinfo=UTC), 4),
        (datetime(2026, 6, 21, tzinfo=UTC), 5),
    ],
)
def test_voltages_stay_in_lifepo4_range(start: datetime, seed: int) -> None:
    model = SimulatedInstallation(start, speed=0, seed=seed)
    seen_charge = seen_discharge = False
    for minutes in range(0, 2 * 24 * 60, 20):
        model.set_time(start + timedelta(minutes=minutes))
        services = model.observe().services
        battery, system = services[BATTERY], services[SYSTEM]
        assert 48.0 <= battery["Dc/0/Voltage"] <= 58.4
        assert 2.8 <= battery["System/MinCellVoltage"] <= battery["System/MaxCellVoltage"] <= 3.65
        assert 0.0 <= battery["Soc"] <= 100.0
        assert -200.0 < battery["Dc/0/Current"] < 200.0
        assert 0.0 < battery["Dc/0/Temperature"] < 45.0
        assert system["Dc/Pv/Power"] >= 0
        seen_charge |= system["Dc/Battery/State"] == 1
        seen_discharge |= system["Dc/Battery/State"] == 2
    assert seen_charge
    assert seen_discharge


def test_summer_reaches_full_and_feeds_in() -> None:
    model = SimulatedInstallation(datetime(2026, 6, 21, 4, tzinfo=UTC), speed=0, seed=1)
    model.set_time(datetime(2026, 6, 21, 13, tzinfo=UTC))
    services = model.observe().services
    assert services[BATTERY]["Soc"] == 100.0
    assert services[BATTERY]["ConsumedAmphours"] == 0.0
    assert services[SYSTEM]["SystemState/State"] == 5  # float
    assert services[SYSTEM]["Ac/Grid/L1/Power"] < 0  # surplus PV exported
    assert services[BATTERY]["History/TimeSinceLastFullCharge"] < 4 * 3600


def test_deterministic_with_seed_and_rewind() -> None:
    times = [START + timedelta(minutes=m) for m in (0, 7, 95, 600, 1500)]

    def run(seed: int) -> list[dict[str, Any]]:
        model = SimulatedInstallation(START, speed=0, seed=seed)
        result = []
        for when in times:
            model.set_time(when)
            result.append(model.observe().services[BATTERY])
        return result

    history = run(7)
    assert run(7) == history
    assert run(8) != history
    # going back in time replays exactly the same history (and VRM log)
    model = SimulatedInstallation(START, speed=0, seed=7)
    model.set_time(times[4])
    later_log = model.latest_log()
    model.set_time(times[2])
    assert model.observe().services[BATTERY] == history[2]
    model.set_time(times[4])
    assert model.observe().services[BATTERY] == history[4]
    assert model.latest_log() == later_log


async def test_sim_time_control(local: Client, model: SimulatedInstallation) -> None:
    body = await (await local.post("/sim/time", json={"advance": 3600})).json()
    assert body["now"] == "2026-04-15T11:00:00+00:00"
    body = await (await local.post("/sim/time", json={"now": "2026-04-16T00:00:00+02:00"})).json()
    assert body["now"] == "2026-04-15T22:00:00+00:00"
    body = await (await local.post("/sim/time", json={"speed": 60})).json()
    assert body["speed"] == 60.0
    assert model.clock.speed == 60.0
    for bad in (
        {},
        {"now": "2026-04-15T10:00:00"},  # naive
        {"now": "yesterday"},
        {"now": 5},
        {"now": "2026-01-01T00:00:00Z"},  # before the simulation start
        {"advance": "1"},
        {"advance": math.nan},
        {"speed": -1},
    ):
        response = await local.post("/sim/time", data=json.dumps(bad))
        assert response.status == 400, bad
        assert (await response.json())["success"] is False
    assert (await local.post("/sim/time", data=b"not json")).status == 400
    assert (await local.post("/sim/time", json=[1])).status == 400


def test_accelerated_clock() -> None:
    real = FakeClock()
    clock = SimClock(START, speed=60, monotonic=real)
    real.now += 1.0
    assert clock.now() == START + timedelta(minutes=1)
    clock.set_speed(0)
    real.now += 100.0
    assert clock.now() == START + timedelta(minutes=1)
    clock.advance(30)
    assert clock.now() == START + timedelta(minutes=1, seconds=30)
    with pytest.raises(ValueError, match="aware"):
        SimClock(datetime(2026, 1, 1), speed=1)  # noqa: DTZ001
    with pytest.raises(ValueError, match="speed"):
        SimClock(START, speed=-1)
    with pytest.raises(ValueError, match="speed"):
        clock.set_speed(-2)
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2026, 1, 1))  # noqa: DTZ001
    model = SimulatedInstallation(START, speed=60, seed=1, monotonic=real)
    real.now += 600.0  # ten real minutes are ten simulated hours
    assert model.now() == START + timedelta(hours=10)
    assert model.observe().t == model.timestamp()


async def test_solark_soc_drifts_from_shunt(local: Client, model: SimulatedInstallation) -> None:
    differences = []
    for hour in range(0, 24, 2):
        model.set_time(START + timedelta(hours=hour))
        body = await (await local.get("/sim/solark")).json()
        assert isinstance(body["soc"], int)
        shunt = (await value(local, SYSTEM))["Dc/Battery/Soc"]
        differences.append(body["soc"] - shunt)
    assert all(abs(d) <= 12 for d in differences)
    assert max(abs(d) for d in differences) >= 2.0  # a few points apart at times


async def test_grid_outage(local: Client, vrm: Client, model: SimulatedInstallation) -> None:
    response = await local.post("/sim/grid", json={"available": False})
    assert await response.json() == {"available": False, "success": True}
    system = await value(local, SYSTEM)
    vebus = await value(local, VEBUS)
    assert system["Ac/ActiveIn/Source"] == 240
    assert system["Ac/Grid/L1/Power"] == []
    assert system["SystemState/State"] == 9  # inverting
    assert vebus["Alarms/GridLost"] == 2
    assert vebus["Ac/ActiveIn/Connected"] == 0
    assert (await value(local, PLATFORM))["Notifications/0/Description"] == "Grid lost"
    state = await (await local.get("/sim/state")).json()
    assert state["grid_available"] is False
    await local.post("/sim/grid", json={"available": False})  # already out: no second outage
    assert len(model.outages) == 1
    await local.post("/sim/grid", json={"available": True})
    system = await value(local, SYSTEM)
    assert system["Ac/ActiveIn/Source"] == 1
    assert isinstance(system["Ac/Grid/L1/Power"], int)
    assert (await value(local, VEBUS))["Alarms/GridLost"] == 0
    assert (await local.post("/sim/grid", json={"available": "no"})).status == 400
    assert (await local.post("/sim/grid", data=b"{")).status == 400


def test_outage_drains_the_bank_to_cutoff() -> None:
    evening = datetime(2026, 4, 15, 18, tzinfo=UTC)  # 20:00 local
    model = SimulatedInstallation(evening, speed=0, seed=2, config=SimConfig(initial_soc=25))
    model.set_grid(available=False)
    model.set_time(evening + timedelta(hours=10))
    services = model.observe().services
    battery, vebus, system = services[BATTERY], services[VEBUS], services[SYSTEM]
    assert battery["Soc"] <= 6.0
    assert battery["Io/AllowToDischarge"] == 0
    assert battery["Alarms/DischargeBlocked"] == 1
    assert battery["Alarms/LowSoc"] >= 1
    assert battery["Dc/0/Voltage"] >= 48.0
    assert vebus["Alarms/LowBattery"] == 2
    assert vebus["State"] == 0  # the inverter shut down
    assert system["Ac/Consumption/L1/Power"] == 0
    assert system["SystemState/State"] == 0
    # sunrise: PV alone recharges the bank
    model.set_time(evening + timedelta(hours=17))
    assert model.observe().services[BATTERY]["Soc"] > 10.0


def test_ess_recharges_from_grid_below_minimum_soc() -> None:
    night = datetime(2026, 4, 15, 22, tzinfo=UTC)
    model = SimulatedInstallation(night, speed=0, seed=1, config=SimConfig(initial_soc=12))
    services = model.observe().services
    assert services[SYSTEM]["SystemState/State"] == 258  # recharge
    assert services[SYSTEM]["Dc/Battery/State"] == 1
    assert services[SYSTEM]["Ac/Grid/L1/Power"] > services[SYSTEM]["Ac/Consumption/L1/Power"]
    assert services[VEBUS]["State"] == 3  # charging from AC: bulk
    model.set_time(night + timedelta(hours=6))
    assert model.observe().services[BATTERY]["Soc"] > 12.0


def test_cold_and_hot_charge_limits() -> None:
    physics = SimulatedInstallation(START, speed=0).physics
    assert physics.charge_limit(50.0, 20.0) == 140.0
    assert physics.charge_limit(50.0, 2.0) == 28.0
    assert physics.charge_limit(50.0, -5.0) == 0.0
    assert physics.charge_limit(50.0, 55.0) == 0.0
    assert physics.charge_limit(95.0, 20.0) == 70.0
    assert physics.charge_limit(100.0, 20.0) == 0.0
    assert physics.discharge_limit(7.5) == 70.0
    assert physics.discharge_limit(50.0, blocked=True) == 0.0


async def test_overrides_reach_local_now_and_vrm_at_next_log(local: Client, vrm: Client) -> None:
    spec = {"service": BATTERY, "path": "/Alarms/HighTemperature", "value": 2}
    assert (await local.post("/sim/override", json=spec)).status == 200
    assert await value(local, BATTERY, "/Alarms/HighTemperature") == 2
    assert (await summary(vrm))["125"]["formattedValue"] == "Ok"  # logged before the override
    await local.post("/sim/time", json={"advance": 300})
    data = await summary(vrm)
    assert data["125"]["formattedValue"] == "Alarm"
    assert data["125"]["nameEnum"] == "Alarm"
    url = f"/v2/users/{USER}/installations?extended=1"
    [site] = (await (await vrm.get(url, headers=AUTH)).json())["records"]
    assert site["alarm"] is True
    assert [alarm["description"] for alarm in site["current_alarms"]] == [
        "High battery temperature alarm"
    ]  # objects, as real accounts send them
    state = await (await local.get("/sim/state")).json()
    assert state["overrides"] == [spec]
    ghost = {"service": "com.victronenergy.ghost", "path": "/X", "value": 1}
    assert (await local.post("/sim/override", json=ghost)).status == 200  # ignored, no crash
    assert (await local.get("/services")).status == 200
    assert (await local.delete("/sim/override")).status == 200
    assert await value(local, BATTERY, "/Alarms/HighTemperature") == 0
    assert (await local.post("/sim/override", json={"service": BATTERY})).status == 400
    assert (await local.post("/sim/override", data=b"x")).status == 400


async def test_sim_state_and_request_counts(local: Client, model: SimulatedInstallation) -> None:
    await local.get("/health")
    await local.get(f"/value?service={SYSTEM}&path=/")
    await local.get(f"/value?service={SYSTEM}&path=/")
    state = await (await local.get("/sim/state")).json()
    assert state["now"] == START.isoformat()
    assert state["portal_id"] == "c0619ab4e53f"
    assert state["vrm"] == {
        "logging_interval": 300,
        "last_log": START.isoformat(),
        "seconds_ago": 0,
    }
    assert 0 < state["battery"]["soc"] < 100
    assert state["requests"]["local"] == {
        "total": 3,
        "requests": {"GET /health": 1, f"GET /value?service={SYSTEM}&path=/": 2},
    }
    assert (await local.delete("/sim/requests")).status == 200
    assert (await (await local.get("/sim/requests")).json())["local"]["total"] == 0


# --- faults -----------------------------------------------------------------------------------


async def test_local_5xx_with_count(local: Client) -> None:
    fault = await add_fault(local, target="local", kind="5xx", count=2)
    assert fault["remaining"] == 2
    url = f"/value?service={SYSTEM}&path=/Dc/Battery/Soc"
    for _ in range(2):
        response = await local.get(url)
        assert response.status == 500
        body = await response.json()
        assert body["success"] is False
        assert body["error"].startswith("org.freedesktop.DBus.Error.NoReply")
    assert (await local.get(url)).status == 200
    [listed] = (await (await local.get("/sim/fault")).json())["faults"]
    assert listed["hits"] == 2
    assert listed["active"] is False


@pytest.mark.parametrize("target", ["local", "vrm"])
async def test_429_carries_retry_after(local: Client, vrm: Client, target: str) -> None:
    client = local if target == "local" else vrm
    url = "/health" if target == "local" else "/v2/users/me"
    await add_fault(local, target=target, kind="429", count=1, retry_after=120)
    response = await client.get(url, headers=AUTH)
    assert response.status == 429
    assert response.headers["Retry-After"] == "120"
    assert (await response.json())["success"] is False
    assert (await client.get(url, headers=AUTH)).status == 200


@pytest.mark.parametrize("target", ["local", "vrm"])
async def test_401_malformed_and_html(local: Client, vrm: Client, target: str) -> None:
    client = local if target == "local" else vrm
    url = f"/value?service={SYSTEM}&path=/" if target == "local" else SUMMARY
    await add_fault(local, target=target, kind="401", count=1)
    response = await client.get(url, headers=AUTH)
    assert response.status == 401
    assert (await response.json())["success"] is False

    await add_fault(local, target=target, kind="malformed", count=1)
    response = await client.get(url, headers=AUTH)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError, match=r"Expecting|Unterminated"):
        json.loads(await response.text())

    await add_fault(local, target=target, kind="html", count=1)
    response = await client.get(url, headers=AUTH)
    assert response.status == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in await response.text()
    with pytest.raises(aiohttp.ContentTypeError):
        await response.json()

    await add_fault(local, target=target, kind="html", count=1, status=599)
    response = await client.get(url, headers=AUTH)
    assert response.status == 599
    assert "<h1>599 Error</h1>" in await response.text()

    await add_fault(local, target=target, kind="html", count=1, status=503)
    response = await client.get(url, headers=AUTH)
    assert response.status == 503
    assert "Service Unavailable" in await response.text()
    assert (await client.get(url, headers=AUTH)).status == 200


async def test_vrm_error_kinds(local: Client, vrm: Client) -> None:
    await add_fault(vrm, target="vrm", kind="5xx", count=1, status=503)
    response = await vrm.get(SUMMARY, headers=AUTH)
    assert response.status == 503
    assert await response.json() == {
        "success": False,
        "errors": "Internal server error",
        "error_code": "internal_error",
    }
    await add_fault(vrm, target="vrm", kind="403", count=1)
    response = await vrm.get(DIAGNOSTICS, headers=AUTH)
    assert response.status == 403
    assert (await response.json())["error_code"] == "forbidden"
    await add_fault(vrm, target="vrm", kind="success_false", count=1)
    response = await vrm.get(SUMMARY, headers=AUTH)
    assert response.status == 200
    assert (await response.json())["success"] is False
    # faults come before auth: a broken proxy answers whoever asks
    await add_fault(vrm, target="vrm", kind="5xx", count=1)
    assert (await vrm.get(SUMMARY)).status == 500
    assert (await vrm.get(SUMMARY, headers=AUTH)).status == 200


async def test_fault_match_and_service_filters(local: Client, vrm: Client) -> None:
    await add_fault(local, target="local", kind="5xx", service=BATTERY)
    assert (await local.get(f"/value?service={SYSTEM}&path=/")).status == 200
    assert (await local.get(f"/value?service={BATTERY}&path=/")).status == 500
    await add_fault(local, target="vrm", kind="401", match="BatterySummary")
    assert (await vrm.get("/v2/users/me", headers=AUTH)).status == 200
    assert (await vrm.get(SUMMARY, headers=AUTH)).status == 401
    cleared = await (await local.delete("/sim/fault?target=vrm")).json()
    assert cleared == {"cleared": 1, "success": True}
    assert (await vrm.get(SUMMARY, headers=AUTH)).status == 200
    assert (await local.get(f"/value?service={BATTERY}&path=/")).status == 500
    [fault] = (await (await local.get("/sim/fault")).json())["faults"]
    assert (await (await local.delete(f"/sim/fault?id={fault['id']}")).json())["cleared"] == 1
    assert (await local.get(f"/value?service={BATTERY}&path=/")).status == 200
    assert (await local.delete("/sim/fault?id=x")).status == 400


async def test_fault_duration_and_schedule(local: Client, model: SimulatedInstallation) -> None:
    await add_fault(local, target="local", kind="5xx", duration=60)
    at = (START + timedelta(minutes=10)).isoformat()
    await add_fault(local, target="local", kind="401", at=at, duration=30)
    assert (await local.get("/health")).status == 500
    model.advance(60)
    assert (await local.get("/health")).status == 200  # expired
    model.advance(540)
    assert (await local.get("/health")).status == 401  # scheduled one started
    model.advance(30)
    assert (await local.get("/health")).status == 200


async def test_local_hang_times_out_as_404(local: Client) -> None:
    await add_fault(local, target="local", kind="hang", seconds=0.001, count=4)
    assert (await local.get("/health")).status == 200  # /health never waits on D-Bus
    assert (await local.get(f"/value?service={SYSTEM}")).status == 400
    response = await local.get(f"/value?service={SYSTEM}&path=/")
    assert response.status == 404  # D-Bus NoReply after the timeout: the v3.2 envelope
    assert (await response.json())["error"] == f"Path / not available on {SYSTEM}"
    body = await (await local.get("/services")).json()
    assert body == {"services": [], "count": 0, "success": True}
    assert await (await local.get("/settings")).json() == {"settings": {}, "success": True}
    assert (await local.get(f"/value?service={SYSTEM}&path=/")).status == 200


async def test_local_hang_blocks_everyone_behind_it(
    local: Client, model: SimulatedInstallation
) -> None:
    await add_fault(local, target="local", kind="hang", seconds=300)
    hung = asyncio.create_task(local.get(f"/value?service={BATTERY}&path=/"))
    await wait_for(lambda: model.faults.hanging == 1)
    health = asyncio.create_task(local.get("/health"))
    await wait_for(lambda: model.requests["local GET /health"] == 1)  # arrived, now queued
    for _ in range(50):
        await asyncio.sleep(0)
    assert not hung.done()
    assert not health.done()  # single-threaded server: /health waits behind the hung call
    state = await (await local.get("/sim/state")).json()  # control endpoints never wait
    assert state["hanging"] == 1
    assert (await (await local.delete("/sim/fault")).json())["cleared"] == 1
    assert (await hung).status == 404
    assert (await health).status == 200
    assert model.faults.hanging == 0


async def test_hang_on_every_route_with_match(local: Client) -> None:
    await add_fault(local, target="local", kind="hang", seconds=0.001, match="/health", count=1)
    assert (await local.get("/health")).status == 200  # held, then answered normally
    [fault] = (await (await local.get("/sim/fault")).json())["faults"]
    assert fault["hits"] == 1


async def test_vrm_hang_until_client_gives_up(local: Client, vrm: Client) -> None:
    await add_fault(local, target="vrm", kind="hang", seconds=300)
    with pytest.raises(TimeoutError):
        await vrm.get(SUMMARY, headers=AUTH, timeout=aiohttp.ClientTimeout(total=0.05))
    await local.delete("/sim/fault")  # releases the held request on the server
    await add_fault(local, target="vrm", kind="hang", seconds=0.001, count=1)
    assert (await vrm.get(SUMMARY, headers=AUTH)).status == 200  # slow, then fine


async def test_vanish_battery(local: Client, vrm: Client, model: SimulatedInstallation) -> None:
    await add_fault(local, target="local", kind="vanish_battery", duration=900)
    services = (await (await local.get("/services")).json())["services"]
    assert BATTERY not in services
    response = await local.get(f"/value?service={BATTERY}&path=/Soc")
    assert response.status == 404
    system = await value(local, SYSTEM)
    assert system["Dc/Battery/BatteryService"] == VEBUS  # systemcalc falls back to the Multi
    assert system["ActiveBatteryService"] == "com.victronenergy.vebus/276"
    assert system["ActiveBmsService"] == []
    assert system["Dc/Battery/Temperature"] == []
    assert system["Dc/Battery/TimeToGo"] == []
    assert system["Batteries"][0]["id"] == VEBUS
    assert (await value(local, VEBUS))["Alarms/BmsConnectionLost"] == 2
    assert "51" in (await summary(vrm))  # VRM still shows the last log, taken before
    model.advance(300)
    data = await summary(vrm)
    assert set(data) == {"hasOldData", "secondsAgo"}
    devices = (await (await vrm.get(OVERVIEW, headers=AUTH)).json())["records"]["devices"]
    assert "Battery Monitor" not in {d["name"] for d in devices}
    records = (await (await vrm.get(DIAGNOSTICS, headers=AUTH)).json())["records"]
    assert {r["Device"] for r in records} == {"System overview"}
    model.advance(600)  # the BMS is back
    assert BATTERY in (await (await local.get("/services")).json())["services"]
    assert (await value(local, SYSTEM))["Dc/Battery/BatteryService"] == BATTERY


async def test_dbus_down(local: Client) -> None:
    await add_fault(local, target="local", kind="dbus_down")
    assert await (await local.get("/services")).json() == {
        "services": [],
        "count": 0,
        "success": True,
    }
    assert (await local.get(f"/value?service={SYSTEM}&path=/")).status == 404
    assert await (await local.get("/settings")).json() == {"settings": {}, "success": True}
    assert (await local.get("/health")).status == 200
    await local.delete("/sim/fault")
    assert (await (await local.get("/services")).json())["count"] == 13


async def test_vrm_stale_upload(local: Client, vrm: Client, model: SimulatedInstallation) -> None:
    model.advance(100)
    await add_fault(local, target="vrm", kind="stale")
    model.advance(1000)  # 18 minutes without upload
    data = await summary(vrm)
    assert data["secondsAgo"]["value"] == 1100
    assert data["hasOldData"] is True
    assert data["51"]["hasOldData"] is True
    assert data["51"]["secondsToNextLog"] == "0"
    logger = await value(local, LOGGER)
    assert logger["Vrm/ConnectionError"] == 1
    assert logger["Vrm/TimeLastContact"] == int(START.timestamp())
    assert logger["Buffer/Count"] == 3
    url = f"/v2/users/{USER}/installations?extended=1"
    [site] = (await (await vrm.get(url, headers=AUTH)).json())["records"]
    assert site["last_timestamp"] == int(START.timestamp())
    await local.delete("/sim/fault")  # back online: the buffered records arrive
    data = await summary(vrm)
    assert data["secondsAgo"]["value"] == 200
    assert (await value(local, LOGGER))["Vrm/ConnectionError"] == 0


async def test_vrm_stale_from_the_start(vrm: Client, model: SimulatedInstallation) -> None:
    await add_fault(vrm, target="vrm", kind="stale", at="2026-04-15T09:00:00Z")
    model.advance(60)
    data = await summary(vrm)
    assert data["secondsAgo"]["value"] == 60  # only the record from before the start exists


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "5xx"}, "target"),
        ({"target": "cloud", "kind": "5xx"}, "target"),
        ({"target": "local", "kind": "explode"}, "kind"),
        ({"target": "vrm", "kind": "dbus_down"}, "only applies"),
        ({"target": "local", "kind": "stale"}, "only applies"),
        ({"target": "local", "kind": "403"}, "only applies"),
        ({"target": "local", "kind": "vanish_battery", "count": 1}, "duration"),
        ({"target": "local", "kind": "5xx", "count": 0}, "at least 1"),
        ({"target": "local", "kind": "5xx", "count": -1}, "negative"),
        ({"target": "local", "kind": "5xx", "count": True}, "number"),
        ({"target": "local", "kind": "5xx", "count": 1.5}, "integer"),
        ({"target": "local", "kind": "5xx", "status": 404}, "status"),
        ({"target": "local", "kind": "429", "status": 500}, "status"),
        ({"target": "local", "kind": "html", "status": 700}, "status"),
        ({"target": "vrm", "kind": "5xx", "service": SYSTEM}, "service"),
        ({"target": "local", "kind": "5xx", "match": 1}, "string"),
        ({"target": "local", "kind": "5xx", "at": "2026-04-15T10:00:00"}, "zone"),
        ({"target": "local", "kind": "5xx", "at": 12}, "ISO"),
        ({"target": "local", "kind": "5xx", "colour": "red"}, "unknown"),
    ],
)
async def test_bad_fault_requests(local: Client, spec: dict[str, Any], message: str) -> None:
    response = await local.post("/sim/fault", json=spec)
    assert response.status == 400
    body = await response.json()
    assert body["success"] is False
    assert message in body["error"]


async def test_bad_fault_bodies(local: Client) -> None:
    assert (await local.post("/sim/fault", data=b"{not json")).status == 400
    assert (await local.post("/sim/fault", json=["kind"])).status == 400
    assert (await (await local.get("/sim/fault")).json())["faults"] == []


def test_fault_injector_unit() -> None:
    injector = FaultInjector()
    with pytest.raises(FaultError, match="ISO"):
        injector.add({"target": "local", "kind": "5xx", "at": "soon"}, 0.0)
    fault = injector.add({"target": "local", "kind": "html", "duration": 5}, 10.0)
    assert fault.active(12.0)
    assert not fault.active(15.0)
    assert not fault.active(9.0)
    assert injector.take("local", "/health", None, 20.0, dbus=False) is None
    assert injector.clear("vrm") == 0
    assert injector.version == 1


# --- configuration, scenarios and the command line ----------------------------------------------


async def test_without_extended_bms(local: Client) -> None:
    model = SimulatedInstallation(START, speed=0, seed=1, config=SimConfig(extended_bms=False))
    model.advance(10 * 3600)
    services = model.observe().services
    assert "TimeToGo" not in services[BATTERY]
    assert services[SYSTEM]["Dc/Battery/ConsumedAmphours"] == []
    assert services[SYSTEM]["Dc/Battery/TimeToGo"] == []
    async with TestClient(TestServer(create_vrm_app(model))) as client:
        data = await summary(client)
    assert "50" not in data
    assert "52" not in data
    assert "51" in data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colour": 1}, "unknown config key"),
        ({"cells": "16"}, "type int"),
        ({"cells": True}, "type int"),
        ({"extended_bms": 1}, "type bool"),
        ({"token": 5}, "type str"),
        ({"pv_peak_w": "big"}, "type float"),
        ({"logging_interval": 45}, "multiple of 30"),
        ({"initial_soc": 120}, "initial_soc"),
        ({"min_soc": 100}, "min_soc"),
        ({"capacity_ah": 0}, "positive"),
        ({"max_charge_soc": 0}, "max_charge_soc"),
        ({"max_charge_soc": 101}, "max_charge_soc"),
        ({"heat_wave_days": -1}, "heat_wave_days"),
        ({"imbalance_rise_hours": 0}, "imbalance_rise_hours"),
    ],
)
def test_config_validation(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SimConfig.from_mapping(data)


def test_config_from_mapping() -> None:
    config = SimConfig.from_mapping({"pv_peak_w": 4000, "token": "abc", "extended_bms": False})
    assert config.pv_peak_w == 4000.0
    assert config.token == "abc"
    assert config.extended_bms is False
    assert ocv_per_cell(-5) == ocv_per_cell(0) == 2.9
    assert ocv_per_cell(100) == 3.45


async def test_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "outage.json"
    path.write_text(
        json.dumps(
            {
                "start": "2026-04-15T10:00:00Z",
                "speed": 0,
                "seed": 9,
                "config": {"token": "abc", "logging_interval": 60, "initial_soc": 80},
                "grid_outages": [
                    {"start": "2026-04-15T10:30:00Z", "end": "2026-04-15T11:00:00Z"},
                    {"start": "2026-04-16T10:30:00Z"},
                ],
                "faults": [
                    {"target": "vrm", "kind": "429", "at": "2026-04-15T10:10:00Z", "count": 1},
                ],
                "overrides": [{"service": BATTERY, "path": "/Soh", "value": 91.0}],
            }
        ),
        encoding="utf-8",
    )
    model = build_installation(load_scenario(path))
    assert model.seed == 9
    assert model.clock.speed == 0
    assert model.token == "abc"
    services = model.observe().services
    assert services[BATTERY]["Soc"] == 80.0
    assert services[BATTERY]["Soh"] == 91.0
    model.set_time(START + timedelta(minutes=40))
    assert model.observe().services[SYSTEM]["Ac/ActiveIn/Source"] == 240
    model.set_time(START + timedelta(hours=2))
    assert model.observe().services[SYSTEM]["Ac/ActiveIn/Source"] == 1
    model.set_time(START + timedelta(days=1, hours=1))
    assert model.observe().services[SYSTEM]["Ac/ActiveIn/Source"] == 240
    async with TestClient(TestServer(create_vrm_app(model))) as client:
        headers = {"X-Authorization": "Token abc"}
        assert (await client.get("/v2/users/me", headers=headers)).status == 429
        assert (await client.get("/v2/users/me", headers=headers)).status == 200
    # explicit arguments win over the file
    other = build_installation(load_scenario(path), speed=2.0, seed=1)
    assert other.clock.speed == 2.0
    assert other.seed == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        ({"nope": 1}, "unknown scenario key"),
        ({"start": "tomorrow"}, "ISO"),
        ({"grid_outages": [{"end": "2026-04-15T10:00:00Z"}]}, "outage start"),
        ({"grid_outages": {}}, "list of objects"),
        ({"speed": -1}, "speed"),
        ({"speed": True}, "speed"),
        ({"seed": 1.5}, "seed"),
        ({"config": []}, "config must be an object"),
        ({"faults": [1]}, "list of objects"),
        ({"config": {"cells": "x"}}, "type int"),
    ],
)
def test_bad_scenarios(data: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_scenario(data)


def test_bad_scenario_contents(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_scenario(broken)
    with pytest.raises(ConfigError, match="no start time"):
        build_installation(parse_scenario({}))
    bad_fault = parse_scenario({"faults": [{"target": "x", "kind": "5xx"}]})
    with pytest.raises(ConfigError, match="bad fault"):
        build_installation(bad_fault, start=START)
    bad_override = parse_scenario({"overrides": [{"service": SYSTEM}]})
    with pytest.raises(ConfigError, match="override"):
        build_installation(bad_override, start=START)
    with pytest.raises(ValueError, match="before the simulation start"):
        SimulatedInstallation(START, speed=0).set_time(START - timedelta(hours=1))


async def test_cli_run_answers_requests(capsys: pytest.CaptureFixture[str]) -> None:
    model = SimulatedInstallation(START, speed=0, seed=1)
    stop = asyncio.Event()
    server = asyncio.create_task(cli.run(model, "127.0.0.1", 0, 0, stop))
    output = ""
    for _ in range(10_000):
        output += capsys.readouterr().out
        if "control:" in output:
            break
        await asyncio.sleep(0)
    local_url = output.split("Cerbo DBus API  ")[1].split()[0]
    vrm_url = output.split("VRM API         ")[1].split()[0]
    async with aiohttp.ClientSession() as session:
        async with session.get(local_url) as response:
            assert (await response.json())["status"] == "healthy"
        async with session.get(f"{vrm_url}/users/me", headers=AUTH) as response:
            assert response.status == 200
    stop.set()
    await server


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--scenario", str(tmp_path / "none.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert cli.main(["--start", "noon"]) == 2
    assert "ISO" in capsys.readouterr().err
    args = cli.build_parser().parse_args([])
    assert args.local_port == 8088
    assert args.vrm_port == 8089
    assert args.host == "127.0.0.1"
    model = cli.make_model(args)  # starts now, at real speed
    assert abs(model.timestamp() - datetime.now(UTC).timestamp()) < 60
    assert model.clock.speed == 1.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_cli_main_serves_until_sigterm(capsys: pytest.CaptureFixture[str]) -> None:
    local_port, vrm_port = free_port(), free_port()

    def stop_when_serving() -> None:
        # main() installs its signal handlers before listening: once our /sim/state answers,
        # SIGTERM reaches the handler (a foreign process on the port never gets this far)
        for _ in range(5000):
            try:
                state = json.loads(get_sync(f"http://127.0.0.1:{vrm_port}/sim/state"))
            except OSError:
                time.sleep(0.001)
                continue
            if state.get("seed") == 31:
                os.kill(os.getpid(), signal.SIGTERM)
            return

    stopper = threading.Thread(target=stop_when_serving)
    stopper.start()
    argv = ["--local-port", str(local_port), "--vrm-port", str(vrm_port), "--seed", "31"]
    try:
        assert cli.main(argv) == 0
    finally:
        stopper.join()
    assert f"http://127.0.0.1:{local_port}/health" in capsys.readouterr().out


def test_cli_scenario_start(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"start": "2026-04-15T10:00:00Z", "speed": 0}', encoding="utf-8")
    model = cli.make_model(cli.build_parser().parse_args(["--scenario", str(path)]))
    assert model.now() == START
    assert model.clock.speed == 0.0


def test_module_runs_from_repo_root() -> None:
    """`python -m dev.simulator` starts, serves /health and stops on SIGINT."""
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "dev.simulator", "--local-port", "0", "--vrm-port", "0"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Cerbo DBus API  http://127.0.0.1:")
        url = first.split()[-1]
        assert json.loads(get_sync(url))["status"] == "healthy"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert process.returncode == 0


def get_sync(url: str) -> str:
    """A blocking GET for the subprocess test (no event loop involved)."""
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback http
        body: str = response.read().decode()
    return body


def test_benchmark_main(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["2", "1"]) == 0
    assert "local_system_req_per_s" in capsys.readouterr().out


async def test_benchmark_runs() -> None:
    results = await bench.measure(requests=3, days=1)
    assert results["sim_days_per_s"] > 0
    assert results["local_system_bytes"] > 1000
    assert results["vrm_battery_summary_bytes"] > 1000


# --- VRM history (stats) -------------------------------------------------------------------

STATS = f"/v2/installations/{SITE}/stats"


def _stats_query(start: float, end: float, *codes: str) -> list[tuple[str, str]]:
    query = [("type", "custom"), ("interval", "hours")]
    query += [("start", str(round(start))), ("end", str(round(end)))]
    return query + [("attributeCodes[]", code) for code in codes]


async def test_stats_serve_the_past_and_the_back_log() -> None:
    config = SimConfig(history_days=3, history_late_hours=2)
    model = SimulatedInstallation(START, speed=0, seed=1, config=config)
    start = START.timestamp()
    async with TestClient(TestServer(create_vrm_app(model))) as client:
        query = _stats_query(start - 3 * 86400, start, "bs", "bv", "bc", "bp", "bT", "zz")
        body = await (await client.get(STATS, params=query, headers=AUTH)).json()
        records = body["records"]
        # 72 hours of past, less the 2 the GX has not uploaded yet
        assert [len(records[code]) for code in ("bs", "bv", "bc", "bp", "bT")] == [70] * 5
        assert records["zz"] is False
        first, last = records["bs"][0], records["bs"][-1]
        assert first[0] == (start - 3 * 86400) * 1000
        assert last[0] == (start - 3 * 3600) * 1000
        for code in ("bs", "bv", "bc", "bp", "bT"):
            assert all(row[2] <= row[1] <= row[3] for row in records[code])
        assert all(0 <= row[1] <= 100 for row in records["bs"])
        # the same question, the same answer (deterministic)
        again = await (await client.get(STATS, params=query, headers=AUTH)).json()
        assert again == body

        model.advance(3 * 3600)  # the back-log arrives; three live hours are complete
        query = _stats_query(start - 3 * 3600, start + 3 * 3600, "bs")
        body = await (await client.get(STATS, params=query, headers=AUTH)).json()
        hours = [row[0] // 1000 for row in body["records"]["bs"]]
        assert hours == [start + h * 3600 for h in range(-3, 3)]


async def test_stats_429_now_and_then_and_bad_queries() -> None:
    model = SimulatedInstallation(START, speed=0, seed=1, config=SimConfig(stats_429_every=2))
    start = START.timestamp()
    async with TestClient(TestServer(create_vrm_app(model))) as client:
        query = _stats_query(start - 7200, start, "bs")
        statuses = [(await client.get(STATS, params=query, headers=AUTH)).status for _ in range(4)]
        assert statuses == [200, 429, 200, 429]
        response = await client.get(STATS, params=query, headers=AUTH)
        assert response.status == 200
        bad = [("type", "nonsense"), ("attributeCodes[]", "bs")]
        assert (await client.get(STATS, params=bad, headers=AUTH)).status == 429  # the 6th
        assert (await client.get(STATS, params=bad, headers=AUTH)).status == 400
        too_long = _stats_query(start - 40 * 86400, start, "bs")
        assert (await client.get(STATS, params=too_long, headers=AUTH)).status == 429
        assert (await client.get(STATS, params=too_long, headers=AUTH)).status == 400
