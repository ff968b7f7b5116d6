"""What the config, options and repair flows share: probing the Cerbo and VRM, entity pickers.

A probe returns the error key the form shows for the failures it expects, instead of raising.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
)

from .api.cerbo import CerboClient, CerboConnectionError, CerboDiscovery, CerboError
from .api.vrm import (
    VrmAuthenticationError,
    VrmClient,
    VrmConnectionError,
    VrmError,
    VrmForbiddenError,
    VrmSite,
    VrmSystemOverview,
)
from .const import (
    CONF_VRM_API_URL,
    DEFAULT_VRM_API_URL,
    DOMAIN,
    ENV_DEV_VRM_API_URL,
    LOGGER,
)
from .runtime import VictronConfigEntry

PORT_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX)
)

# What a failed connection to the Cerbo is called in the form; others are "cannot_connect".
CONNECTION_ERRORS = {"refused": "refused", "timeout": "timeout", "unknown_host": "unknown_host"}


def split_host(text: str, port: int) -> tuple[str, int] | None:
    """The host and port in what was typed, e.g. `http://192.168.1.5:8088/`; None if unusable.

    A port typed with the host wins over the port field. Only plain http is served by the
    DBus HTTP API, so another scheme, a path or a user name is explained instead of guessed.
    """
    text = text.strip()
    if "://" not in text and text.count(":") > 1 and not text.startswith("["):
        return text, port  # a bare IPv6 address such as fe80::1
    parts = urlsplit(text if "://" in text else f"//{text}")
    try:
        typed_port = parts.port
    except ValueError:
        return None
    if (
        parts.scheme.lower() not in ("", "http")
        or parts.path not in ("", "/")
        or parts.query
        or parts.username is not None
        or not parts.hostname
    ):
        return None
    return parts.hostname, typed_port or port


def _vrm_client(hass: HomeAssistant, token: str, base_url: str = DEFAULT_VRM_API_URL) -> VrmClient:
    """A client for validating input: someone is waiting, so fail at once instead of retrying."""
    return VrmClient(async_get_clientsession(hass), token, base_url=base_url, max_retries=0)


async def async_probe_address(
    hass: HomeAssistant, text: str, port: int
) -> tuple[str, int, CerboDiscovery] | str:
    """Host, port and installation at a typed address; else the error key."""
    if (address := split_host(text, port)) is None:
        return "invalid_host"
    host, port = address
    discovery, error = await probe_local(hass, host, port)
    if error:
        return error
    assert discovery is not None
    return host, port, discovery


async def probe_local(
    hass: HomeAssistant, host: str, port: int
) -> tuple[CerboDiscovery | None, str | None]:
    """Check the DBus HTTP API answers and find the installation; return (discovery, error)."""
    client = CerboClient(async_get_clientsession(hass), host, port)
    try:
        await client.health()
        return await client.discover(), None
    except CerboConnectionError as err:
        return None, CONNECTION_ERRORS.get(err.kind, "cannot_connect")
    except CerboError:
        return None, "invalid_local_response"
    except Exception:  # noqa: BLE001 - a flow must show "unknown", not crash
        LOGGER.exception("Unexpected error while probing the Cerbo at %s", host)
        return None, "unknown"


async def list_sites(
    hass: HomeAssistant, token: str, base_url: str
) -> tuple[int | None, list[VrmSite], str | None]:
    """Validate the token and list the sites it can see; return (user id, sites, error key)."""
    client = _vrm_client(hass, token, base_url)
    try:
        user = await client.get_user()
        return user.id, await client.get_installations(user.id), None
    except VrmAuthenticationError:
        return None, [], "invalid_auth"
    except VrmForbiddenError:
        return None, [], "forbidden"
    except VrmError as err:
        return None, [], _vrm_error(err)
    except Exception:  # noqa: BLE001 - a flow must show "unknown", not crash
        LOGGER.exception("Unexpected error while validating the VRM token")
        return None, [], "unknown"


async def check_token_for_site(
    hass: HomeAssistant, token: str, site_id: int, base_url: str
) -> tuple[int | None, str | None]:
    """The user id, or an error key unless the token is valid and can see the site."""
    user_id, sites, error = await list_sites(hass, token, base_url)
    if error:
        return None, error
    if all(site.id != site_id for site in sites):
        return None, "site_not_accessible"
    return user_id, None


async def fetch_overview(
    hass: HomeAssistant, token: str, site_id: int, base_url: str
) -> tuple[VrmSystemOverview | None, str | None]:
    """Fetch the site's devices; return (overview, error)."""
    client = _vrm_client(hass, token, base_url)
    try:
        overview = await client.get_system_overview(site_id)
    except VrmForbiddenError:
        return None, "forbidden_site"
    except VrmError as err:
        return None, _vrm_error(err)
    return overview, None


def _vrm_error(err: VrmError) -> str:
    """Unreachable VRM is Home Assistant's internet connection; the rest is VRM's trouble."""
    if isinstance(err, VrmConnectionError) and err.kind != "server_error":
        return "vrm_cannot_connect"
    return "vrm_error"


def flow_vrm_url() -> str:
    """The VRM API a new entry uses: the real one, unless scripts/develop points elsewhere."""
    return os.environ.get(ENV_DEV_VRM_API_URL) or DEFAULT_VRM_API_URL


def vrm_url(entry: VictronConfigEntry) -> str:
    """The VRM API an existing entry talks to (the simulator's, under scripts/develop)."""
    return str(entry.data.get(CONF_VRM_API_URL, DEFAULT_VRM_API_URL))


def _own_entity_ids(hass: HomeAssistant) -> list[str]:
    """Every entity of this integration, of any entry."""
    registry = er.async_get(hass)
    return [entry.entity_id for entry in registry.entities.values() if entry.platform == DOMAIN]


def is_own_entity(hass: HomeAssistant, entity_id: str) -> bool:
    """Whether this integration provides the entity."""
    registry_entry = er.async_get(hass).async_get(entity_id)
    return registry_entry is not None and registry_entry.platform == DOMAIN


def solark_selector(hass: HomeAssistant) -> EntitySelector:
    """Battery SOC sensors of other integrations: ours would compare the battery with itself."""
    return EntitySelector(
        EntitySelectorConfig(
            domain="sensor", device_class="battery", exclude_entities=_own_entity_ids(hass)
        )
    )
