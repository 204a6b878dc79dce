"""Runbook operations on the VPC router, the PSK and the inventory (adapters over ops).

Secrets never travel as step data: a new PSK is written to a private file and
steps pass its reference (``file:...``), so the run record stays clean and a
resumed run finds the same key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fitelctl.inventory import resolve_secret
from fitelctl.ops.router import DH_GROUPS, ENCRYPTION_ALGOS, HASH_ALGOS, RouterState
from fitelctl.private_files import private_directory, write_private_file
from fitelctl.runbook.arguments import Arg
from fitelctl.runbook.base import StepArgumentError, StepContext, StepResult, operation

#: A file the step writes or reads, relative to the inventory's directory.
PATH = Arg("path", required=True)
#: How long a wait may take and how often it asks (seconds).
TIMEOUT = Arg("timeout", "number", default=600.0, minimum=0)
INTERVAL = Arg("interval", "number", default=5.0, minimum=0.01)
#: Values of ``Instance.Status`` and ``Availability`` (the SDKs' EServerInstanceStatus and
#: EAvailability enums, e.g. sakura-internet/saklient's Cloud/Enums/EAvailability).
INSTANCE_STATUSES = ("up", "cleaning", "down")
AVAILABILITIES = (
    "available",
    "migrating",
    "failed",
    "precreate",
    "replicating",
    "transfering",
    "uploading",
    "stopped",
    "selectable",
    "charged",
)
#: The only migration the API offers: version 1 → 2 (docs/domain.md#vpc-router-versions-1-and-2).
VERSION = Arg("version", "integer", default=2, choices=(2,))


def _path(ctx: StepContext, args: dict[str, Any]) -> Path:
    if not args["path"]:
        raise StepArgumentError("`path` must not be empty")
    return ctx.inventory.path(Path(args["path"]))


def _private_path(ctx: StepContext, args: dict[str, Any]) -> Path:
    """A path for a file holding secrets, its directory checked before anything is read."""
    path = _path(ctx, args)
    private_directory(path.parent, root=ctx.inventory.base_dir)
    return path


@operation("router-state")
def router_state(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import read_state

    state = read_state(ctx.inventory, ctx.site)
    return StepResult(True, _describe(state), state.to_json())


@operation("router-export", PATH)
def router_export(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import export_settings

    path = export_settings(ctx.inventory, ctx.site, _private_path(ctx, args))
    return StepResult(
        True, f"settings exported to {path} (0600: it holds the PSK)", {"path": str(path)}
    )


@operation("router-import", PATH)
def router_import(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import import_settings

    path = _path(ctx, args)
    import_settings(ctx.inventory, ctx.site, path)
    return StepResult(
        True, f"settings imported from {path} and applied", {"path": str(path)}, changed=True
    )


@operation(
    "router-power",
    Arg("state", required=True, choices=("on", "off")),
    Arg("force", "boolean", default=False),
)
def router_power(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import power_off, power_on

    state = args["state"]
    if state == "off":
        changed = power_off(ctx.inventory, ctx.site, force=args["force"])
    else:
        changed = power_on(ctx.inventory, ctx.site)
    return StepResult(True, f"power {state}" + ("" if changed else " (already)"), {}, changed)


@operation(
    "router-wait",
    Arg("instance_status", choices=INSTANCE_STATUSES),
    Arg("availability", choices=AVAILABILITIES),
    TIMEOUT,
    INTERVAL,
)
def router_wait(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import wait_router

    if args["instance_status"] is None and args["availability"] is None:
        raise StepArgumentError("router-wait needs `instance_status` or `availability`")
    state = wait_router(
        ctx.inventory,
        ctx.site,
        instance_status=args["instance_status"],
        availability=args["availability"],
        timeout=args["timeout"],
        interval=args["interval"],
    )
    return StepResult(True, _describe(state), state.to_json())


@operation("router-migrate", VERSION)
def router_migrate(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import migrate_router

    version: int = args["version"]
    changed = migrate_router(ctx.inventory, ctx.site, version=version)
    summary = f"migration to version {version} requested" if changed else "already migrated"
    return StepResult(True, summary, {"version": version}, changed)


@operation("router-wait-migration", VERSION, TIMEOUT, INTERVAL)
def router_wait_migration(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import wait_migration

    version: int = args["version"]
    state = wait_migration(
        ctx.inventory,
        ctx.site,
        version=version,
        timeout=args["timeout"],
        interval=args["interval"],
    )
    data = state.to_json()
    if state.stuck or state.version != version or not state.cloud.is_available:
        return StepResult(False, f"stuck: {_describe(state)}", data)
    return StepResult(True, _describe(state), data)


@operation(
    "router-algorithms",
    Arg("encryption_algo", required=True, choices=ENCRYPTION_ALGOS),
    Arg("hash_algo", required=True, choices=HASH_ALGOS),
    Arg("dh_group", required=True, choices=DH_GROUPS),
)
def router_algorithms(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    from fitelctl.ops.router import set_router_algorithms

    wanted: dict[str, str] = dict(args)
    set_router_algorithms(
        ctx.inventory,
        ctx.site,
        encryption_algo=wanted["encryption_algo"],
        hash_algo=wanted["hash_algo"],
        dh_group=wanted["dh_group"],
    )
    return StepResult(True, "router set to " + "/".join(wanted.values()), wanted, changed=True)


@operation("router-psk", Arg("psk_ref"))
def router_psk(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    """Set the router's PSK for this site from ``psk_ref`` (default: the inventory's)."""
    from fitelctl.ops.router import set_router_psk

    ref = args["psk_ref"] or ctx.inventory.site(ctx.site).tunnel.psk
    psk = resolve_secret(ref, ctx.inventory, what="the PSK to set on the router")
    set_router_psk(ctx.inventory, ctx.site, psk)
    return StepResult(True, f"router PSK set from {ref}", {"psk_ref": ref}, changed=True)


@operation("psk-generate", PATH, Arg("from_file", default=""))
def psk_generate(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    """A new PSK in a private file (or the one in ``from_file``); data holds its reference."""
    from fitelctl.ops.check import psk_findings
    from fitelctl.ops.psk import generate_psk

    source = args["from_file"]
    if source:
        ref = f"file:{ctx.inventory.path(Path(source))}"
        problems = psk_findings(resolve_secret(ref, ctx.inventory, what="--var psk_file"))
        if problems:
            return StepResult(False, "; ".join(str(p) for p in problems))
        return StepResult(True, f"new PSK taken from {source}", {"psk_ref": ref})
    path = _path(ctx, args)
    write_private_file(path, generate_psk() + "\n", overwrite=False, root=ctx.inventory.base_dir)
    return StepResult(True, f"new PSK generated into {path} (0600)", {"psk_ref": f"file:{path}"})


@operation("psk-store", Arg("psk_ref", required=True))
def psk_store(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    """Put the new PSK where the inventory's reference points (or say exactly where)."""
    from fitelctl.ops.psk import store_psk

    ref = args["psk_ref"]
    if not ref:
        raise StepArgumentError("`psk_ref` must not be empty")
    psk = resolve_secret(ref, ctx.inventory, what="the new PSK")
    message = store_psk(ctx.inventory, ctx.site, psk)
    scheme = ctx.inventory.site(ctx.site).tunnel.psk.partition(":")[0]
    return StepResult(
        True, message, {"message": message, "updated": scheme != "env"}, changed=scheme != "env"
    )


@operation("inventory-advice", Arg("changes", "mapping", required=True))
def inventory_advice(ctx: StepContext, args: dict[str, Any]) -> StepResult:
    """Say exactly which inventory keys to change so it describes the new state.

    The file is not edited in place: it is the operator's (often in git, with
    comments), and keeping its layout needs a round-trip YAML editor.
    """
    changes = args["changes"]
    ctx.inventory.with_site_changes(ctx.site, changes)  # the advice itself must validate
    lines = [f"sites.{ctx.site}.{key}: {value}" for key, value in changes.items()]
    return StepResult(True, "update the inventory: " + "; ".join(lines), {"set": lines})


def _describe(state: RouterState) -> str:
    cloud = state.cloud
    peer = f", peer {cloud.peer_status}" if cloud.peer_status else ""
    return f"version {cloud.version}, {cloud.instance_status} / {cloud.availability}{peer}"


CLOUD_OPERATIONS = (
    router_state,
    router_export,
    router_import,
    router_power,
    router_wait,
    router_migrate,
    router_wait_migration,
    router_algorithms,
    router_psk,
    psk_generate,
    psk_store,
    inventory_advice,
)
