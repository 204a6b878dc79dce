"""Hand a ``status`` command line to a running ``fitelctl daemon``, or say there is none.

Runs first in every ``fitelctl`` process, so it imports only the standard library and
gives up at the first doubt: no socket, a socket in a directory other users can write,
a daemon of another uid or another installation, no answer within a second.  The
command then runs in this process as usual.  Nothing runs twice: the daemon forks only
after this side has said "go", and once it has, this side waits for the end.

The conversation, one message each way at a time (``marshal``: a builtin module, so
both ends are the same interpreter, which ``identity`` checks; a length first)::

    client: {"run": ARGS, "program", "streams", "cwd", "env", "umask", "client": IDENTITY}
            + fds 0-2
    daemon: {"ok": True} | {"refused": WHY}
    client: "go"
    daemon: {"pid": PID}            (the child that runs ARGS)
    child:  {"exit": CODE}

Only the standard library's cheapest modules: json, pathlib and typing would add about
20 ms to every command, daemon or not.  marshal is not safe against hostile data; the
only peers are processes of the same uid, in a folder no one else can enter.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys

import fitelctl

TYPE_CHECKING = False  # typing's own costs an import
if TYPE_CHECKING:
    import socket
    from collections.abc import Mapping
    from typing import Any

#: where the daemon listens (default: $XDG_RUNTIME_DIR/fitelctl, else /tmp/fitelctl-UID)
SOCKET_ENV = "FITELCTL_DAEMON_SOCKET"
#: "0" never hands a command to a daemon
USE_ENV = "FITELCTL_DAEMON"
#: the commands a daemon runs: read-only, never prompting, bounded by their own deadline
SERVED = frozenset({"status"})
#: the root options that take a value, which come before the command name
_VALUED_ROOT_OPTIONS = frozenset({"-i", "--inventory"})
#: seconds to connect and to hear "ok": a daemon that takes longer is not worth it
ANSWER_TIMEOUT = 1.0
#: what a command whose process ended without reporting its exit status exits with
#: (Nagios UNKNOWN, the same as ``status`` uses for everything it cannot tell)
LOST = 3
#: signals passed on to the child: what a terminal, a timeout or a supervisor sends
FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")


def socket_path(environ: Mapping[str, str] = os.environ) -> str:
    explicit = environ.get(SOCKET_ENV)
    if explicit:
        return explicit
    runtime = environ.get("XDG_RUNTIME_DIR")
    folder = os.path.join(runtime, "fitelctl") if runtime else f"/tmp/fitelctl-{os.getuid()}"
    return os.path.join(folder, "daemon.sock")


def unsafe_folder(folder: str) -> str | None:
    """Why a socket in ``folder`` could be someone else's, or None: the folder must be
    this user's and closed to everyone else, as ssh-agent's and tmux's are."""
    try:
        info = os.lstat(folder)
    except OSError as err:
        return f"{folder}: {err.strerror}"
    if not stat.S_ISDIR(info.st_mode):
        return f"{folder} is not a directory"
    if info.st_uid != os.getuid():
        return f"{folder} belongs to uid {info.st_uid}, not {os.getuid()}"
    if info.st_mode & 0o077:
        return f"{folder} is open to other users (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (Linux ``SO_PEERCRED``)."""
    import socket

    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)  # pid, uid, gid
    return int.from_bytes(creds[4:8], sys.byteorder)


def identity() -> dict[str, str]:
    """What must match between a client and the daemon that runs its command: the same
    fitelctl, from the same place, on the same interpreter in the same environment."""
    return {
        "version": fitelctl.__version__,
        "package": os.path.dirname(fitelctl.__file__),
        "python": os.path.realpath(sys.executable),  # python and python3 are one
        "environment": sys.prefix,
    }


def served(args: list[str]) -> bool:
    """Whether ``args`` (without the program name) is a command a daemon runs."""
    position = 0
    while position < len(args):
        word = args[position]
        if word in _VALUED_ROOT_OPTIONS:
            position += 2
        elif word.startswith("--inventory=") or word == "--debug":
            position += 1
        else:
            return word in SERVED
    return False


def encode(message: Any) -> bytes:
    data = marshal.dumps(message)
    return len(data).to_bytes(4, "big") + data


def send(sock: socket.socket, message: Any) -> None:
    sock.sendall(encode(message))


def receive(sock: socket.socket) -> object:
    """The next message, or None when the other end closed first."""
    head = _exactly(sock, 4)
    data = _exactly(sock, int.from_bytes(head, "big")) if head else b""
    return marshal.loads(data) if data else None


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


#: what a peer that went away or does not speak this protocol makes reading it raise
NOT_ANSWERED = (OSError, ValueError, EOFError, TypeError)


def connect(path: str) -> socket.socket | None:
    """A connection to the daemon on ``path`` (``ANSWER_TIMEOUT`` set), or None: no socket,
    one in a folder others can enter, no one listening, or a listener of another uid."""
    if not os.path.exists(path) or unsafe_folder(os.path.dirname(path)):
        return None
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(ANSWER_TIMEOUT)
        sock.connect(path)
        if peer_uid(sock) == os.getuid():
            return sock
    except OSError:
        pass
    sock.close()
    return None


def forward(args: list[str]) -> int | None:
    """Run ``args`` on the daemon and return its exit code; None: run it here.  A child
    that vanished without its exit code ends this process: one error line, exit 3."""
    if os.environ.get(USE_ENV) == "0" or not served(args):
        return None
    sock = connect(socket_path())
    if sock is None:
        return None
    import socket  # connect imported it: every other command line is spared the import

    with sock:
        try:
            socket.send_fds(sock, [_request(args)], [0, 1, 2])
            answer = receive(sock)
        except NOT_ANSWERED:  # gone, or not this protocol
            return None
        if not (isinstance(answer, dict) and answer.get("ok") is True):
            return None
        sock.settimeout(None)
        with _Relay() as relay:
            try:
                send(sock, "go")
                started = receive(sock)
            except NOT_ANSWERED:
                started = None
            if not (isinstance(started, dict) and isinstance(started.get("pid"), int)):
                if relay.pending:  # Ctrl-C meanwhile, and nothing ran: nothing will
                    raise KeyboardInterrupt
                return None  # it stopped before forking: nothing ran
            relay.attach(started["pid"])
            try:
                ended = receive(sock)
            except NOT_ANSWERED:
                ended = None
    if isinstance(ended, dict) and isinstance(ended.get("exit"), int):
        return int(ended["exit"])
    from fitelctl.cli import context  # rare: the CLI's one way to fail (--nagios: stdout)

    context.fail(
        f"the daemon's process {started['pid']} for this command ended without an exit "
        "status (killed?)",
        LOST,
    )


def _request(args: list[str]) -> bytes:
    umask = os.umask(0o077)
    os.umask(umask)
    main = sys.modules["__main__"]
    request = {
        "run": args,
        # how this program was started (``fitelctl`` or ``python -m fitelctl``), which
        # usage and help messages name
        "program": [sys.argv[0], getattr(main, "__package__", None)],
        # the encodings this interpreter chose for its stdio (from the locale): the
        # child's streams take the same
        "streams": [[f.encoding, f.errors] for f in (sys.stdin, sys.stdout, sys.stderr)],
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "umask": umask,
        "client": identity(),
    }
    return encode(request)


class _Relay:
    """While the command runs on the daemon, Ctrl-C, a timeout's SIGTERM or a hang-up
    sent to this process go to the child that runs it, as they would have gone to the
    command; one that comes before the child is known is passed on once it is."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.pending: list[int] = []
        self.previous: dict[int, object] = {}

    def __enter__(self) -> _Relay:
        import signal

        for name in FORWARDED:
            number = getattr(signal, name)
            self.previous[number] = signal.signal(number, self._pass_on)
        return self

    def __exit__(self, *_exc: object) -> None:
        import signal

        for number, handler in self.previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]  # what signal gave

    def attach(self, pid: int) -> None:
        self.pid = pid
        for number in self.pending:
            self._pass_on(number, None)

    def _pass_on(self, number: int, _frame: object) -> None:
        if self.pid is None:
            self.pending.append(number)
            return
        try:
            os.kill(self.pid, number)
        except ProcessLookupError:
            return  # it has just ended: its exit status is on the way
