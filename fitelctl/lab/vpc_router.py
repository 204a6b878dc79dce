"""The simulated VPC router as the Sakura Cloud API sees it, driving the lab's world.

``LabVpcRouter`` keeps the API-level state the world's ``VpcRouter`` lacks
(ID, settings as JSON, SettingsHash, power, Availability, VPN log) and drives
the world: applying config renegotiates every tunnel, powering off takes them
down.  Settings only reach the tunnels when applied (``PUT /config``) or at
boot, as on the real router.  Power changes and migration take
``transition_seconds`` like the real (slower) service.  VPN log lines come from
``charon_log`` for every negotiation that reached this router, collected
whenever the API is called.

The ``migration_stuck`` option (the ``migration-stuck`` scenario,
docs/output-contract.md#lab-scenarios) is the source article's stuck migration
(docs/domain.md#incidents-in-the-article), see ``LabVpcRouter.migrate``.

The router initiates too: whenever it starts its VPN (lab start, boot, apply)
it starts a Main Mode to every peer entry whose office has no tunnel to it
(no crypto config, ``set peer`` elsewhere), which then never answers; those
lines appear as their time comes (``charon_log.unanswered_initiation``,
strongSwan's timing in ``retransmit``, which tests may shorten).  An office
whose Main Modes stay half-open (a wrong PSK) fills the per-IP half-open limit
and is ignored until the half-open SAs time out, as charon does.

The ``api_quirks`` fault serves the answers' published quirks: every number of
the site-to-site settings and status as a string (``"Lifetime": "28800"``),
and the connection details with the IKE and ESP lifetimes swapped, as the
published sample shows (sacloud/libsacloud,
``sacloud/sitetosite_connection_detail_test.go``: ``"ESP": {"Lifetime":
"28800"}``, ``"IKE": {"Lifetime": "1800"}``).  Without it, the connection
details still carry lifetimes as strings (the published type has them so),
each in its own section.

INFERRED or UNKNOWN behaviour, chosen here and documented: the migration call
(``PUT appliance/:id/vpcrouter/version`` with ``{"Version": 2}``, the client's
default), 409 ``conflict`` for a stale SettingsHash, 409 ``still_creating``
for status/log/monitor while Availability is ``migrating``, an empty status
while powered off, ``cleaning`` as Instance.Status while shutting down,
CPU-TIME in milliseconds (the article's ~28 ms on version 1, 3.3-6.6 ms on
version 2).

Nothing here knows about HTTP: refusals are ``api_errors.HttpError``, answers
are the JSON the API wraps in its envelope.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import ipaddress
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from fitelctl.lab.api_errors import HttpError, bad_request, conflict
from fitelctl.lab.charon_log import (
    HALF_OPEN_LIMIT,
    HALF_OPEN_TIMEOUT,
    Retransmit,
    SaNumbers,
    charon_log_lines,
    half_open_deleted,
    half_open_refused,
    unanswered_initiation,
)
from fitelctl.lab.scenarios import CLOUD_LOCAL_PREFIX
from fitelctl.lab.vpc_router_settings import (
    settings_from,
    settings_hash,
    validate_settings,
    version2_fields,
)
from fitelctl.lab.world import LabWorld, PeerEntry, Tunnel, VpcRouter, derived_hex

JST = timezone(timedelta(hours=9))
ZONE_IDS = {
    "is1a": 31001,
    "is1b": 31002,
    "is1c": 31003,
    "tk1a": 21001,
    "tk1b": 21002,
    "tk1v": 29001,
}
STATUS_LOG_LINES = 100
#: the answer to an action that was accepted
DONE: dict[str, Any] = {"Success": True}


class LabVpcRouter:
    """The appliance as the API sees it, wrapped around the world's ``VpcRouter``."""

    def __init__(
        self,
        world: LabWorld,
        router: VpcRouter,
        *,
        appliance_id: int,
        zone: str,
        transition_seconds: float,
        migration_stuck: bool,
        api_quirks: bool = False,
    ) -> None:
        self.world, self.router = world, router
        self.appliance_id, self.zone = appliance_id, zone
        self.transition_seconds = transition_seconds
        self.migration_stuck = migration_stuck
        self.api_quirks = api_quirks
        #: charon's retransmission timing for the router's own initiations
        self.retransmit = Retransmit()
        self.settings = settings_from(router)
        self.settings_hash = settings_hash(self.settings)
        self.availability = "available"
        self.instance_status = "up" if router.up else "down"
        self.status_changed_at = datetime.now(JST)
        self.log: deque[str] = deque(maxlen=5000)
        self._busy = False  # a power transition or migration is under way
        self._stuck = False
        self._reimported = self._reconfigured = False
        self._seen: set[str] = set()
        self._sa_counter = 0
        self._timers: set[asyncio.TimerHandle] = set()
        #: names of the transitions under way (``_later``), persisted with the state
        self._pending: list[str] = []
        #: called after a transition ends (the lab persists the router's state)
        self.on_change: Callable[[], None] | None = None
        #: the router's own Main Modes that nobody answers, by peer address
        self._initiations: dict[str, _Initiation] = {}
        #: responder IKE_SAs left half-open, by peer address: (monotonic time, IKE_SA number)
        self._half_open: dict[str, list[tuple[float, int]]] = {}
        self._start_initiations()
        self.collect_logs()

    # -- reading ----------------------------------------------------------------------
    def appliance(self) -> dict[str, Any]:
        global_address = self.router.global_address
        return {
            "ID": self.appliance_id,
            "Class": "vpcrouter",
            "Name": "fitelctl-lab-vpc-router",
            "Description": "",
            "Plan": {"ID": 1},
            "Settings": _numbers_as_strings(self.settings)
            if self.api_quirks
            else copy.deepcopy(self.settings),
            "SettingsHash": self.settings_hash,
            "Remark": {
                "Router": {"VPCRouterVersion": self.router.version},
                "Servers": [{"IPAddress": global_address}],
                "Switch": {"Scope": "shared"},
                "Zone": {"ID": ZONE_IDS[self.zone]},
            },
            "Availability": self.availability,
            "Instance": {
                "Status": self.instance_status,
                "StatusChangedAt": self.status_changed_at.isoformat(timespec="seconds"),
            },
            "ServiceClass": "cloud/appliance/vpc/1",
            "Interfaces": [_shared_interface(global_address), *[None] * 7],
        }

    def status(self) -> dict[str, Any]:
        self._refuse_while_migrating()
        if self.instance_status != "up":
            return {"SiteToSiteIPsecVPNPeers": [], "VPNLogs": [], "SessionCount": 0}
        peers = [
            {"Status": "UP" if self._peer_up(entry.peer) else "DOWN", "Peer": entry.peer}
            for entry in self.router.peers
        ]
        up = sum(p["Status"] == "UP" for p in peers)
        sessions = 4 + 2 * up
        return {
            "FirewallReceiveLogs": [],
            "FirewallSendLogs": [],
            "VPNLogs": list(self.log)[-STATUS_LOG_LINES:],
            "SessionCount": str(sessions) if self.api_quirks else sessions,
            "PercentageOfMemoryFree": [55.4 if self.router.version >= 2 else 41.7],
            "SiteToSiteIPsecVPNPeers": peers,
        }

    def connection_details(self) -> dict[str, Any]:
        """``GET .../vpcrouter/sitetosite/connectiondetails``: one entry per peer (all strings)."""
        self._refuse_while_migrating()
        if self.instance_status != "up":
            return {"Details": {"Config": None}}
        router = self.router
        ike, esp = str(router.ike_lifetime), str(router.esp_lifetime)
        if self.api_quirks:
            ike, esp = esp, ike
        algorithms = {
            "AuthenticationProtocol": router.hash_algo,
            "EncryptionProtocol": router.encryption_algo,
        }
        config = [
            {
                "ESP": {
                    **algorithms,
                    "DHGroup": router.dh_group,
                    "Lifetime": esp,
                    "Mode": "tunnel",
                    "PerfectForwardSecrecy": "enabled",
                },
                "IKE": {
                    **algorithms,
                    "Lifetime": ike,
                    "Mode": "main",
                    "PerfectForwardSecrecy": "enabled",
                    "PreSharedSecret": entry.psk,
                },
                "Index": index,
                "Peer": {
                    "ID": entry.remote_id,
                    "InsideNetworks": [],
                    "OutsideIPAddress": entry.peer,
                },
                "VPCRouter": {
                    "ID": router.global_address,
                    "InsideNetworks": [CLOUD_LOCAL_PREFIX],
                    "OutsideIPAddress": router.global_address,
                },
            }
            for index, entry in enumerate(router.peers, start=1)
        ]
        return {"Details": {"Config": config}}

    def vpn_log(self) -> str:
        self._refuse_while_migrating()
        return "".join(line + "\n" for line in self.log)

    def cpu_monitor(self) -> dict[str, Any]:
        """Twelve 5-minute samples; the spread is the article's (ms, INFERRED unit)."""
        self._refuse_while_migrating()
        low, high = (3.3, 6.6) if self.router.version >= 2 else (20.0, 40.0)
        now = datetime.now(JST).replace(second=0, microsecond=0)
        latest = now - timedelta(minutes=now.minute % 5)
        data: dict[str, Any] = {}
        for step in range(11, -1, -1):
            at = (latest - timedelta(minutes=5 * step)).isoformat()
            fraction = int(hashlib.sha256(at.encode()).hexdigest()[:4], 16) / 0xFFFF
            data[at] = {"CPU-TIME": round(low + (high - low) * fraction**2, 3)}
        return data

    def _peer_up(self, public_address: str) -> bool:
        return any(
            t.outcome.up and t.config.peer == self.router.global_address
            for link in self.world.sites.values()
            if link.public_address == public_address
            for t in link.tunnels
        )

    def _refuse_while_migrating(self) -> None:
        if self.availability == "migrating":
            raise HttpError(
                409,
                "still_creating",
                f"appliance[ID:{self.appliance_id}] is migrating; the operation is not available",
            )

    # -- settings ---------------------------------------------------------------------
    def update_settings(self, body: dict[str, Any]) -> dict[str, Any]:
        appliance = body.get("Appliance")
        if not isinstance(appliance, dict) or not isinstance(appliance.get("Settings"), dict):
            raise bad_request("Appliance.Settings is required")
        given = appliance.get("SettingsHash")
        if given and given != self.settings_hash:
            raise conflict(
                f"appliance[ID:{self.appliance_id}]: SettingsHash does not match the current "
                "settings (they were changed since read)"
            )
        settings = appliance["Settings"]
        validate_settings(settings, self.router.version)
        self.settings = copy.deepcopy(settings)
        self.settings_hash = settings_hash(self.settings)
        if self._stuck and self.instance_status == "down":
            self._reimported = True
        return {"Success": True, "Appliance": self.appliance()}

    def apply_config(self) -> dict[str, Any]:
        if self._stuck and self.instance_status == "down" and self._reimported:
            self._reconfigured = True
        if self.instance_status == "up" and not self._stuck:
            self._apply_settings()
            self._renegotiate()
        return DONE

    # -- power --------------------------------------------------------------------------
    def boot(self) -> dict[str, Any]:
        if self._busy or self.instance_status != "down":
            raise conflict(f"appliance[ID:{self.appliance_id}]: Boot is failed (not powered off)")
        self._busy = True
        self._later(self._booted)
        return DONE

    def shutdown(self) -> dict[str, Any]:
        if self._busy or self.instance_status != "up":
            raise conflict(f"appliance[ID:{self.appliance_id}]: Shutdown is failed (not running)")
        self._busy = True
        self._set_instance("cleaning")
        self._tunnels_down()
        self._later(self._powered_off)
        return DONE

    def reset(self) -> dict[str, Any]:
        if self._busy or self.instance_status != "up":
            raise conflict(f"appliance[ID:{self.appliance_id}]: Reset is failed (not running)")
        self._busy = True
        self._tunnels_down()
        self._later(self._booted)
        return DONE

    def _booted(self) -> None:
        self._set_instance("up")
        if self._stuck and self._reimported and self._reconfigured:
            self._stuck = False
            self.availability = "available"
        if not self._stuck:
            self._apply_settings()
            self.router.up = True
            self._renegotiate()

    def _powered_off(self) -> None:
        self._set_instance("down")

    def _set_instance(self, status: str) -> None:
        self.instance_status = status
        self.status_changed_at = datetime.now(JST)
        self._busy = status == "cleaning"

    # -- migration --------------------------------------------------------------------
    def migrate(self, body: dict[str, Any]) -> dict[str, Any]:
        """Version 1 → 2, keeping the settings; in ``migration_stuck`` mode it never ends.

        Stuck (the article): Availability stays ``migrating``, tunnels stay down and
        status/logs answer errors until the router is shut down, its settings are
        re-imported (``PUT /appliance/:id`` then ``PUT /config``) and it is booted.
        """
        version = body.get("Version")
        if not isinstance(version, int) or isinstance(version, bool) or version not in (1, 2):
            raise bad_request("Version must be 1 or 2")
        if version <= self.router.version:
            raise bad_request(f"the VPC router is already version {self.router.version}")
        if self._busy or self.availability != "available":
            raise conflict(f"appliance[ID:{self.appliance_id}] is busy")
        self.router.version = version
        self._add_version2_settings()
        self.availability = "migrating"
        self._tunnels_down()
        if self.migration_stuck:
            self._stuck, self._reimported, self._reconfigured = True, False, False
        else:
            self._busy = True
            self._later(self._migrated)
        return DONE

    def _migrated(self) -> None:
        self._busy = False
        self.availability = "available"
        if self.instance_status == "up":
            self._apply_settings()
            self.router.up = True
            self._renegotiate()

    def _add_version2_settings(self) -> None:
        vpn = self.settings.setdefault("Router", {}).setdefault("SiteToSiteIPsecVPN", {})
        for key, value in version2_fields(self.router).items():
            vpn.setdefault(key, value)
        self.settings_hash = settings_hash(self.settings)

    # -- the world ----------------------------------------------------------------------
    def _apply_settings(self) -> None:
        vpn = (self.settings.get("Router") or {}).get("SiteToSiteIPsecVPN") or {}
        enabled = str(vpn.get("Enabled", "True")).lower() == "true"
        entries = (vpn.get("Config") or []) if enabled else []
        self.router.peers = [
            PeerEntry(c["Peer"], c.get("RemoteID", ""), c.get("PreSharedSecret", ""))
            for c in entries
        ]
        if self.router.version >= 2:
            router = self.router
            router.encryption_algo = vpn.get("EncryptionAlgo", router.encryption_algo)
            router.hash_algo = vpn.get("HashAlgo", router.hash_algo)
            router.dh_group = vpn.get("DHGroup", router.dh_group)
            # (validated as whole numbers; they may have been sent as strings)
            router.ike_lifetime = int((vpn.get("IKE") or {}).get("Lifetime", router.ike_lifetime))
            router.esp_lifetime = int((vpn.get("ESP") or {}).get("Lifetime", router.esp_lifetime))

    def _tunnels_down(self) -> None:
        """charon stops: every SA, half-open or not, and every attempt of its own go with it."""
        self.router.up = False
        self._initiations, self._half_open = {}, {}
        self._renegotiate()

    def _renegotiate(self) -> None:
        self.world.renegotiate_all()
        self._start_initiations()
        self.collect_logs()

    def _silent_peers(self) -> list[str]:
        """Peer entries whose office has no tunnel to this router: nobody will answer them."""
        talking = {
            link.public_address
            for link in self.world.sites.values()
            if any(t.config.peer == self.router.global_address for t in link.tunnels)
        }
        return [entry.peer for entry in self.router.peers if entry.peer not in talking]

    def _start_initiations(self) -> None:
        """A Main Mode to each silent peer not already being tried.

        Applying settings keeps charon's SAs (the article's log numbers on after an
        apply), so an attempt under way goes on; one that gave up is started again,
        as reloading an ``auto=start`` connection does (CHOSEN: Sakura does not
        publish how it applies).
        """
        if not self.router.up:
            return
        now = datetime.now(JST)
        for peer in self._silent_peers():
            attempt = self._initiations.get(peer)
            if attempt is None or attempt.ends(self.retransmit) <= now:
                self._sa_counter += 1
                self._initiations[peer] = _Initiation(now, self._sa_counter)

    def _initiation_lines(self, now: datetime) -> list[str]:
        """The lines of the router's own attempts whose time has come (and not logged yet)."""
        silent = set(self._silent_peers())
        lines: list[str] = []
        for peer, attempt in list(self._initiations.items()):
            if peer not in silent:  # the office is negotiating now: its own log takes over
                del self._initiations[peer]
                continue
            if attempt.done:
                continue
            if attempt.timing != self.retransmit:  # written once per timing (tests shorten it)
                attempt.timing = self.retransmit
                attempt.lines = unanswered_initiation(
                    router=self.router.global_address,
                    peer=peer,
                    started=attempt.started,
                    hostname=self._hostname,
                    ike_sa=attempt.ike_sa,
                    retransmit=self.retransmit,
                )
            due = [line for when, line in attempt.lines if when <= now]
            lines.extend(due[attempt.logged :])
            attempt.logged = len(due)
            attempt.done = attempt.ends(self.retransmit) <= now
        return lines

    @property
    def _hostname(self) -> str:
        return f"rt-{self.appliance_id}"

    def _expire_half_open(self, now_clock: float, now: datetime) -> None:
        for peer, entries in self._half_open.items():
            for started, ike_sa in [e for e in entries if now_clock - e[0] >= HALF_OPEN_TIMEOUT]:
                at = now - timedelta(seconds=now_clock - started - HALF_OPEN_TIMEOUT)
                self.log.append(half_open_deleted(at, self._hostname, peer, ike_sa))
                entries.remove((started, ike_sa))

    def collect_logs(self) -> None:
        """Log what happened since the last call: new negotiations, the router's own attempts."""
        now_clock, now = self.world.clock(), datetime.now(JST)
        self._expire_half_open(now_clock, now)
        current: set[str] = set()
        for link in self.world.sites.values():
            for tunnel in link.tunnels:
                if tunnel.config.peer != self.router.global_address:
                    continue
                current.add(tunnel.seed)
                if tunnel.seed in self._seen:
                    continue
                at = now - timedelta(seconds=max(0.0, now_clock - tunnel.established_at))
                self.log.extend(self._negotiation_lines(link.public_address, tunnel, at))
        self._seen = current
        self.log.extend(self._initiation_lines(now))

    def _negotiation_lines(self, public_address: str, tunnel: Tunnel, at: datetime) -> list[str]:
        """An office-initiated negotiation, or its refusal (too many half-open SAs)."""
        half_open = self._half_open.setdefault(public_address, [])
        if self.router.up and len(half_open) >= HALF_OPEN_LIMIT:
            return [half_open_refused(at, self._hostname, public_address)]
        self._sa_counter += 1
        # the router's inbound SPI is the device's outbound one (as `show crypto sa` shows)
        numbers = SaNumbers(
            ike_sa=self._sa_counter,
            child_sa=self._sa_counter,
            spi_in=derived_hex(tunnel.seed, "out-spi", 0, 4),
            spi_out=derived_hex(tunnel.seed, "in-spi", 0, 4),
        )
        lines = charon_log_lines(
            tunnel.outcome,
            cloud=self.router.cloud_peer(public_address),
            device=tunnel.config,
            public_address=public_address,
            at=at,
            hostname=self._hostname,
            numbers=numbers,
        )
        if lines and tunnel.outcome.cause == "psk_mismatch":
            # charon keeps an SA it cannot decrypt for until half_open_timeout
            half_open.append((tunnel.established_at, numbers.ike_sa))
        return lines

    def _later(self, action: Callable[[], None]) -> None:
        """Run ``action`` when the transition is over (the real service takes its time)."""

        def fire() -> None:
            self._timers.discard(handle)
            self._pending.remove(action.__name__)
            action()
            if self.on_change is not None:
                self.on_change()

        self._pending.append(action.__name__)
        handle = asyncio.get_running_loop().call_later(self.transition_seconds, fire)
        self._timers.add(handle)

    # -- persistence (the lab's state dir) -------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """What a real cloud keeps when the lab process dies: settings, the settings
        the router runs, version, power and the transitions under way."""
        router = self.router
        return {
            "version": router.version,
            "up": router.up,
            "running": {
                "encryption_algo": router.encryption_algo,
                "hash_algo": router.hash_algo,
                "dh_group": router.dh_group,
                "ike_lifetime": router.ike_lifetime,
                "esp_lifetime": router.esp_lifetime,
                "peers": [[p.peer, p.remote_id, p.psk] for p in router.peers],
            },
            "settings": self.settings,
            "availability": self.availability,
            "instance_status": self.instance_status,
            "stuck": [self._stuck, self._reimported, self._reconfigured],
            "pending": list(self._pending),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Come back as ``to_state`` left it; transitions under way have ended meanwhile."""
        router, running = self.router, state["running"]
        router.version, router.up = state["version"], state["up"]
        router.encryption_algo, router.hash_algo = running["encryption_algo"], running["hash_algo"]
        router.dh_group = running["dh_group"]
        router.ike_lifetime, router.esp_lifetime = running["ike_lifetime"], running["esp_lifetime"]
        router.peers = [PeerEntry(*entry) for entry in running["peers"]]
        self.settings = state["settings"]
        self.settings_hash = settings_hash(self.settings)
        self.availability, self.instance_status = state["availability"], state["instance_status"]
        self._stuck, self._reimported, self._reconfigured = state["stuck"]
        self._busy = False
        transitions = {f.__name__: f for f in (self._booted, self._migrated, self._powered_off)}
        for name in state["pending"]:
            transitions[name]()
        self._initiations, self._half_open = {}, {}
        self._renegotiate()

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()


@dataclass
class _Initiation:
    """One of the router's own Main Modes: when it began, its IKE_SA, lines logged so far."""

    started: datetime
    ike_sa: int
    logged: int = 0
    #: every line logged (the attempt gave up)
    done: bool = False
    #: its lines with their times, for ``timing``
    lines: list[tuple[datetime, str]] = field(default_factory=list)
    timing: Retransmit | None = None

    def ends(self, retransmit: Retransmit) -> datetime:
        return self.started + timedelta(seconds=retransmit.duration())


def _numbers_as_strings(value: Any) -> Any:
    """The settings with every number a string, as published answers show them."""
    if isinstance(value, dict):
        return {k: _numbers_as_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_strings(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _shared_interface(address: str) -> dict[str, Any]:
    network = ipaddress.ip_network(f"{address}/24", strict=False)
    return {
        "IPAddress": address,
        "Switch": {
            "ID": 112800387183,
            "Scope": "shared",
            "Subnet": {
                "NetworkAddress": str(network.network_address),
                "NetworkMaskLen": 24,
                "DefaultRoute": str(network.network_address + 1),
            },
        },
    }
