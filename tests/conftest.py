"""Shared fixtures: labs started in-process on free 127.0.0.1 ports, ready before use."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

#: Bytecode is cached even where ``PYTHONDONTWRITEBYTECODE`` is set (some containers set
#: it, this machine among them), so that this run's imports and its test
#: modules' assertion rewriting are done once, not again in every run and in each of the
#: four workers: on a fresh clone there, the unit and parser tests took 9-13.5 s with
#: nothing cached and 5-6 s with the caches.  The caches are the usual ``__pycache__``
#: folders (git ignores them); child processes only read them.  Before the imports below,
#: which bring in most of fitelctl.
sys.dont_write_bytecode = False

import pytest  # noqa: E402
from helpers import ROOT, require_strongswan, run_in_child, run_in_process  # noqa: E402

from fitelctl.daemon.client import SOCKET_ENV  # noqa: E402
from fitelctl.lab.runner import BackgroundLab, Lab, LabOptions  # noqa: E402
from fitelctl.lab.strongswan.referee import Bench  # noqa: E402

__all__ = ["ROOT", "RunCli", "StartLab"]

StartLab = Callable[..., Lab]

#: a ``fitelctl daemon`` of the person running the tests must not run the commands the
#: tests start: no daemon listens here unless a test starts one
os.environ[SOCKET_ENV] = "/nonexistent/fitelctl-tests/daemon.sock"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (pyproject.toml's addopts): two workers per CPU.  About half of the
    suite's time is waiting (lab transitions, timeouts the tests provoke, netmiko's
    reads), which a second worker per CPU fills: on 2 CPUs the suite took 2 min 14 s with
    4 workers, 3 min 35 s with 2.

    None when only unit and parser tests are asked for: they wait on nothing, and each
    worker would first import and collect everything again (on 2 CPUs, 10 to 13 s with
    four workers against 7 to 8 s in this process)."""
    if config.args and all(_in_quick_folders(arg) for arg in config.args):
        return 0
    return 2 * (os.cpu_count() or 1)


#: folders of tests that only compute: no lab, no real clock, no threads or processes of
#: their own (those are in ``concurrency``), nothing worth a worker
QUICK_FOLDERS = ("unit", "parsers")


def _in_quick_folders(arg: str) -> bool:
    """Whether a command-line path (or node id) lies in one of ``QUICK_FOLDERS``."""
    path = Path(arg.split("::")[0]).resolve()
    tests = Path(__file__).resolve().parent
    return any(path.is_relative_to(tests / folder) for folder in QUICK_FOLDERS)


#: the share of the run, from its start, that the sweep's parts are spread over: none is
#: among the last tests, where a part would run on after every other test had ended
SWEEP_SPAN = 0.75


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Spread the fault sweep's parts (marked ``sweep``) evenly through the run.

    They are CPU-bound (each runs its points on four processes); most other integration
    tests mostly wait.  pytest-xdist's worksteal gives each worker a contiguous run of
    the collection, so parts spread through it run beside the waiting tests.  Kept
    together in one file they ran after a minute in which the cores were half idle
    (measured: the suite took 3 min 20 s to 3 min 28 s spread, 3 min 44 s to 4 min 3 s
    together)."""
    heavy = [item for item in items if item.get_closest_marker("sweep")]
    if not heavy:
        return
    light = [item for item in items if not item.get_closest_marker("sweep")]
    step = SWEEP_SPAN * len(light) / len(heavy)
    for k in reversed(range(len(heavy))):  # from the last: earlier places stay put
        light.insert(round(k * step), heavy[k])
    items[:] = light


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move everything imported and collected so far out of the garbage collector's
    sight (``gc.freeze``): modules, classes and test items live for the whole run, yet
    every full collection walked them again, and pytest ends with two of its own.
    Measured on the unit and parser tests: 0.42 s of garbage collection before, 0.22 s
    after."""
    gc.freeze()


@pytest.fixture
def start_lab(tmp_path: Path) -> Iterator[StartLab]:
    """``start_lab(scenario=..., sites=..., faults=(...), sa_format=...)`` → a running Lab."""
    with ExitStack() as stack:
        count = 0

        def start(**options: object) -> Lab:
            nonlocal count
            count += 1
            state_dir = tmp_path / f"lab{count}"
            state_dir.mkdir()
            return stack.enter_context(BackgroundLab(LabOptions(state_dir=state_dir, **options)))  # type: ignore[arg-type]

        yield start


RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli() -> RunCli:
    """``cli(*args, env=None, timeout=120)``: the command line in this process, exit codes
    and stdout/stderr as a child process gives them (``helpers.run_in_process``)."""
    return run_in_process


@pytest.fixture
def cli_process() -> RunCli:
    """The same in a real child process, for what only a process shows (see ``helpers``)."""
    return run_in_child


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A 127.0.0.1 port whose kernel accepts connections but where nothing ever answers
    (a hung device: no SSH banner)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


@pytest.fixture(scope="module")
def benches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[bool, Bench]]:
    """Interop: two benches of real charons, keyed by ``nat`` (the office on the router's
    link, or behind a masquerading NAT); skipped or failed by ``require_strongswan``."""
    require_strongswan()
    workdir = tmp_path_factory.mktemp("charons")
    started: dict[bool, Bench] = {}
    try:
        for nat in (False, True):
            started[nat] = Bench(workdir, nat=nat)
            started[nat].start()
        yield started
    finally:
        for bench in started.values():
            bench.close()
