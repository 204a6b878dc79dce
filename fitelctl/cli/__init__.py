"""The ``fitelctl`` command line: thin typer commands over ``fitelctl.ops``.

Command modules import their heavy dependencies (netmiko, scrapli, asyncssh,
httpx) inside the command functions, so ``--help``, ``--version`` and
``parse`` start fast.  ``main`` turns every ``FitelctlError`` into one line on
stderr and a non-zero exit; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
import typer.main

from fitelctl import __version__
from fitelctl.cli import context

app = typer.Typer(
    name="fitelctl",
    help=(
        "Run site-to-site IPsec VPNs between FITELnet F220 routers and Sakura Cloud VPC "
        "routers: status, parsing, and an embedded lab to try it all without hardware."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"fitelctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    inventory: Annotated[
        Path | None,
        typer.Option(
            "-i",
            "--inventory",
            help="Inventory file. Default: $FITELCTL_INVENTORY, else ./inventory/inventory.yaml.",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show a traceback on errors (may include details).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    context.STATE.inventory_option = inventory
    context.STATE.debug = debug
    if debug:
        _log_debug_to_stderr()


def _log_debug_to_stderr() -> None:
    """``--debug`` also shows fitelctl's debug log, e.g. what ``status`` read but did
    not understand (an unknown line in a device's SA block)."""
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("fitelctl: debug: %(name)s: %(message)s"))
    logger = logging.getLogger("fitelctl")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def _register() -> None:
    from fitelctl.cli import (
        backups,
        change,
        check,
        daemon,
        demo,
        diagnose,
        exporter,
        lab,
        logs,
        parse,
        reconnect,
        render,
        run,
        sessions,
        status,
    )

    app.command("status")(status.status)
    app.command("exporter")(exporter.exporter)
    app.command("render")(render.render)
    app.command("check")(check.check)
    app.command("diff")(change.diff)
    app.command("apply")(change.apply)
    app.add_typer(backups.backups_app, name="backups")
    app.command("reconnect")(reconnect.reconnect)
    app.command("sessions")(sessions.sessions)
    app.command("diagnose")(diagnose.diagnose)
    app.command("logs")(logs.logs)
    app.command("playbooks")(run.playbooks)
    app.command("run")(run.run)
    app.command("parse")(parse.parse)
    app.command("demo")(demo.demo)
    app.add_typer(lab.lab_app, name="lab")
    app.add_typer(daemon.daemon_app, name="daemon")


_register()


#: The click command tree, built once, at import: ``app(...)`` would rebuild it from
#: every command function's signature on each call (about 0.15 s of
#: ``typing.get_type_hints``), which every in-process run would pay (the test suite's
#: thousands, a runbook's), and a process forked after the import (the test suite's lab
#: processes) inherits it.  With pretty exceptions off, ``app(...)`` adds nothing else.
COMMAND = typer.main.get_command(app)


def main() -> None:
    from fitelctl.errors import FitelctlError

    try:
        code = COMMAND(standalone_mode=False)
    except FitelctlError as err:
        if context.STATE.debug:
            raise
        context.fail(str(err), err.exit_code)
    except typer.Abort:
        context.fail("aborted", 1)
    except typer.TyperException as err:  # usage errors: one line, and where to look
        ctx = getattr(err, "ctx", None)
        where = ctx.command_path if ctx is not None else "fitelctl"
        message = err.format_message() if hasattr(err, "format_message") else str(err)
        context.fail(f"{where}: {message} (see {where} --help)", getattr(err, "exit_code", 2))
    except KeyboardInterrupt:
        context.fail("interrupted", 130)
    sys.exit(code if isinstance(code, int) else 0)
