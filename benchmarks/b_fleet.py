"""(b) Many sites: ``fitelctl status --all`` against a sequential netmiko loop and parallel ssh.

    python benchmarks/b_fleet.py [--sizes 50 200] [--runs 5] [--sequential-runs 3]
                                 [--driver D] [--workers W]

Starts one ``fitelctl lab up --sites MAX`` process; for each size N (an inventory
of the lab's first N sites) interleaves, round by round:

* ``fitelctl status --all --json`` (the inventory's default driver and workers
  unless ``--driver``/``--workers``); a run counts only if all N sites are up;
* N ``ssh`` exec processes started at once (the parallel-ssh floor);
* ``benchmarks/netmiko_loop.py``: a plain sequential loop of upstream netmiko,
  as-is and with its 2 s disconnect wait fixed (``--close-fix``); these take
  minutes, so they run ``--sequential-runs`` times and skip the warm-up.

For each contender it records the wall time, the CPU of the measured processes
(with their children, e.g. scrapli's ssh processes) and the CPU the lab used
meanwhile (``lab_core_share``: a fraction of one core; near 1.0 the lab would be
the limit).  Needs: ``ssh`` for the floor (skipped, and said so, without it).
Targets at 200 sites: >= 10x faster than the sequential loop, <= 1.5x the floor.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import _bench

SPEEDUP_TARGET = 10.0
FLOOR_TARGET = 1.5


def main() -> None:
    p = _bench.parser(__doc__.splitlines()[0], runs=5)
    p.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    p.add_argument("--sequential-runs", type=int, default=3)
    p.add_argument("--driver", choices=["netmiko", "scrapli"], default=None)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--skip-upstream", action="store_true", help="omit the as-is netmiko loop")
    args = p.parse_args()
    _bench.warn_if_busy()
    no_ssh = _bench.have_ssh()
    if no_ssh:
        print(f"note: parallel-ssh floor skipped: {no_ssh}")
    extra = []
    if args.driver:
        extra += ["--driver", args.driver]
    if args.workers:
        extra += ["--workers", str(args.workers)]
    defaults = _bench.fitelctl_defaults()
    by_size: dict[str, dict[str, Any]] = {}
    with _bench.lab(max(args.sizes)) as lab:
        for size in args.sizes:
            print(f"{size} sites", flush=True)
            inventory = lab.sub_inventory(size)
            devices = lab.devices[:size]
            check = _bench.status_check(size)
            status = _bench.fitelctl("-i", str(inventory), "status", "--all", "--json", *extra)
            loop = [
                _bench.PYTHON, str(_bench.REPO / "benchmarks/netmiko_loop.py"),
                str(lab.state_dir / "lab.json"), "--sites", str(size),
            ]  # fmt: skip
            contenders: dict[str, Callable[[], float]] = {
                "fitelctl status --all": partial(_bench.run_timed, status, check=check),
            }
            if not no_ssh:
                contenders["parallel ssh (floor)"] = partial(
                    _bench.parallel_ssh, devices, lab.state_dir
                )
            contenders["netmiko loop, fixed close"] = partial(
                _bench.run_timed, [*loop, "--close-fix"]
            )
            if not args.skip_upstream:
                contenders["netmiko loop, upstream"] = partial(_bench.run_timed, loop)
            slow = {"netmiko loop, fixed close", "netmiko loop, upstream"}
            series = _bench.interleaved(
                contenders,
                runs=args.runs,
                warmup=args.warmup,
                lab=lab,
                limits=dict.fromkeys(slow, args.sequential_runs),
                no_warmup=frozenset(slow),
            )
            results = {name: s.summary() for name, s in series.items()}
            ours = series["fitelctl status --all"]
            ratios: dict[str, float | None] = {}
            for name in slow & series.keys():
                ratios[f"{name} / fitelctl"] = _bench.ratio(series[name], ours)
            if not no_ssh:
                floor = series["parallel ssh (floor)"]
                ratios["fitelctl / parallel ssh"] = _bench.ratio(ours, floor)
            by_size[str(size)] = {"results": results, "ratios": ratios}
            for name, entry in results.items():
                print(_bench.describe(name, entry), flush=True)
            print(f"  ratios: {ratios}")
        lab_rss = lab.rss_mb()
        ready = lab.ready_seconds
    targets: dict[str, dict[str, Any]] = {}
    largest: dict[str, float | None] = by_size[str(max(args.sizes))]["ratios"]
    for key, target, better in (
        ("netmiko loop, upstream / fitelctl", SPEEDUP_TARGET, "higher"),
        ("netmiko loop, fixed close / fitelctl", SPEEDUP_TARGET, "higher"),
        ("fitelctl / parallel ssh", FLOOR_TARGET, "lower"),
    ):
        if key in largest:
            value = largest[key]
            met = value is not None and (value >= target if better == "higher" else value <= target)
            targets[key] = {"target": target, "measured": value, "met": met}
    doc = {
        "what": "whole-process wall time over N lab sites; medians of interleaved runs",
        "fitelctl": {
            "driver": args.driver or defaults["driver"],
            "workers": args.workers or defaults["workers"],
        },
        "lab": {
            "processes": 1,
            "sites": max(args.sizes),
            "ready_s": round(ready, 2),
            "rss_mb_after": round(lab_rss, 1),
        },
        "sizes": by_size,
        f"targets_at_{max(args.sizes)}": targets,
    }
    _bench.write_result("b_fleet", doc, output=args.output)


if __name__ == "__main__":
    main()
