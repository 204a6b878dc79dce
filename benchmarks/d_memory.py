"""(d) Peak memory of ``fitelctl status --all`` over 200 sites, per driver.

    python benchmarks/d_memory.py [--sites 200] [--runs 5] [--interval 0.02]

Starts ``fitelctl lab up --sites N`` in its own process, then runs
``fitelctl status --all --json --driver D`` for both drivers (default workers),
interleaved, and reports for each run:

* ``fitelctl_max_rss_mb``: the fitelctl process's own peak RSS (the kernel's
  ``ru_maxrss`` from ``wait4``; exact, but blind to child processes);
* ``tree_peak_pss_mb``: the peak, over samples every ``--interval`` s, of the
  summed PSS of fitelctl and all its descendants (scrapli runs one ``ssh`` per
  open session).  PSS splits shared pages between the processes that map them,
  so the sum is what the run really holds; sampling may miss a short peak.
* ``tree_peak_rss_mb``: the same with RSS (overcounts shared libraries).

Linux only (reads ``/proc``).  Needs ``ssh`` for the scrapli driver.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import _bench

DRIVERS = _bench.DRIVERS


def _tree_memory_kb(root: int) -> tuple[int, int]:
    pss = rss = 0
    for pid in _bench.process_tree(root):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
            elif line.startswith("Rss:"):
                rss += int(line.split()[1])
    return pss, rss


def run_sampled(cmd: list[str], interval: float, check: Any) -> dict[str, float]:
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.DEVNULL, env=_bench.env(), cwd=_bench.REPO
        )
        peak_pss = peak_rss = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            pss, rss = _tree_memory_kb(proc.pid)
            peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
            time.sleep(interval)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        check(proc.returncode, out.read())
    return {
        "seconds": round(elapsed, 3),
        "fitelctl_max_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "tree_peak_pss_mb": round(peak_pss / 1024, 1),
        "tree_peak_rss_mb": round(peak_rss / 1024, 1),
    }


def main() -> None:
    p = _bench.parser(__doc__.splitlines()[0], runs=5)
    p.add_argument("--sites", type=int, default=200)
    p.add_argument("--interval", type=float, default=0.02)
    args = p.parse_args()
    _bench.warn_if_busy()
    if _bench.have_ssh():
        raise SystemExit(f"d_memory needs the scrapli driver's transport: {_bench.have_ssh()}")
    defaults = _bench.fitelctl_defaults()
    runs: dict[str, list[dict[str, float]]] = {d: [] for d in DRIVERS}
    with _bench.lab(args.sites) as lab:
        check = _bench.status_check(args.sites)
        for round_no in range(args.warmup + args.runs):
            order = DRIVERS if round_no % 2 == 0 else DRIVERS[::-1]
            for driver in order:
                cmd = _bench.fitelctl(
                    "-i", str(lab.inventory), "status", "--all", "--json", "--driver", driver
                )
                sample = run_sampled(cmd, args.interval, check)
                print(f"  {driver}: {sample}", flush=True)
                if round_no >= args.warmup:
                    runs[driver].append(sample)
        lab_rss = lab.rss_mb()
    results = {
        driver: {
            **{f"{key}_median": statistics.median(s[key] for s in samples) for key in samples[0]},
            "runs": samples,
        }
        for driver, samples in runs.items()
    }
    doc = {
        "what": f"peak memory of fitelctl status --all --json over {args.sites} lab sites",
        "workers": defaults["workers"],
        "sample_interval_s": args.interval,
        "lab_rss_mb": round(lab_rss, 1),
        "results": results,
    }
    _bench.write_result("d_memory", doc, output=args.output)
    for driver, entry in results.items():
        print(
            f"{driver:8} fitelctl peak RSS {entry['fitelctl_max_rss_mb_median']:.1f} MB, "
            f"with children peak PSS {entry['tree_peak_pss_mb_median']:.1f} MB "
            f"(RSS {entry['tree_peak_rss_mb_median']:.1f} MB), {entry['seconds_median']:.2f}s"
        )
    print(f"lab ({args.sites} sites) RSS {lab_rss:.1f} MB")


if __name__ == "__main__":
    main()
