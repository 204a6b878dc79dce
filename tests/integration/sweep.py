"""The fault sweep's machinery (``test_fault_sweep.py``): labs, runs, invariants.

A *point* is one place where a fault can happen in a job: a configuration line of a
session (``ssh-drop-after:N@K``), the commit, an API call (``api-503-at:N``,
``api-reset-at:N``, ``api-timeout-at:N``), a step boundary (the lab SIGKILLed and
restarted from its state dir).  A clean run of the job counts its points; then each
point gets one run of its own with that fault, the invariants are checked, and the
job is finished (``apply`` again, or ``run --resume``) and checked again.

A point is **survived** when the fault fired (a point whose fault did not fire is
reported apart, never counted as survived) and every invariant held, after the
faulted run and after the job was finished.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.diff import equivalent
from fitelctl.lab.runner import BackgroundLab, Lab, LabOptions

ROOT = Path(__file__).resolve().parents[2]
#: seconds: the API request timeout of the sweep's inventory (api-timeout-at costs this)
API_TIMEOUT = 1.0
WORKERS = 3


@dataclass
class Point:
    name: str
    faults: tuple[str, ...] = ()
    kill_after_steps: int | None = None  # SIGKILL the lab once this many steps ended


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
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(run_point, points))
    totals = Totals(job, results)
    print(totals.summary())
    for failure in totals.failures():
        print(f"  NOT SURVIVED {failure}")
    return totals


# --- running fitelctl ---------------------------------------------------------------


def fitelctl(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fitelctl", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("SAKURACLOUD_")},
    )


def sweep_inventory(state: Path) -> Path:
    """The lab's inventory with a short API request timeout and one retry, beside it
    (so its relative secrets, runs/, backups/ and audit log are the lab's)."""
    inventory = yaml.safe_load((state / "inventory.yaml").read_text())
    inventory["api"].update(timeout=API_TIMEOUT, retry_max=2)
    path = state / "sweep.yaml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
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


#: where the clean run's lab keeps its secrets: every point's lab takes the same ones,
#: so that the clean run's configs (holding the PSKs) are every point's intended ones
SECRETS_FROM: dict[str, Path] = {}


def share_secrets(state: Path, job: str) -> None:
    source = SECRETS_FROM.setdefault(job, state / "secrets")
    if source != state / "secrets":
        shutil.copytree(source, state / "secrets")


@contextmanager
def lab(state: Path, scenario: str, sites: int = 1, faults: tuple[str, ...] = ()) -> Iterator[Lab]:
    state.mkdir(parents=True)
    share_secrets(state, f"{state.parent}")
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


class LabProcess:
    """``fitelctl lab up`` in a child process, killed and restarted on demand."""

    def __init__(self, state: Path, scenario: str, sites: int = 1) -> None:
        self.state, self.scenario, self.sites = state, scenario, sites
        self.process: subprocess.Popen[str] | None = None

    def start(self, faults: tuple[str, ...] = ()) -> None:
        """Start (or restart: a power cycle) the lab, with ``faults`` this time only."""
        if not self.state.exists():
            self.state.mkdir(parents=True)
            share_secrets(self.state, f"{self.state.parent}")
        (self.state / "ready").unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fitelctl",
                "lab",
                "up",
                "--state-dir",
                str(self.state),
                "--scenario",
                self.scenario,
                "--sites",
                str(self.sites),
                *(f"--fault={spec}" for spec in faults),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        ends = time.monotonic() + 60
        while not (self.state / "ready").exists():
            if self.process.poll() is not None or time.monotonic() > ends:
                raise RuntimeError(
                    f"the lab did not start: {self.process.stderr and self.process.stderr.read()}"
                )
            time.sleep(0.05)

    def killed_itself(self, wait: float = 5.0) -> bool:
        """Whether the lab ended by SIGKILL (a kill-after fault), waiting up to ``wait``
        seconds for it (a fault that fired after the client's last word)."""
        assert self.process is not None
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return False
        return self.process.returncode == -signal.SIGKILL

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
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
    """Run fitelctl; once ``after_steps`` steps of its run record ended, stop it,
    SIGKILL the lab, let it go on against the dead lab, then restart the lab."""
    runner = subprocess.Popen(
        [sys.executable, "-m", "fitelctl", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    killed = False
    while runner.poll() is None and not killed:
        ended = [
            e
            for e in run_record(lab_process.state)
            if e["event"] == "step" and e["status"] != "started"
        ]
        if len(ended) >= after_steps:
            runner.send_signal(signal.SIGSTOP)
            lab_process.kill()
            runner.send_signal(signal.SIGCONT)
            killed = True
        time.sleep(0.005)
    stdout, stderr = runner.communicate(timeout=300)
    if not killed:
        lab_process.kill()
    lab_process.start()
    return subprocess.CompletedProcess(runner.args, runner.returncode, stdout, stderr)
