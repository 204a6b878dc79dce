"""``status``: each site's tunnel health from the device's SAs, one verdict per site.

Sites are queried concurrently with a bounded pool; a site that is slow or
unreachable costs only its own timeout.  Results are reported to ``on_result``
as they finish, and returned in inventory order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from fitelctl.deadline import NO_DEADLINE, Deadline, current
from fitelctl.errors import FitelctlError
from fitelctl.inventory import Inventory
from fitelctl.ops.cloud import CloudView, RouterRead, cloud_view, read_router
from fitelctl.ops.connect import ConnectOptions, connect_site
from fitelctl.ops.pool import run_until
from fitelctl.ops.processes import SpreadRun
from fitelctl.parsing import (
    KNOWN_MODELS,
    CryptoSaTable,
    IkeSa,
    IpsecSa,
    ParseError,
    parse_crypto_sa,
    parse_version,
)
from fitelctl.redact import SECRETS

if TYPE_CHECKING:
    from fitelctl.fitelnet.drivers.base import DeviceDriver

log = logging.getLogger("fitelctl.status")

State = Literal["up", "degraded", "down", "unknown"]
EXIT_CODES: dict[State, int] = {"up": 0, "degraded": 1, "down": 2, "unknown": 3}


@dataclass
class SaSummary:
    peer_ip: str
    local_ip: str
    interface: str
    encryption: str
    authentication: str
    pfs_group: int | None
    lifetime_remaining: int
    lifetime_total: int
    in_spi: str
    out_spi: str
    in_packets: int
    out_packets: int
    in_errors: int

    @classmethod
    def from_sa(cls, sa: IpsecSa) -> SaSummary:
        return cls(
            peer_ip=sa.peer_ip,
            local_ip=sa.local_ip,
            interface=sa.interface,
            encryption=sa.encryption,
            authentication=sa.authentication,
            pfs_group=sa.pfs_group if sa.pfs else None,
            lifetime_remaining=sa.lifetime_remaining,
            lifetime_total=sa.lifetime_total,
            in_spi=sa.in_spi,
            out_spi=sa.out_spi,
            in_packets=sa.in_packets,
            out_packets=sa.out_packets,
            in_errors=(
                sa.in_replay_errors + sa.in_auth_errors + sa.in_padding_errors + sa.in_rule_errors
            ),
        )


@dataclass
class IkeSaSummary:
    """An IKE SA as the device prints it (firmware V01.11+); no cookies, no keys."""

    direction: str | None
    local_ip: str | None
    remote_ip: str
    local_id: str | None
    remote_id: str | None
    encryption: str | None
    hash: str | None
    dh_group: int | None
    lifetime_remaining: int | None
    lifetime_total: int | None
    dpd: str | None

    @classmethod
    def from_sa(cls, sa: IkeSa) -> IkeSaSummary:
        return cls(
            direction=sa.direction_tag,
            local_ip=sa.local_ip,
            remote_ip=sa.remote_ip,
            local_id=sa.local_id,
            remote_id=sa.remote_id,
            encryption=sa.encryption,
            hash=sa.hash,
            dh_group=sa.dh_group,
            lifetime_remaining=sa.lifetime_remaining,
            lifetime_total=sa.lifetime_total,
            dpd=sa.dpd,
        )


@dataclass
class DeviceStatus:
    """What the device said. ``warnings``: printed but not understood (an unknown line
    in an SA block, an unreadable ``show version``); they never change the verdict."""

    reachable: bool
    ipsec_sa_count: int = 0
    isakmp_sa_count: int = 0
    ipsec_sas: list[SaSummary] = field(default_factory=list)
    ike_sas: list[IkeSaSummary] = field(default_factory=list)
    model: str | None = None
    firmware: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class SiteStatus:
    site: str
    state: State
    device: DeviceStatus
    cloud: CloudView | None = None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "state": self.state,
            "device": {
                "reachable": self.device.reachable,
                "ipsec_sa_count": self.device.ipsec_sa_count,
                "isakmp_sa_count": self.device.isakmp_sa_count,
                "ipsec_sas": [vars(sa) for sa in self.device.ipsec_sas],
                "ike_sas": [vars(sa) for sa in self.device.ike_sas],
                "model": self.device.model,
                "firmware": self.device.firmware,
                "warnings": self.device.warnings,
            },
            "cloud": self.cloud.to_json() if self.cloud else None,
            "problems": self.problems,
        }


#: what was learnt of a site's VPC router: a read, an error message, or nothing to read
CloudRead = RouterRead | str | None


def read_device(
    inventory: Inventory, site: str, options: ConnectOptions
) -> tuple[DeviceStatus, str | None]:
    """The device's SAs and firmware, or why the SAs could not be read.

    ``show version`` follows ``show crypto sa`` in the same session. What was printed
    but not understood (an unknown line in an SA block, a ``show version`` that fails
    or names a model never seen) becomes a warning naming the site and quoting the
    line, logged at debug level (``--debug``): it never turns the verdict.
    """
    try:
        with connect_site(inventory, site, options) as device:
            output, version = read_sa_and_version(device)
        table = parse_crypto_sa(output)
    except ParseError as err:  # the SAs could not be read: say which device printed that
        return DeviceStatus(reachable=False), f"{site}: {err}"
    except FitelctlError as err:
        return DeviceStatus(reachable=False), str(err)
    except Exception as err:  # a library failure on one site must not end the others
        return DeviceStatus(reachable=False), f"{site}: unexpected {type(err).__name__}: {err}"
    return device_status(site, table, version), None


#: the commands a device read sends, in order
STATUS_COMMANDS = ("show crypto sa", "show version")


def read_sa_and_version(device: DeviceDriver) -> tuple[str, str | FitelctlError]:
    """``show crypto sa`` then ``show version`` in one session (status and the exporter)."""
    return device.show(STATUS_COMMANDS[0]), _show_version(device)


def device_status(site: str, table: CryptoSaTable, version: str | FitelctlError) -> DeviceStatus:
    """What a device read says: its SAs, model and firmware, and the warnings (redacted)."""
    status = DeviceStatus(
        reachable=True,
        ipsec_sa_count=table.ipsec_sa_count,
        isakmp_sa_count=table.isakmp_sa_count,
        ipsec_sas=[SaSummary.from_sa(sa) for sa in table.ipsec_sas],
        ike_sas=[IkeSaSummary.from_sa(sa) for sa in table.ike_sas],
        warnings=[f"{site}: {warning}" for warning in table.warnings],
    )
    _read_firmware(site, version, status)
    status.warnings = [SECRETS.redact(warning) for warning in status.warnings]
    for warning in status.warnings:
        log.debug("%s", warning)
    return status


def _show_version(device: DeviceDriver) -> str | FitelctlError:
    try:
        return device.show(STATUS_COMMANDS[1])
    except FitelctlError as err:  # costs the model and firmware, not the SAs read before
        return err


def _read_firmware(site: str, version: str | FitelctlError, status: DeviceStatus) -> None:
    if isinstance(version, FitelctlError):
        status.warnings.append(f"{site}: 'show version' failed: {version}")
        return
    try:
        running = parse_version(version)[0]
    except ParseError as err:
        status.warnings.append(f"{site}: {err}")
        return
    status.model, status.firmware = running.model, running.version
    if running.model not in KNOWN_MODELS:
        status.warnings.append(
            f"{site}: 'show version' names a model fitelctl has not seen "
            f"({', '.join(sorted(KNOWN_MODELS))}): {running.line!r}"
        )


def read_clouds(
    inventory: Inventory, sites: list[str], *, workers: int, deadline: Deadline = NO_DEADLINE
) -> tuple[dict[str, CloudRead], list[str]]:
    """One API read per VPC router, shared by every site that ends on it.

    Also returns the routers that did not answer before ``deadline`` ("VPC router
    101 in tk1v"); their sites get a problem saying so.
    """
    routers: dict[tuple[str | None, int], list[str]] = {}
    for site in sites:
        cloud = inventory.site(site).cloud
        if cloud.vpc_router_id is not None:
            routers.setdefault((cloud.zone, cloud.vpc_router_id), []).append(site)

    def read_one(first_site: str) -> tuple[RouterRead | None, str | None]:
        try:
            return read_router(inventory, first_site), None
        except FitelctlError as err:
            return None, f"cloud side: {err}"
        except Exception as err:  # a library failure must not cost the device side
            return None, f"cloud side: unexpected {type(err).__name__}: {err}"

    def read(first_site: str) -> tuple[CloudRead, bool]:
        view, problem, late = _timed(deadline, lambda: read_one(first_site))
        return view or problem, late

    firsts = [members[0] for members in routers.values()]
    reads = run_until(firsts, read, workers=workers, deadline=deadline)
    found: dict[str, CloudRead] = dict.fromkeys(sites)
    late: list[str] = []
    for (zone, router_id), members in routers.items():
        router = f"VPC router {router_id}" + (f" in {zone}" if zone else "")
        answer, timed_out = reads.get(members[0], (None, True))
        if timed_out:
            late.append(router)
        for site in members:
            found[site] = answer or f"cloud side: {router} {_no_answer(deadline)}"
    return found, late


def judge(
    inventory: Inventory,
    site: str,
    device: DeviceStatus,
    device_problem: str | None,
    cloud: CloudRead,
) -> SiteStatus:
    """One verdict from both sides (docs/output-contract.md#status)."""
    config = inventory.site(site)
    view = cloud_view(inventory, site, cloud) if isinstance(cloud, RouterRead) else None
    result = SiteStatus(site, "unknown", device, cloud=view)
    if device_problem is not None:
        result.problems.append(device_problem)
    if isinstance(cloud, str):
        result.problems.append(cloud)
    if result.problems:
        return result
    peer, interface = config.cloud.global_address, config.tunnel.label
    ours = [sa for sa in device.ipsec_sas if sa.peer_ip == peer and sa.interface == interface]
    if not ours:
        result.state = "down"
        result.problems.append(f"no IPsec SA with {peer} on {interface}")
    else:
        result.state = "up"
        result.problems.extend(
            f"{sa.interface}: {sa.in_errors} inbound errors on SPI {sa.in_spi}"
            for sa in ours
            if sa.in_errors
        )
    if view is not None:
        result.problems.extend(_cloud_problems(view, config.cloud.version))
    if result.state == "up" and result.problems:
        result.state = "degraded"
    return result


def _cloud_problems(cloud: CloudView, expected_version: int) -> list[str]:
    problems = []
    if not cloud.is_running:
        problems.append(
            f"the VPC router is {cloud.instance_status} / {cloud.availability} "
            "(not running and available)"
        )
    elif cloud.peer_status is None:
        problems.append(f"the VPC router has no site-to-site peer {cloud.peer}")
    elif cloud.peer_status != "UP":
        problems.append(f"the VPC router reports peer {cloud.peer} {cloud.peer_status}")
    version = cloud.version
    if version is not None and version != expected_version:
        problems.append(
            f"the VPC router is version {version} but the inventory says {expected_version}: "
            "update cloud.version and the crypto preset, then check and apply"
        )
    return problems


T = TypeVar("T")

#: a device read: its status, why it failed, whether it failed because time ran out
DeviceRead = tuple[DeviceStatus, str | None, bool]
#: how long past the deadline the cloud reads may take to hand over what they have
CLOUD_GRACE = 1.0


class Statuses(list[SiteStatus]):
    """Every site's verdict in site order, and what did not answer before the deadline."""

    def __init__(self, results: list[SiteStatus], unanswered: list[str]) -> None:
        super().__init__(results)
        #: "the device of tokyo", "VPC router 101 in tk1v": empty when all answered
        self.unanswered = unanswered


def collect_status(
    inventory: Inventory,
    sites: list[str],
    *,
    workers: int,
    options: ConnectOptions | None = None,
    on_result: Callable[[SiteStatus], None] | None = None,
    deadline: Deadline | None = None,
    processes: int = 1,
) -> Statuses:
    """Every site's verdict; the VPC routers are read while the devices are.

    Bounded as a whole by ``deadline`` (default: the command's): what has not
    answered by then is reported as such, the rest as read.  Stuck sessions are
    left behind on daemon threads, so they cannot hold the process.  With
    ``processes`` above 1 the devices are read by that many processes
    (``ops/processes.py``), ``workers`` threads each; the VPC routers are read and
    the verdicts given here.
    """
    deadline = deadline or current()
    options = options or ConnectOptions()

    def work(site: str) -> DeviceRead:
        return _timed(deadline, lambda: read_device(inventory, site, options))

    # before any thread of this function starts: it forks
    device_reads = SpreadRun(sites, work, processes=processes, workers=workers, deadline=deadline)
    clouds: dict[str, CloudRead] = {}
    late_routers: list[str] = []
    clouds_read = threading.Event()

    def read_all_clouds() -> None:
        found, late = read_clouds(inventory, sites, workers=workers, deadline=deadline)
        late_routers.extend(late)
        clouds.update(found)
        clouds_read.set()

    threading.Thread(target=read_all_clouds, name="cloud-reads", daemon=True).start()
    results: dict[str, SiteStatus] = {}
    waiting: dict[str, DeviceRead] = {}

    def finish(site: str, read: DeviceRead) -> None:
        device, problem, _late = read
        result = judge(inventory, site, device, problem, clouds.get(site))
        result.problems = [SECRETS.redact(p) for p in result.problems]
        results[site] = result
        if on_result:
            on_result(result)

    def device_done(site: str, read: DeviceRead) -> None:
        waiting[site] = read
        if clouds_read.is_set():  # in the order they finished, the waiting ones first
            for done in list(waiting):
                finish(done, waiting.pop(done))

    reads = device_reads.run(on_done=device_done)
    if not clouds_read.wait(deadline.wait_timeout(CLOUD_GRACE)):
        late_routers.append("the Sakura Cloud API")
        clouds.update(dict.fromkeys(sites, f"cloud side: the API {_no_answer(deadline)}"))
    for site in sites:
        if site in waiting:
            finish(site, waiting[site])
        elif site not in results:
            problem = f"{site}: the device {_no_answer(deadline)}"
            finish(site, (DeviceStatus(reachable=False), problem, True))
    late_devices = [s for s in sites if s not in reads or reads[s][2]]
    unanswered = [f"the device of {site}" for site in late_devices] + late_routers
    return Statuses([results[site] for site in sites], unanswered)


def _timed(
    deadline: Deadline, read: Callable[[], tuple[T, str | None]]
) -> tuple[T, str | None, bool]:
    """``read()``'s answer, and whether its failure was the deadline's doing.

    A failure is put down to the deadline when the deadline has (nearly) run out, or
    when the read failed after spending most of the time that was left when it began:
    the timeouts were cut to the deadline, and libraries round them off (scrapli gives
    up opening a session about 1 s before its timeout, measured in the lab).
    """
    left, started = deadline.remaining(), time.monotonic()
    answer, problem = read()
    spent = time.monotonic() - started
    cut = deadline.remaining() <= AT_DEADLINE or spent >= LATE_SHARE * left
    return answer, problem, problem is not None and cut


#: see ``_timed``
AT_DEADLINE = 1.5
LATE_SHARE = 0.6


def _no_answer(deadline: Deadline) -> str:
    return f"did not answer within the command's {deadline.seconds:g}s deadline (--timeout)"


def exit_code(statuses: list[SiteStatus]) -> int:
    return max((EXIT_CODES[s.state] for s in statuses), default=0)
