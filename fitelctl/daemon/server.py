"""The daemon: everything ``status`` needs imported and compiled once, a child per command.

One thread, always: the children are forked, and a fork copies only the forking thread
(a lock another thread held would stay held in the child forever).  So the daemon never
runs a command itself; ``warm_up`` only imports, compiles and builds what every run
would build the same way, and the one-thread rule is checked after it.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import os
import pwd
import select
import signal
import socket
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from fitelctl.daemon.client import (
    NOT_ANSWERED,
    connect,
    identity,
    peer_uid,
    receive,
    send,
    unsafe_folder,
)
from fitelctl.errors import FitelctlError
from fitelctl.private_files import private_directory

#: ``--idle-timeout``'s default, seconds: a monitoring system checks every minute or so
DEFAULT_IDLE = 3600.0
#: how long a connected client may take to send its request and its "go"
REQUEST_TIMEOUT = 2.0
#: a request larger than this is not a command line and its environment
MAX_REQUEST = 1 << 20


class DaemonError(FitelctlError):
    """The daemon cannot start or serve (a socket in an unsafe place, one already there)."""


def warm_up() -> None:
    """Do once what every ``status`` run would do first: import the command's modules
    (and the ones they import on first use), build the API's TLS context, compile the
    TextFSM templates, and let typer build its per-parameter converters (by parsing a
    command line, without running it)."""
    from typer.core import TyperGroup

    import fitelctl.cli
    import fitelctl.cli.progress
    import fitelctl.fitelnet.drivers.asyncssh_driver
    import fitelctl.nagios
    import fitelctl.ops.processes
    import fitelctl.ops.status
    from fitelctl.ops.status import STATUS_COMMANDS
    from fitelctl.parsing import compile_template
    from fitelctl.sakura.client import SakuraClient
    from fitelctl.sakura.config import ApiSettings

    # an API client imports httpx's transport (httpcore, h11) and builds the shared TLS
    # context; it connects to nothing until a request
    with SakuraClient(ApiSettings(token="warm-up", secret="warm-up")):
        "127.0.0.1".encode("idna")  # the codec httpx encodes host names with
    pwd.getpwuid(os.getuid())  # asyncssh looks up the user
    for command in STATUS_COMMANDS:
        compile_template(command)
    group = fitelctl.cli.COMMAND
    assert isinstance(group, TyperGroup)
    status = group.commands["status"]
    line = ["x", "--json", "--timeout", "5", "--workers", "1", "--driver", "asyncssh"]
    status.make_context("status", [*line, "--session-log", "x", "-w", "1", "-W", "1"])
    if threading.active_count() != 1:
        raise DaemonError("warming up started a thread: children could not be forked safely")
    # what is loaded now lives as long as the daemon: the collector leaves it alone, so a
    # child's collections neither walk it nor copy the pages they would touch
    gc.collect()
    gc.freeze()


@dataclass
class Daemon:
    """A listening daemon and what ``daemon status`` reports about it."""

    path: Path
    idle_timeout: float
    listener: socket.socket = field(init=False)
    started: float = field(default_factory=time.time)
    served: int = 0
    last_active: float = field(default_factory=time.monotonic)
    children: set[int] = field(default_factory=set)  # commands running
    sources: dict[str, int] = field(default_factory=dict)
    inode: int = -1

    def listen(self) -> None:
        """Bind the socket (its folder made private), refusing to take over a live one."""
        folder = private_directory(self.path.parent)  # made 0700; refused if others write
        why = unsafe_folder(str(folder))  # nor may they enter: they could connect
        if why:
            raise DaemonError(f"will not listen in {folder}: {why}")
        if self.path.exists():
            if ping(self.path) is not None:
                raise DaemonError(f"a daemon already listens on {self.path}")
            self.path.unlink()  # left by a daemon that did not stop cleanly
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.path))
        os.chmod(self.path, 0o600)
        self.inode = os.stat(self.path).st_ino
        self.listener.listen(64)
        self.sources = source_stamps()

    def serve(self) -> None:
        """Answer until stopped (``daemon stop``, SIGTERM, SIGINT), idle for
        ``idle_timeout`` (no request, no command running), or the code on disk changed;
        the socket goes with it."""
        signal.signal(signal.SIGTERM, _exit_quietly)
        self.last_active = time.monotonic()  # idle from now, not from before the warm-up
        try:
            while True:
                self._reap()
                left = self.idle_timeout - (time.monotonic() - self.last_active)
                if left <= 0 and not self.children:
                    return
                ready, _, _ = select.select([self.listener], [], [], min(max(left, 0), 1.0))
                if ready and not self._answer():
                    return
        finally:
            self.close()

    def close(self) -> None:
        """Stop listening; remove the socket unless another daemon has bound it since."""
        self.listener.close()
        try:
            if os.stat(self.path).st_ino == self.inode:
                self.path.unlink()
        except OSError:
            pass

    def _answer(self) -> bool:
        """One connection; False when the daemon should stop."""
        conn, _ = self.listener.accept()
        fds: list[int] = []
        try:
            conn.settimeout(REQUEST_TIMEOUT)
            if peer_uid(conn) != os.getuid():
                return True
            request, fds = _read_request(conn)
            self.last_active = time.monotonic()
            if request == "stop":
                send(conn, {"stopped": os.getpid()})
                return False
            if request == "ping":
                send(conn, self.report())
                return True
            if source_stamps() != self.sources:
                send(conn, {"refused": "fitelctl changed on disk since the daemon started"})
                return False  # every later command would be refused too
            why = self._refusal(request)
            send(conn, {"refused": why} if why else {"ok": True})
            if why:
                return True
            if receive(conn) == "go":
                self.served += 1
                self._fork(conn, fds, request)
        except NOT_ANSWERED:
            pass  # the client went away or spoke nonsense: the next one is served
        finally:
            for fd in fds:
                os.close(fd)
            conn.close()
        return True

    def _reap(self) -> None:
        """Collect the children that ended (each reported its exit status to its client);
        idle time counts from the last one's end."""
        while self.children:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self.children.discard(pid)
            self.last_active = time.monotonic()

    def _refusal(self, request: Any) -> str | None:
        if not (isinstance(request, dict) and isinstance(request.get("run"), list)):
            return "not a request"
        if request.get("client") != identity():
            return f"another fitelctl: {request.get('client')} (this daemon: {identity()})"
        return None

    def _fork(self, conn: socket.socket, fds: list[int], request: dict[str, Any]) -> None:
        pid = os.fork()
        if pid == 0:
            self.listener.close()
            _run_child(conn, fds, request)
        self.children.add(pid)
        send(conn, {"pid": pid})

    def report(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "socket": str(self.path),
            "version": identity()["version"],
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
            "served": self.served,
            "running": sorted(self.children),
            "idle_timeout": self.idle_timeout,
        }


def _exit_quietly(_number: int, _frame: object) -> NoReturn:
    sys.exit(0)


def _read_request(conn: socket.socket) -> tuple[Any, list[int]]:
    """The request and the descriptors that came with its first bytes."""
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 3)
    size = int.from_bytes(data[:4], "big") + 4
    if len(data) < 4 or size > MAX_REQUEST:
        raise ValueError("not a request")
    while len(data) < size:
        more = conn.recv(size - len(data))
        if not more:
            raise ValueError("incomplete request")
        data += more
    return marshal.loads(data[4:]), list(fds)


def _run_child(conn: socket.socket, fds: list[int], request: dict[str, Any]) -> NoReturn:
    """In the forked child: become the caller's process for one command, then report."""
    code = 1
    try:
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _take_over(fds, request)
        code = _run()
    except BaseException as err:  # one line, never a traceback, secrets masked
        from fitelctl.redact import SECRETS

        message = SECRETS.redact(f"the daemon could not run the command: {err}")
        print(f"fitelctl: error: {message}", file=sys.stderr)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        try:
            send(conn, {"exit": code})
        finally:
            os._exit(code)


def _take_over(fds: list[int], request: dict[str, Any]) -> None:
    """The caller's stdin, stdout, stderr, working directory, environment, umask and
    program name."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    fds.clear()
    # new streams for the new descriptors, encoded as the caller's and buffered as
    # Python buffers its own (a terminal's stdout by line, stderr always by line)
    (in_enc, in_err), (out_enc, out_err), (err_enc, err_err) = request["streams"]
    sys.stdin = open(0, encoding=in_enc, errors=in_err, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", 1 if os.isatty(1) else -1, out_enc, out_err, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", 1, err_enc, err_err, closefd=False)  # noqa: SIM115
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(int(request["umask"]))
    path, package = request["program"]
    sys.argv = [path, *request["run"]]
    started_as = types.ModuleType("__main__")  # what click names the program after
    started_as.__package__ = package
    sys.modules["__main__"] = started_as


def _run() -> int:
    """``fitelctl``'s main on ``sys.argv``, its exit code as the interpreter would give it."""
    from fitelctl.cli import main

    try:
        main()
    except SystemExit as done:
        if done.code is None:
            return 0
        if isinstance(done.code, int):
            return done.code
        print(done.code, file=sys.stderr)
        return 1
    return 0


def source_stamps() -> dict[str, int]:
    """Each loaded fitelctl module's file and modification time: a daemon whose code
    changed on disk (an upgrade, a developer's edit) must not go on running the old."""
    stamps = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and (name == "fitelctl" or name.startswith("fitelctl.")):
            try:
                stamps[path] = os.stat(path).st_mtime_ns
            except OSError:
                stamps[path] = -1
    return stamps


def ping(path: Path) -> dict[str, Any] | None:
    """The report of the daemon listening on ``path``, or None."""
    return _ask(path, "ping")


def stop(path: Path) -> dict[str, Any] | None:
    """Ask the daemon on ``path`` to stop; its last words, or None when none listens."""
    return _ask(path, "stop")


def _ask(path: Path, question: str) -> dict[str, Any] | None:
    sock = connect(str(path))
    if sock is None:
        return None
    with sock:
        try:
            send(sock, question)
            answer = receive(sock)
        except NOT_ANSWERED:
            return None
    return answer if isinstance(answer, dict) else None
