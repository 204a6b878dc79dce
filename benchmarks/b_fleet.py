"""(b) Many sites: ``fitelctl status --all`` against parallel ssh, Nornir and a netmiko loop.

    python benchmarks/b_fleet.py [--sizes 50 200] [--runs 5] [--sequential-runs 3]
                                 [--driver D | --drivers D [D ...]] [--workers W]
                                 [--nornir/--no-nornir] [--skip-sequential]

Starts one ``fitelctl lab up --sites MAX`` process; for each size N (an inventory
of the lab's first N sites) interleaves, round by round:

* ``fitelctl status --all --json`` (the inventory's default driver and workers
  unless ``--driver``/``--workers``); a run counts only if all N sites are up.
  ``--drivers asyncssh netmiko scrapli`` measures each driver as its own contender,
  "fitelctl status --all (DRIVER)"; a driver this fitelctl does not offer is
  recorded as skipped;
* N ``ssh`` exec processes started at once (the parallel-ssh floor);
* ``benchmarks/nornir_status.py``: Nornir 3's threaded runner (64 workers) with
  nornir_netmiko's ``netmiko_send_command("show crypto sa")`` on every site, upstream
  netmiko's ``furukawa_fitelnet`` with its 2 s disconnect wait fixed; it runs in
  ``benchmarks/.venv-nornir``, created on first use (``--no-nornir`` skips it);
* ``benchmarks/netmiko_loop.py``: a plain sequential loop of upstream netmiko,
  as-is and with its 2 s disconnect wait fixed (``--close-fix``); these take
  minutes, so they run ``--sequential-runs`` times and skip the warm-up
  (``--skip-sequential`` leaves them out).

For each contender it records the wall time, the CPU of the measured processes
(with their children, e.g. scrapli's ssh processes) and the CPU the lab used
meanwhile (``lab_core_share``: a fraction of one core; near 1.0 the lab would be
the limit).  Needs: ``ssh`` for the floor (skipped, and said so, without it).
Targets at the largest size: >= 10x faster than the sequential loop, <= 1.5x the
floor, >= 3x faster than Nornir.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import _bench

SPEEDUP_TARGET = 10.0
FLOOR_TARGET = 1.5
NORNIR_TARGET = 3.0
NORNIR_WORKERS = 64
FLOOR = "parallel ssh (floor)"
NORNIR = f"nornir + nornir_netmiko ({NORNIR_WORKERS} workers)"
LOOP_FIXED = "netmiko loop, fixed close"
LOOP_UPSTREAM = "netmiko loop, upstream"


@dataclass(frozen=True)
class Ours:
    """One fitelctl contender: the driver it forces (None: the inventory's) and its names."""

    driver: str | None
    name: str  # the contender, in the results
    short: str  # in ratio keys: "nornir / fitelctl (scrapli)"


def ours(args: argparse.Namespace, skipped: dict[str, str]) -> list[Ours]:
    """The fitelctl contenders asked for; a driver this fitelctl lacks goes to ``skipped``."""
    if not args.drivers:  # one contender, named as before --drivers existed
        chosen = [Ours(args.driver, "fitelctl status --all", "fitelctl")]
    else:
        chosen = [
            Ours(d, f"fitelctl status --all ({d})", f"fitelctl ({d})")
            for d in dict.fromkeys(args.drivers)
        ]
    offered = _bench.fitelctl_drivers()
    found = []
    for one in chosen:
        name, driver = one.name, one.driver
        if driver is None or driver in offered:
            found.append(one)
        else:
            skipped[name] = f"this fitelctl has no --driver {driver} (it has {', '.join(offered)})"
            print(f"note: {name} skipped: {skipped[name]}")
    return found


def nornir(enabled: bool, skipped: dict[str, str]) -> tuple[Path | None, dict[str, Any]]:
    """The nornir venv's Python (None when skipped) and what to record about it."""
    if not enabled:
        skipped[NORNIR] = "--no-nornir"
        return None, {"skipped": skipped[NORNIR]}
    python, how = _bench.nornir_python()
    if python is None:
        skipped[NORNIR] = f"no nornir venv: {how}"
        print(f"note: {NORNIR} skipped: {skipped[NORNIR]}")
        return None, {"skipped": skipped[NORNIR]}
    return python, {
        "workers": NORNIR_WORKERS,
        "disconnect": "upstream furukawa_fitelnet with the 2 s wait fixed (--close-fix)",
        "host_keys": "checked against the lab's known_hosts (ssh_strict), as fitelctl does",
        "venv": str(_bench.NORNIR_VENV.relative_to(_bench.REPO)),
        "packages": _bench.venv_versions(python, _bench.NORNIR_PACKAGES),
    }


def main() -> None:
    p = _bench.parser(__doc__.splitlines()[0], runs=5)
    p.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    p.add_argument("--sequential-runs", type=int, default=3)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--driver", choices=["netmiko", "scrapli", "asyncssh"], default=None)
    which.add_argument(
        "--drivers",
        nargs="+",
        choices=["netmiko", "scrapli", "asyncssh"],
        default=None,
        help="measure each driver as its own contender",
    )
    p.add_argument("--workers", type=int, default=None)
    p.add_argument(
        "--nornir",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the Nornir contender (default: on, when its venv can be made)",
    )
    p.add_argument("--skip-upstream", action="store_true", help="omit the as-is netmiko loop")
    p.add_argument(
        "--skip-sequential", action="store_true", help="omit both sequential netmiko loops"
    )
    args = p.parse_args()
    _bench.warn_if_busy()
    skipped: dict[str, str] = {}
    no_ssh = _bench.have_ssh()
    if no_ssh:
        skipped[FLOOR] = no_ssh
        print(f"note: parallel-ssh floor skipped: {no_ssh}")
    if args.skip_sequential:
        skipped[LOOP_FIXED] = skipped[LOOP_UPSTREAM] = "--skip-sequential"
    elif args.skip_upstream:
        skipped[LOOP_UPSTREAM] = "--skip-upstream"
    contestants = ours(args, skipped)
    if not contestants:
        raise SystemExit("no fitelctl driver left to measure")
    nornir_python, nornir_doc = nornir(args.nornir, skipped)
    workers = ["--workers", str(args.workers)] if args.workers else []
    defaults = _bench.fitelctl_defaults()
    slow = {LOOP_FIXED, LOOP_UPSTREAM} - skipped.keys()
    by_size: dict[str, dict[str, Any]] = {}
    with _bench.lab(max(args.sizes)) as lab:
        lab_json = str(lab.state_dir / "lab.json")
        for size in args.sizes:
            print(f"{size} sites", flush=True)
            inventory = lab.sub_inventory(size)
            check = _bench.status_check(size)
            contenders: dict[str, Callable[[], float]] = {}
            for one in contestants:
                driver = ["--driver", one.driver] if one.driver else []
                status = ["-i", str(inventory), "status", "--all", "--json", *driver, *workers]
                contenders[one.name] = partial(
                    _bench.run_timed, _bench.fitelctl(*status), check=check
                )
            if FLOOR not in skipped:
                contenders[FLOOR] = partial(_bench.parallel_ssh, lab.devices[:size], lab.state_dir)
            if nornir_python is not None:
                script = str(_bench.REPO / "benchmarks/nornir_status.py")
                contenders[NORNIR] = partial(_bench.run_timed, [
                    str(nornir_python), script, lab_json, "--sites", str(size),
                    "--workers", str(NORNIR_WORKERS), "--close-fix",
                ])  # fmt: skip
            loop = [
                _bench.PYTHON, str(_bench.REPO / "benchmarks/netmiko_loop.py"),
                lab_json, "--sites", str(size),
            ]  # fmt: skip
            if LOOP_FIXED in slow:
                contenders[LOOP_FIXED] = partial(_bench.run_timed, [*loop, "--close-fix"])
            if LOOP_UPSTREAM in slow:
                contenders[LOOP_UPSTREAM] = partial(_bench.run_timed, loop)
            series = _bench.interleaved(
                contenders,
                runs=args.runs,
                warmup=args.warmup,
                lab=lab,
                limits=dict.fromkeys(slow, args.sequential_runs),
                no_warmup=frozenset(slow),
            )
            results = {name: s.summary() for name, s in series.items()}
            ratios: dict[str, float | None] = {}
            for one in contestants:
                mine = series[one.name]
                for name in sorted(slow):
                    ratios[f"{name} / {one.short}"] = _bench.ratio(series[name], mine)
                if NORNIR in series:
                    ratios[f"nornir / {one.short}"] = _bench.ratio(series[NORNIR], mine)
                if FLOOR in series:
                    ratios[f"{one.short} / parallel ssh"] = _bench.ratio(mine, series[FLOOR])
            by_size[str(size)] = {"results": results, "ratios": ratios}
            width = max(28, *(len(name) for name in results))
            for name, entry in results.items():
                print(_bench.describe(name, entry, width), flush=True)
            print(f"  ratios: {ratios}")
        lab_rss = lab.rss_mb()
        ready = lab.ready_seconds
    largest: dict[str, float | None] = by_size[str(max(args.sizes))]["ratios"]
    targets: dict[str, dict[str, Any]] = {}
    for one in contestants:
        for key, target, better in (
            (f"{LOOP_UPSTREAM} / {one.short}", SPEEDUP_TARGET, "higher"),
            (f"{LOOP_FIXED} / {one.short}", SPEEDUP_TARGET, "higher"),
            (f"{one.short} / parallel ssh", FLOOR_TARGET, "lower"),
            (f"nornir / {one.short}", NORNIR_TARGET, "higher"),
        ):
            if key in largest:
                value = largest[key]
                met = value is not None and (
                    value >= target if better == "higher" else value <= target
                )
                targets[key] = {"target": target, "better": better, "measured": value, "met": met}
    doc = {
        "what": "whole-process wall time over N lab sites; medians of interleaved runs",
        "fitelctl": {
            "drivers": [one.driver or defaults["driver"] for one in contestants],
            "workers": args.workers or defaults["workers"],
        },
        "nornir": nornir_doc,
        "lab": {
            "processes": 1,
            "sites": max(args.sizes),
            "ready_s": round(ready, 2),
            "rss_mb_after": round(lab_rss, 1),
        },
        "sizes": by_size,
        f"targets_at_{max(args.sizes)}": targets,
        "skipped": skipped,
    }
    _bench.write_result("b_fleet", doc, output=args.output)
    for key, entry in targets.items():
        verdict = "met" if entry["met"] else "NOT met"
        print(f"target {key} {'>=' if entry['better'] == 'higher' else '<='} "
              f"{entry['target']:g}: {entry['measured']} ({verdict})")  # fmt: skip


if __name__ == "__main__":
    main()
