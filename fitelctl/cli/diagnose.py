"""``fitelctl diagnose``: why a tunnel is down, in one line, live or from a saved router log."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fitelctl.cli import context
from fitelctl.cli.options import JsonOption, emit_json, timeout_option

if TYPE_CHECKING:
    from fitelctl.vpn_log import Diagnosis

#: exit code when the VPC router cannot be read (status's "unknown")
CLOUD_UNREADABLE = 3

#: live ``diagnose``'s default deadline, seconds: three API reads (appliance,
#: status, VPN log) and one SSH session of a few commands; 60 s leaves each its
#: timeouts and the API a 503 burst's retries.
DIAGNOSE_TIMEOUT = 60.0


def diagnose(
    site: Annotated[
        str | None,
        typer.Argument(metavar="SITE", help="Site to diagnose live (device and VPC router)."),
    ] = None,
    from_log: Annotated[
        Path | None,
        typer.Option(
            "--from-log",
            metavar="FILE",
            help="Diagnose a saved VPC router VPN log instead of a live site.",
        ),
    ] = None,
    peer: Annotated[
        str | None,
        typer.Option(
            "--peer",
            metavar="ADDRESS",
            help="With --from-log: only the negotiations from this office address "
            "(as the router sees it). Default: the latest of any peer.",
        ),
    ] = None,
    as_json: JsonOption = False,
    timeout: Annotated[
        float,
        timeout_option(
            "Live: overall deadline, retries included (exit 3 when it runs out).", minimum=0.1
        ),
    ] = DIAGNOSE_TIMEOUT,
) -> None:
    """Say what failed in the tunnel's negotiation and what to change, in one line.

    Live (SITE): reads the VPC router over the API (powered off or stuck migrating
    comes first), the F220's SAs and running config, the router's VPN log, and
    both sides' settings. From a file (--from-log): the router's log alone.

    Causes: ok, proposal_mismatch_main_mode, proposal_mismatch_quick_mode,
    psk_mismatch, id_mismatch, no_response, router_down, unknown.  When the router
    rate-limits the office (half-open IKE_SA limit), the cause is the first failure
    that led there and the JSON says "rate_limited": true.  Keys are
    compared, never shown.  Exit code: 0 ok, 1 any other cause, 3 when the VPC
    router cannot be read.
    """
    if site is not None and from_log is not None:
        context.fail("diagnose: give SITE or --from-log FILE, not both")
    if peer is not None and from_log is None:
        context.fail("diagnose: --peer applies to --from-log only (a site knows its address)")
    if peer is not None and not _is_ipv4(peer):
        context.fail(
            f"diagnose: --peer {peer!r} is not an IPv4 address (the office's, as the router "
            "sees it)"
        )
    if from_log is not None:
        result = _from_file(from_log, peer)
        subject, code = {"file": str(from_log)}, 0 if result.cause == "ok" else 1
    elif site is not None:
        from fitelctl.deadline import command_deadline

        with command_deadline(timeout):
            result, code = _live(site)
        subject = {"site": site}
    else:
        context.fail("diagnose: give a SITE to diagnose live, or --from-log FILE")
    _print(result, subject, as_json=as_json)
    raise typer.Exit(code)


def _is_ipv4(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _from_file(path: Path, peer: str | None) -> Diagnosis:
    from fitelctl.ops.diagnose import diagnose_saved_log

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        context.fail(f"{path}: cannot read the log: {err.strerror or err}")
    return diagnose_saved_log(text, peer=peer)


def _live(site: str) -> tuple[Diagnosis, int]:
    from fitelctl.ops.diagnose import CloudUnreadable, diagnose_site
    from fitelctl.vpn_log import Diagnosis

    try:
        result = diagnose_site(context.inventory(), site)
    except CloudUnreadable as err:
        return Diagnosis("unknown", str(err)), CLOUD_UNREADABLE
    return result, 0 if result.cause == "ok" else 1


def _print(result: Diagnosis, subject: dict[str, str], *, as_json: bool) -> None:
    from rich.text import Text

    from fitelctl.cli.console import console

    if as_json:
        emit_json({**subject, **result.to_json()})
        return
    out = console(soft_wrap=True)
    style = "bold green" if result.cause == "ok" else "bold red"
    out.print(Text.assemble((result.cause, style), f": {result.detail}"))
    for line in result.evidence:
        out.print(Text(f"  {line}", style="dim"))
