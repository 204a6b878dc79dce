"""``fitelctl daemon start|stop|status``: a preloaded fitelctl that runs ``status`` fast."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from fitelctl.cli import context
from fitelctl.cli.options import JsonOption, emit_json
from fitelctl.daemon.client import socket_path
from fitelctl.daemon.server import DEFAULT_IDLE, Daemon, ping, warm_up
from fitelctl.daemon.server import stop as ask_to_stop

daemon_app = typer.Typer(
    name="daemon",
    help=(
        "Keep a preloaded fitelctl that runs 'status' command lines: a check then starts in "
        "milliseconds instead of about half a second of imports (each still logs in afresh "
        "and reads the API afresh). Other commands always run in their own process. "
        "Socket: $FITELCTL_DAEMON_SOCKET, else $XDG_RUNTIME_DIR/fitelctl/daemon.sock, else "
        "/tmp/fitelctl-UID/daemon.sock; FITELCTL_DAEMON=0 makes a command ignore it."
    ),
    no_args_is_help=True,
)


@daemon_app.command("start")
def start(
    idle_timeout: Annotated[
        float,
        typer.Option(
            "--idle-timeout",
            min=1.0,
            help="Stop after this many seconds with no command running or asked for.",
        ),
    ] = DEFAULT_IDLE,
    foreground: Annotated[
        bool,
        typer.Option(
            "--foreground", help="Serve in this process (for systemd or a terminal) until stopped."
        ),
    ] = False,
) -> None:
    """Start the daemon (in the background unless --foreground); refuse if one is running.

    The socket's folder must be yours and closed to other users; the daemon answers only
    commands of your uid from the same fitelctl installation, and stops by itself when
    its code changes on disk.
    """
    daemon = Daemon(Path(socket_path()), idle_timeout)
    warm_up()
    daemon.listen()
    if foreground:
        print(_serving(os.getpid(), daemon.path, idle_timeout), flush=True)
        daemon.serve()
        return
    if os.fork() == 0:
        _detach(daemon)
    os.wait()
    report = ping(daemon.path)
    if report is None:
        context.fail(f"the daemon did not answer on {daemon.path}", 1)
    print(_serving(report["pid"], daemon.path, idle_timeout))


def _detach(daemon: Daemon) -> None:
    """In the forked child: leave the terminal's session, fork again (so the daemon is
    no session leader and never gets a terminal back), and serve with no stdio."""
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.chdir("/")
    try:
        daemon.serve()
    finally:
        os._exit(0)


def _serving(pid: int, path: object, idle: float) -> str:
    return f"fitelctl daemon: pid {pid} runs 'status' from {path}; stops after {idle:g} s idle"


@daemon_app.command("stop")
def stop() -> None:
    """Stop the daemon (commands it is running finish); nothing to do if none runs."""
    path = Path(socket_path())
    answer = ask_to_stop(path)
    if answer is None:
        print(f"fitelctl daemon: none listens on {path}")
    else:
        print(f"fitelctl daemon: pid {answer.get('stopped')} stopped")


@daemon_app.command("status")
def status(as_json: JsonOption = False) -> None:
    """Whether a daemon runs: pid, socket, version, commands run and running. Exit 0
    running, 3 not."""
    path = Path(socket_path())
    report = ping(path)
    if as_json:
        emit_json({"running": report is not None, "socket": str(path), **(report or {})})
    elif report is None:
        print(f"fitelctl daemon: none listens on {path}")
    else:
        print(
            f"fitelctl daemon: pid {report['pid']} on {path}, fitelctl {report['version']}, "
            f"since {report['started']}, {report['served']} command(s) run, "
            f"{len(report['running'])} running, "
            f"stops after {report['idle_timeout']:g} s idle"
        )
    if report is None:
        raise typer.Exit(3)
