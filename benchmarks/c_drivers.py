"""(c) The two drivers compared: ``fitelctl status`` with netmiko and with scrapli.

    python benchmarks/c_drivers.py [--sizes 1 50 200] [--workers 8 16 32 64 128] [--runs 5]

Starts one ``fitelctl lab up --sites MAX`` process.  Part 1: for each size N,
``fitelctl status --all --json --driver D`` for both drivers with the default
worker count, interleaved.  Part 2 (the worker sweep, to choose that default): at
the largest size, both drivers at each ``--workers`` value, interleaved.  Each
entry has the wall time, the CPU of fitelctl and its children (scrapli's ssh
processes), and the CPU the lab used meanwhile.  Needs nothing beyond the venv
(scrapli's transport runs the ``ssh`` client; without it scrapli runs fail and
the benchmark says so).
"""

from __future__ import annotations

import _bench

DRIVERS = ("scrapli", "netmiko")


def main() -> None:
    p = _bench.parser(__doc__.splitlines()[0], runs=5)
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 50, 200])
    p.add_argument("--workers", type=int, nargs="*", default=[8, 16, 32, 64, 128])
    args = p.parse_args()
    _bench.warn_if_busy()
    if _bench.have_ssh():
        raise SystemExit(f"c_drivers needs the scrapli driver's transport: {_bench.have_ssh()}")
    defaults = _bench.fitelctl_defaults()
    largest = max(args.sizes)

    def contender(inventory: str, size: int, driver: str, *more: str) -> tuple[str, object]:
        cmd = _bench.fitelctl(
            "-i", inventory, "status", "--all", "--json", "--driver", driver, *more
        )
        check = _bench.status_check(size)
        return driver, lambda: _bench.run_timed(cmd, check=check)

    sizes: dict[str, object] = {}
    sweep: dict[str, object] = {}
    with _bench.lab(largest) as lab:
        for size in args.sizes:
            print(f"{size} site(s), default workers ({defaults['workers']})", flush=True)
            inventory = str(lab.sub_inventory(size))
            contenders = dict(contender(inventory, size, d) for d in DRIVERS)
            series = _bench.interleaved(contenders, runs=args.runs, warmup=args.warmup, lab=lab)
            sizes[str(size)] = {
                "results": {name: s.summary() for name, s in series.items()},
                "netmiko / scrapli": _bench.ratio(series["netmiko"], series["scrapli"]),
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
                "netmiko / scrapli": _bench.ratio(series["netmiko"], series["scrapli"]),
            }
            _print(series)
    doc = {
        "what": "whole-process wall time of fitelctl status --all --json per driver; "
        "medians of interleaved runs",
        "default_workers": defaults["workers"],
        "default_driver": defaults["driver"],
        "sizes": sizes,
        f"workers_sweep_at_{largest}": sweep,
    }
    _bench.write_result("c_drivers", doc)


def _print(series: dict[str, _bench.Series]) -> None:
    for name, s in series.items():
        entry = s.summary()
        print(
            f"  {name:8} median {entry['median_s']:7.3f}s  cpu {entry['client_cpu_median_s']:.2f}s"
            f"  lab {entry.get('lab_core_share', 0):.2f} core"
        )


if __name__ == "__main__":
    main()
