"""``reconnect``: make the tunnel negotiate again, and wait until a new SA is up.

Two levers exist (docs/domain.md#endpoints-fitelctl-calls).  The control panel's "VPN
reconnect" button has no public API call, so the cloud side uses the documented one that has
the same effect: re-applying the router's config (``PUT /appliance/:id/config``).  From the
device side, clearing the SAs makes the always-up initiator negotiate at once.  ``apply``
uses the same two levers after a commit; its cloud-side re-applies go through
``CloudReconnects`` so that sites sharing a router share them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from fitelctl.deadline import current
from fitelctl.errors import FitelctlError
from fitelctl.fitelnet.drivers import DeviceDriver
from fitelctl.inventory import Inventory
from fitelctl.ops.cloud import CloudView, client_for, cloud_view, read_router, router_of
from fitelctl.ops.connect import ConnectOptions, connect_site
from fitelctl.ops.status import SaSummary
from fitelctl.parsing import IpsecSa, parse_crypto_sa
from fitelctl.redact import SECRETS

Side = Literal["cloud", "device", "both"]


class NoNewSa(FitelctlError):
    """No acceptable SA appeared in time."""


@dataclass
class _RouterReapplies:
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_started: float = -math.inf


class CloudReconnects:
    """The cloud-side re-applies of one run, shared by the sites on each VPC router.

    Re-applying a router's config renegotiates every peer on it.  A re-apply that
    starts after a site's commit serves that site as well as the one that asked, so
    when many sites on one router change at once, the first to get there sends it and
    the rest that committed before it started do not: a fleet apply sends one per
    wave of commits instead of one per site, and stops tearing down the tunnels of
    the sites it has just verified.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._routers: dict[tuple[str | None, int], _RouterReapplies] = {}

    def after(self, inventory: Inventory, site: str, committed_at: float) -> bool:
        """See that ``site``'s router re-applies its config after ``committed_at``
        (``time.monotonic()``); True when this call sent the re-apply."""
        key = router_of(inventory, site)
        with self._guard:
            router = self._routers.setdefault(key, _RouterReapplies())
        with router.lock:
            if router.last_started >= committed_at:
                return False
            started = time.monotonic()
            client, appliance_id = client_for(inventory, site)
            with client:
                client.apply_config(appliance_id)
            router.last_started = started
            return True


def has_cloud_side(inventory: Inventory, site: str) -> bool:
    return inventory.site(site).cloud.vpc_router_id is not None


def trigger(inventory: Inventory, site: str, device: DeviceDriver, side: Side) -> None:
    """Ask for a new negotiation from the cloud side, the device side, or both."""
    if side in ("cloud", "both"):
        client, appliance_id = client_for(inventory, site)
        with client:
            client.apply_config(appliance_id)
    if side in ("device", "both"):
        device.show("clear crypto sa")


def our_sas(inventory: Inventory, site: str, device: DeviceDriver) -> list[IpsecSa]:
    """The device's SAs with this site's VPC router on this site's tunnel interface."""
    config = inventory.site(site)
    table = parse_crypto_sa(device.show("show crypto sa"))
    return [
        sa
        for sa in table.ipsec_sas
        if sa.peer_ip == config.cloud.global_address and sa.interface == config.tunnel.label
    ]


def wait_for_sa(
    inventory: Inventory,
    site: str,
    device: DeviceDriver,
    accept: Callable[[IpsecSa], bool],
    *,
    timeout: float,
    poll_interval: float,
    wanted: str,
) -> IpsecSa:
    """Poll `show crypto sa` until an SA passes ``accept``; NoNewSa after ``timeout``.

    ``timeout`` is cut to what is left of the command's deadline.
    """
    command = current()
    if command.remaining() < timeout:
        timeout, why = command.remaining(), f" (the command's {command.seconds:g}s deadline)"
    else:
        why = ""
    deadline = time.monotonic() + timeout
    seen = "no IPsec SA"
    while True:
        sas = our_sas(inventory, site, device)
        for sa in sas:
            if accept(sa):
                return sa
        if sas:
            last = sas[-1]
            seen = f"SA {last.in_spi} with {last.encryption}, {last.authentication}"
        if time.monotonic() >= deadline:
            raise NoNewSa(f"{site}: no {wanted} within {timeout:.3g}s{why} (saw {seen})")
        time.sleep(max(0.0, min(poll_interval, deadline - time.monotonic())))


@dataclass
class ReconnectOutcome:
    site: str
    side: Side
    result: Literal["reconnected", "failed"] = "failed"
    before: SaSummary | None = None
    after: SaSummary | None = None
    cloud: CloudView | None = None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "side": self.side,
            "result": self.result,
            "before": vars(self.before) if self.before else None,
            "after": vars(self.after) if self.after else None,
            "cloud": self.cloud.to_json() if self.cloud else None,
            "problems": self.problems,
        }


def reconnect_site(
    inventory: Inventory,
    site: str,
    side: Side | None = None,
    *,
    options: ConnectOptions | None = None,
    timeout: float | None = None,
    poll_interval: float = 1.0,
) -> ReconnectOutcome:
    """Renegotiate; ``reconnected`` only when an SA with new SPIs is up afterwards."""
    chosen: Side = side or ("both" if has_cloud_side(inventory, site) else "device")
    outcome = ReconnectOutcome(site, chosen)
    try:
        if chosen != "device" and not has_cloud_side(inventory, site):
            raise FitelctlError(
                f"{site}: cloud.vpc_router_id is not set, so the cloud side cannot be asked "
                "to reconnect (use --side device)"
            )
        with connect_site(inventory, site, options or ConnectOptions()) as device:
            old = our_sas(inventory, site, device)
            outcome.before = SaSummary.from_sa(old[0]) if old else None
            old_spis = {sa.in_spi for sa in old}
            trigger(inventory, site, device, chosen)
            new = wait_for_sa(
                inventory,
                site,
                device,
                lambda sa: sa.in_spi not in old_spis,
                timeout=timeout or inventory.defaults.verify_timeout,
                poll_interval=poll_interval,
                wanted="new IPsec SA",
            )
            outcome.after = SaSummary.from_sa(new)
        if has_cloud_side(inventory, site):
            outcome.cloud = cloud_view(inventory, site, read_router(inventory, site))
            if outcome.cloud.peer_status != "UP":
                outcome.problems.append(
                    f"the device has a new SA but the VPC router reports peer "
                    f"{outcome.cloud.peer} {outcome.cloud.peer_status}"
                )
                return outcome
        outcome.result = "reconnected"
    except FitelctlError as err:
        outcome.problems.append(SECRETS.redact(str(err)))
    return outcome
