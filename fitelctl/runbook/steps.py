"""The operations a runbook step can call: thin adapters over ``fitelctl.ops``.

Each adapter declares its arguments (``@operation``, see ``base``), takes them
checked and with defaults filled in, calls the same function the CLI command
calls, and reports ``ok``, whether it ``changed`` something, a one-line summary
and the data later steps can refer to.  Nothing here knows how to do the work
itself: there is one implementation of each operation.
"""

from __future__ import annotations

from typing import Any

from fitelctl.inventory import Inventory
from fitelctl.runbook.arguments import Arg
from fitelctl.runbook.base import (
    Operation,
    StepArgumentError,
    StepContext,
    StepResult,
    operation,
)
from fitelctl.runbook.cloud_steps import CLOUD_OPERATIONS

#: Inventory keys (``tunnel.preset: sakura-v2``) the step works with instead of the
#: file's values: the state the runbook is moving the site to.
CHANGES = Arg("changes", "mapping", default={})
VERIFY_TIMEOUT = Arg("verify_timeout", "number", minimum=1)


def _changed_inventory(ctx: StepContext, args: dict[str, Any]) -> Inventory:
    changes = args["changes"]
    return ctx.inventory.with_site_changes(ctx.site, changes) if changes else ctx.inventory


@operation("status", CHANGES)
def status(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.status import collect_status

    inventory = _changed_inventory(ctx, args)
    (result,) = collect_status(inventory, [ctx.site], workers=1, options=ctx.connect)
    data = result.to_json()
    sas = result.device.ipsec_sas
    algorithms = f" ({sas[0].encryption}, {sas[0].authentication})" if sas else ""
    problems = f": {'; '.join(result.problems)}" if result.problems else ""
    return StepResult(result.state != "unknown", f"{result.state}{algorithms}{problems}", data)


@operation("check", CHANGES)
def check(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.check import check_site, has_errors

    findings = check_site(_changed_inventory(ctx, args), ctx.site)
    errors = [f for f in findings if f.severity == "error"]
    summary = "; ".join(f"{f.rule}: {f.message}" for f in errors) or (
        f"no errors ({len(findings)} warning(s))"
    )
    data = {"findings": [f.to_json() for f in findings]}
    return StepResult(not has_errors(findings), summary, data)


def _apply_options(ctx: StepContext, verify_timeout: float | None = None) -> Any:
    from fitelctl.ops.apply import ApplyOptions

    return ApplyOptions(ctx.connect, verify_timeout=verify_timeout)


@operation("diff", CHANGES)
def diff(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.apply import plan_site

    plan = plan_site(_changed_inventory(ctx, args), ctx.site, _apply_options(ctx))
    outcome = plan.outcome
    if outcome.result == "failed":
        return StepResult(False, "; ".join(outcome.problems), outcome.to_json())
    summary = f"{len(plan.commands)} command(s) to apply" if plan.commands else "nothing to change"
    data = {**outcome.to_json(), "commands": len(plan.commands), "changes": bool(plan.commands)}
    return StepResult(True, summary, data)


@operation("apply", CHANGES, VERIFY_TIMEOUT)
def apply(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.apply import execute_plan, plan_site

    inventory = _changed_inventory(ctx, args)
    options = _apply_options(ctx, args["verify_timeout"])
    plan = plan_site(inventory, ctx.site, options)
    outcome = execute_plan(inventory, plan, options) if plan.ready else plan.outcome
    ok = outcome.result in ("applied", "unchanged")
    changed = outcome.result in ("applied", "rolled_back")
    summary = outcome.result + "".join(f"; {p}" for p in outcome.problems)
    return StepResult(ok, summary, outcome.to_json(), changed)


@operation("restore-backup", Arg("backup", default="latest"), VERIFY_TIMEOUT)
def restore_backup(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.apply import execute_plan, plan_restore
    from fitelctl.ops.backups import list_backups

    backups = list_backups(ctx.inventory, ctx.site)
    chosen = args["backup"] or "latest"
    matching = (
        backups[-1:]
        if chosen == "latest"
        else [b for b in backups if chosen in (b.path.name, str(b.path))]
    )
    if not matching:
        names = ", ".join(b.path.name for b in backups) or "none"
        return StepResult(False, f"no backup '{chosen}' of {ctx.site} (have: {names})")
    backup = matching[0]
    options = _apply_options(ctx, args["verify_timeout"])
    plan = plan_restore(ctx.inventory, ctx.site, backup.read(), options)
    outcome = execute_plan(ctx.inventory, plan, options) if plan.ready else plan.outcome
    ok = outcome.result in ("applied", "unchanged")
    summary = f"{backup.path.name}: {outcome.result}" + "".join(f"; {p}" for p in outcome.problems)
    return StepResult(ok, summary, {**outcome.to_json(), "backup": str(backup.path)}, ok)


@operation(
    "reconnect",
    Arg("side", choices=("cloud", "device", "both")),
    Arg("timeout", "number", minimum=1),
    CHANGES,
)
def reconnect(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.reconnect import reconnect_site

    outcome = reconnect_site(
        _changed_inventory(ctx, args),
        ctx.site,
        args["side"],
        options=ctx.connect,
        timeout=args["timeout"],
    )
    ok = outcome.result == "reconnected"
    summary = outcome.result + "".join(f"; {p}" for p in outcome.problems)
    return StepResult(ok, summary, outcome.to_json(), changed=True)


@operation("diagnose")
def diagnose(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.diagnose import diagnose_site

    found = diagnose_site(ctx.inventory, ctx.site)
    return StepResult(True, f"{found.cause}: {found.detail}", found.to_json())


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (status, check, diff, apply, restore_backup, reconnect, diagnose, *CLOUD_OPERATIONS)
}

__all__ = ["OPERATIONS", "Operation", "StepArgumentError", "StepContext", "StepResult"]
