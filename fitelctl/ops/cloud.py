"""The cloud side of a site: API settings from the inventory, and one read per VPC router.

Many sites end on the same VPC router, so status reads each router (appliance
and status) once and hands every site its own peer entry: the API is asked per
router, not per site.

Lifetimes are reported with the JSON path they were read from, because the
answers disagree on them: the settings carry ``IKE.Lifetime`` (28800 by the
manual) and ``ESP.Lifetime`` (1800), while the published connection details
(``GET .../vpcrouter/sitetosite/connectiondetails``, sacloud/libsacloud's
sample) show ``IKE.Lifetime "1800"`` and ``ESP.Lifetime "28800"``, the other
way round and as strings.  An IKE lifetime shorter than the ESP one, or the
two sources crossed, is noted, never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fitelctl.errors import FitelctlError
from fitelctl.inventory import Inventory, resolve_secret
from fitelctl.sakura.client import Call, SakuraClient
from fitelctl.sakura.config import ApiSettings, resolve_api_settings
from fitelctl.sakura.models import Appliance, ConnectionDetails, RouterStatus


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
        rate_limit=api.rate_limit,
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
class RouterRead:
    """One read of a VPC router, shared by its sites: the appliance and, when running, status."""

    appliance: Appliance
    status: RouterStatus | None


@dataclass(frozen=True)
class CloudView:
    """What fitelctl knows about a VPC router and the peer entry of one site.

    Built once from the API models (:meth:`of`); everything else asks it, not the
    API's names (``Instance.Status``, ``Availability``).  ``peer_status`` is None
    when the router was not running (status not read) or has no such peer.
    """

    appliance_id: int
    version: int | None
    #: the API's ``Availability``: available, migrating, failed, ...
    availability: str
    #: the API's ``Instance.Status``: up, cleaning, down (None when the record has none)
    instance_status: str | None
    peer: str | None = None
    peer_status: str | None = None
    lifetimes: tuple[Lifetime, ...] = ()

    @classmethod
    def of(
        cls,
        appliance: Appliance,
        *,
        peer: str | None = None,
        status: RouterStatus | None = None,
        details: ConnectionDetails | None = None,
    ) -> CloudView:
        """The view of ``appliance``; with ``status`` and ``peer``, that peer's entry too."""
        entry = status.peer(peer) if status is not None and peer is not None else None
        return cls(
            appliance_id=appliance.ID,
            version=appliance.vpc_router_version,
            availability=appliance.Availability,
            instance_status=appliance.instance_status,
            peer=peer,
            peer_status=entry.Status if entry else None,
            lifetimes=tuple(lifetimes(appliance, details, peer)),
        )

    @property
    def is_up(self) -> bool:
        """Powered on, whatever its availability (a migrating router is up too)."""
        return self.instance_status == "up"

    @property
    def is_off(self) -> bool:
        """Shut down, or shutting down (``cleaning``)."""
        return self.instance_status in ("down", "cleaning")

    @property
    def is_shutting_down(self) -> bool:
        """On its way off (``cleaning``): booting it must wait until it is down."""
        return self.instance_status == "cleaning"

    @property
    def is_available(self) -> bool:
        return self.availability == "available"

    @property
    def is_running(self) -> bool:
        """Powered on and available: the only state in which it serves VPNs and has a status."""
        return self.is_up and self.is_available

    @property
    def is_migrating(self) -> bool:
        """In the version 1 to 2 migration, which serves no VPN while it lasts (or sticks)."""
        return self.availability == "migrating"

    @property
    def is_failed(self) -> bool:
        return self.availability == "failed"

    @property
    def peer_up(self) -> bool:
        return (self.peer_status or "").upper() == "UP"

    @property
    def notes(self) -> list[str]:
        return lifetime_notes(list(self.lifetimes))

    def to_json(self) -> dict[str, Any]:
        """The ``cloud`` part of a site's status (keys: docs/output-contract.md#status)."""
        return {
            "peer": self.peer,
            "peer_status": self.peer_status,
            "vpc_router_version": self.version,
            "availability": self.availability,
            "instance_status": self.instance_status,
            "lifetimes": [reading.to_json() for reading in self.lifetimes],
            "notes": self.notes,
        }


def read_router(inventory: Inventory, site: str) -> RouterRead:
    client, appliance_id = client_for(inventory, site)
    with client:
        return read_router_with(client, appliance_id)


def read_router_with(client: SakuraClient, appliance_id: int) -> RouterRead:
    """The appliance and, when it is running, its status, with a client the caller keeps."""
    appliance = client.read_appliance(appliance_id)
    running = CloudView.of(appliance).is_running
    return RouterRead(appliance, client.status(appliance_id) if running else None)


def cloud_view(inventory: Inventory, site: str, read: RouterRead) -> CloudView:
    """The site's view of the router ``read``: its own peer entry among the router's."""
    config = inventory.site(site)
    peer = config.tunnel.cloud_peer_address(config.cloud)
    return CloudView.of(read.appliance, peer=peer, status=read.status)


# -- lifetimes, and where they came from ------------------------------------------------------

SETTINGS_PATH = "Settings.Router.SiteToSiteIPsecVPN"
CONNECTION_DETAILS_PATH = "vpcrouter/sitetosite/connectiondetails"


@dataclass(frozen=True)
class Lifetime:
    """One lifetime as an answer gave it: the phase its section names, seconds, JSON path."""

    phase: str  # "IKE" or "ESP", as the section the value was read from is named
    seconds: int
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"phase": self.phase, "seconds": self.seconds, "from": self.source}

    def __str__(self) -> str:
        return f"{self.phase} {self.seconds} s ({self.source})"


def lifetimes(
    appliance: Appliance, details: ConnectionDetails | None = None, peer: str | None = None
) -> list[Lifetime]:
    """The lifetimes the settings, and the connection details for ``peer``, give."""
    found: list[Lifetime] = []
    vpn = appliance.site_to_site
    for phase, section in (("IKE", vpn.IKE if vpn else None), ("ESP", vpn.ESP if vpn else None)):
        if section is not None and section.Lifetime is not None:
            found.append(Lifetime(phase, section.Lifetime, f"{SETTINGS_PATH}.{phase}.Lifetime"))
    connection = details.for_peer(peer) if details is not None and peer is not None else None
    if connection is not None:
        index, entry = connection
        for phase, crypto in (("IKE", entry.IKE), ("ESP", entry.ESP)):
            if crypto is not None and crypto.Lifetime is not None:
                path = f"{CONNECTION_DETAILS_PATH} Details.Config[{index}].{phase}.Lifetime"
                found.append(Lifetime(phase, crypto.Lifetime, path))
    return found


def lifetime_notes(readings: list[Lifetime]) -> list[str]:
    """What looks wrong in ``readings``: IKE shorter than ESP in one answer, two answers crossed."""
    by_answer: dict[str, dict[str, Lifetime]] = {}
    for reading in readings:
        answer = reading.source.rsplit(".", 2)[0]
        by_answer.setdefault(answer, {})[reading.phase] = reading
    notes = [
        f"implausible lifetimes: {pair['IKE']} is shorter than {pair['ESP']} (an IPsec SA "
        "would outlive its ISAKMP SA); published answers show the two swapped"
        for pair in by_answer.values()
        if {"IKE", "ESP"} <= set(pair) and pair["IKE"].seconds < pair["ESP"].seconds
    ]
    pairs = [pair for pair in by_answer.values() if {"IKE", "ESP"} <= set(pair)]
    if len(pairs) == 2:
        first, second = pairs
        crossed = (
            first["IKE"].seconds == second["ESP"].seconds
            and first["ESP"].seconds == second["IKE"].seconds
            and first["IKE"].seconds != first["ESP"].seconds
        )
        if crossed:
            notes.append(
                f"the answers cross IKE and ESP lifetimes: {first['IKE']} and {first['ESP']}, "
                f"but {second['IKE']} and {second['ESP']}; the settings are what the router "
                "was given"
            )
    return notes


def read_connection_details(client: SakuraClient, appliance_id: int) -> ConnectionDetails:
    zone = client.settings.zone
    what = f"read the site-to-site connection details of appliance {appliance_id} in {zone}"
    path = f"appliance/{appliance_id}/{CONNECTION_DETAILS_PATH}"
    return client.run(Call("GET", path, what, ConnectionDetails.model_validate))
