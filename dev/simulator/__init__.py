"""A simulated Cerbo GX (local DBus HTTP API) and VRM cloud, for development and tests.

    model = SimulatedInstallation(datetime(2026, 1, 15, 12, tzinfo=UTC), speed=0, seed=1)
    local = create_local_app(model)   # GET /health, /services, /value?service=..&path=..
    vrm = create_vrm_app(model)       # GET /v2/users/me, /v2/installations/{id}/...

    account = SimulatedAccount.build(10, start, speed=0, seed=1)
    vrm = create_account_vrm_app(account)  # one VRM user with every site of the account

Both apps also serve /sim/* (state, faults, time, grid, overrides, token, request counts).
"""

from .account import SimulatedAccount, site_config
from .clock import SimClock
from .config import PROFILES, ConfigError, SimConfig, with_profile
from .faults import Fault, FaultError, FaultInjector
from .local_api import create_local_app
from .model import SimulatedInstallation
from .scenario import Scenario, build_installation, load_scenario, parse_scenario
from .services import BATTERY, BATTERY_INSTANCE, SHUNT, SYSTEM, VEBUS, Monitor, monitor
from .vrm_api import create_account_vrm_app, create_vrm_app

__all__ = [
    "BATTERY",
    "BATTERY_INSTANCE",
    "PROFILES",
    "SHUNT",
    "SYSTEM",
    "VEBUS",
    "ConfigError",
    "Fault",
    "FaultError",
    "FaultInjector",
    "Monitor",
    "Scenario",
    "SimClock",
    "SimConfig",
    "SimulatedAccount",
    "SimulatedInstallation",
    "build_installation",
    "create_account_vrm_app",
    "create_local_app",
    "create_vrm_app",
    "load_scenario",
    "monitor",
    "parse_scenario",
    "site_config",
    "with_profile",
]
