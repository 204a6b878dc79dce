"""The lab's Sakura Cloud API: one VPC router per zone, over real HTTP on 127.0.0.1.

It serves the subset ``fitelctl.sakura`` uses, under ``/{zone}/api/cloud/1.1/``,
with the real service's envelopes and error bodies, Basic auth, IDs as
integers only when ``X-Sakura-Bigint-As-Int: 1`` is sent, a ``SettingsHash``
that changes with the settings (a stale one is refused with 409), and power
changes that take ``transition_seconds`` like the real (slower) service.

``LabVpcRouter`` keeps the API-level state the world's ``VpcRouter`` lacks
(ID, settings as JSON, SettingsHash, power, Availability, VPN log) and drives
the world: applying config renegotiates every tunnel, powering off takes them
down.  Settings only reach the tunnels when applied (``PUT /config``) or at
boot, as on the real router.  VPN log lines come from ``charon_log`` for every
negotiation that reached this router, collected whenever the API is called.

Faults (CONTRACT.md): ``unavailable=N`` (``api-503:N``: the next N calls
answer 503), ``delay=S`` (``api-slow:S``: every answer waits S seconds) and
``migration_stuck`` (the article's stuck migration, see ``LabVpcRouter.migrate``).

INFERRED or UNKNOWN behaviour, chosen here and documented: the migration call
(``PUT appliance/:id/vpcrouter/version`` with ``{"Version": 2}``, the client's
default), 409 ``conflict`` for a stale SettingsHash, 409 ``still_creating``
for status/log/monitor while Availability is ``migrating``, an empty status
while powered off, ``cleaning`` as Instance.Status while shutting down, CPU-TIME
in milliseconds (the article's ~28 ms on version 1, 3.3-6.6 ms on version 2).

A hand-written HTTP/1.1 server on ``asyncio.start_server`` keeps the lab free
of a web framework: requests are tiny JSON bodies with Content-Length.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import hmac
import ipaddress
import json
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from fitelctl.lab.charon_log import SaNumbers, charon_log_lines
from fitelctl.lab.scenarios import CLOUD_LOCAL_PREFIX
from fitelctl.lab.world import LabWorld, PeerEntry, VpcRouter, derived_hex

JST = timezone(timedelta(hours=9))
ZONE_IDS = {
    "is1a": 31001,
    "is1b": 31002,
    "is1c": 31003,
    "tk1a": 21001,
    "tk1b": 21002,
    "tk1v": 29001,
}
ENCRYPTION_ALGOS = ("aes128", "aes256")
HASH_ALGOS = ("sha1", "sha256")
DH_GROUPS = ("modp1024", "modp2048", "modp3072", "modp4096")
MAX_PSK = 40
MAX_BODY = 1 << 20
STATUS_LOG_LINES = 100
#: the answer to an action that was accepted
DONE: dict[str, Any] = {"Success": True}


class HttpError(Exception):
    """An error answer with the API's envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def envelope(self) -> dict[str, Any]:
        return {
            "is_fatal": True,
            "serial": secrets.token_hex(16),
            "status": f"{self.status} {HTTPStatus(self.status).phrase}",
            "error_code": self.code,
            "error_msg": self.message,
        }


def _bad(message: str) -> HttpError:
    return HttpError(400, "bad_request", message)


def _conflict(message: str) -> HttpError:
    return HttpError(409, "conflict", message)


def settings_hash(settings: dict[str, Any]) -> str:
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.md5(canonical.encode(), usedforsecurity=False).hexdigest()


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
    ) -> None:
        self.world, self.router = world, router
        self.appliance_id, self.zone = appliance_id, zone
        self.transition_seconds = transition_seconds
        self.migration_stuck = migration_stuck
        self.settings = _settings_from(router)
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
            "Settings": copy.deepcopy(self.settings),
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
        return {
            "FirewallReceiveLogs": [],
            "FirewallSendLogs": [],
            "VPNLogs": list(self.log)[-STATUS_LOG_LINES:],
            "SessionCount": 4 + 2 * up,
            "PercentageOfMemoryFree": [55.4 if self.router.version >= 2 else 41.7],
            "SiteToSiteIPsecVPNPeers": peers,
        }

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
            raise _bad("Appliance.Settings is required")
        given = appliance.get("SettingsHash")
        if given and given != self.settings_hash:
            raise _conflict(
                f"appliance[ID:{self.appliance_id}]: SettingsHash does not match the current "
                "settings (they were changed since read)"
            )
        settings = appliance["Settings"]
        _validate(settings, self.router.version)
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
            raise _conflict(f"appliance[ID:{self.appliance_id}]: Boot is failed (not powered off)")
        self._busy = True
        self._later(self._booted)
        return DONE

    def shutdown(self) -> dict[str, Any]:
        if self._busy or self.instance_status != "up":
            raise _conflict(f"appliance[ID:{self.appliance_id}]: Shutdown is failed (not running)")
        self._busy = True
        self._set_instance("cleaning")
        self._tunnels_down()
        self._later(lambda: self._set_instance("down"))
        return DONE

    def reset(self) -> dict[str, Any]:
        if self._busy or self.instance_status != "up":
            raise _conflict(f"appliance[ID:{self.appliance_id}]: Reset is failed (not running)")
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
            raise _bad("Version must be 1 or 2")
        if version <= self.router.version:
            raise _bad(f"the VPC router is already version {self.router.version}")
        if self._busy or self.availability != "available":
            raise _conflict(f"appliance[ID:{self.appliance_id}] is busy")
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
        for key, value in _version2_fields(self.router).items():
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
            router.ike_lifetime = (vpn.get("IKE") or {}).get("Lifetime", router.ike_lifetime)
            router.esp_lifetime = (vpn.get("ESP") or {}).get("Lifetime", router.esp_lifetime)

    def _tunnels_down(self) -> None:
        self.router.up = False
        self._renegotiate()

    def _renegotiate(self) -> None:
        self.world.renegotiate_all()
        self.collect_logs()

    def collect_logs(self) -> None:
        """Log every negotiation with this router not logged yet (tunnels carry a fresh seed)."""
        now_clock, now = self.world.clock(), datetime.now(JST)
        current: set[str] = set()
        for link in self.world.sites.values():
            for tunnel in link.tunnels:
                if tunnel.config.peer != self.router.global_address:
                    continue
                current.add(tunnel.seed)
                if tunnel.seed in self._seen:
                    continue
                self._sa_counter += 1
                # the router's inbound SPI is the device's outbound one (as `show crypto sa` shows)
                numbers = SaNumbers(
                    ike_sa=self._sa_counter,
                    child_sa=self._sa_counter,
                    spi_in=derived_hex(tunnel.seed, "out-spi", 0, 4),
                    spi_out=derived_hex(tunnel.seed, "in-spi", 0, 4),
                )
                self.log.extend(
                    charon_log_lines(
                        tunnel.outcome,
                        cloud=self.router.cloud_peer(link.public_address),
                        device=tunnel.config,
                        public_address=link.public_address,
                        at=now - timedelta(seconds=max(0.0, now_clock - tunnel.established_at)),
                        hostname=f"rt-{self.appliance_id}",
                        numbers=numbers,
                    )
                )
        self._seen = current

    def _later(self, action: Callable[[], None]) -> None:
        """Run ``action`` when the transition is over (the real service takes its time)."""

        def fire() -> None:
            self._timers.discard(handle)
            action()

        handle = asyncio.get_running_loop().call_later(self.transition_seconds, fire)
        self._timers.add(handle)

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()


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


def _version2_fields(router: VpcRouter) -> dict[str, Any]:
    return {
        "IKE": {"Lifetime": router.ike_lifetime, "DPD": {"Interval": 15, "Timeout": 30}},
        "ESP": {"Lifetime": router.esp_lifetime},
        "EncryptionAlgo": router.encryption_algo,
        "HashAlgo": router.hash_algo,
        "DHGroup": router.dh_group,
    }


def _settings_from(router: VpcRouter) -> dict[str, Any]:
    """The settings that describe the world's router as the scenario built it."""
    local = ipaddress.ip_network(CLOUD_LOCAL_PREFIX)
    vpn: dict[str, Any] = {
        "Config": [
            {
                "Peer": p.peer,
                "PreSharedSecret": p.psk,
                "RemoteID": p.remote_id,
                "Routes": [],
                "LocalPrefix": [CLOUD_LOCAL_PREFIX],
            }
            for p in router.peers
        ],
        "Enabled": "True",
    }
    if router.version >= 2:
        vpn.update(_version2_fields(router))
    return {
        "Router": {
            "Interfaces": [
                None,
                {"IPAddress": [str(local.network_address + 1)], "NetworkMaskLen": local.prefixlen},
            ],
            "SiteToSiteIPsecVPN": vpn,
        }
    }


def _validate(settings: dict[str, Any], version: int) -> None:
    router = settings.get("Router")
    if not isinstance(router, dict):
        raise _bad("Settings.Router is required")
    vpn = router.get("SiteToSiteIPsecVPN")
    if vpn is None:
        return
    if not isinstance(vpn, dict) or not isinstance(vpn.get("Config", []), list):
        raise _bad("SiteToSiteIPsecVPN.Config must be a list")
    for entry in vpn.get("Config", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("Peer"), str):
            raise _bad("SiteToSiteIPsecVPN.Config[].Peer is required")
        if len(str(entry.get("PreSharedSecret", ""))) > MAX_PSK:
            raise _bad(f"PreSharedSecret must be at most {MAX_PSK} characters")
    if str(vpn.get("Enabled", "True")) not in ("True", "False"):
        raise _bad("SiteToSiteIPsecVPN.Enabled must be 'True' or 'False'")
    choices = {"EncryptionAlgo": ENCRYPTION_ALGOS, "HashAlgo": HASH_ALGOS, "DHGroup": DH_GROUPS}
    for key, allowed in choices.items():
        if key not in vpn:
            continue
        if version < 2:
            raise _bad(f"{key} is only available on VPC router version 2")
        if vpn[key] not in allowed:
            raise _bad(f"{key} must be one of {', '.join(allowed)}")


# -- HTTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


UNAUTHORIZED = {
    "is_fatal": True,
    "status": "401 Unauthorized",
    "error_code": "unauthorized",
    "error_msg": "error-unauthorized",
}


class ApiServer:
    """A running lab API; ``root_url`` is what ``SAKURACLOUD_API_ROOT_URL`` should say."""

    def __init__(
        self,
        router: LabVpcRouter,
        *,
        token: str,
        secret: str,
        unavailable: int,
        delay: float,
    ) -> None:
        self.router = router
        self.zone = router.zone
        self.appliance_id = router.appliance_id
        #: a load balancer beside the router, to show what pointing at the wrong appliance does
        self.other_appliance_id = router.appliance_id + 1
        self.root_url = ""
        #: "METHOD /path" of the requests received, in order (the latest 10000)
        self.requests: deque[str] = deque(maxlen=10_000)
        self._credentials = f"{token}:{secret}".encode()
        self._unavailable = unavailable
        self._delay = delay
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._connection, host, port)
        bound_port = self._server.sockets[0].getsockname()[1]
        self.root_url = f"http://{host}:{bound_port}/"

    async def close(self) -> None:
        self.router.close()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except HttpError as err:
                    _write_response(writer, err.status, err.envelope(), keep_alive=False)
                    await writer.drain()
                    break
                if request is None:
                    break
                status, payload = await self._answer(request)
                _write_response(writer, status, payload, keep_alive=request.keep_alive)
                await writer.drain()
                if not request.keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, request: Request) -> tuple[int, dict[str, Any]]:
        self.requests.append(f"{request.method} {urlsplit(request.target).path}")
        unavailable = self._unavailable > 0
        self._unavailable -= unavailable
        if self._delay:
            await asyncio.sleep(self._delay)
        if unavailable:
            return 503, HttpError(503, "service_unavailable", "service unavailable").envelope()
        if not self._authorized(request):
            return 401, {**UNAUTHORIZED, "serial": secrets.token_hex(16)}
        try:
            payload = self._route(request)
        except HttpError as err:
            return err.status, err.envelope()
        if request.headers.get("x-sakura-bigint-as-int") != "1":
            payload = _ids_as_strings(payload)
        return 200, payload

    def _authorized(self, request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(value, validate=True)
        except ValueError:
            return False
        return hmac.compare_digest(given, self._credentials)

    def _route(self, request: Request) -> dict[str, Any]:
        prefix = f"/{self.zone}/api/cloud/1.1/"
        path = urlsplit(request.target).path
        parts = path.removeprefix(prefix).strip("/").split("/")
        if not path.startswith(prefix) or parts[0] != "appliance" or len(parts) < 2:
            raise HttpError(404, "not_found", f"no API at {path}")
        if not parts[1].isdigit() or int(parts[1]) not in (
            self.appliance_id,
            self.other_appliance_id,
        ):
            raise HttpError(404, "not_found", f"appliance[ID:{parts[1]}] is not found")
        action = "/".join(parts[2:])
        if int(parts[1]) == self.other_appliance_id:
            if (request.method, action) != ("GET", ""):
                raise HttpError(404, "not_found", "the lab's load balancer only answers reads")
            return {"Appliance": _load_balancer(self.other_appliance_id, self.zone), "is_ok": True}
        router = self.router
        router.collect_logs()
        body = _json_body(request)
        handlers: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
            ("GET", ""): lambda: {"Appliance": router.appliance()},
            ("PUT", ""): lambda: router.update_settings(body),
            ("PUT", "config"): router.apply_config,
            ("PUT", "power"): router.boot,
            ("DELETE", "power"): router.shutdown,
            ("PUT", "reset"): router.reset,
            ("PUT", "vpcrouter/version"): lambda: router.migrate(body),
            ("GET", "status"): lambda: {"Router": router.status()},
            ("GET", "download/log/VPNLogs"): lambda: {"Log": router.vpn_log()},
            ("GET", "cpu/monitor"): lambda: {"Data": router.cpu_monitor()},
        }
        handler = handlers.get((request.method, action))
        if handler is None:
            if any(known == action for _, known in handlers):
                raise HttpError(405, "method_not_allowed", f"{request.method} is not allowed here")
            raise HttpError(404, "not_found", f"no API at {path}")
        return {**handler(), "is_ok": True}


def _json_body(request: Request) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _bad("the body is not JSON") from None
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    return body


def _load_balancer(appliance_id: int, zone: str) -> dict[str, Any]:
    return {
        "ID": appliance_id,
        "Class": "loadbalancer",
        "Name": "fitelctl-lab-lb",
        "Plan": {"ID": 1},
        "Availability": "available",
        "Instance": {"Status": "up"},
        "Remark": {"Zone": {"ID": ZONE_IDS[zone]}, "Servers": [[]]},
        "Interfaces": [None],
    }


def _ids_as_strings(value: Any) -> Any:
    """Without ``X-Sakura-Bigint-As-Int: 1`` the API sends IDs as strings."""
    if isinstance(value, dict):
        return {
            k: str(v) if k == "ID" and isinstance(v, int) else _ids_as_strings(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_ids_as_strings(v) for v in value]
    return value


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    line = await reader.readline()
    if not line.strip():
        return None
    try:
        method, target, _version = line.decode("latin-1").split()
    except ValueError:
        raise HttpError(400, "bad_request", "bad request line") from None
    headers: dict[str, str] = {}
    while len(headers) < 100:
        header = await reader.readline()
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length", "0")
    if not length.isdigit() or int(length) > MAX_BODY or "transfer-encoding" in headers:
        raise HttpError(400, "bad_request", "unsupported body")
    body = await reader.readexactly(int(length)) if int(length) else b""
    return Request(method.upper(), target, headers, body)


def _write_response(
    writer: asyncio.StreamWriter, status: int, payload: dict[str, Any], *, keep_alive: bool
) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: application/json; charset=UTF-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + body)


async def start_api_server(
    world: LabWorld,
    *,
    token: str,
    secret: str,
    zone: str = "tk1v",
    router_address: str | None = None,
    appliance_id: int = 113700012345,
    unavailable: int = 0,
    delay: float = 0.0,
    migration_stuck: bool = False,
    transition_seconds: float = 0.2,
    host: str = "127.0.0.1",
    port: int = 0,
) -> ApiServer:
    """Serve ``world``'s VPC router (the only one, unless ``router_address`` picks one)."""
    if zone not in ZONE_IDS:
        raise ValueError(f"unknown zone {zone!r}")
    if router_address is None:
        if len(world.routers) != 1:
            raise ValueError("the world has several VPC routers: pass router_address")
        router_address = next(iter(world.routers))
    lab_router = LabVpcRouter(
        world,
        world.routers[router_address],
        appliance_id=appliance_id,
        zone=zone,
        transition_seconds=transition_seconds,
        migration_stuck=migration_stuck,
    )
    server = ApiServer(lab_router, token=token, secret=secret, unavailable=unavailable, delay=delay)
    await server.start(host, port)
    return server
