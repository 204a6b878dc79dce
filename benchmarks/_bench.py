"""Shared helpers for the benchmarks: a lab in its own process, timed runs, the machine.

Every benchmark

* starts the lab as a separate process (``fitelctl lab up``, exactly as users do)
  and waits for ``DIR/ready``;
* runs whole processes (``python -m fitelctl ...``, ``ssh ...``) and times them
  from spawn to exit with ``time.perf_counter``;
* interleaves the compared commands round by round (rotating their order), so a
  burst of load on the machine hits all of them alike and the ratios computed
  from one run stay meaningful;
* writes one JSON file to ``benchmarks/results/`` with the medians, every sample,
  the ratios computed from this run, and a description of the machine.

Needs: Python >= 3.11 with fitelctl's dependencies (the project's venv).
Optional: the OpenSSH client ``ssh`` (the floors); a benchmark that needs it says
so and records the comparison as skipped instead of failing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PYTHON = sys.executable
PACKAGES = (
    "netmiko",
    "paramiko",
    "scrapli",
    "asyncssh",
    "cryptography",
    "httpx",
    "pydantic",
    "typer",
    "rich",
    "PyYAML",
    "textfsm",
)


#: fitelctl's device drivers, each measured where drivers are compared
DRIVERS = ("asyncssh", "scrapli", "netmiko")


def env() -> dict[str, str]:
    """The environment for child processes: this checkout first on PYTHONPATH.

    Bytecode is written and reused, as in an installed fitelctl: with
    ``PYTHONDONTWRITEBYTECODE`` set (as on some CI machines) every run of a checkout
    would compile fitelctl's modules again, ~0.1 s a process.
    """
    child = dict(os.environ)
    child.pop("PYTHONDONTWRITEBYTECODE", None)
    child["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    child.pop("FITELCTL_INVENTORY", None)
    child["FITELCTL_DAEMON"] = "0"  # a user's daemon must not run the cold contenders
    for name in list(child):  # the lab's inventory must win over a user's cloud profile
        if name.startswith("SAKURACLOUD_"):
            del child[name]
    return child


def fitelctl(*args: str) -> list[str]:
    """The whole-process command line for fitelctl (what the console script runs)."""
    return [PYTHON, "-m", "fitelctl", *args]


def have_ssh() -> str | None:
    """Why the OpenSSH comparisons cannot run, or None when they can."""
    if shutil.which("ssh") is None:
        return "the OpenSSH client 'ssh' is not on PATH (apt-get install openssh-client)"
    return None


# --- the lab, in its own process ----------------------------------------------------


@dataclass
class LabProcess:
    """``fitelctl lab up`` in a child process; ``devices`` and paths once ready."""

    sites: int
    scenario: str = "seed-v1"
    state_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="fitelbench-")))
    proc: subprocess.Popen[bytes] | None = None
    ready_seconds: float = 0.0
    lab: dict[str, Any] = field(default_factory=dict)

    @property
    def inventory(self) -> Path:
        return self.state_dir / "inventory.yaml"

    @property
    def devices(self) -> list[dict[str, Any]]:
        return list(self.lab["devices"])

    def start(self, timeout: float = 120.0) -> None:
        started = time.perf_counter()
        log = (self.state_dir / "lab.log").open("wb")
        self.proc = subprocess.Popen(
            fitelctl(
                "lab",
                "up",
                "--state-dir",
                str(self.state_dir),
                "--sites",
                str(self.sites),
                "--scenario",
                self.scenario,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env(),
            cwd=REPO,
        )
        log.close()
        ready = self.state_dir / "ready"
        while not ready.exists():
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"the lab exited ({self.proc.returncode}) before it was ready:\n"
                    + (self.state_dir / "lab.log").read_text(errors="replace")
                )
            if time.perf_counter() - started > timeout:
                self.stop()
                raise SystemExit(f"the lab was not ready within {timeout:g}s")
            time.sleep(0.02)
        self.ready_seconds = time.perf_counter() - started
        self.lab = json.loads((self.state_dir / "lab.json").read_text())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def pids(self) -> list[int]:
        """The lab's process and its descendants (a sharded lab has several)."""
        assert self.proc is not None
        return process_tree(self.proc.pid)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the lab's processes."""
        return sum(_cpu_of(pid) for pid in self.pids())

    def rss_mb(self) -> float:
        return sum(_status_kb(pid, "VmRSS") for pid in self.pids()) / 1024

    def sub_inventory(self, count: int) -> Path:
        """An inventory of the lab's first ``count`` sites, beside the full one."""
        data = yaml.safe_load(self.inventory.read_text())
        names = list(data["sites"])[:count]
        data["sites"] = {name: data["sites"][name] for name in names}
        path = self.state_dir / f"inventory-{count}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path


@dataclass
class LabGroup:
    """Several lab processes measured as one (their CPU summed)."""

    labs: list[LabProcess]

    def cpu_seconds(self) -> float:
        return sum(lab.cpu_seconds() for lab in self.labs)


@contextmanager
def lab(sites: int, scenario: str = "seed-v1", timeout: float = 120.0) -> Iterator[LabProcess]:
    # a benchmark stopped with SIGTERM still stops its lab (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    running = LabProcess(sites, scenario)
    try:
        running.start(timeout)
        print(
            f"lab: {sites} site(s) ready in {running.ready_seconds:.2f}s "
            f"(pid {running.proc.pid if running.proc else '?'}, {running.state_dir})",
            file=sys.stderr,
        )
        yield running
    finally:
        running.stop()
        shutil.rmtree(running.state_dir, ignore_errors=True)


@contextmanager
def daemon() -> Iterator[dict[str, str]]:
    """A ``fitelctl daemon`` of this checkout on a socket of its own, in the foreground
    of a child process; yields the environment that sends ``status`` to it."""
    folder = Path(tempfile.mkdtemp(prefix="fitelctl-bench-daemon-"))  # mode 0700
    extra = {"FITELCTL_DAEMON": "1", "FITELCTL_DAEMON_SOCKET": str(folder / "daemon.sock")}
    proc = subprocess.Popen(
        fitelctl("daemon", "start", "--foreground"),
        env={**env(), **extra},
        stdout=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 30
        while not (folder / "daemon.sock").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RunFailed("fitelctl daemon did not start")
            time.sleep(0.05)
        yield extra
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kb(pid: int, key: str) -> int:
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


# --- Nornir, in its own venv ----------------------------------------------------------

NORNIR_VENV = REPO / "benchmarks" / ".venv-nornir"
NORNIR_PACKAGES = ("nornir", "nornir_netmiko", "netmiko", "paramiko")


def pinned_version(package: str) -> str | None:
    """``package``'s version in constraints.txt (what fitelctl was tested with), if pinned."""
    with suppress(OSError):
        for line in (REPO / "constraints.txt").read_text().splitlines():
            name, _, version = line.partition("==")
            if name.strip().lower() == package.lower() and version:
                return version.strip()
    return None


def venv_versions(python: Path, packages: Sequence[str]) -> dict[str, str | None] | None:
    """The versions of ``packages`` in the venv of ``python``; None if one cannot be read."""
    probe = (
        "import json, sys\nfrom importlib import metadata\n"
        "print(json.dumps({n: metadata.version(n) for n in sys.argv[1:]}))"
    )
    try:
        done = subprocess.run(
            [str(python), "-c", probe, *packages], capture_output=True, text=True, check=True
        )
        found: dict[str, str | None] = json.loads(done.stdout)
    except (OSError, ValueError, subprocess.CalledProcessError):
        return None
    return found


def nornir_python() -> tuple[Path | None, str]:
    """The Python of ``benchmarks/.venv-nornir`` (created on first use), or None and why not.

    Nornir is no dependency of fitelctl: it gets a plain venv of its own with
    ``pip install nornir nornir_netmiko netmiko==<constraints.txt's>``, installed with
    the project's constraints so that netmiko, paramiko and cryptography are the
    versions fitelctl runs with.  pip uses the index configured on the machine.
    """
    python = NORNIR_VENV / "bin" / "python"
    netmiko = pinned_version("netmiko")
    versions = venv_versions(python, NORNIR_PACKAGES) if python.exists() else None
    if versions is not None and netmiko in (None, versions["netmiko"]):
        return python, "reused"
    wanted = ["nornir", "nornir_netmiko", f"netmiko=={netmiko}" if netmiko else "netmiko"]
    print(
        f"creating {NORNIR_VENV.relative_to(REPO)}: pip install {' '.join(wanted)}", file=sys.stderr
    )
    steps = [
        [PYTHON, "-m", "venv", "--clear", str(NORNIR_VENV)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-c",
            str(REPO / "constraints.txt"),
            *wanted,
        ],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
        except OSError as err:
            return None, f"{step[0]}: {err.strerror}"
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            return None, f"{' '.join(step[1:4])} failed: {lines[-1] if lines else done.returncode}"
    if venv_versions(python, NORNIR_PACKAGES) is None:
        return None, f"{NORNIR_VENV.relative_to(REPO)} was made but cannot import nornir"
    return python, "created"


# --- OpenSSH ------------------------------------------------------------------------


def ssh_exec(device: dict[str, Any], state_dir: Path, command: str = "show crypto sa") -> list[str]:
    """OpenSSH's one-shot exec of ``command`` on a lab device (public-key login, no config)."""
    return [
        "ssh", "-F", "/dev/null",
        "-o", f"UserKnownHostsFile={state_dir / 'known_hosts'}",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "IdentityAgent=none",
        "-i", str(device["private_key"]),
        "-p", str(device["port"]),
        f"{device['username']}@{device['host']}",
        command,
    ]  # fmt: skip


def parallel_ssh(devices: Sequence[dict[str, Any]], state_dir: Path) -> float:
    """Seconds for one ``ssh`` exec per device, all started at once, until the last exits."""
    return parallel_ssh_many([(devices, state_dir)])


def parallel_ssh_many(groups: Sequence[tuple[Sequence[dict[str, Any]], Path]]) -> float:
    """``parallel_ssh`` over the devices of several labs at once."""
    commands = [(d, ssh_exec(d, state_dir)) for devices, state_dir in groups for d in devices]
    started = time.perf_counter()
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _, cmd in commands
    ]
    outputs = [proc.communicate() for proc in procs]
    elapsed = time.perf_counter() - started
    for (device, _), proc, (out, err) in zip(commands, procs, outputs, strict=True):
        if proc.returncode != 0 or b"IPSEC SA" not in out:
            raise RunFailed(f"ssh to {device['site']} failed: {err.decode(errors='replace')}")
    return elapsed


# --- timing -------------------------------------------------------------------------


class RunFailed(Exception):
    """A measured command did not do its job; its time would mean nothing."""


def run_timed(
    cmd: Sequence[str],
    *,
    check: Callable[[int, bytes], None] | None = None,
    extra_env: dict[str, str] | None = None,
) -> float:
    """Run ``cmd`` to completion; wall seconds from spawn to exit."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**env(), **(extra_env or {})},
        cwd=REPO,
    )
    out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    if check is not None:
        try:
            check(proc.returncode, out)
        except RunFailed as failure:
            raise RunFailed(f"{' '.join(cmd)}: {failure}\n{err.decode(errors='replace')}") from None
    elif proc.returncode != 0:
        raise RunFailed(f"{' '.join(cmd)} exited {proc.returncode}: {err.decode(errors='replace')}")
    return elapsed


@dataclass
class Series:
    """One contender's measured runs: wall time, its CPU, the lab's CPU meanwhile."""

    seconds: list[float] = field(default_factory=list)
    #: user+system CPU of the measured processes and the children they reaped
    client_cpu: list[float] = field(default_factory=list)
    #: CPU the lab's processes used during the run
    lab_cpu: list[float] = field(default_factory=list)
    #: runs that did not do their job (not timed), with the reason
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        if not self.seconds:
            return {"runs": 0, "failed_runs": len(self.failures), "failures": self.failures}
        doc = summary(self.seconds)
        if self.failures:
            doc["failed_runs"] = len(self.failures)
            doc["failures"] = self.failures
        doc["client_cpu_median_s"] = round(statistics.median(self.client_cpu), 3)
        if self.lab_cpu:
            lab = statistics.median(self.lab_cpu)
            doc["lab_cpu_median_s"] = round(lab, 3)
            # fraction of one core the lab used over the run: near 1.0 would make it the limit
            doc["lab_core_share"] = round(
                statistics.median(c / s for c, s in zip(self.lab_cpu, self.seconds, strict=True)), 2
            )
        return doc


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def interleaved(
    contenders: dict[str, Callable[[], float]],
    *,
    runs: int,
    warmup: int = 1,
    lab: LabProcess | LabGroup | None = None,
    limits: dict[str, int] | None = None,
    no_warmup: frozenset[str] = frozenset(),
) -> dict[str, Series]:
    """Each contender ``runs`` times (or its ``limits`` entry), round-robin, rotating order.

    Warm-up rounds are dropped (contenders in ``no_warmup`` skip them).  A contender is
    a callable returning the wall seconds of one run; its CPU is read from this
    process's reaped-children usage.
    """
    names = list(contenders)
    limits = limits or {}
    series = {name: Series() for name in names}
    for round_no in range(warmup + runs):
        shift = round_no % len(names)
        done = []
        for name in names[shift:] + names[:shift]:
            measured = round_no - warmup
            if measured >= limits.get(name, runs) or (measured < 0 and name in no_warmup):
                continue
            cpu0, lab0 = _children_cpu(), lab.cpu_seconds() if lab else 0.0
            try:
                seconds = contenders[name]()
            except RunFailed as failure:
                # kept and reported, not timed: a run that failed says nothing about speed
                series[name].failures.append(str(failure)[:400])
                done.append(f"{name} FAILED")
                print(f"  {name}: run failed: {str(failure)[:400]}", file=sys.stderr)
                continue
            cpu1, lab1 = _children_cpu(), lab.cpu_seconds() if lab else 0.0
            if measured >= 0:
                s = series[name]
                s.seconds.append(seconds)
                s.client_cpu.append(cpu1 - cpu0)
                if lab:
                    s.lab_cpu.append(lab1 - lab0)
            done.append(f"{name} {seconds:.3f}s")
        label = "warm-up" if round_no < warmup else f"{round_no - warmup + 1}/{runs}"
        print(f"  round {label}: " + ", ".join(done), file=sys.stderr)
    return series


def describe(name: str, entry: dict[str, Any], width: int = 28) -> str:
    """One line for the terminal from a ``Series.summary()``."""
    if not entry.get("runs"):
        return f"  {name:{width}} no successful run ({entry.get('failed_runs', 0)} failed)"
    line = f"  {name:{width}} median {entry['median_s']:8.3f}s"
    if "client_cpu_median_s" in entry:
        line += f"  cpu {entry['client_cpu_median_s']:.2f}s"
    if "lab_core_share" in entry:
        line += f"  lab {entry['lab_core_share']:.2f} core"
    if entry.get("failed_runs"):
        line += f"  ({entry['failed_runs']} failed run(s))"
    return line


def summary(samples: Sequence[float]) -> dict[str, Any]:
    return {
        "median_s": round(statistics.median(samples), 4),
        "min_s": round(min(samples), 4),
        "max_s": round(max(samples), 4),
        "runs": len(samples),
        "samples_s": [round(s, 4) for s in samples],
    }


def ratio(numerator: Series, denominator: Series) -> float | None:
    """Ratio of the medians (both measured in the same interleaved run); None if one failed."""
    if not numerator.seconds or not denominator.seconds:
        return None
    return round(statistics.median(numerator.seconds) / statistics.median(denominator.seconds), 2)


def status_check(expected_sites: int) -> Callable[[int, bytes], None]:
    """A ``status --json`` run counts only if every site was read and is up."""

    def check(code: int, out: bytes) -> None:
        try:
            sites = json.loads(out)["sites"]
        except (ValueError, KeyError):
            raise RunFailed(f"exit {code}, no status JSON on stdout") from None
        bad = [s["site"] for s in sites if s["state"] != "up"]
        if len(sites) != expected_sites or bad or code != 0:
            problems = [p for s in sites for p in s["problems"]][:3]
            raise RunFailed(f"exit {code}, {len(sites)} site(s), not up: {bad[:5]} {problems}")

    return check


# --- the machine and the results ----------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    ssh_version = None
    if shutil.which("ssh"):
        ssh_version = subprocess.run(
            ["ssh", "-V"], capture_output=True, text=True, check=False
        ).stderr.strip()
    return {
        "cpu_model": cpu,
        "cpus_online": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": versions,
        "openssh": ssh_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "cpu_busy_at_start": round(cpu_busy(0.5), 2),
    }


def git_revision() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")  # fmt: skip


def write_result(
    name: str,
    doc: dict[str, Any],
    *,
    output: str | None = None,
    argv: Sequence[str] | None = None,
) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    full = {
        "benchmark": name,
        "command": " ".join(["python", f"benchmarks/{name}.py", *(argv or sys.argv[1:])]),
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "revision": git_revision(),
        "machine": _MACHINE_AT_START or machine(),
        **doc,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    path = RESULTS / f"{output or name}.json"
    path.write_text(json.dumps(full, indent=2) + "\n")
    print(f"wrote {path.relative_to(REPO)}", file=sys.stderr)
    return path


def parser(description: str, *, runs: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--runs", type=int, default=runs, help=f"measured rounds (default {runs})")
    p.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first (default 1)")
    p.add_argument(
        "--output",
        metavar="NAME",
        default=None,
        help="write results/NAME.json instead of the benchmark's own name",
    )
    return p


def cpu_busy(seconds: float = 1.0) -> float:
    """Fraction of all CPUs busy over the next ``seconds`` (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


_MACHINE_AT_START: dict[str, Any] = {}


def warn_if_busy() -> None:
    """Describe the machine as it is before the benchmark; warn if something else runs."""
    _MACHINE_AT_START.update(machine())
    busy = _MACHINE_AT_START["cpu_busy_at_start"]
    if busy > 0.25:
        print(
            f"warning: the CPUs were {busy:.0%} busy before starting: other work on this "
            "machine will inflate the figures (the ratios, measured interleaved, suffer less)",
            file=sys.stderr,
        )


def fitelctl_defaults() -> dict[str, Any]:
    """The driver and worker count ``fitelctl status`` uses when the inventory says nothing."""
    sys.path.insert(0, str(REPO))
    try:
        from fitelctl.cli import status
        from fitelctl.inventory import Defaults
    finally:
        sys.path.remove(str(REPO))
    defaults = Defaults()
    workers = getattr(status, "STATUS_WORKERS", defaults.workers)
    return {"driver": defaults.driver, "workers": workers}


def fitelctl_drivers() -> list[str]:
    """The device drivers this checkout's ``fitelctl ... --driver`` accepts."""
    sys.path.insert(0, str(REPO))
    try:
        from fitelctl.cli.options import DriverChoice
    finally:
        sys.path.remove(str(REPO))
    return [choice.value for choice in DriverChoice]
