"""``fitelctl sessions``: list a device's SSH sessions, end a stale one."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from fitelctl.cli import context
from fitelctl.cli.options import (
    JsonOption,
    TrustNewHostKeyOption,
    YesOption,
    deadline_help,
    emit_json,
    timeout_option,
)

if TYPE_CHECKING:
    from fitelctl.ops.sessions import SessionList, SshSession

#: Default deadline, seconds: two SSH logins and three short reads.
SESSIONS_TIMEOUT = 60.0


def sessions(
    site: Annotated[str, typer.Argument(help="Site whose device to look at.")],
    as_json: JsonOption = False,
    disconnect: Annotated[
        int | None,
        typer.Option(
            "--disconnect",
            min=0,
            metavar="N",
            help="End SSH session N (the Connection number of the list), after confirmation.",
        ),
    ] = None,
    yes: YesOption = False,
    trust_new_host_key: TrustNewHostKeyOption = False,
    timeout: Annotated[float, timeout_option(deadline_help(SESSIONS_TIMEOUT))] = SESSIONS_TIMEOUT,
) -> None:
    """List the SSH sessions of SITE's device (`show ssh`), or end one with --disconnect N.

    The usual way out when a stale session still holds uncommitted edits of
    working.cfg (apply stops on them) or keeps the device busy. Ending a session
    does not undo its edits: working.cfg keeps them until a commit or `restore`.
    The session fitelctl itself uses is marked "ours" and is never ended; to know
    it, fitelctl lists the sessions from a first SSH session, opens its own and
    lists again (the new row is its own). Exit 0 on success.
    """
    from fitelctl.deadline import command_deadline
    from fitelctl.ops.connect import ConnectOptions
    from fitelctl.ops.sessions import disconnect_session, list_sessions

    inventory = context.inventory()
    inventory.site(site)
    options = ConnectOptions(trust_new_host_key=trust_new_host_key)
    if disconnect is None:
        with command_deadline(timeout):
            listing = list_sessions(inventory, site, options)
        _show(listing, as_json)
        return

    def confirm(session: SshSession) -> bool:
        if yes:
            return True
        if as_json or not sys.stdin.isatty():
            context.fail(
                f"ending SSH session {session.id} of {site} needs confirmation: run it in a "
                "terminal, or pass --yes",
                1,
            )
        who = session.username or "no user yet"
        return typer.confirm(
            f"End SSH session {session.id} of {site} ({who}, {session.line or 'no line'}, "
            f"{session.state})?",
            default=False,
            err=True,
        )

    with command_deadline(timeout):
        left = disconnect_session(inventory, site, disconnect, options, confirm=confirm)
    if not as_json:
        print(f"{site}: SSH session {disconnect} ended; sessions now:")
    _show(left, as_json)


def _show(listing: SessionList, as_json: bool) -> None:
    if as_json:
        emit_json(listing.to_json())
        return
    print(f"{'ID':>3}  {'VERSION':<7}  {'ENCRYPTION':<12}  {'STATE':<18}  {'USER':<12}  LINE")
    for s in listing.sessions:
        mark = "  (fitelctl, this command)" if s.ours else ""
        print(
            f"{s.id:>3}  {s.version:<7}  {s.encryption:<12}  {s.state:<18}  "
            f"{s.username or '-':<12}  {s.line or '-'}{mark}"
        )
    if not listing.ours_known:
        print(f"{listing.site}: could not tell which session is fitelctl's own", file=sys.stderr)
