"""``apply``: bring a site's F220 to the generated config, safely.

Per site, in two phases so that an operator can look before anything changes:

1. **plan** (one SSH session, read-only): compatibility check, ``show
   current.cfg`` / ``show working.cfg``, the diff of the managed sections.
   ``fitelctl diff`` is this phase alone.
2. **execute** (a new session): the device must still run what the plan saw;
   back it up on disk; configure the diff, ``end``, ``commit`` (the driver
   falls back to ``refresh``), verify that the tunnel comes up with the
   expected algorithms, and only then ``save``.  On any failure (rejected
   line, failed commit, dropped session, no tunnel in time) the device is put
   back, working and current, to the backup from a fresh session, never saved,
   and what it runs afterwards is reported.

Every plan that reaches the device leaves an audit record.

Another session's uncommitted edits in working.cfg stop apply before it configures
anything: a commit would make their half-done work run along with ours.  The plan
says which sessions are open (``fitelctl sessions``), and execute checks again
(working.cfg, and the device's own ``configure terminal`` warning).  ``--force``
takes those edits along; the audit record then lists them (masked).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from fitelctl.deadline import Deadline, current
from fitelctl.errors import FitelctlError
from fitelctl.fitelnet import vocabulary as vocab
from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.crypto_config import DeviceTunnel, read_tunnels
from fitelctl.fitelnet.diff import DiffConflict, diff_config, managed_scope, whole_scope
from fitelctl.fitelnet.drivers import DeviceDriver, OtherSessionEdits
from fitelctl.ike import CLOUD_AES_BITS, negotiate
from fitelctl.inventory import Inventory, Site, resolve_secret
from fitelctl.inventory.fitelnet_config import render_tunnel
from fitelctl.ops.audit import append_audit
from fitelctl.ops.backups import Backup, save_backup
from fitelctl.ops.check import check_site, has_errors
from fitelctl.ops.connect import ConnectOptions, connect_site
from fitelctl.ops.reconnect import CloudReconnects, has_cloud_side, trigger, wait_for_sa
from fitelctl.parsing import IpsecSa
from fitelctl.redact import SECRETS
from fitelctl.sakura.errors import SakuraError

Result = Literal["applied", "unchanged", "rolled_back", "failed", "dry_run"]


@dataclass(frozen=True)
class ApplyOptions:
    connect: ConnectOptions = field(default_factory=ConnectOptions)
    force: bool = False
    verify_timeout: float | None = None  # default: the inventory's
    poll_interval: float = 1.0
    #: shared by the sites of one run: one cloud-side re-apply serves every site on the
    #: router that committed before it started
    cloud_reconnects: CloudReconnects = field(default_factory=CloudReconnects)


@dataclass
class SiteOutcome:
    site: str
    result: Result = "failed"
    saved: bool = False
    diff: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    backup: Backup | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "result": self.result,
            "saved": self.saved,
            "diff": self.diff,
            "problems": self.problems,
        }


@dataclass
class Plan:
    """What apply will do to one site, as shown to the operator."""

    site: str
    commands: list[str]
    target: ConfigTree
    outcome: SiteOutcome
    backup_text: str = ""
    #: (encryption, authentication, PFS group) the SA must show; None: any SA to the peer
    expected: tuple[str, str, int | None] | None = None
    #: set once a configuration line may have reached the device
    touched: bool = False
    #: another session's uncommitted lines that --force takes along (masked)
    other_edits: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.outcome.result != "failed" and bool(self.commands)


# --- phase 1 ------------------------------------------------------------------------


def plan_site(inventory: Inventory, site: str, options: ApplyOptions) -> Plan:
    outcome = SiteOutcome(site)
    config = inventory.site(site)
    plan = Plan(site, [], ConfigTree(), outcome)
    findings = check_site(inventory, site)
    errors = [f"{f.rule}: {f.message}" for f in findings if f.severity == "error"]
    if has_errors(findings) and not options.force:
        outcome.problems = [*errors, "check found errors; nothing was sent (--force overrides)"]
        return plan
    try:
        psk = resolve_secret(config.tunnel.psk, inventory, what=f"sites.{site}.tunnel.psk")
        plan.target = render_tunnel(config.tunnel, config.cloud, psk)
        with connect_site(inventory, site, options.connect) as device:
            current_text = device.show("show current.cfg")
            working_text = device.show("show working.cfg")
    except FitelctlError as err:
        outcome.problems.append(f"{err}; nothing was changed")
        return plan
    current = ConfigTree.parse(current_text)
    others = diff_config(current, ConfigTree.parse(working_text), whole_scope)
    if others and not options.force:
        outcome.problems.append(other_edits_problem(inventory, site, options))
        return plan
    plan.other_edits = [SECRETS.redact(line) for line in others]
    try:
        scope = managed_scope(plan.target, tunnel_interface=config.tunnel.interface)
        plan.commands = diff_config(current, plan.target, scope)
    except DiffConflict as err:
        outcome.problems.append(f"{err}; nothing was changed")
        return plan
    outcome.diff = [SECRETS.redact(line) for line in plan.commands]
    plan.backup_text = current_text
    plan.expected = expected_sa(plan.target, config)
    outcome.result = "dry_run" if plan.commands else "unchanged"
    return plan


def plan_restore(inventory: Inventory, site: str, backup_text: str, options: ApplyOptions) -> Plan:
    """A plan that puts the whole config back to a backup (the rollback runbook).

    Verification then accepts any SA with the site's VPC router: the backup may
    hold other algorithms than the inventory describes.
    """
    outcome = SiteOutcome(site)
    target = ConfigTree.parse(backup_text)
    plan = Plan(site, [], target, outcome)
    try:
        with connect_site(inventory, site, options.connect) as device:
            current_text = device.show("show current.cfg")
    except FitelctlError as err:
        outcome.problems.append(f"{err}; nothing was changed")
        return plan
    plan.commands = diff_config(ConfigTree.parse(current_text), target, whole_scope)
    outcome.diff = [SECRETS.redact(line) for line in plan.commands]
    plan.backup_text = current_text
    outcome.result = "dry_run" if plan.commands else "unchanged"
    return plan


# --- phase 2 ------------------------------------------------------------------------


def not_confirmed(plan: Plan) -> SiteOutcome:
    """The outcome of a ready plan the operator declined to apply: failed, nothing sent."""
    outcome = plan.outcome
    outcome.result = "failed"
    outcome.problems.append("not confirmed; nothing was changed")
    return outcome


def execute_plan(inventory: Inventory, plan: Plan, options: ApplyOptions) -> SiteOutcome:
    """Change the device; roll back on any failure.  Writes the audit record."""
    outcome = plan.outcome
    outcome.result = "failed"
    try:
        _change_and_verify(inventory, plan, options)
    except FitelctlError as err:
        outcome.problems.append(str(err))
        if plan.touched:
            _roll_back(inventory, plan, _time_to_roll_back(options))
        else:
            outcome.problems.append("nothing was sent to the device; it runs what it did before")
    else:
        outcome.result, outcome.saved = "applied", True
    record = {"site": plan.site, **outcome.to_json()}
    if plan.other_edits:
        record["forced_over_other_edits"] = plan.other_edits
    append_audit(inventory, record)
    return outcome


def _change_and_verify(inventory: Inventory, plan: Plan, options: ApplyOptions) -> None:
    with connect_site(inventory, plan.site, options.connect) as device:
        running = device.show("show current.cfg")
        if not _same(ConfigTree.parse(running), ConfigTree.parse(plan.backup_text)):
            raise FitelctlError(
                f"{plan.site}: current.cfg changed since the diff was made; nothing was sent, "
                "run apply again to see the new diff"
            )
        working = ConfigTree.parse(device.show("show working.cfg"))
        if not options.force and not _same(working, ConfigTree.parse(running)):
            raise FitelctlError(other_edits_problem(inventory, plan.site, options))
        plan.backup_text = running
        plan.outcome.backup = save_backup(inventory, plan.site, running)
        plan.touched = True
        try:
            device.configure(plan.commands, other_edits_ok=options.force)
        except OtherSessionEdits:
            plan.touched = False  # refused on `configure terminal`, before any line
            raise
        if plan.other_edits:
            plan.outcome.problems.append(
                f"--force: committed {len(plan.other_edits)} uncommitted line(s) another "
                "session had left in working.cfg along with this change (see the audit log)"
            )
        device.commit()
        _verify_tunnel(device, plan, inventory, options, committed_at=time.monotonic())
        device.save()


def _verify_tunnel(
    device: DeviceDriver,
    plan: Plan,
    inventory: Inventory,
    options: ApplyOptions,
    *,
    committed_at: float,
) -> None:
    """Renegotiate (the cloud side re-applies its config, the device clears its SAs),
    then wait for an SA with the expected algorithms."""
    expected = plan.expected
    if has_cloud_side(inventory, plan.site):
        try:
            options.cloud_reconnects.after(inventory, plan.site, committed_at)
        except SakuraError as err:
            plan.outcome.problems.append(
                f"cloud-side reconnect failed ({err}); renegotiating from the device only"
            )
    trigger(inventory, plan.site, device, "device")

    def matches(sa: IpsecSa) -> bool:
        got = (sa.encryption, sa.authentication, sa.pfs_group if sa.pfs else None)
        return expected is None or got == expected

    wait_for_sa(
        inventory,
        plan.site,
        device,
        matches,
        timeout=options.verify_timeout or inventory.defaults.verify_timeout,
        poll_interval=options.poll_interval,
        wanted=f"tunnel with {_describe(expected)}" if expected else "tunnel",
    )


def _describe(algorithms: tuple[str, str, int | None]) -> str:
    encryption, authentication, pfs = algorithms
    return f"{encryption}, {authentication}, PFS {'group ' + str(pfs) if pfs else 'off'}"


def expected_sa(target: ConfigTree, config: Site) -> tuple[str, str, int | None]:
    """What `show crypto sa` should print for the generated config against this cloud side."""
    tunnel = next(t for t in read_tunnels(target) if isinstance(t, DeviceTunnel))
    cloud = config.cloud
    outcome = negotiate(
        tunnel, config.cloud_peer(), device_public_address=config.tunnel.outside_address
    )
    bits = outcome.esp_aes_bits or CLOUD_AES_BITS[cloud.encryption_algo]
    return (
        vocab.device_encryption_name(bits),
        vocab.device_authentication_name(tunnel.esp_auth),
        tunnel.pfs_group,
    )


# --- rollback -----------------------------------------------------------------------


def _time_to_roll_back(options: ApplyOptions) -> ApplyOptions:
    """The command's time again (``--timeout``) for the rollback session: a change cut
    short by the deadline must still be undone.  (Per session, not process-wide: sites
    of a fleet roll back on their own threads.)"""
    deadline = Deadline.after(current().seconds)
    return replace(options, connect=replace(options.connect, deadline=deadline))


def _roll_back(inventory: Inventory, plan: Plan, options: ApplyOptions) -> None:
    """Put working and current back to the backup from a fresh session; never save."""
    outcome = plan.outcome
    backup = ConfigTree.parse(plan.backup_text)
    try:
        with connect_site(inventory, plan.site, options.connect) as device:
            device.restore()
            current = ConfigTree.parse(device.show("show current.cfg"))
            if not _same(current, backup):
                device.configure(diff_config(current, backup, whole_scope))
                device.commit()
                device.show("clear crypto sa")
            current_text = device.show("show current.cfg")
            working_text = device.show("show working.cfg")
    except FitelctlError as err:
        outcome.problems.append(
            f"ROLLBACK FAILED: {err}. The device may run a partial change and is NOT saved "
            f"(its boot config is unchanged). Restore it by hand from "
            f"{outcome.backup.path if outcome.backup else 'the backup'} "
            "or reboot it to come back to the saved config."
        )
        return
    if _same(ConfigTree.parse(current_text), backup) and _same(
        ConfigTree.parse(working_text), backup
    ):
        outcome.result = "rolled_back"
        outcome.problems.append(
            "rolled back: the device runs and boots exactly what it did before (nothing saved)"
        )
    else:
        outcome.problems.append(
            "ROLLBACK INCOMPLETE: current.cfg or working.cfg still differs from the backup "
            f"{outcome.backup.path if outcome.backup else ''}; nothing was saved, so a reboot "
            "returns to the boot config. Compare with `fitelctl diff` and fix by hand."
        )


def other_edits_problem(inventory: Inventory, site: str, options: ApplyOptions) -> str:
    """One line: who holds uncommitted edits of working.cfg, and the ways out."""
    from fitelctl.ops.sessions import list_sessions

    force = f"take the edits along with `fitelctl apply {site} --force` (recorded in the audit log)"
    try:
        others = [s for s in list_sessions(inventory, site, options.connect).sessions if not s.ours]
    except FitelctlError as err:
        return (
            f"{site}: working.cfg holds edits another session did not commit (its sessions "
            f"could not be listed: {err}); nothing was changed. See `fitelctl sessions {site}`, "
            f"or {force}"
        )
    if not others:
        return (
            f"{site}: working.cfg holds edits that were never committed (no other SSH session "
            "is open now: one that ended left them); nothing was changed. Discard them on the "
            f"device with `restore`, or {force}"
        )
    held = ", ".join(f"{s.id} ({s.username or '-'} {s.line or 'no line'})" for s in others)
    return (
        f"{site}: working.cfg holds edits another session did not commit (open sessions: "
        f"{held}); nothing was changed. See `fitelctl sessions {site}`, end a stale session "
        f"with `fitelctl sessions {site} --disconnect N` (its edits stay in working.cfg), or "
        f"{force}"
    )


def _same(a: ConfigTree, b: ConfigTree) -> bool:
    """Semantically equal: the whole-config diff is empty (order-insensitive)."""
    return not diff_config(a, b, whole_scope)
