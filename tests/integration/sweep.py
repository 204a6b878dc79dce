"""The fault sweep's machinery (``test_fault_sweep.py``): labs, runs, invariants.

A *point* is one place where a fault can happen in a job: a configuration line of a
session (``ssh-drop-after:N@K``), the commit, an API call (``api-503-at:N``,
``api-reset-at:N``, ``api-timeout-at:N``), a boundary where the lab process is
SIGKILLed and restarted from its state dir (after any command line a device answered,
``kill-after:COMMAND@N``, or API call, ``api-kill-after:N``; a runbook's step
boundary).  A clean run of the job counts its points; then each point gets one run of
its own with that fault, the invariants are checked, and the job is finished
(``apply`` again, or ``run --resume``) and checked again.

Cost (the sweep is CPU-bound, about 500 runs of fitelctl): fitelctl runs in-process
(``fitelctl()`` calls ``fitelctl.cli.main`` with the arguments, capturing stdout,
stderr and the exit code), so a run pays for no interpreter start nor imports; points
run ``WORKERS`` at a time in worker processes (one point at a time each, since a
fitelctl run owns process-wide state: the deadline, ``sys.argv``, stdout), started
once from a forkserver that has imported fitelctl; a lab that must be SIGKILLed is
``fitelctl lab up`` run in a process forked from such a preloaded forkserver too.

A point is **survived** when the fault fired (a point whose fault did not fire is
reported apart, never counted as survived) and every invariant held, after the
faulted run and after the job was finished.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import multiprocessing.process
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import run_in_process

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.diff import equivalent
from fitelctl.lab.runner import BackgroundLab, Lab, LabOptions

#: seconds: the API request timeout of the sweep's inventory (api-timeout-at costs this)
API_TIMEOUT = 1.0
#: seconds: the same once a SIGKILLed lab was restarted, with no fault left to provoke:
#: the lab runs niced, and on a loaded machine (CI) 1 s was once too short for it to answer
#: the checks' ``status``
RESTARTED_API_TIMEOUT = 15.0
#: API calls per second the sweep's runs may send (the lab's API has no limit)
API_RATE_LIMIT = 1000.0
#: worker processes: the points are CPU-bound (2 cores) but also wait (API retries,
#: timeouts, lab starts), which a few more workers than cores fill
WORKERS = 4
#: the sweep's processes (its workers and the labs they kill) yield the CPU to the rest
#: of the suite: most other tests wait on timers and deadlines and need the CPU briefly
#: but at once; the sweep takes what they leave
NICENESS = 10


@dataclass
class Point:
    name: str
    faults: tuple[str, ...] = ()
    kill_after_steps: int | None = None  # SIGKILL the lab once this many steps ended


@dataclass(frozen=True)
class Part:
    """One test's share of a sweep: every ``count``-th point from the ``index``-th.

    A sweep is cut into parts, each a test of its own, so that pytest-xdist spreads its
    CPU over the workers and beside the tests that mostly wait (``conftest.py`` spreads
    the tests marked ``sweep`` through the run).  Striding, not slicing, gives each part
    points from the whole job."""

    index: int
    count: int

    def of(self, points: list[Point]) -> list[Point]:
        return points[self.index :: self.count]

    def __str__(self) -> str:
        return f"part {self.index + 1} of {self.count}"


def parts(sweeps: dict[str, tuple[object, int]]) -> list[Any]:
    """``parametrize`` values: for each sweep, named by its key, its value with each of
    its parts (ids ``NAME``, or ``NAME-part-K-of-N``)."""
    return [
        pytest.param(
            value,
            Part(index, count),
            id=name if count == 1 else f"{name}-part-{index + 1}-of-{count}",
        )
        for name, (value, count) in sweeps.items()
        for index in range(count)
    ]


def once_per_run(
    factory: pytest.TempPathFactory, name: str, make: Callable[[Path], dict[str, Any]]
) -> dict[str, Any]:
    """``make(folder)``'s result, made once for the whole pytest run and read by every
    pytest-xdist worker from a JSON file beside theirs.

    A sweep's parts run on several workers and must count their points from one clean
    run: polls make the number of API calls vary from run to run, so parts counted from
    different clean runs could skip or repeat the last call indices.  The first worker
    to get here makes it (the others wait on the lock); a failed attempt leaves no result,
    so the next part tries again, in a folder of its own."""
    base = factory.getbasetemp()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    shared = base.parent if worker else base  # under xdist, the run's folder above the workers'
    result = shared / f"{name}.json"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            folder = Path(tempfile.mkdtemp(prefix=f"{name}-{worker or 'main'}-", dir=shared))
            result.write_text(json.dumps(make(folder), default=str))
    done: dict[str, Any] = json.loads(result.read_text())
    return done


@dataclass
class PointResult:
    point: Point
    fired: bool = False
    problems: list[str] = field(default_factory=list)
    #: an API call index past the calls this run made (polls vary from run to run):
    #: no such point in this run, reported apart
    unreached: bool = False

    @property
    def survived(self) -> bool:
        return self.fired and not self.problems


@dataclass
class Totals:
    job: str
    results: list[PointResult]

    def summary(self) -> str:
        fired = [r for r in self.results if r.fired]
        survived = [r for r in fired if r.survived]
        unreached = [r.point.name for r in self.results if r.unreached]
        return (
            f"{self.job}: {len(self.results)} points, {len(fired)} faults injected, "
            f"{len(survived)} survived"
            + (f"; not reached in its run: {', '.join(unreached)}" if unreached else "")
        )

    def failures(self) -> list[str]:
        return [
            f"{r.point.name}: {'; '.join(r.problems) or 'the fault did not fire'}"
            for r in self.results
            if not (r.survived or r.unreached)
        ]


def sweep(job: str, points: list[Point], run_point: Callable[[Point], PointResult]) -> Totals:
    """Run every point (``run_point`` must pickle: a module-level function or a
    ``functools.partial`` of one) on the worker processes; print the totals."""
    results = list(workers().map(run_point, points))
    totals = Totals(job, results)
    print(totals.summary())
    for failure in totals.failures():
        print(f"  NOT SURVIVED {failure}")
    return totals


#: imported once by the forkservers, so that their children start warm
PRELOAD = [
    "fitelctl.cli",
    "fitelctl.cli.change",
    "fitelctl.cli.lab",
    "fitelctl.cli.run",
    "fitelctl.cli.status",
    "fitelctl.lab.runner",
    "fitelctl.ops.apply",
    "fitelctl.runbook.engine",
    "fitelctl.fitelnet.drivers.netmiko_driver",
    "fitelctl.sakura.client",
    "helpers",
    "sweep",
]
_POOL: list[ProcessPoolExecutor] = []


def forkserver() -> multiprocessing.context.ForkServerContext:
    """The forkserver context, its server started with ``PRELOAD`` imported.

    Python 3.11's forkserver preloads with its own ``sys.path``, not the caller's, so
    ``helpers`` and ``sweep`` (in the test folders) would silently not be preloaded and
    every lab process would import them, pytest included, again: the server is started
    with the test folders on ``PYTHONPATH``.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    folders = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([*folders, *filter(None, [previous])])
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        if previous is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = previous
    return context


def workers() -> ProcessPoolExecutor:
    """The module's worker processes (started once, ended at exit)."""
    if not _POOL:
        pool = ProcessPoolExecutor(
            WORKERS, mp_context=forkserver(), initializer=os.nice, initargs=(NICENESS,)
        )
        _POOL.append(pool)
        atexit.register(_POOL[0].shutdown)
    return _POOL[0]


# --- running fitelctl ---------------------------------------------------------------


def fitelctl(*args: str) -> subprocess.CompletedProcess[str]:
    """``fitelctl ARGS`` in this worker process, as a fresh process would run it
    (``helpers.run_in_process``), without the caller's ``SAKURACLOUD_*`` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAKURACLOUD_")}
    return run_in_process(*args, env=env, timeout=600)


def sweep_inventory(state: Path, api_timeout: float = API_TIMEOUT) -> Path:
    """The lab's inventory with a short API request timeout and one retry, beside it
    (so its relative secrets, runs/, backups/ and audit log are the lab's), and no
    pacing of API calls worth the name: the sweep is about faults, and at the default
    10 calls/s a runbook's ~20 calls would spend ~2 s of each point waiting."""
    # libyaml's loader and dumper: read and written for every point, the pure-Python ones
    # cost 17 ms a time
    inventory = yaml.load((state / "inventory.yaml").read_text(), Loader=yaml.CSafeLoader)
    inventory["api"].update(timeout=api_timeout, retry_max=2, rate_limit=API_RATE_LIMIT)
    path = state / "sweep.yaml"
    path.write_text(yaml.dump(inventory, Dumper=yaml.CSafeDumper, sort_keys=False))
    return path


def audit_records(state: Path) -> list[dict[str, Any]]:
    path = state / "audit.jsonl"  # the inventory default, beside sweep.yaml
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_record(state: Path) -> list[dict[str, Any]]:
    records = sorted((state / "runs").glob("*.jsonl"))
    if not records:
        return []
    return [json.loads(line) for line in records[-1].read_text().splitlines() if line.strip()]


def api_calls(state: Path) -> list[str]:
    """Every API call of the lab's lifetimes (``N METHOD /path [fault]``)."""
    path = state / "calls.log"
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if not line.startswith("#")]


def reached(calls: list[str], method: str, suffix: str) -> int:
    """Calls that reached the router (a reset or 503 call did not; a timed-out one did)
    with this method and path end."""
    count = 0
    for line in calls:
        _, call_method, path, *fault = line.split()
        if (
            call_method == method
            and path.endswith(suffix)
            and fault[:1] not in (["[reset]"], ["[503]"])
        ):
            count += 1
    return count


def same(a: str, b: str) -> bool:
    return equivalent(ConfigTree.parse(a), ConfigTree.parse(b))


# --- in-process labs ----------------------------------------------------------------


def share_secrets(state: Path) -> None:
    """Every point's lab takes the secrets of the clean run's lab beside it (``clean``),
    so that the clean run's configs (holding the PSKs) are every point's intended ones."""
    source = state.parent / "clean" / "secrets"
    if state.name != "clean" and source.exists():
        shutil.copytree(source, state / "secrets")


@contextmanager
def lab(state: Path, scenario: str, sites: int = 1, faults: tuple[str, ...] = ()) -> Iterator[Lab]:
    state.mkdir(parents=True)
    share_secrets(state)
    with BackgroundLab(LabOptions(state, scenario=scenario, sites=sites, faults=faults)) as started:
        yield started


@dataclass(frozen=True)
class DeviceState:
    current: str
    working: str
    boot: str
    tunnel_up: bool

    @classmethod
    def of(cls, running: Lab, site: str) -> DeviceState:
        device = running.sites[site].device
        outcomes = running.world.outcome(site)
        return cls(
            device.current_config(),
            device.working_config(),
            device.boot_config(),
            bool(outcomes) and all(o.up for o in outcomes),
        )


def device_problems(site: str, now: DeviceState, before: str, intended: str) -> list[str]:
    """The device runs and boots what it ran before or exactly the intended config,
    saved; a saved change always has its tunnel up."""
    problems = []
    if not (same(now.current, now.working) and same(now.current, now.boot)):
        problems.append(f"{site}: current, working and boot differ")
    if not (same(now.boot, before) or same(now.boot, intended)):
        problems.append(f"{site}: boots neither what it ran before nor the intended config")
    if not same(now.boot, before) and not now.tunnel_up:
        problems.append(f"{site}: a saved change whose tunnel is down")
    return problems


def router_peers(running: Lab) -> list[str]:
    assert running.api is not None
    settings = running.api.router.settings
    config = settings["Router"]["SiteToSiteIPsecVPN"]["Config"]
    return sorted(entry["Peer"] for entry in config)


# --- out-of-process labs (for SIGKILL) ------------------------------------------------


def serve_lab(argv: list[str]) -> None:
    """The child process of ``LabProcess``: ``fitelctl lab up ARGV``, stdout discarded."""
    os.nice(NICENESS)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.argv = ["fitelctl", "lab", "up", *argv]
    from fitelctl.cli import main

    main()


class LabProcess:
    """``fitelctl lab up`` in a child process, killed and restarted on demand."""

    def __init__(self, state: Path, scenario: str, sites: int = 1) -> None:
        self.state, self.scenario, self.sites = state, scenario, sites
        self.process: multiprocessing.process.BaseProcess | None = None

    def start(self, faults: tuple[str, ...] = ()) -> None:
        """Start (or restart: a power cycle) the lab, with ``faults`` this time only."""
        if not self.state.exists():
            self.state.mkdir(parents=True)
            share_secrets(self.state)
        (self.state / "ready").unlink(missing_ok=True)
        argv = ["--state-dir", str(self.state), "--scenario", self.scenario]
        argv += ["--sites", str(self.sites), *(f"--fault={spec}" for spec in faults)]
        self.process = forkserver().Process(target=serve_lab, args=(argv,))
        self.process.start()
        ends = time.monotonic() + 60
        while not (self.state / "ready").exists():
            if not self.process.is_alive() or time.monotonic() > ends:
                raise RuntimeError(f"the lab did not start (exit {self.process.exitcode})")
            time.sleep(0.02)

    def killed_itself(self, wait: float = 5.0) -> bool:
        """Whether the lab ended by SIGKILL (a kill-after fault), waiting up to ``wait``
        seconds for it (a fault that fired after the client's last word)."""
        assert self.process is not None
        self.process.join(wait)
        return self.process.exitcode == -signal.SIGKILL

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.join()

    def stop(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join(20)
            if self.process.is_alive():
                self.kill()

    def saved_boot(self, site: str) -> str:
        drive = json.loads((self.state / "lab-state" / "devices" / f"{site}.json").read_text())
        text: str = drive["files"][drive["boot_file"]]
        return text

    def saved_router(self) -> dict[str, Any]:
        router: dict[str, Any] = json.loads((self.state / "lab-state" / "router.json").read_text())
        return router

    def saved_peers(self) -> list[str]:
        config = self.saved_router()["settings"]["Router"]["SiteToSiteIPsecVPN"]["Config"]
        return sorted(entry["Peer"] for entry in config)


def run_killing_lab(
    args: list[str], lab_process: LabProcess, after_steps: int
) -> subprocess.CompletedProcess[str]:
    """Run fitelctl; once ``after_steps`` steps of its run record ended, SIGKILL the
    lab (fitelctl waits: the kill happens inside its write of that step's end), let
    fitelctl go on against the dead lab, then restart the lab."""
    from fitelctl.runbook.engine import RunRecord

    ended = 0

    def kill_once() -> None:
        if lab_process.process is not None and lab_process.process.is_alive():
            lab_process.kill()

    def write(record: RunRecord, event: str, **fields: Any) -> None:
        nonlocal ended
        original(record, event, **fields)
        if event == "step" and fields.get("status") != "started":
            ended += 1
            if ended >= after_steps:
                kill_once()

    if after_steps == 0:
        kill_once()
    original = RunRecord.write
    RunRecord.write = write  # type: ignore[method-assign,assignment]
    try:
        result = fitelctl(*args)
    finally:
        RunRecord.write = original  # type: ignore[method-assign]
    kill_once()
    lab_process.start()
    return result
