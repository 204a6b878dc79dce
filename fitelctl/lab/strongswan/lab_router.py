"""The VPC router of ``lab up --ike strongswan``: the API as before, its IPsec a real charon.

``LabCharonRouter`` keeps everything the API sees of ``LabVpcRouter`` (settings,
SettingsHash, power, migration, errors) and replaces what the model did for its VPN
(the router's charon is one per office, driven as one: ``lab_world``):

- the settings the router runs reach its charon whenever they reach the router (apply,
  boot, the end of a migration): every SA ends (charon tells each office with a
  DELETE), the connections are loaded afresh and the router initiates to every peer
  entry, as the real router re-initiates when its settings are applied; at lab start
  the offices initiate instead;
- power off, reset and migration stop the charon (the offices notice by DPD, if
  configured); boot starts it again;
- ``SiteToSiteIPsecVPNPeers`` is UP where the charon holds an installed CHILD_SA of the
  peer's connection;
- the VPN log is the charons' own log, merged (``router_log_merge``), in the router's
  syslog form (``router_syslog``), addresses as the settings and the devices' configs
  name them;
- ``restart_charon`` (the ``router-restart`` fault) restarts the charon mid-tunnel.
"""

from __future__ import annotations

import logging
from typing import Any

from fitelctl.lab.strongswan.lab_world import StrongswanWorld
from fitelctl.lab.strongswan.router_syslog import RouterSyslogError, syslog_line
from fitelctl.lab.vpc_router import LabVpcRouter
from fitelctl.lab.world import VpcRouter

log = logging.getLogger("fitelctl.lab")


class LabCharonRouter(LabVpcRouter):
    """``LabVpcRouter`` whose tunnels, peer status and VPN log are a real charon's."""

    def __init__(self, world: StrongswanWorld, router: VpcRouter, **options: Any) -> None:
        self.charon_world = world
        super().__init__(world, router, **options)

    def restart_charon(self) -> None:
        """The router's charon stops and starts again (its SAs are gone), then re-initiates."""
        if not self.router.up:
            return
        self.charon_world.stop_router_charon()
        self._renegotiate()

    # -- what the model did, done by charon ----------------------------------------
    def _peer_up(self, public_address: str) -> bool:
        return self.router.up and self.charon_world.router_peer_up(public_address)

    def _start_initiations(self) -> None:
        """Nothing: charon initiates when its connections are loaded (``_renegotiate``)."""

    def _renegotiate(self) -> None:
        world = self.charon_world
        if self.router.up:
            world.start_router_charon()
            world.load_router(world.router_connections(self.router), restart=True)
        else:
            world.stop_router_charon()
        self.collect_logs()

    def collect_logs(self) -> None:
        """The charons' log lines written since the last call, in the router's syslog form.

        A line that cannot be put in that form (a lab address standing for no config
        address: a lab defect) is left out and logged as an error naming it; the lines
        around it are kept.  Raised here, it would end the API request that collects
        them without an answer, the client would retry, and the whole batch, already
        read from the charons, would be lost without a word."""
        addresses = self.charon_world.config_addresses()
        for line in self.charon_world.new_router_log_lines():
            try:
                self.log.append(syslog_line(line, addresses, self._hostname))
            except RouterSyslogError as err:
                log.error("lab: a line left out of the VPC router's log: %s", err)
