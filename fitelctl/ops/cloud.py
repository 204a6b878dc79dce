"""The cloud side of a site: API settings from the inventory, and one read per VPC router.

Many sites end on the same VPC router, so status reads each router (appliance
and status) once and hands every site its own peer entry: the API is asked per
router, not per site.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fitelctl.errors import FitelctlError
from fitelctl.inventory import Inventory, resolve_secret
from fitelctl.sakura.client import SakuraClient
from fitelctl.sakura.config import ApiSettings, resolve_api_settings
from fitelctl.sakura.models import Appliance, RouterStatus


class NoCloudSide(FitelctlError):
    """The site's inventory does not say which VPC router (appliance ID) it ends on."""


def api_settings(inventory: Inventory, *, zone: str | None = None) -> ApiSettings:
    """Inventory ``api`` section (secrets resolved) under the ``SAKURACLOUD_*`` environment."""
    api = inventory.api

    def secret(name: str, ref: str | None) -> str | None:
        return resolve_secret(ref, inventory, what=f"api.{name}") if ref else None

    return resolve_api_settings(
        token=secret("token", api.token),
        secret=secret("secret", api.secret),
        zone=zone or api.zone,
        root_url=api.root_url,
        retry_max=api.retry_max,
        timeout=api.timeout,
        migration_call=api.migration_call,
        inventory_label=f"{inventory.base_dir}: api",
    )


def router_of(inventory: Inventory, site: str) -> tuple[str | None, int]:
    """(zone, appliance ID) of the site's VPC router; NoCloudSide when not configured."""
    cloud = inventory.site(site).cloud
    if cloud.vpc_router_id is None:
        raise NoCloudSide(
            f"{site}: cloud.vpc_router_id is not set in the inventory, so the VPC router "
            "cannot be reached over the API"
        )
    return cloud.zone, cloud.vpc_router_id


def client_for(inventory: Inventory, site: str) -> tuple[SakuraClient, int]:
    zone, appliance_id = router_of(inventory, site)
    return SakuraClient(api_settings(inventory, zone=zone)), appliance_id


@dataclass(frozen=True)
class RouterView:
    """One read of a VPC router: its appliance record and, when running, its status."""

    appliance: Appliance
    status: RouterStatus | None


def read_router(inventory: Inventory, site: str) -> RouterView:
    client, appliance_id = client_for(inventory, site)
    with client:
        appliance = client.read_appliance(appliance_id)
        running = appliance.instance_status == "up" and appliance.Availability == "available"
        return RouterView(appliance, client.status(appliance_id) if running else None)


def cloud_json(inventory: Inventory, site: str, view: RouterView) -> dict[str, Any]:
    """The ``cloud`` part of a site's status (CONTRACT.md)."""
    config = inventory.site(site)
    peer = config.tunnel.cloud_peer_address(config.cloud)
    entry = view.status.peer(peer) if view.status else None
    return {
        "peer": peer,
        "peer_status": entry.Status if entry else None,
        "vpc_router_version": view.appliance.vpc_router_version,
        "availability": view.appliance.Availability,
        "instance_status": view.appliance.instance_status,
    }
