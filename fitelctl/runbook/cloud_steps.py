"""Runbook operations on the VPC router, the PSK and the inventory (adapters over ops).

Secrets never travel as step data: a new PSK is written to a private file and
steps pass its reference (``file:...``), so the run record stays clean and a
resumed run finds the same key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fitelctl.inventory import resolve_secret
from fitelctl.runbook.base import StepArgumentError, StepContext, StepResult


def _float(args: dict[str, Any], name: str, default: float) -> float:
    value = args.get(name)
    return float(value) if value not in (None, "") else default


def _path(ctx: StepContext, args: dict[str, Any]) -> Path:
    if not args.get("path"):
        raise StepArgumentError("a path is needed")
    return ctx.inventory.path(Path(str(args["path"])))


def router_state(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import read_state

    state = read_state(ctx.inventory, ctx.site)
    return StepResult(True, _describe(state.to_json()), state.to_json())


def router_export(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import export_settings

    path = export_settings(ctx.inventory, ctx.site, _path(ctx, args))
    return StepResult(
        True, f"settings exported to {path} (0600: it holds the PSK)", {"path": str(path)}
    )


def router_import(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import import_settings

    path = _path(ctx, args)
    import_settings(ctx.inventory, ctx.site, path)
    return StepResult(
        True, f"settings imported from {path} and applied", {"path": str(path)}, changed=True
    )


def router_power(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import power_off, power_on

    state = str(args.get("state", ""))
    if state == "off":
        changed = power_off(ctx.inventory, ctx.site, force=bool(args.get("force", False)))
    elif state == "on":
        changed = power_on(ctx.inventory, ctx.site)
    else:
        raise StepArgumentError("state must be on or off")
    return StepResult(True, f"power {state}" + ("" if changed else " (already)"), {}, changed)


def router_wait(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import wait_router

    state = wait_router(
        ctx.inventory,
        ctx.site,
        instance_status=args.get("instance_status"),
        availability=args.get("availability"),
        timeout=_float(args, "timeout", 600.0),
        interval=_float(args, "interval", 5.0),
    )
    return StepResult(True, _describe(state.to_json()), state.to_json())


def router_migrate(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import migrate_router

    version = int(args.get("version", 2))
    changed = migrate_router(ctx.inventory, ctx.site, version=version)
    summary = f"migration to version {version} requested" if changed else "already migrated"
    return StepResult(True, summary, {"version": version}, changed)


def router_wait_migration(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import wait_migration

    version = int(args.get("version", 2))
    state = wait_migration(
        ctx.inventory,
        ctx.site,
        version=version,
        timeout=_float(args, "timeout", 600.0),
        interval=_float(args, "interval", 5.0),
    )
    data = state.to_json()
    if state.stuck or data["version"] != version or data["availability"] != "available":
        return StepResult(False, f"stuck: {_describe(data)}", data)
    return StepResult(True, _describe(data), data)


def router_algorithms(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import set_router_algorithms

    wanted: dict[str, Any] = {
        k: args[k] for k in ("encryption_algo", "hash_algo", "dh_group") if k in args
    }
    if len(wanted) != 3:
        raise StepArgumentError("encryption_algo, hash_algo and dh_group are needed")
    set_router_algorithms(ctx.inventory, ctx.site, **wanted)
    return StepResult(True, "router set to " + "/".join(wanted.values()), wanted, changed=True)


def router_psk(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    """Set the router's PSK for this site from ``psk_ref`` (default: the inventory's)."""
    from fitelctl.ops.router import set_router_psk

    ref = str(args.get("psk_ref") or ctx.inventory.site(ctx.site).tunnel.psk)
    psk = resolve_secret(ref, ctx.inventory, what="the PSK to set on the router")
    set_router_psk(ctx.inventory, ctx.site, psk)
    return StepResult(True, f"router PSK set from {ref}", {"psk_ref": ref}, changed=True)


def psk_generate(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    """A new PSK in a private file (or the one in ``from_file``); data holds its reference."""
    from fitelctl.ops.check import psk_findings
    from fitelctl.ops.psk import generate_psk, write_private_file

    source = str(args.get("from_file") or "")
    if source:
        ref = f"file:{ctx.inventory.path(Path(source))}"
        problems = psk_findings(resolve_secret(ref, ctx.inventory, what="--var psk_file"))
        if problems:
            return StepResult(False, "; ".join(str(p) for p in problems))
        return StepResult(True, f"new PSK taken from {source}", {"psk_ref": ref})
    path = _path(ctx, args)
    write_private_file(path, generate_psk() + "\n", overwrite=False)
    return StepResult(True, f"new PSK generated into {path} (0600)", {"psk_ref": f"file:{path}"})


def psk_store(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    """Put the new PSK where the inventory's reference points (or say exactly where)."""
    from fitelctl.ops.psk import store_psk

    ref = str(args.get("psk_ref") or "")
    if not ref:
        raise StepArgumentError("psk_ref is needed")
    psk = resolve_secret(ref, ctx.inventory, what="the new PSK")
    message = store_psk(ctx.inventory, ctx.site, psk)
    scheme = ctx.inventory.site(ctx.site).tunnel.psk.partition(":")[0]
    return StepResult(
        True, message, {"message": message, "updated": scheme != "env"}, changed=scheme != "env"
    )


def inventory_advice(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    """Say exactly which inventory keys to change so it describes the new state.

    The file is not edited in place: it is the operator's (often in git, with
    comments), and keeping its layout needs a round-trip YAML editor.
    """
    changes = args.get("changes") or {}
    if not isinstance(changes, dict):
        raise StepArgumentError("changes must be a mapping")
    ctx.inventory.with_site_changes(ctx.site, changes)  # the advice itself must validate
    lines = [f"sites.{ctx.site}.{key}: {value}" for key, value in changes.items()]
    return StepResult(True, "update the inventory: " + "; ".join(lines), {"set": lines})


def _describe(state: dict[str, Any]) -> str:
    peer = f", peer {state.get('peer_status')}" if state.get("peer_status") else ""
    return (
        f"version {state.get('version')}, {state.get('instance_status')} / "
        f"{state.get('availability')}{peer}"
    )


CLOUD_OPERATIONS = {
    "router-state": router_state,
    "router-export": router_export,
    "router-import": router_import,
    "router-power": router_power,
    "router-wait": router_wait,
    "router-migrate": router_migrate,
    "router-wait-migration": router_wait_migration,
    "router-algorithms": router_algorithms,
    "router-psk": router_psk,
    "psk-generate": psk_generate,
    "psk-store": psk_store,
    "inventory-advice": inventory_advice,
}
