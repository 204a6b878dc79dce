"""The lab's world with real IKE: each F220 and the VPC router negotiate through charons.

``StrongswanWorld`` is the ``LabWorld`` of ``fitelctl lab up --ike strongswan``.  Where
the pure lab decides tunnels with ``fitelctl.ike``, here:

- each device's IKE stack is a charon in the office's namespace, configured from the
  device's *committed* config (``translate.device_connections``) whenever it changes
  (commit, refresh, boot); ``always-up`` connections start as soon as they are loaded;
  ``clear crypto sa`` ends the device's SAs and starts them again;
- the VPC router is one charon per office, each in a namespace of its own holding the
  router's address (``lab_network`` says why), configured from the settings the router
  *runs* (``translate.router_connections``): each holds the connection of the peer
  entry that names its office; entries naming no office go to the first one.
  ``LabCharonRouter`` drives them as one router (apply, power, restart), and their logs
  are merged into the router's one log (``router_log_merge``);
- `show crypto sa` is read from the device's charon (``sa_views``);
- every ``TRAFFIC_INTERVAL`` seconds each office sends a datagram from its inside address
  to the router's through the tunnel, and the router echoes it, so the SAs' counters
  move (``traffic``).

A device config the translation cannot express is written to the lab's log (the
``fitelctl.lab`` logger: ``lab up``'s stderr) naming its line or its tunnel, and leaves
the device with no tunnel, as a config the F220 could not negotiate would; it is never
dropped silently.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.lab.charon_log import router_connection_name
from fitelctl.lab.crypto_sa import render_crypto_sa
from fitelctl.lab.device.model import LabDevice
from fitelctl.lab.strongswan.charon import Charon, CharonError, Timing
from fitelctl.lab.strongswan.esp_errors import EspErrorCount
from fitelctl.lab.strongswan.lab_network import ROUTER_ADDRESS, LabNetwork, Place
from fitelctl.lab.strongswan.netns import Namespaces, ip
from fitelctl.lab.strongswan.router_log_merge import RouterLogMerge
from fitelctl.lab.strongswan.sa_views import established, ike_view, installed_children, ipsec_view
from fitelctl.lab.strongswan.translate import (
    Connection,
    DeviceConnection,
    LabAddresses,
    TranslationError,
    device_connections,
    router_connections,
)
from fitelctl.lab.strongswan.vici_calls import (
    initiate,
    load,
    reset,
    sas,
    terminate_all,
    unload_others,
)
from fitelctl.lab.vpc_router_settings import settings_from
from fitelctl.lab.world import LabWorld, VpcRouter

log = logging.getLogger("fitelctl.lab")

TRAFFIC_MODULE = "fitelctl.lab.strongswan.traffic"
ESP_NOISE_MODULE = "fitelctl.lab.strongswan.esp_noise"
TRAFFIC_INTERVAL = 2.0
TRAFFIC_PORT = 7


@dataclass
class Office:
    """One site's IKE: where it lives, its charon, what it was last configured with, and
    the VPC router's side of its tunnels (place and charon)."""

    place: Place
    charon: Charon
    router_place: Place
    router_charon: Charon
    wan: str  # the device's own address in its config
    public: str  # the address the VPC router's settings name it by
    connections: list[DeviceConnection] = field(default_factory=list)
    #: the inbound errors its charon logged so far, and how far its log was read for them
    esp_errors: EspErrorCount = field(default_factory=EspErrorCount)
    esp_log_read: int = 0
    #: what the router's charon of this office was last given, and how far its log was read
    router_connections: list[Connection] = field(default_factory=list)
    router_log_read: int = 0


class StrongswanWorld(LabWorld):
    """A ``LabWorld`` whose tunnels are negotiated by real charons (root, strongSwan)."""

    def __init__(
        self,
        workdir: Path,
        *,
        timing: Timing | None = None,
        label: str = "lab",
        drop_ike: frozenset[str] = frozenset(),
        esp_noise: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(clock)
        self.workdir, self.timing = workdir, timing or Timing()
        #: sites whose IKE packets the Internet drops (the ``drop-ike`` fault)
        self.drop_ike = drop_ike
        #: sites sent replayed and forged ESP (the ``esp-noise`` fault)
        self.esp_noise = esp_noise
        self._namespaces = Namespaces()
        try:
            self.network = LabNetwork(self._namespaces, label)
        except BaseException:
            self._namespaces.close()
            raise
        self.offices: dict[str, Office] = {}
        self._router_log = RouterLogMerge()
        #: whether the router's charons run (power, restart)
        self._router_running = True

    # -- building -----------------------------------------------------------
    def add_site(self, device: LabDevice, *, public_address: str) -> None:
        site = device.spec.site
        place, router_place = self.network.add_office(site)
        charon = Charon(place.namespace, self.workdir / site, timing=self.timing, esp_packets=True)
        router_charon = Charon(
            router_place.namespace, self.workdir / f"vpc-router-{site}", timing=self.timing
        )
        wan = _wan_address(device.current_config()) or public_address
        office = Office(place, charon, router_place, router_charon, wan, public_address)
        self.offices[site] = office
        if site in self.drop_ike:
            self.network.drop_ike(place)
        charon.start()
        if self._router_running:
            router_charon.start()
        router = next(iter(self.routers.values()))
        self.load_router(self.router_connections(router), restart=False)
        self._route_inside(office)
        self._run_in(
            router_place,
            sys.executable,
            "-m",
            TRAFFIC_MODULE,
            "echo",
            router_place.inside,
            str(TRAFFIC_PORT),
        )
        self._run_in(
            place,
            sys.executable,
            "-m",
            TRAFFIC_MODULE,
            "send",
            place.inside,
            f"{router_place.inside}:{TRAFFIC_PORT}",
            str(TRAFFIC_INTERVAL),
        )
        if site in self.esp_noise:
            self._run_in(
                router_place,
                sys.executable,
                "-m",
                ESP_NOISE_MODULE,
                str(router_charon.vici_socket),
                str(TRAFFIC_INTERVAL),
            )
        super().add_site(device, public_address=public_address)

    def addresses(self) -> LabAddresses:
        """Config address → lab address, for both sides' translations."""
        places = {}
        for global_address in self.routers:
            places[global_address] = ROUTER_ADDRESS
        for office in self.offices.values():
            places[office.public] = office.place.public
            places[office.wan] = office.place.address
        return LabAddresses(places)

    def config_addresses(self) -> dict[str, str]:
        """Lab address → config address (the inverse of ``addresses``)."""
        return {lab: config for config, lab in self.addresses().places.items()}

    # -- CryptoWorld -------------------------------------------------------
    def show_crypto_sa(self, site: str) -> str:
        office = self.offices[site]
        by_name = {c.name: c.tunnel for c in office.connections}
        names = self.config_addresses()
        lines, office.esp_log_read = office.charon.log_since(office.esp_log_read)
        office.esp_errors.add(lines)
        ike_views, ipsec_views = [], []
        for name, sa in _sas_or_none(office.charon):
            tunnel = by_name.get(name)
            if tunnel is None or not established(sa):
                continue
            children = installed_children(sa)
            if children:
                ike_views.append(ike_view(sa, tunnel, names))
            ipsec_views += [
                ipsec_view(sa, child, tunnel, names, office.esp_errors) for child in children
            ]
        return render_crypto_sa(self.sites[site].device.spec.sa_format, ike_views, ipsec_views)

    def clear_crypto_sa(self, site: str) -> None:
        office = self.offices[site]
        terminate_all(office.charon)
        for connection in office.connections:
            self._initiate(office.charon, connection)

    def current_config_changed(self, site: str) -> None:
        self.renegotiate(site)

    def renegotiate(self, site: str) -> None:
        """Configure the device's charon afresh from its committed config and start it."""
        link, office = self.sites[site], self.offices[site]
        text = link.device.current_config()
        try:
            connections = device_connections(text, self.addresses(), own_address=office.wan)
        except TranslationError as error:
            log.error("%s: the committed config has no strongSwan translation: %s", site, error)
            connections = []
        reset(office.charon)
        office.connections = connections
        load(office.charon, connections, start=False)
        for connection in connections:
            child = next(iter(connection.body["children"].values()))
            if child.get("start_action") == "start":
                self._initiate(office.charon, connection)

    # -- the router's charons (driven by ``LabCharonRouter``) ------------------
    def start_router_charon(self) -> None:
        """The router's charons start (the router boots)."""
        self._router_running = True
        for office in self.offices.values():
            if not office.router_charon.running:
                office.router_charon.start()
                self._route_inside(office)  # its new ``ipsec0`` has no routes yet

    def stop_router_charon(self) -> None:
        """The router's charons stop (power off, restart, migration)."""
        self._router_running = False
        for office in self.offices.values():
            office.router_charon.stop()
            office.router_connections = []

    def router_connections(self, router: VpcRouter) -> list[Connection]:
        """The connections of the settings ``router`` runs (not those merely saved)."""
        return router_connections(
            settings_from(router),
            version=router.version,
            global_address=router.global_address,
            lab=self.addresses(),
        )

    def load_router(self, connections: list[Connection], *, restart: bool) -> None:
        """Give the router's charons ``connections``: each office's router charon the one
        naming that office, the first office's also those naming no office.

        ``restart``: every SA ends and every connection goes first, and the router then
        initiates each connection itself (settings applied); otherwise connections are
        added, replaced or removed and SAs stay (an office added at lab start); a charon
        whose share is what it already holds is left alone.
        """
        if not self._router_running:
            return
        for office, own in self._router_shares(connections):
            if not restart and own == office.router_connections:
                continue
            charon, office.router_connections = office.router_charon, own
            if restart:
                reset(charon)
            else:
                unload_others(charon, {connection.name for connection in own})
            load(charon, own, start=False)
            if restart:
                for connection in own:
                    self._initiate(charon, connection)

    def router_peer_up(self, peer: str) -> bool:
        """Whether the router has an installed CHILD_SA with the office it knows as ``peer``."""
        name = router_connection_name(peer)
        return any(
            established(sa) and installed_children(sa)
            for office in self.offices.values()
            for _, sa in _sas_or_none(office.router_charon, name)
        )

    def new_router_log_lines(self) -> list[str]:
        """What the router's charons logged since the last call, as one charon's log."""
        fresh = []
        for office in self.offices.values():
            lines, office.router_log_read = office.router_charon.log_since(office.router_log_read)
            fresh.append(lines)
        return self._router_log.new_lines(fresh)

    def _router_shares(
        self, connections: list[Connection]
    ) -> list[tuple[Office, list[Connection]]]:
        """Each office with the connections its router charon holds (``load_router``)."""
        offices = list(self.offices.values())
        shares: dict[str, list[Connection]] = {office.place.public: [] for office in offices}
        homeless: list[Connection] = []
        for connection in connections:
            shares.get(connection.body["remote_addrs"][0], homeless).append(connection)
        result = [(office, shares[office.place.public]) for office in offices]
        if result:
            result[0][1].extend(homeless)
        return result

    # -- ending -------------------------------------------------------------
    def close(self) -> None:
        """Stop every charon and remove every namespace (and so every link) the lab made."""
        for office in self.offices.values():
            office.charon.stop()
            office.router_charon.stop()
        self._namespaces.close()

    # -- helpers ------------------------------------------------------------
    def _initiate(self, charon: Charon, connection: Connection) -> None:
        threading.Thread(target=initiate, args=(charon, connection), daemon=True).start()

    def _route_inside(self, office: Office) -> None:
        """Traffic between the office's and the router's inside addresses goes into
        kernel-libipsec's ``ipsec0`` on both sides."""
        office_side, router_side = office.place, office.router_place
        for place, there in ((office_side, router_side), (router_side, office_side)):
            ip(
                "route",
                "replace",
                f"{there.inside}/32",
                "dev",
                "ipsec0",
                "src",
                place.inside,
                namespace=place.namespace,
            )

    def _run_in(self, place: Place, *command: str) -> None:
        """A helper process inside ``place``'s namespace; it dies with the namespace."""
        subprocess.Popen(
            ["ip", "netns", "exec", place.namespace, *command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def _sas_or_none(charon: Charon, conn: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The charon's SAs, or none while it is not running (powered off, restarting)."""
    if not charon.running:
        return []
    try:
        return sas(charon, conn)
    except CharonError:
        return []


def _wan_address(config_text: str) -> str | None:
    """The device's own address: the first interface address of its config."""
    for entry in ConfigTree.parse(config_text).entries:
        if entry.header.startswith("interface "):
            value = entry.child_value("ip address")
            if value:
                return value.split("/")[0].split()[0]
    return None
