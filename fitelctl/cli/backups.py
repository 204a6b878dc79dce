"""``fitelctl backups``: list a site's config backups (``backups SITE``) or prune them."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from fitelctl.cli import context
from fitelctl.cli.options import AllSitesOption, JsonOption, dry_run_option, emit_json


class _ListUnlessSubcommand(TyperGroup):
    """``backups SITE`` keeps meaning ``backups list SITE``; ``backups prune ...`` prunes."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


backups_app = typer.Typer(
    cls=_ListUnlessSubcommand,
    add_completion=False,
    rich_markup_mode=None,
    help=(
        "The config backups apply takes (mode 0600 in 0700 directories: they hold the PSK). "
        "`fitelctl backups SITE` lists them; `fitelctl backups prune` deletes old ones."
    ),
)


@backups_app.command("list")
def list_site_backups(
    site: Annotated[str, typer.Argument(help="Site whose backups to list.")],
    as_json: JsonOption = False,
) -> None:
    """List the config backups apply took of SITE, oldest first (contents are not printed)."""
    from fitelctl.ops.backups import list_backups

    found = list_backups(context.inventory(), site)
    if as_json:
        doc = [
            {"path": str(b.path), "taken_at": b.taken_at.isoformat(), "size": b.size} for b in found
        ]
        emit_json({"site": site, "backups": doc})
        return
    if not found:
        print(f"no backups for {site}", file=sys.stderr)
    for backup in found:
        print(f"{backup.taken_at:%Y-%m-%d %H:%M:%S}Z  {backup.size:>7} bytes  {backup.path}")


@backups_app.command("prune")
def prune(
    keep: Annotated[
        int,
        typer.Option("--keep", help="How many of the newest backups to keep per site (≥ 1)."),
    ],
    sites: Annotated[
        list[str] | None,
        typer.Argument(help="Sites whose backups to prune.", metavar="SITE", show_default=False),
    ] = None,
    all_sites: AllSitesOption = False,
    dry_run: Annotated[bool, dry_run_option("Say what would be deleted; delete nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete all but the newest --keep backups of each site; the newest is never deleted."""
    from fitelctl.ops.backups import BackupError, prune_backups

    if bool(sites) == all_sites:
        raise BackupError("backups prune: name the sites or pass --all (not both)")
    if keep < 1:
        raise BackupError(f"--keep {keep}: keep at least 1 backup (the newest is never deleted)")
    inventory = context.inventory()
    names = list(inventory.sites) if all_sites else list(sites or [])
    for name in names:
        inventory.site(name)  # every name checked before anything is deleted
    results = [prune_backups(inventory, name, keep, dry_run=dry_run) for name in names]
    if as_json:
        doc = {
            "keep": keep,
            "dry_run": dry_run,
            "sites": [
                {
                    "site": r.site,
                    "kept": [str(b.path) for b in r.kept],
                    "removed": [str(b.path) for b in r.removed],
                }
                for r in results
            ],
        }
        emit_json(doc)
        return
    verb = "would remove" if dry_run else "removed"
    for r in results:
        print(f"{r.site}: {verb} {len(r.removed)} backup(s), kept {len(r.kept)}")
        for backup in r.removed:
            print(f"  {verb} {backup.path}")
