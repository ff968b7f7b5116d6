"""Benchmark the client's parse of a real-size `system` root against a bare `json.loads`.

A real system root is about 54 kB with some 220 keys; the fixture holds 64 of them. This builds
a real-size one from the fixture with the keys a larger installation adds (every AC flow per
phase, DC sources, service mappings, and the nested lists, dicts and JSON strings the server
sends), then times, on the same bytes and in one run:

- `json.loads(body)`: the floor, what any parse must pay;
- the client's parse: `parse_service_root` (the `/value` answer to its service dict) and
  `CerboSystem.from_root` (the typed reading the poller makes every tick).

It prints `parse_ratio_54kB=<client / json.loads>`, the median of rounds that time both back
to back.

    .venv/3.13/bin/python scripts/bench_parse.py [--rounds 9] [--number 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_local import ROOT, load_client_module

FIXTURES = ROOT / "tests" / "fixtures" / "cerbo"

SYSTEM = "com.victronenergy.system"
TARGET_BYTES = 54_000
TARGET_KEYS = 220
PHASES = ("L1", "L2", "L3")
AC_FLOWS = (
    "Grid",
    "Genset",
    "Consumption",
    "ConsumptionOnInput",
    "ConsumptionOnOutput",
    "PvOnGrid",
    "PvOnOutput",
    "PvOnGenset",
)
DC_SOURCES = ("Alternator", "Charger", "FuelCell", "Wind", "WaterGenerator", "DcGenset")
DEVICES = (
    *(f"solarcharger.ttyUSB{index}" for index in range(6)),
    *(f"battery.socketcan_can{index}" for index in range(2)),
    *(f"temperature.adc_builtin0_{index}" for index in range(4)),
    "vebus.ttyS4",
    "platform",
    "settings",
    "hub4",
    "digitalinput.input00",
    "pvinverter.cgwacs_ttyUSB0_mb1",
    "grid.cgwacs_ttyUSB1_mb1",
    "acload.cgwacs_ttyUSB2_mb1",
)


def _battery(index: int) -> dict[str, Any]:
    """One entry of `Batteries`, as systemcalc publishes it (keys whose value is None omitted)."""
    return {
        "id": f"com.victronenergy.battery.socketcan_can{index}",
        "instance": 512 + index,
        "name": f"Battery bank {index + 1}",
        "voltage": 52.41 + index / 100,
        "current": -12.3 + index,
        "power": -644.6 + index * 10,
        "temperature": 21.5,
        "soc": 81.0 - index,
        "timetogo": 143_000 + index,
        "state": 2,
        "bmsstate": 9,
        "active_battery_service": index == 0,
        "nr_of_modules_online": 4,
        "nr_of_modules_offline": 0,
        "min_cell_voltage": 3.271,
        "max_cell_voltage": 3.279,
    }


def real_size_root() -> dict[str, Any]:
    """The fixture's system root grown to about 54 kB and 220 keys, in the server's shapes."""
    root: dict[str, Any] = json.loads((FIXTURES / "system.json").read_text())["value"]
    for flow in AC_FLOWS:
        for phase in PHASES:
            root.setdefault(f"Ac/{flow}/{phase}/Power", 412.0 if phase == "L1" else [])
            root.setdefault(f"Ac/{flow}/{phase}/Current", 1.8 if phase == "L1" else [])
        root.setdefault(f"Ac/{flow}/NumberOfPhases", 1)
    for source in DC_SOURCES:
        root.setdefault(f"Dc/{source}/Power", [])
    for device in DEVICES:
        key = "com_victronenergy_" + device.split(".")[0] + f"_{len(device)}"
        root.setdefault(f"ServiceMapping/{key}", f"com.victronenergy.{device}")
    batteries = [_battery(index) for index in range(6)]
    root["Batteries"] = batteries
    root["AvailableBmsServices"] = [
        {"name": entry["name"], "instance": entry["instance"]} for entry in batteries
    ]
    measurements = {
        f"com_victronenergy_{kind}_{instance}/Dc/{channel}": f"{kind.title()} {instance} #{channel}"
        for kind in ("battery", "solarcharger", "vebus", "dcload", "dcsource")
        for instance in range(256, 262)
        for channel in range(2)
    }
    root["AvailableBatteryMeasurements"] = measurements
    labels = {"default": "Automatic", "nobattery": "No battery monitor"} | {
        f"com.victronenergy.battery/{entry['instance']}": entry["name"] for entry in batteries
    }
    root["AvailableBatteryServices"] = json.dumps(labels)
    root["AvailableBatteries"] = json.dumps(
        {f"com.victronenergy.battery/{entry['instance']}": entry for entry in batteries}
    )
    root["Network/Services"] = json.dumps(
        {device: {"name": device, "online": True} for device in DEVICES}
    )
    filler = 0
    while len(root) < TARGET_KEYS:
        root[f"Control/Extra{filler}"] = [] if filler % 3 else 0
        filler += 1
    # The rest of a real root's size is in its nested values: more tracked measurements.
    extra = 0
    while len(envelope(root)) < TARGET_BYTES:
        measurements[f"com_victronenergy_solarcharger_{300 + extra}/Dc/0"] = f"MPPT {extra}"
        extra += 1
    return root


def envelope(root: dict[str, Any]) -> bytes:
    """The `/value?path=/` answer as the server writes it (indent=2, NaN allowed)."""
    body = {"service": SYSTEM, "path": "/", "value": root, "success": True}
    return json.dumps(body, indent=2).encode()


def main() -> None:
    """Time both parses on the same bytes and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--number", type=int, default=200)
    args = parser.parse_args()
    api = load_client_module()
    body = envelope(real_size_root())
    root = api.parse_service_root(body, SYSTEM)
    assert root is not None
    assert api.CerboSystem.from_root(root).portal_id is not None

    def client_parse() -> object:
        return api.CerboSystem.from_root(api.parse_service_root(body, SYSTEM))

    def bare_parse() -> object:
        return json.loads(body)

    # Back to back in each round, so both see the same load on a shared machine; the median
    # round's ratio is reported.
    rounds = []
    for _ in range(args.rounds):
        bare = timeit.timeit(bare_parse, number=args.number) / args.number
        client = timeit.timeit(client_parse, number=args.number) / args.number
        rounds.append((client / bare, bare, client))
    ratio, bare, client = statistics.median_low(rounds)
    print(
        f"Parse of a real-size system root: {len(body)} bytes, {len(root)} keys;"
        f" json.loads {bare * 1e6:.0f} us, client {client * 1e6:.0f} us (median of"
        f" {args.rounds} rounds)"
    )
    print(f"parse_ratio_54kB={ratio:.2f}")


if __name__ == "__main__":
    main()
