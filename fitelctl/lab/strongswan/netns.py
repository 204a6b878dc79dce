"""Network namespaces the lab makes for its charons, and only those, torn down for sure.

Every namespace is named ``fitelctl-<pid>-<label>`` after the process that made it, and
that process holds an exclusive ``flock`` on ``OWNERS_DIR/<pid>`` from its first
namespace until it exits.  The kernel drops the lock when the process dies, also by
SIGKILL, so the next ``remove_leftovers`` can tell a live lab's namespaces (lock
held) from a dead one's (lock free or file gone) without trusting a PID that may have
been reused.  Removing a namespace first kills every process in it (its charon), then
deletes it; the veth ends inside it go with it.  Links are created inside the
namespaces directly, so nothing is ever added to the machine's own network namespace.

Addresses come from the RFC 2544 benchmarking range (198.18.0.0/15), which no real
network routes; the article's public addresses are only ever data in configs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

from fitelctl.errors import FitelctlError

PREFIX = "fitelctl-"
OWNERS_DIR = Path("/run/fitelctl-lab")
_OWNED = re.compile(rf"^{PREFIX}(\d+)-[a-z0-9-]+$")


class NetnsError(FitelctlError):
    """A namespace, link or address the lab needs could not be made."""


def ip(*args: str, namespace: str | None = None) -> str:
    """Run ``ip [-n NAMESPACE] ARGS``; its stdout, or ``NetnsError`` with its stderr."""
    command = ["ip", *(["-n", namespace] if namespace else []), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NetnsError(f"'{' '.join(command)}' failed: {done.stderr.strip()}")
    return done.stdout


class Namespaces:
    """The namespaces one lab process owns: made on demand, all removed by ``close``."""

    def __init__(self) -> None:
        self._names: list[str] = []

    def create(self, label: str) -> str:
        """A new namespace with its loopback up; its name (unique in this process)."""
        name = f"{PREFIX}{_owner_lock()}-{label}"
        ip("netns", "add", name)
        self._names.append(name)
        ip("link", "set", "lo", "up", namespace=name)
        return name

    def link(self, a: str, a_address: str, b: str, b_address: str, *, name: str) -> None:
        """A veth pair ``name`` between namespaces ``a`` and ``b``, addressed and up."""
        ip("link", "add", name, "type", "veth", "peer", "name", name, "netns", b, namespace=a)
        for namespace, address in ((a, a_address), (b, b_address)):
            ip("addr", "add", address, "dev", name, namespace=namespace)
            ip("link", "set", name, "up", namespace=namespace)

    def close(self) -> None:
        """Kill every process in our namespaces and delete them."""
        for name in reversed(self._names):
            remove_namespace(name)
        self._names.clear()


def remove_leftovers() -> list[str]:
    """Remove the namespaces of lab processes that died without cleaning up; their names.

    A namespace belongs to a dead lab when its owner's lock file is gone or free.  Other
    namespaces (another live lab's, anything not named ``fitelctl-<pid>-…``) stay.  The
    lock files of dead owners go too.
    """
    removed = []
    for name in _namespace_names():
        match = _OWNED.match(name)
        if match is None or _owner_alive(int(match.group(1))):
            continue
        remove_namespace(name)
        removed.append(name)
    for lock in OWNERS_DIR.glob("*") if OWNERS_DIR.is_dir() else ():
        if lock.name.isdigit():
            _owner_alive(int(lock.name))  # a dead owner's lock file goes
    return removed


def vici_socket(namespace: str) -> Path:
    """Where the charon of ``namespace`` listens: a short path, as a Unix socket's must be
    (108 bytes), whatever the lab's state directory is."""
    return OWNERS_DIR / f"{namespace}.vici"


def remove_namespace(name: str) -> None:
    """Kill the processes inside ``name`` (SIGTERM, then SIGKILL after 2 s) and delete it
    (with its charon's vici socket)."""
    pids = _pids_in(name)
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + 2.0
    while pids and time.monotonic() < deadline:
        time.sleep(0.02)
        pids = [pid for pid in pids if process_running(pid)]
    _signal_all(pids, signal.SIGKILL)
    ip("netns", "delete", name)
    vici_socket(name).unlink(missing_ok=True)


def _namespace_names() -> list[str]:
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def _pids_in(name: str) -> list[int]:
    return [int(pid) for pid in ip("netns", "pids", name).split()]


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def process_running(pid: int) -> bool:
    """Alive and not a zombie (a zombie child of ours still answers ``kill 0``)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


_held: dict[int, IO[str]] = {}


def _owner_lock() -> int:
    """This process's PID, after making sure it holds its owner lock (once per process)."""
    pid = os.getpid()
    if pid not in _held:
        OWNERS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = open(OWNERS_DIR / str(pid), "w")  # noqa: SIM115 - held until the process exits
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _held[pid] = lock
    return pid


def _owner_alive(pid: int) -> bool:
    path = OWNERS_DIR / str(pid)
    try:
        with open(path) as probe:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return False
    except BlockingIOError:
        return True
    path.unlink(missing_ok=True)
    return False
