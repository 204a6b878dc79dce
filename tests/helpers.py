"""What many tests share: running the command line, its one-line errors, a lab's inventory,
the article's expected lines.

``run_in_process`` runs ``python -m fitelctl ARGS`` inside the test process.  A child
process spends about 1.2 s of CPU importing pydantic, netmiko, paramiko and scrapli
before it does anything, and the suite runs the command line hundreds of times; in the
test process those imports happen once.  The run goes through the entry point users
get (``fitelctl.cli.main``, which turns errors into one line and calls ``sys.exit``) and
sees what a fresh ``python -m fitelctl`` would see, each time:

* ``sys.argv``, the program name in usage errors (``python -m fitelctl``), the
  environment (``env`` replaces it, as for a child), the repository as working directory;
* an empty stdin that is not a TTY; stdout and stderr written as UTF-8 (a string the
  terminal could not print fails as it would), read back with newlines translated as
  ``subprocess.run(text=True)`` does; the exit code from ``SystemExit``, and an uncaught
  exception printed as a traceback with exit code 1;
* the process-wide state fitelctl keeps, reset for the run and put back afterwards:
  the root options (``context.STATE``), the secrets resolved so far (``redact.SECRETS``:
  one left over from an earlier run would mask a leak a fresh process prints), the API
  throttles (``sakura.client._THROTTLES``: a fresh process waits for no one), the
  ``fitelctl`` logger (``--debug`` adds a handler to it).  The current deadline needs
  nothing: ``command_deadline`` always puts the previous one back;
* what a fresh process prints on stderr that pytest would otherwise collect: log
  records of WARNING and above from loggers without a handler (``logging.lastResort``,
  e.g. an API retry), warnings under Python's default filters, and an exception in a
  thread (pytest turns the last two into warnings of its own).

What a run in the test process cannot be stays in a child process (``run_in_child``,
the ``cli_process`` fixture): a TTY, signals, ``lab up`` serving in the foreground,
what a fresh interpreter imports, the installed console script.  Lab threads started by
the test keep running during a run: what they log at WARNING or above in that time lands
on the run's stderr, where a failing assertion shows it.
"""

from __future__ import annotations

import copy
import dataclasses
import fcntl
import io
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
import typing
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TextIO

import pytest
import yaml

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.crypto_config import DeviceTunnel, read_tunnels
from fitelctl.fitelnet.drivers import DriverKind
from fitelctl.ike import CloudPeer, NegotiationCause
from fitelctl.inventory import Inventory, load_inventory
from fitelctl.lab.runner import Lab
from fitelctl.lab.scenarios import VPC_ROUTER_ADDRESS, DeviceCrypto, device_config, site_addresses

#: every device driver: the tests that must hold for each one run once per driver
DRIVERS: tuple[DriverKind, ...] = typing.get_args(DriverKind)

ROOT = Path(__file__).resolve().parents[1]
MAIN_PY = ROOT / "fitelctl" / "__main__.py"

Completed = subprocess.CompletedProcess[str]

#: The article's v1 → v2 change (tests/data/config_v2_changes_sakura_tokyo.cfg) as the
#: lines ``fitelctl diff`` gives for the article's v1 config against a v2 router.
ARTICLE_V2_CHANGES = [
    "crypto ipsec policy sakuratokyo",
    " set pfs group14",
    " set security-association lifetime seconds 180",
    " set security-association transform esp-sha256-hmac esp-aes",
    "exit",
    "crypto isakmp policy sakuratokyo",
    " group 14",
    " hash sha-256",
    "exit",
]

#: A real F220 V01.12 `show version` (tests/parsers/furukawa_fitelnet/show_version/
#: f220_v01_12.raw), without its echo line and prompt.
REAL_SHOW_VERSION = (
    "  --------------------- present-side --------------------- \n"
    "F220   Version 01.12(00)[0]00.00.0 [2023/07/26 15:00]\n"
    "\n"
    "  ---------------------- other-side ---------------------- \n"
    "F220   Version 01.12(00)[0]00.00.0 [2023/07/26 15:00]\n"
    "\n"
    "\n"
)


#: set by ``.ci/run``: a real component a test needs must be there (the test fails)
REQUIRE_TOOLS = "FITELCTL_REQUIRE_TOOLS"


def required_tool(name: str, install: str) -> str:
    """The path of a real program a test drives (``ssh``, ``prometheus``, ``promtool``).

    Missing: under CI (``FITELCTL_REQUIRE_TOOLS=1``, which ``.ci/run`` sets after
    installing them) the test fails; elsewhere it is skipped with how to install it, so
    that the suite runs on a machine with only Python and pip.
    """
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed; {install}"
        if os.environ.get(REQUIRE_TOOLS) == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_strongswan() -> None:
    """Skip (elsewhere) or fail (under CI) an interop test where real strongSwan cannot run.

    Fails under ``FITELCTL_REQUIRE_TOOLS=1`` (set by ``.ci/run``) or ``CI=true``, so that
    the interop suite can never pass by skipping; the message lists what is missing and
    the command that installs it.
    """
    from fitelctl.lab.strongswan import prerequisites

    missing = prerequisites.missing()
    if not missing:
        return
    message = "real strongSwan is not usable here:\n" + "\n".join(missing)
    if os.environ.get(REQUIRE_TOOLS) == "1" or os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


#: held while a test leaves a dead lab's namespaces behind on purpose (exclusive) or
#: starts a lab, which removes every dead lab's (shared): under xdist, one test's lab
#: start would otherwise remove the leftovers another test is about to look at
LEFTOVERS_LOCK = Path(tempfile.gettempdir()) / "fitelctl-interop-leftovers.lock"


@contextmanager
def leftovers_lock(*, exclusive: bool) -> Iterator[None]:
    with LEFTOVERS_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield


def run_in_child(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Completed:
    """``python -m fitelctl ARGS`` in a child process, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "fitelctl", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def run_in_process(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> Completed:
    """``python -m fitelctl ARGS`` in this process, as ``run_in_child`` would run it.

    A run cannot be stopped from outside: one that took longer than ``timeout`` raises
    ``TimeoutExpired`` when it ends (pytest-timeout stops one that never ends).
    """
    from fitelctl.cli import main

    argv = [str(MAIN_PY), *args]
    started = time.monotonic()
    with _fresh_process(argv, env) as (stdout, stderr):
        try:
            main()
            code: int = 0
        except SystemExit as done:
            code = _exit_code(done.code)
        except Exception:
            traceback.print_exc()
            code = 1
    if time.monotonic() - started > timeout:
        raise subprocess.TimeoutExpired(["fitelctl", *args], timeout)
    return subprocess.CompletedProcess(["fitelctl", *args], code, _text(stdout), _text(stderr))


def _exit_code(code: object) -> int:
    """What the interpreter makes of ``sys.exit(code)``: a message is printed, exit 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    raw = stream.buffer
    assert isinstance(raw, io.BytesIO)
    return raw.getvalue().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


@contextmanager
def _fresh_process(
    argv: list[str], env: dict[str, str] | None
) -> Iterator[tuple[io.TextIOWrapper, io.TextIOWrapper]]:
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace")
    stdin = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with ExitStack() as stack:
        stack.enter_context(_swapped(sys, stdin=stdin, stdout=stdout, stderr=stderr, argv=argv))
        stack.enter_context(_swapped(sys.modules, __main__=_main_module()))
        stack.enter_context(_environment(env))
        stack.enter_context(_working_directory(ROOT))
        stack.enter_context(_fresh_fitelctl_state())
        stack.enter_context(_stderr_reports())
        yield stdout, stderr


def _main_module() -> types.ModuleType:
    """What ``python -m fitelctl`` runs as ``__main__`` (the program name comes from it)."""
    module = types.ModuleType("__main__")
    module.__package__ = "fitelctl"
    module.__file__ = str(MAIN_PY)
    return module


@contextmanager
def _swapped(target: object, **values: object) -> Iterator[None]:
    """Set attributes (or, on a dict, items) of ``target`` for the block."""
    if isinstance(target, dict):
        saved = {name: target[name] for name in values}
        target.update(values)
        try:
            yield
        finally:
            target.update(saved)
        return
    saved = {name: getattr(target, name) for name in values}
    for name, value in values.items():
        setattr(target, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(target, name, value)


@contextmanager
def _environment(env: dict[str, str] | None) -> Iterator[None]:
    saved = dict(os.environ)
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    saved = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(saved)


@contextmanager
def _fresh_fitelctl_state() -> Iterator[None]:
    from fitelctl.cli import context
    from fitelctl.redact import SECRETS, SecretRegistry
    from fitelctl.sakura import client

    logger = logging.getLogger("fitelctl")
    saved_logger = (logger.handlers[:], logger.level)
    saved_state = vars(context.STATE).copy()
    saved_secrets = vars(SECRETS).copy()
    saved_throttles = dict(client._THROTTLES)
    vars(context.STATE).update(vars(context.CliState()))
    vars(SECRETS).update(vars(SecretRegistry()))
    client._THROTTLES.clear()
    try:
        yield
    finally:
        logger.handlers[:], logger.level = saved_logger
        vars(context.STATE).update(saved_state)
        vars(SECRETS).update(saved_secrets)
        client._THROTTLES.clear()
        client._THROTTLES.update(saved_throttles)


@contextmanager
def _stderr_reports() -> Iterator[None]:
    """Log records, warnings and thread exceptions on stderr, as in a fresh process."""
    root = logging.getLogger()
    saved_handlers = root.handlers[:]
    root.handlers.clear()  # pytest's capture handlers: without them, lastResort prints
    try:
        with (
            warnings.catch_warnings(),
            _swapped(threading, excepthook=threading.__excepthook__),
            _swapped(sys, unraisablehook=sys.__unraisablehook__),
        ):
            warnings.resetwarnings()
            warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
            for ignored in (
                DeprecationWarning,
                PendingDeprecationWarning,
                ImportWarning,
                ResourceWarning,
            ):
                warnings.simplefilter("ignore", ignored, append=True)
            warnings.showwarning = _show_warning
            yield
    finally:
        root.handlers[:] = saved_handlers


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


# --- what the tests assert about a run ----------------------------------------------------


def one_line_error(result: Completed, *fragments: str) -> str:
    """A failed run: non-zero exit, nothing on stdout, one ``fitelctl: error:`` line on
    stderr naming every fragment, no traceback.  Returns that line."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith("fitelctl: error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


# --- a lab's files ------------------------------------------------------------------------


def lab_inventory_path(lab: Lab | Path) -> Path:
    """The inventory a lab (or a lab's state directory) writes for clients."""
    state_dir = lab if isinstance(lab, Path) else lab.options.state_dir
    return state_dir / "inventory.yaml"


def lab_inventory(lab: Lab | Path) -> Inventory:
    """That inventory, loaded."""
    return load_inventory(lab_inventory_path(lab))


def copy_lab_inventory(lab: Lab, dest: Path, site: str = "tokyo", **device: object) -> Path:
    """A copy of the lab's inventory in ``dest`` (with its secrets and known_hosts), the
    device fields of ``site`` changed to ``device``."""
    state_dir = lab.options.state_dir
    shutil.copytree(state_dir / "secrets", dest / "secrets")
    shutil.copy(state_dir / "known_hosts", dest / "known_hosts")
    data = yaml.safe_load(lab_inventory_path(lab).read_text())
    data["sites"][site]["device"].update(device)
    path = lab_inventory_path(dest)
    path.write_text(yaml.safe_dump(data))
    return path


#: sockets bound and never listening, held for the rest of the process (``closed_port``)
_HELD: list[socket.socket] = []


def closed_port() -> int:
    """A 127.0.0.1 port where connecting is refused at once, for as long as this process
    runs: a socket holds it bound without listening, so no lab that another test starts
    meanwhile can take it (a port merely found free once was, in CI)."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    _HELD.append(held)
    return int(held.getsockname()[1])


def settles(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Whether ``condition`` holds within ``timeout`` s, polled: for what a lab thread
    notices a moment after a client has gone (its SSH session closed)."""
    ends = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > ends:
            return False
        time.sleep(0.01)
    return True


def sessions_ended(lab: Lab, site: str = "tokyo") -> None:
    """Wait until the lab device no longer lists any SSH session: a client that logged
    out has closed its connection, and the device drops the session a moment later."""
    assert settles(lambda: not lab.sites[site].device.ssh_sessions), "a session stayed listed"


#: what a negotiation between two charons can end in (``router_down`` is read from the
#: API, never from a negotiation)
NEGOTIATED_CAUSES = frozenset(typing.get_args(NegotiationCause)) - {"router_down"}

#: the lab's first site (tokyo): its public, WAN and tunnel addresses
TOKYO = site_addresses(0)


def lab_device_tunnel(crypto: DeviceCrypto = "v2", **changes: Any) -> DeviceTunnel:
    """Tokyo's tunnel as the lab device's ``crypto`` config reads (PSK ``the-psk``)."""
    (tunnel,) = read_tunnels(ConfigTree.parse(device_config(TOKYO, crypto, "the-psk")))
    assert isinstance(tunnel, DeviceTunnel)
    return dataclasses.replace(tunnel, **changes)


def lab_cloud_peer(version: int = 2, **changes: Any) -> CloudPeer:
    """Tokyo's peer entry on a running lab VPC router of ``version`` (v2: aes256/sha256/
    modp2048, the same PSK as ``lab_device_tunnel``)."""
    peer = CloudPeer(
        router_version=version,
        router_up=True,
        global_address=VPC_ROUTER_ADDRESS,
        peer=TOKYO.public,
        remote_id=TOKYO.wan,
        psk="the-psk",
        encryption_algo="aes256",
        hash_algo="sha256",
        dh_group="modp2048",
    )
    return dataclasses.replace(peer, **changes)


class SteppedClock:
    """A stand-in for the ``time`` module of code that waits (``monkeypatch.setattr(module,
    "time", clock)``): ``sleep`` moves the clock on at once, so a test sees exactly how
    long a wait would have been without waiting for it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def shard_fleet(sites: int = 40, routers: int = 7) -> Inventory:
    """``sites`` copies of the example inventory's tokyo, spread over ``routers`` VPC
    routers (``--shard`` keeps each router's sites together)."""
    example = ROOT / "inventory/examples/article-v2.yaml"
    data: dict[str, Any] = yaml.safe_load(example.read_text())
    tokyo = data["sites"].pop("tokyo")
    for index in range(sites):
        site = copy.deepcopy(tokyo)
        site["cloud"]["vpc_router_id"] = 112700568500 + index % routers
        data["sites"][f"s{index}"] = site
    return Inventory.model_validate({**data, "base_dir": example.parent})
