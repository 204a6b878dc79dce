"""``fitelctl check``: will each site's tunnel link up, and what to change (no device contact)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from fitelctl.cli import context
from fitelctl.cli.options import JsonOption, emit_json

if TYPE_CHECKING:
    from fitelctl.ops.check import Finding

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def check(
    sites: Annotated[
        list[str] | None, typer.Argument(help="Sites to check (default: all).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check each site's inventory against what the VPC router accepts, before a push.

    Errors are settings known not to link (a version-1 router with anything but
    AES128/SHA1/group 5/PFS group 5; a version-2 router whose algorithms differ
    from the F220's; IKEv2; identity, peer or PSK problems).  Warnings link but
    deserve a look (lifetimes or DPD that differ, a very short IPsec SA lifetime).
    Pure: no SSH, no API; the PSK reference is resolved, never printed.

    Exit code: 0 no errors (warnings allowed), 1 any error.
    """
    from fitelctl.ops.check import check_site, has_errors

    inventory = context.inventory()
    names = inventory.select(sites or [])
    results = {name: check_site(inventory, name) for name in names}
    if as_json:
        document = {
            "sites": [
                {
                    "site": name,
                    "ok": not has_errors(findings),
                    "findings": [f.to_json() for f in findings],
                }
                for name, findings in results.items()
            ]
        }
        emit_json(document)
    else:
        _print_report(results)
    raise typer.Exit(1 if any(has_errors(f) for f in results.values()) else 0)


def _print_report(results: dict[str, list[Finding]]) -> None:
    from rich.text import Text

    from fitelctl.cli.console import console

    out = console(soft_wrap=True)
    for site, findings in results.items():
        out.print(Text.assemble((site, "bold"), ": ", _counts(findings) or ("ok", "green")))
        for finding in findings:
            out.print(
                Text.assemble(
                    "  ",
                    (finding.severity, SEVERITY_STYLE[finding.severity]),
                    f" {finding.rule}: ",
                    finding.message,
                )
            )
    every = [f for findings in results.values() for f in findings]
    sites = f"{len(results)} site{'s' if len(results) != 1 else ''} checked"
    out.print(f"{sites}: {_counts(every) or 'no errors, no warnings'}")


def _counts(findings: list[Finding]) -> str:
    parts = []
    for severity in ("error", "warning"):
        count = sum(1 for f in findings if f.severity == severity)
        if count:
            parts.append(f"{count} {severity}{'s' if count != 1 else ''}")
    return ", ".join(parts)
