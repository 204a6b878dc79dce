"""(g) The exporter at scale: CPU per poll, poll durations and sessions, against one-shot status.

    python benchmarks/g_exporter.py [--sizes 200 1000] [--interval 30] [--polls 4]
                                    [--runs 1] [--driver D] [--ready-timeout 300]
                                    [--lab-timeout 300]

Starts one ``fitelctl lab up --sites MAX`` process; for each size N (an inventory of
the lab's first N sites):

1. runs ``fitelctl -i INVENTORY exporter --all --listen 127.0.0.1:PORT --interval I``
   as a child process and scrapes ``/metrics`` every second until every site has
   been polled once successfully (that first poll logs in; it is not measured);
2. measures ``--polls`` K polls: the exporter polls each device on its own thread
   every I seconds, the threads starting together, so poll rounds start at
   ``origin + k*I`` (``origin``: the earliest start of a first poll, from the
   exporter's own ``fitelctl_last_poll_success_timestamp_seconds`` minus
   ``fitelctl_poll_duration_seconds``).  Just before each round starts the script
   reads the exporter's CPU (its process and its children, e.g. scrapli's ``ssh``,
   from ``/proc``), the lab's CPU, the exporter's RSS, the SSH sessions it holds
   (its ESTABLISHED TCP connections to the lab's device ports, from
   ``/proc/PID/net/tcp`` and its socket inodes; and its own
   ``fitelctl_exporter_sessions_open``), then scrapes ``/metrics``: each site's last
   poll duration and finish time tell which sites were polled in the round, how long
   each poll took and the round's span (first start to last finish).  Each measured
   interval therefore holds one poll of every device and one scrape, as with
   Prometheus scraping at the poll interval;
3. stops the exporter (SIGTERM: it logs out of every device) and times that;
4. for comparison, ``fitelctl status --all --json`` over the same sites, ``--runs``
   times (wall time and CPU, the process and its children), with the exporter gone.

A poll is inside its interval when the site was polled successfully in the round
and the poll took no longer than I.  Target: 1000 sites every 30 s under half a core
on average (CPU per poll / I < 0.5) with every poll inside its interval.  Writes
``results/g_exporter.json``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import _bench
from prometheus_client.parser import text_string_to_metric_families

TARGET_SITES = 1000
TARGET_INTERVAL = 30.0
TARGET_CORES = 0.5
STATUS = "fitelctl status --all"


# --- the exporter's own metrics -------------------------------------------------------


@dataclass(frozen=True)
class SitePoll:
    """A site's last successful poll: when it finished (Unix time) and how long it took."""

    finished: float
    duration: float

    @property
    def started(self) -> float:
        return self.finished - self.duration


@dataclass
class Scrape:
    """What one ``/metrics`` scrape said, and what it cost to take."""

    seconds: float
    size_bytes: int
    polls: dict[str, SitePoll] = field(default_factory=dict)
    logins: dict[str, float] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)
    sessions_open: float | None = None


def scrape(port: int, timeout: float = 60.0) -> Scrape:
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as answer:
        body = answer.read()
    found = Scrape(time.perf_counter() - started, len(body))
    finished: dict[str, float] = {}
    durations: dict[str, float] = {}
    by_name = {
        "fitelctl_last_poll_success_timestamp_seconds": finished,
        "fitelctl_poll_duration_seconds": durations,
        "fitelctl_device_logins_total": found.logins,
        "fitelctl_poll_errors_total": found.errors,
    }
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name in by_name:
                by_name[sample.name][sample.labels["site"]] = sample.value
            elif sample.name == "fitelctl_exporter_sessions_open":
                found.sessions_open = sample.value
    # a failed poll also sets the duration: a site counts as polled by its last success
    found.polls = {
        site: SitePoll(at, durations[site]) for site, at in finished.items() if site in durations
    }
    return found


# --- the exporter process -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stat_fields(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def tree_cpu(root: int) -> float:
    """CPU (user + system) of ``root``, its live descendants and the children it reaped."""
    ticks = 0
    for pid in _bench.process_tree(root):
        fields = _stat_fields(pid)
        if fields:
            ticks += int(fields[11]) + int(fields[12])
            if pid == root:
                ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def socket_inodes(pids: Iterable[int]) -> set[int]:
    inodes = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


def established_to(root: int, ports: set[int]) -> int:
    """ESTABLISHED TCP connections of ``root``'s process tree to any of ``ports``."""
    pids = _bench.process_tree(root)
    inodes = socket_inodes(pids)
    count = 0
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{root}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if fields[3] == "01" and remote_port in ports and int(fields[9]) in inodes:
                count += 1
    return count


@dataclass
class Exporter:
    """``fitelctl exporter`` in a child process, its stderr in ``log``."""

    inventory: Path
    interval: float
    driver: str | None
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0

    def start(self) -> None:
        driver = ["--driver", self.driver] if self.driver else []
        command = _bench.fitelctl(
            "-i", str(self.inventory), "exporter", "--all",
            "--listen", f"127.0.0.1:{self.port}", "--interval", f"{self.interval:g}", *driver,
        )  # fmt: skip
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=_bench.env(), cwd=_bench.REPO
            )
        self.started = time.time()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 120.0) -> float:
        """SIGTERM (it logs out of every device); seconds until it exited."""
        started = time.perf_counter()
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return time.perf_counter() - started

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


# --- one size -------------------------------------------------------------------------


def wait_all_polled(exporter: Exporter, sites: int, timeout: float) -> Scrape:
    """Scrape every second until every site has one successful poll (or ``timeout``).

    After ``timeout`` the measurement goes on with the sites polled so far (the
    rounds then show the others as not polled); with none, the benchmark stops.
    """
    deadline = time.monotonic() + timeout
    last: Scrape | None = None
    while True:
        if not exporter.alive():
            assert exporter.proc is not None
            tail = "\n".join(exporter.log_lines()[-20:])
            raise SystemExit(
                f"the exporter exited ({exporter.proc.returncode}) before every site was "
                f"polled; the end of its output:\n{tail}"
            )
        with suppress(urllib.error.URLError, ConnectionError, TimeoutError):  # not listening yet
            last = scrape(exporter.port)
        if last is not None and len(last.polls) == sites:
            return last
        if time.monotonic() > deadline:
            break
        time.sleep(1.0)
    if last is None or not last.polls:
        raise SystemExit(f"after {timeout:g}s no site had been polled successfully")
    print(
        f"  after {timeout:g}s only {len(last.polls)} of {sites} site(s) had been polled: "
        "measuring anyway",
        file=sys.stderr,
    )
    return last


def sleep_until(wall: float) -> None:
    time.sleep(max(0.0, wall - time.time()))


@dataclass
class Sample:
    at: float
    cpu: float
    lab_cpu: float
    rss_mb: float
    children: int
    sessions_tcp: int
    scrape: Scrape


def sample(exporter: Exporter, lab: _bench.LabProcess, ports: set[int]) -> Sample:
    at = time.time()
    cpu, lab_cpu = tree_cpu(exporter.pid), lab.cpu_seconds()
    pids = _bench.process_tree(exporter.pid)
    return Sample(
        at,
        cpu,
        lab_cpu,
        rss_mb(exporter.pid),
        len(pids) - 1,
        established_to(exporter.pid, ports),
        scrape(exporter.port),
    )


def poll_round(before: Sample, after: Sample, sites: list[str], interval: float) -> dict[str, Any]:
    """One measured interval: the polls that finished in it and what they cost."""
    polls = [
        p
        for site in sites
        if (p := after.scrape.polls.get(site)) is not None and before.at < p.finished <= after.at
    ]
    durations = [p.duration for p in polls]
    doc: dict[str, Any] = {
        "cpu_s": round(after.cpu - before.cpu, 3),
        "lab_cpu_s": round(after.lab_cpu - before.lab_cpu, 3),
        "sites_polled": len(polls),
        "sites_not_polled": len(sites) - len(polls),
        "polls_over_interval": sum(1 for d in durations if d > interval),
        "logins": int(sum(after.scrape.logins.values()) - sum(before.scrape.logins.values())),
        "poll_errors": int(sum(after.scrape.errors.values()) - sum(before.scrape.errors.values())),
        "rss_mb": round(after.rss_mb, 1),
        "sessions_tcp": after.sessions_tcp,
        "sessions_open_metric": after.scrape.sessions_open,
        "scrape_s": round(before.scrape.seconds, 3),
    }
    if polls:
        doc["poll_duration_median_s"] = round(statistics.median(durations), 3)
        doc["poll_duration_max_s"] = round(max(durations), 3)
        # first start to last finish: the whole fleet's poll, when the threads are in step
        doc["span_s"] = round(max(p.finished for p in polls) - min(p.started for p in polls), 3)
        doc["start_spread_s"] = round(
            max(p.started for p in polls) - min(p.started for p in polls), 3
        )
    return doc


@dataclass
class Measured:
    """What one size's exporter run gave: its first poll, the measured samples, its log."""

    first: Scrape
    ready_s: float
    first_cpu: float
    first_lab_cpu: float
    samples: list[Sample]
    stop_s: float
    log: list[str]


def run_exporter(
    lab: _bench.LabProcess, inventory: Path, size: int, args: argparse.Namespace
) -> Measured:
    """Start the exporter, wait for the first polls, sample ``--polls`` rounds, stop it."""
    ports = {int(d["port"]) for d in lab.devices[:size]}
    interval = args.interval
    exporter = Exporter(inventory, interval, args.driver, lab.state_dir / f"exporter-{size}.log")
    lab_cpu0 = lab.cpu_seconds()
    exporter.start()
    try:
        first = wait_all_polled(exporter, size, args.ready_timeout)
        ready_s = time.time() - exporter.started
        first_cpu, first_lab_cpu = tree_cpu(exporter.pid), lab.cpu_seconds() - lab_cpu0
        origin = min(p.started for p in first.polls.values())
        guard = min(1.0, interval * 0.05)
        # the first boundary: just before the next round of polls starts
        k = math.ceil((time.time() + guard - origin) / interval)
        boundaries = [origin + (k + i) * interval - guard for i in range(args.polls + 1)]
        print(
            f"  {len(first.polls)} site(s) polled {ready_s:.1f}s after the start "
            f"(exporter cpu so far {first_cpu:.1f}s); measuring {args.polls} poll(s) "
            f"from {boundaries[0] - time.time():.1f}s from now",
            file=sys.stderr,
            flush=True,
        )
        samples = []
        for boundary in boundaries:
            sleep_until(boundary)
            if not exporter.alive():
                tail = "\n".join(exporter.log_lines()[-20:])
                raise SystemExit(f"the exporter exited during the measurement:\n{tail}")
            samples.append(sample(exporter, lab, ports))
    finally:
        stop_s = exporter.stop()
    log = exporter.log_lines()
    return Measured(first, ready_s, first_cpu, first_lab_cpu, samples, stop_s, log)


def exporter_summary(m: Measured, sites: list[str], interval: float) -> dict[str, Any]:
    rounds = [poll_round(b, a, sites, interval) for b, a in itertools.pairwise(m.samples)]
    for i, r in enumerate(rounds, 1):
        print(
            f"  poll {i}: cpu {r['cpu_s']:.2f}s, {r['sites_polled']}/{len(sites)} polled, "
            f"duration median {r.get('poll_duration_median_s', math.nan):.3f}s "
            f"max {r.get('poll_duration_max_s', math.nan):.3f}s, "
            f"span {r.get('span_s', math.nan):.2f}s, sessions {r['sessions_tcp']}",
            file=sys.stderr,
            flush=True,
        )
    # without --debug the exporter's log goes to stderr as bare messages (warnings and
    # errors); its own lines ("fitelctl exporter: serving ...") are not problems
    warnings = [line for line in m.log if not line.startswith("fitelctl exporter:")]
    cpu_per_poll = [r["cpu_s"] for r in rounds]
    mean_cpu = statistics.mean(cpu_per_poll)
    spans = [r["span_s"] for r in rounds if "span_s" in r]
    longest = [r["poll_duration_max_s"] for r in rounds if "poll_duration_max_s" in r]
    return {
        "first_poll": {
            "all_polled_after_s": round(m.ready_s, 2),
            "sites_polled": len(m.first.polls),
            "logins": int(sum(m.first.logins.values())),
            "exporter_cpu_s": round(m.first_cpu, 2),
            "lab_cpu_s": round(m.first_lab_cpu, 2),
        },
        "cpu_per_poll_s": {
            "mean": round(mean_cpu, 3),
            "median": round(statistics.median(cpu_per_poll), 3),
            "max": round(max(cpu_per_poll), 3),
        },
        "core_share": round(mean_cpu / interval, 3),
        "lab_core_share": round(statistics.mean(r["lab_cpu_s"] for r in rounds) / interval, 3),
        "poll_duration_s": {
            "median_of_round_medians": _median_of(rounds, "poll_duration_median_s"),
            "max": max(longest, default=None),
        },
        "span_s": {
            "median": round(statistics.median(spans), 3) if spans else None,
            "max": max(spans, default=None),
        },
        "every_poll_inside_interval": all(
            r["sites_not_polled"] == 0 and r["polls_over_interval"] == 0 for r in rounds
        ),
        "rss_mb": max(r["rss_mb"] for r in rounds),
        "child_processes": m.samples[-1].children,
        "sessions_tcp": m.samples[-1].sessions_tcp,
        "sessions_open_metric": m.samples[-1].scrape.sessions_open,
        "scrape": {
            "seconds_median": round(statistics.median(s.scrape.seconds for s in m.samples), 3),
            "bytes": m.samples[-1].scrape.size_bytes,
        },
        "stop_s": round(m.stop_s, 2),
        "log_warnings": len(warnings),
        "log_warnings_first": [line[:300] for line in warnings[:5]],
        "rounds": rounds,
    }


def one_shot_status(
    lab: _bench.LabProcess, inventory: Path, size: int, args: argparse.Namespace
) -> _bench.Series:
    """``fitelctl status --all --json`` over the same sites, ``--runs`` times."""
    status = _bench.fitelctl("-i", str(inventory), "status", "--all", "--json")
    if args.driver:
        status += ["--driver", args.driver]
    run = partial(_bench.run_timed, status, check=_bench.status_check(size))
    return _bench.interleaved({STATUS: run}, runs=args.runs, warmup=0, lab=lab)[STATUS]


def measure_size(lab: _bench.LabProcess, size: int, args: argparse.Namespace) -> dict[str, Any]:
    inventory = lab.sub_inventory(size)
    sites = [d["site"] for d in lab.devices[:size]]
    exporter = exporter_summary(run_exporter(lab, inventory, size, args), sites, args.interval)
    series = one_shot_status(lab, inventory, size, args)  # the exporter has logged out
    one_shot = series.summary()
    if series.client_cpu and exporter["cpu_per_poll_s"]["mean"] > 0:
        per_poll = exporter["cpu_per_poll_s"]["mean"]
        one_shot["cpu_vs_exporter_poll"] = round(statistics.median(series.client_cpu) / per_poll, 1)
    return {"sites": size, "exporter": exporter, "status_one_shot": one_shot}


def _median_of(rounds: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rounds if key in r]
    return round(statistics.median(values), 3) if values else None


# --- the target and the summary ------------------------------------------------------


def target(by_size: dict[str, dict[str, Any]], interval: float) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "what": f"{TARGET_SITES} sites every {TARGET_INTERVAL:g} s under {TARGET_CORES} core "
        "on average, every poll inside its interval",
    }
    measured = by_size.get(str(TARGET_SITES))
    if measured is None or interval != TARGET_INTERVAL:
        doc["measured"] = None
        doc["met"] = None
        doc["why_not_measured"] = (
            f"this run did not measure {TARGET_SITES} sites at --interval {TARGET_INTERVAL:g}"
        )
        return doc
    share = measured["exporter"]["core_share"]
    inside = measured["exporter"]["every_poll_inside_interval"]
    doc.update(
        measured=share,
        every_poll_inside_interval=inside,
        met=share < TARGET_CORES and inside,
        headroom=round(1 - share / TARGET_CORES, 2),  # < 0: over the target by that fraction
    )
    return doc


def summary_lines(by_size: dict[str, dict[str, Any]], goal: dict[str, Any]) -> list[str]:
    lines = []
    for size, entry in by_size.items():
        e, one = entry["exporter"], entry["status_one_shot"]
        first = e["first_poll"]
        if first["sites_polled"] < int(size):
            lines.append(
                f"{size} sites: only {first['sites_polled']} had their first poll after "
                f"{first['all_polled_after_s']}s (--ready-timeout): the polls measured below "
                "include logins"
            )
        lines.append(
            f"{size} sites: exporter cpu per poll {e['cpu_per_poll_s']['mean']:.2f}s "
            f"({e['core_share']:.3f} core), poll duration median "
            f"{e['poll_duration_s']['median_of_round_medians']}s "
            f"max {e['poll_duration_s']['max']}s, "
            f"span median {e['span_s']['median']}s, every poll inside its interval: "
            f"{'yes' if e['every_poll_inside_interval'] else 'NO'}, rss {e['rss_mb']} MB, "
            f"sessions {e['sessions_tcp']} (metric {e['sessions_open_metric']})"
        )
        if one.get("runs"):
            lines.append(
                f"  one-shot status --all: {one['median_s']:.2f}s wall, "
                f"cpu {one['client_cpu_median_s']:.2f}s "
                f"({one.get('cpu_vs_exporter_poll')}x the exporter's cpu per poll)"
            )
        else:
            lines.append(f"  one-shot status --all: no successful run {one.get('failures')}")
    if goal["met"] is None:
        lines.append(f"target ({goal['what']}): not measured: {goal['why_not_measured']}")
    else:
        verdict = "met" if goal["met"] else "NOT met"
        share, headroom = goal["measured"], goal["headroom"]
        how = (
            f"{headroom:.0%} under the limit"
            if headroom >= 0
            else f"{-headroom:.0%} over the limit"
        )
        lines.append(
            f"target ({goal['what']}): {verdict}: {share:.3f} core ({how}); every poll inside "
            f"its interval: {'yes' if goal['every_poll_inside_interval'] else 'NO'}"
        )
    return lines


def main() -> None:
    p = _bench.parser(__doc__.splitlines()[0], runs=1)
    p.add_argument("--sizes", type=int, nargs="+", default=[200, 1000])
    p.add_argument("--interval", type=float, default=TARGET_INTERVAL, help="exporter --interval")
    p.add_argument("--polls", type=int, default=4, help="polls measured after the first")
    p.add_argument("--driver", choices=["netmiko", "scrapli", "asyncssh"], default=None)
    p.add_argument(
        "--ready-timeout",
        type=float,
        default=300.0,
        help="seconds to wait for every site's first successful poll (default 300)",
    )
    p.add_argument(
        "--lab-timeout",
        type=float,
        default=300.0,
        help="seconds to wait for the lab to be ready (default 300: 1000 sites take a while)",
    )
    args = p.parse_args()
    _bench.warn_if_busy()
    by_size: dict[str, dict[str, Any]] = {}
    with _bench.lab(max(args.sizes), timeout=args.lab_timeout) as lab:
        for size in args.sizes:
            print(f"{size} sites", flush=True)
            by_size[str(size)] = measure_size(lab, size, args)
        lab_doc = {
            "processes": 1,
            "sites": max(args.sizes),
            "ready_s": round(lab.ready_seconds, 2),
            "rss_mb_after": round(lab.rss_mb(), 1),
        }
    goal = target(by_size, args.interval)
    doc = {
        "what": "fitelctl exporter over N lab sites: CPU and duration per poll after the "
        "logins, sessions held; one-shot status --all for comparison",
        "exporter": {
            "driver": args.driver or _bench.fitelctl_defaults()["driver"],
            "interval_s": args.interval,
            "polls_measured": args.polls,
        },
        "lab": lab_doc,
        "sizes": by_size,
        "target": goal,
    }
    _bench.write_result("g_exporter", doc, output=args.output)
    for line in summary_lines(by_size, goal):
        print(line)


if __name__ == "__main__":
    main()
