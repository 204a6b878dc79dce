"""(c) The drivers compared: ``fitelctl status`` with asyncssh, scrapli and netmiko.

    python benchmarks/c_drivers.py [--sizes 1 50 200] [--workers 8 16 32 64 128] [--runs 5]

Starts one ``fitelctl lab up --sites MAX`` process.  Part 0 (what one session
costs): ``--sessions`` sessions one after the other, in one process, per driver
(fitelctl's ``read_device``: connect, ``show crypto sa``, parse, close) and for
OpenSSH's exec: wall time, client CPU and lab CPU per session.  Part 1: for each size N,
``fitelctl status --all --json --driver D`` for every driver with the default
worker count, interleaved.  Part 2 (the worker sweep, to choose that default): at
the largest size, every driver at each ``--workers`` value, interleaved.  Each
entry has the wall time, the CPU of fitelctl and its children (scrapli's ssh
processes), and the CPU the lab used meanwhile.  Needs nothing beyond the venv
(scrapli's transport runs the ``ssh`` client; without it scrapli runs fail and
the benchmark says so).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import _bench

DRIVERS = _bench.DRIVERS


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def session_cost_child(inventory: Path, driver: str, count: int) -> None:
    """In a child process: ``count`` sequential ``read_device`` calls; JSON on stdout."""
    sys.path.insert(0, str(_bench.REPO))
    from fitelctl.inventory import load_inventory
    from fitelctl.ops.connect import ConnectOptions
    from fitelctl.ops.status import read_device

    inv = load_inventory(inventory)
    options = ConnectOptions(driver=driver)  # type: ignore[arg-type]
    sites = list(inv.sites)
    read_device(inv, sites[0], options)  # imports and first-use costs out of the way
    self0, children0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    for index in range(count):
        device, problem = read_device(inv, sites[index % len(sites)], options)
        if problem is not None or not device.ipsec_sas:
            raise SystemExit(f"session {index}: {problem}")
    wall = time.perf_counter() - started
    self1, children1 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    json.dump(
        {
            "wall": wall,
            "python_cpu": self1 - self0,  # the interpreter and libscrapli's threads
            "child_cpu": children1 - children0,  # scrapli's ssh processes
        },
        sys.stdout,
    )


def session_cost(lab: _bench.LabProcess, count: int) -> dict[str, Any]:
    """Per-session wall time and CPU (client, lab) of each way to read one device."""
    costs: dict[str, Any] = {}
    for driver in DRIVERS:
        lab0 = lab.cpu_seconds()
        out = subprocess.run(
            [_bench.PYTHON, __file__, "--session-cost", str(lab.inventory), driver, str(count)],
            capture_output=True,
            env=_bench.env(),
            check=True,
        ).stdout
        lab_cpu = lab.cpu_seconds() - lab0  # includes the one warm-up session
        measured = json.loads(out)
        costs[f"fitelctl {driver}"] = {
            "wall_ms": round(measured["wall"] / count * 1000, 1),
            "client_cpu_ms": round(
                (measured["python_cpu"] + measured["child_cpu"]) / count * 1000, 1
            ),
            "of_which_ssh_processes_ms": round(measured["child_cpu"] / count * 1000, 1),
            "lab_cpu_ms": round(lab_cpu / (count + 1) * 1000, 1),
        }
    devices = lab.devices
    lab0, children0 = lab.cpu_seconds(), _cpu(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    for index in range(count):
        _bench.parallel_ssh([devices[index % len(devices)]], lab.state_dir)
    wall = time.perf_counter() - started
    costs["ssh exec"] = {
        "wall_ms": round(wall / count * 1000, 1),
        "client_cpu_ms": round((_cpu(resource.RUSAGE_CHILDREN) - children0) / count * 1000, 1),
        "lab_cpu_ms": round((lab.cpu_seconds() - lab0) / count * 1000, 1),
    }
    for name, cost in costs.items():
        print(f"  {name:17} per session: {cost}", flush=True)
    return costs


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--session-cost":
        session_cost_child(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return
    p = _bench.parser(__doc__.splitlines()[0], runs=5)
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 50, 200])
    p.add_argument("--workers", type=int, nargs="*", default=[8, 16, 32, 64, 128])
    p.add_argument("--sessions", type=int, default=40, help="sequential sessions in part 0")
    args = p.parse_args()
    _bench.warn_if_busy()
    if _bench.have_ssh():
        raise SystemExit(f"c_drivers needs the scrapli driver's transport: {_bench.have_ssh()}")
    defaults = _bench.fitelctl_defaults()
    largest = max(args.sizes)

    def contender(
        inventory: str, size: int, driver: str, *more: str
    ) -> tuple[str, Callable[[], float]]:
        cmd = _bench.fitelctl(
            "-i", inventory, "status", "--all", "--json", "--driver", driver, *more
        )
        check = _bench.status_check(size)
        return driver, partial(_bench.run_timed, cmd, check=check)

    sizes: dict[str, object] = {}
    sweep: dict[str, object] = {}
    with _bench.lab(largest) as lab:
        print(f"one session at a time ({args.sessions} sessions)", flush=True)
        per_session = session_cost(lab, args.sessions)
        for size in args.sizes:
            print(f"{size} site(s), default workers ({defaults['workers']})", flush=True)
            inventory = str(lab.sub_inventory(size))
            contenders = dict(contender(inventory, size, d) for d in DRIVERS)
            series = _bench.interleaved(contenders, runs=args.runs, warmup=args.warmup, lab=lab)
            sizes[str(size)] = {
                "results": {name: s.summary() for name, s in series.items()},
                **_ratios_to_default(series, defaults["driver"]),
            }
            _print(series)
        inventory = str(lab.inventory)
        for workers in args.workers:
            print(f"{largest} sites, --workers {workers}", flush=True)
            contenders = dict(
                contender(inventory, largest, d, "--workers", str(workers)) for d in DRIVERS
            )
            series = _bench.interleaved(contenders, runs=args.runs, warmup=args.warmup, lab=lab)
            sweep[str(workers)] = {
                "results": {name: s.summary() for name, s in series.items()},
                **_ratios_to_default(series, defaults["driver"]),
            }
            _print(series)
    doc = {
        "what": "whole-process wall time of fitelctl status --all --json per driver; "
        "medians of interleaved runs",
        "default_workers": defaults["workers"],
        "default_driver": defaults["driver"],
        "per_session_sequential": per_session,
        "sizes": sizes,
        f"workers_sweep_at_{largest}": sweep,
    }
    _bench.write_result("c_drivers", doc, output=args.output)


def _ratios_to_default(series: dict[str, _bench.Series], default: str) -> dict[str, float | None]:
    """Each other driver's median over the default driver's (above 1: slower)."""
    return {
        f"{name} / {default}": _bench.ratio(s, series[default])
        for name, s in series.items()
        if name != default
    }


def _print(series: dict[str, _bench.Series]) -> None:
    for name, s in series.items():
        print(_bench.describe(name, s.summary(), width=8), flush=True)


if __name__ == "__main__":
    main()
