"""A fault at every point, one run per point: ``apply`` (one site, a 5-site fleet) and
the ``migrate-vpc-router-v2`` and ``rotate-psk`` runbooks (issue 11 item 4).

``apply``'s SIGKILL points are every boundary of its phases as the clean run met them:
after each command line each device answered (``SITE/kill-after:COMMAND@N``: the plan
session's reads, the execute session's re-check, ``configure terminal``, every
configuration line, ``end``, ``commit``, ``clear crypto sa``, each ``show crypto sa``
poll, ``save``, the logouts) and after each API call (the cloud-side re-apply), for
every site of the fleet too (the other sites are wherever their own threads are when
the lab dies).  The lab process kills itself there (a deterministic trigger, no
polling race) and is restarted from its state dir: a power cycle.  Only the lab dies,
so fitelctl must still report every site and write every audit record.

Each test first does a clean run that counts the points (configuration lines per
session and device, API calls, step boundaries), then injects one fault per point
(see ``sweep.py`` for what a point is and what "survived" means) and checks:

* the device runs and boots either exactly what it ran before or exactly the
  intended config, saved; never a saved config whose tunnel did not come up;
* the VPC router's settings are never lost (every site's peer is still there, and a
  destructive router call is only ever made with an export on disk);
* the audit log has one record per apply attempt that reached a device, with the
  result the run reported; the run record ends every step it started;
* finishing the job (``apply`` again, ``run --resume``) ends in the intended state
  and repeats no completed change (no second configuration session after an apply
  that was saved; no step that completed runs again; no changing API call reaches
  the router twice).
"""

from __future__ import annotations

import json
import re
import socket
import struct
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from sweep import (
    RESTARTED_API_TIMEOUT,
    DeviceState,
    LabProcess,
    Part,
    Point,
    PointResult,
    api_calls,
    audit_records,
    device_problems,
    fitelctl,
    lab,
    once_per_run,
    parts,
    reached,
    router_peers,
    run_killing_lab,
    run_record,
    same,
    sweep,
    sweep_inventory,
)

from fitelctl.lab.runner import BackgroundLab, LabOptions

API_FAULTS = ("api-503-at", "api-reset-at", "api-timeout-at")
APPLY = ("apply", "--all", "--yes", "--json", "--verify-timeout", "5", "--timeout", "60")
#: finishing the job: the tunnels must come up, but a loaded machine (the sweep runs
#: points side by side with the rest of the suite) may take more than 5 s to show it
APPLY_AGAIN = ("apply", "--all", "--yes", "--json", "--verify-timeout", "30", "--timeout", "240")


def not_finished(again: Any) -> str:
    """Why finishing the job failed: the exit code, stderr, and each site's problems."""
    sites = json.loads(again.stdout)["sites"] if again.stdout.strip() else []
    failed = [f"{s['site']}: {s['result']}: {'; '.join(s['problems'])}" for s in sites]
    return f"apply again: exit {again.returncode}: {again.stderr[-300:]} {failed}"


def api_points(calls: int) -> list[Point]:
    return [Point(f"{f}:{n}", (f"{f}:{n}",)) for n in range(1, calls + 1) for f in API_FAULTS]


def drop_points(lines: dict[str, list[int]]) -> list[Point]:
    """``ssh-drop-after:N@K`` for every session K and every N below its line count."""
    return [
        Point(f"{site}/ssh-drop-after:{n}@{k}", (f"{site}/ssh-drop-after:{n}@{k}",))
        for site, sessions in lines.items()
        for k, count in enumerate(sessions, start=1)
        for n in range(count)
    ]


def unreached(running: Any, point: Point) -> bool:
    """An API call index this run never got to (it made fewer calls than the clean run)."""
    spec = point.faults[0]
    return spec.startswith("api-") and running.api.calls < int(spec.split(":")[1])


def fired(running: Any, point: Point) -> bool:
    spec = point.faults[0]
    if spec.startswith("api-"):
        tag = {"api-503-at": "[503]", "api-reset-at": "[reset]", "api-timeout-at": "[timeout]"}
        return any(
            line.endswith(tag[spec.split(":")[0]]) for line in api_calls(running.options.state_dir)
        )
    site = spec.split("/")[0] if "/" in spec else "tokyo"
    faults = running.sites[site].device.faults
    if "commit-fails" in spec:
        return not faults.commit_fails
    return faults.drop_after_lines is None


# --- apply ----------------------------------------------------------------------------


@dataclass
class CleanApply:
    """What the clean run of ``apply`` did, which the points are counted from."""

    tmp: Path  # every point's lab sits beside the clean one (and shares its secrets)
    intended: dict[str, str]  # the config each site boots afterwards
    lines: dict[str, list[int]]  # configuration lines per session, per site
    calls: int  # API calls
    commands: dict[str, list[str]]  # command lines each site's device received, in order


@pytest.fixture(scope="session")  # session: the sweep's parts are spread through the run
def clean_apply(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], CleanApply]:
    """The clean run of ``apply`` on N sites, done once for the whole run."""

    def run(sites: int) -> CleanApply:
        done = once_per_run(tmp_path_factory, f"apply-{sites}", partial(clean_apply_run, sites))
        return CleanApply(Path(done["tmp"]), **{k: v for k, v in done.items() if k != "tmp"})

    return run


def clean_apply_run(sites: int, tmp: Path) -> dict[str, Any]:
    with lab(tmp / "clean", "seed-v2-pending", sites) as running:
        inventory = sweep_inventory(running.options.state_dir)
        result = fitelctl("-i", str(inventory), *APPLY)
        assert result.returncode == 0, result.stderr
        assert running.api is not None
        return asdict(
            CleanApply(
                tmp,
                {s: site.device.boot_config() for s, site in running.sites.items()},
                {s: list(site.device.config_lines) for s, site in running.sites.items()},
                running.api.calls,
                {s: list(site.device.commands) for s, site in running.sites.items()},
            )
        )


def apply_point(tmp: Path, sites: int, intended: dict[str, str], point: Point) -> PointResult:
    outcome = PointResult(point)
    state = tmp / point.name.replace("/", "_").replace(":", "_").replace("@", "_")
    with lab(state, "seed-v2-pending", sites, point.faults) as running:
        check_apply(running, state, intended, outcome)
        settle(running, outcome)
    return outcome


def settle(running: Any, outcome: PointResult) -> None:
    """Whether the point's fault fired, in the faulted run or while finishing the job."""
    outcome.fired = fired(running, outcome.point)
    outcome.unreached = not outcome.fired and unreached(running, outcome.point)


def check_apply(running: Any, state: Path, intended: dict[str, str], outcome: PointResult) -> None:
    problems = outcome.problems
    inventory = sweep_inventory(state)
    before = {s: site.device.current_config() for s, site in running.sites.items()}
    peers = router_peers(running)
    result = fitelctl("-i", str(inventory), *APPLY)
    if "Traceback" in result.stderr:
        problems.append("traceback: " + result.stderr[-300:])
        return
    reported = {s["site"]: s for s in json.loads(result.stdout)["sites"]}
    records = audit_records(state)
    for site in running.sites:
        now = DeviceState.of(running, site)
        problems += device_problems(site, now, before[site], intended[site])
        ended = reported[site]["result"]
        if ended == "applied" and not (same(now.boot, intended[site]) and reported[site]["saved"]):
            problems.append(f"{site}: applied but not saved as intended")
        if ended == "rolled_back" and not same(now.boot, before[site]):
            problems.append(f"{site}: rolled back but runs something else")
        mine = [r for r in records if r["site"] == site]
        if [r["result"] for r in mine] != [ended]:
            problems.append(f"{site}: audit says {[r['result'] for r in mine]}, run said {ended}")
    if router_peers(running) != peers:
        problems.append("the router's peers changed")
    # finish the job: apply again, fault-free (each fault fired once)
    lines_before = {s: list(site.device.config_lines) for s, site in running.sites.items()}
    again = fitelctl("-i", str(inventory), *APPLY_AGAIN)
    if again.returncode != 0:
        problems.append(not_finished(again))
        return
    for entry in json.loads(again.stdout)["sites"]:
        site = entry["site"]
        now = DeviceState.of(running, site)
        if not (same(now.boot, intended[site]) and now.tunnel_up):
            problems.append(f"{site}: not in the intended state after apply again")
        if reported[site]["result"] == "applied":
            if entry["result"] != "unchanged":
                problems.append(f"{site}: a saved change was applied a second time")
            if running.sites[site].device.config_lines != lines_before[site]:
                problems.append(f"{site}: configured again after a saved change")


@pytest.mark.sweep
@pytest.mark.timeout(900)
@pytest.mark.parametrize(("sites", "part"), parts({"one-site": (1, 1), "fleet-of-5": (5, 3)}))
def test_apply_survives_a_fault_at_every_point(
    clean_apply: Callable[[int], CleanApply], sites: int, part: Part
) -> None:
    clean = clean_apply(sites)
    lines = clean.lines
    points = [
        *drop_points(lines),
        *[Point(f"{site}/commit-fails", (f"{site}/commit-fails",)) for site in lines],
        *api_points(clean.calls),
    ]
    assert len(points) == sum(map(sum, lines.values())) + sites + 3 * clean.calls
    totals = sweep(
        f"apply, {sites} site(s), {part}",
        part.of(points),
        partial(apply_point, clean.tmp, sites, clean.intended),
    )
    assert not totals.failures(), "\n".join(totals.failures())


# --- apply: the lab killed at every boundary ------------------------------------------


def kill_points(commands: dict[str, list[str]], calls: int) -> list[Point]:
    """``SITE/kill-after:COMMAND@N`` after every command line each device received in the
    clean run (the N-th of its kind), and ``api-kill-after:N`` after every API call."""
    points = []
    for site, sent in commands.items():
        seen: Counter[str] = Counter()
        for command in sent:
            seen[command] += 1
            spec = f"{site}/kill-after:{command}@{seen[command]}"
            points.append(Point(spec, (spec,)))
    specs = [f"api-kill-after:{n}" for n in range(1, calls + 1)]
    return points + [Point(spec, (spec,)) for spec in specs]


def kill_apply_point(clean: CleanApply, sites: int, point: Point) -> PointResult:
    """A ``lab up`` process that SIGKILLs itself at the point, restarted from its state
    dir (a power cycle); the invariants after the faulted run and after apply again."""
    outcome = PointResult(point)
    state = clean.tmp / re.sub(r"[^A-Za-z0-9.-]+", "_", point.name)
    process = LabProcess(state, "seed-v2-pending", sites)
    process.start(point.faults)
    try:
        before = {site: process.saved_boot(site) for site in clean.intended}
        peers = process.saved_peers()
        result = fitelctl("-i", str(sweep_inventory(state)), *APPLY)
        outcome.fired = process.killed_itself()
        if not outcome.fired:
            calls = len(api_calls(state))
            outcome.unreached = point.name.startswith("api-") and calls < point_index(point)
            return outcome
        process.start()  # the power cycle
        # a port taken meanwhile changes the inventory; the restarted lab has no fault left
        inventory = sweep_inventory(state, api_timeout=RESTARTED_API_TIMEOUT)
        outcome.problems += killed_run_problems(process, inventory, clean, before, result)
        if process.saved_peers() != peers:
            outcome.problems.append("the router's peers changed")
        outcome.problems += finish_problems(process, inventory, clean, result)
    finally:
        process.stop()
    return outcome


def point_index(point: Point) -> int:
    return int(point.name.rpartition(":")[2])


def killed_run_problems(
    process: LabProcess,
    inventory: Path,
    clean: CleanApply,
    before: dict[str, str],
    result: subprocess.CompletedProcess[str],
) -> list[str]:
    """After the power cycle: every device boots (and so runs) what it ran before or the
    intended config, a changed one with its tunnel up; the run's report and the audit
    log agree (only the lab was killed: fitelctl wrote every record)."""
    if "Traceback" in result.stderr:
        return ["traceback: " + result.stderr[-300:]]
    problems = []
    reported = {s["site"]: s for s in json.loads(result.stdout)["sites"]}
    records = audit_records(process.state)
    changed = []
    for site, intended in clean.intended.items():
        boot = process.saved_boot(site)
        if not (same(boot, before[site]) or same(boot, intended)):
            problems.append(f"{site}: boots neither what it ran before nor the intended config")
        if not same(boot, before[site]):
            changed.append(site)
        entry = reported[site]
        if entry["result"] == "applied" and not (same(boot, intended) and entry["saved"]):
            problems.append(f"{site}: applied but not saved as intended")
        executed = bool(entry["diff"])  # a plan cut short left no diff and sent nothing
        audited = [r["result"] for r in records if r["site"] == site]
        if audited != ([entry["result"]] if executed else []):
            problems.append(f"{site}: audit says {audited}, run said {entry['result']}")
    if changed:  # only a changed site's tunnel is in question (a status costs a login per site)
        down = not_up(inventory, changed)
        problems += [f"{site}: a saved change whose tunnel is {why}" for site, why in down.items()]
    return problems


def not_up(inventory: Path, sites: list[str] | None = None) -> dict[str, str]:
    """The sites ``status`` does not call up (``sites``: of those only; else of every
    site), each with the state it gave and its problems."""
    asked = sites or []
    status = fitelctl("-i", str(inventory), "status", *asked, "--json", "--timeout", "60")
    entries = {s["site"]: s for s in json.loads(status.stdout)["sites"]}
    assert not asked or sorted(entries) == sorted(asked), sorted(entries)
    return {
        site: f"{entry['state']} ({'; '.join(entry['problems']) or 'no problem named'})"
        for site, entry in entries.items()
        if entry["state"] != "up"
    }


def finish_problems(
    process: LabProcess,
    inventory: Path,
    clean: CleanApply,
    killed: subprocess.CompletedProcess[str],
) -> list[str]:
    """Apply again, fault-free: every site ends with the intended config, saved, tunnel
    up; a change the killed run saved is not made again; the audit log has one more
    record per site this run changed."""
    again = fitelctl("-i", str(inventory), *APPLY_AGAIN)
    if again.returncode != 0:
        return [not_finished(again)]
    problems = []
    first = {s["site"]: s for s in json.loads(killed.stdout)["sites"]}
    second = {s["site"]: s for s in json.loads(again.stdout)["sites"]}
    records = audit_records(process.state)
    for site, intended in clean.intended.items():
        if not same(process.saved_boot(site), intended):
            problems.append(f"{site}: does not boot the intended config after apply again")
        if first[site]["result"] == "applied" and second[site]["result"] != "unchanged":
            problems.append(f"{site}: a saved change was applied a second time")
        expected = [e["result"] for e in (first[site], second[site]) if e["diff"]]
        audited = [r["result"] for r in records if r["site"] == site]
        if audited != expected:
            problems.append(f"{site}: audit says {audited} after apply again, runs said {expected}")
    down = not_up(inventory)
    problems += [f"{site}: tunnel {why} after apply again" for site, why in down.items()]
    return problems


@pytest.mark.sweep
@pytest.mark.timeout(900)
@pytest.mark.parametrize(("sites", "part"), parts({"one-site": (1, 1), "fleet-of-5": (5, 6)}))
def test_apply_survives_the_lab_killed_at_every_boundary(
    clean_apply: Callable[[int], CleanApply], sites: int, part: Part
) -> None:
    clean = clean_apply(sites)
    points = kill_points(clean.commands, clean.calls)
    assert len(points) == sum(map(len, clean.commands.values())) + clean.calls
    totals = sweep(
        f"apply, {sites} site(s) (SIGKILL), {part}",
        part.of(points),
        partial(kill_apply_point, clean, sites),
    )
    assert not totals.failures(), "\n".join(totals.failures())


# --- runbooks -------------------------------------------------------------------------

RUNBOOKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "rotate-psk": ("seed-v2", ("--var", "verify_timeout=5")),
    "migrate-vpc-router-v2": (
        "seed-v1",
        (
            "--var",
            "interval=0.1",
            "--var",
            "verify_timeout=5",
            "--var",
            "migrate_timeout=5",
            "--var",
            "power_timeout=5",
            "--var",
            "ipsec_lifetime=180",
        ),
    ),
}


def run_args(state: Path, runbook: str, *more: str) -> list[str]:
    return [
        "-i",
        str(state / "sweep.yaml"),
        "run",
        runbook,
        "--site",
        "tokyo",
        "--yes",
        "--timeout",
        "120",
        *more,
    ]


def psk_of(state: Path) -> str | None:
    """The new key of the run (its private file under runs/), when one was made."""
    keys = sorted((state / "runs").glob("*.psk"))
    return keys[-1].read_text().strip() if keys else None


def intended_config(runbook: str, clean: dict[str, str], state: Path) -> str:
    if runbook != "rotate-psk":
        return clean["config"]
    psk = psk_of(state)
    return clean["config"].replace(clean["psk"], psk) if psk else clean["config"]


@dataclass
class CleanRunbook:
    """What the clean run of a runbook did, which its points are counted from."""

    tmp: Path  # every point's lab sits beside the clean one (and shares its secrets)
    result: dict[str, str]  # the config tokyo boots afterwards, and the run's new PSK
    lines: dict[str, list[int]]  # configuration lines per session
    calls: int  # API calls
    steps: int  # steps that ended ok


@pytest.fixture(scope="session")  # session: the sweep's parts are spread through the run
def clean_runbook(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], CleanRunbook]:
    """The clean run of each runbook, done once for the whole run."""

    def run(runbook: str) -> CleanRunbook:
        done = once_per_run(tmp_path_factory, runbook, partial(clean_run, runbook))
        return CleanRunbook(Path(done["tmp"]), **{k: v for k, v in done.items() if k != "tmp"})

    return run


def clean_run(runbook: str, tmp: Path) -> dict[str, Any]:
    scenario, variables = RUNBOOKS[runbook]
    with lab(tmp / "clean", scenario) as running:
        state = running.options.state_dir
        sweep_inventory(state)
        result = fitelctl(*run_args(state, runbook, *variables))
        assert result.returncode == 0, result.stderr
        clean = {"config": running.sites["tokyo"].device.boot_config(), "psk": psk_of(state) or ""}
        steps = sum(1 for e in run_record(state) if e["event"] == "step" and e["status"] == "ok")
        assert running.api is not None
        return asdict(
            CleanRunbook(
                tmp,
                clean,
                {"tokyo": list(running.sites["tokyo"].device.config_lines)},
                running.api.calls,
                steps,
            )
        )


def record_problems(events: list[dict[str, Any]], killed: bool) -> list[str]:
    problems = []
    open_steps: dict[str, int] = {}
    for event in events:
        if event["event"] == "step":
            delta = 1 if event["status"] == "started" else -1
            open_steps[event["step"]] = open_steps.get(event["step"], 0) + delta
    unended = [s for s, n in open_steps.items() if n > 0]
    if unended and not killed:
        problems.append(f"run record: steps {unended} started and never ended")
    if not any(e["event"] == "end" for e in events) and not killed:
        problems.append("run record: no end")
    return problems


def resume_problems(events: list[dict[str, Any]]) -> list[str]:
    """No step that completed before a resume runs again after it."""
    problems, done = [], set()
    for event in events:
        if event["event"] == "resume":
            done |= set(event["skipping"])
        elif event["event"] == "step" and event["status"] == "started" and event["step"] in done:
            problems.append(f"resume repeated the completed step {event['step']}")
    return problems


def changing_call_problems(runbook: str, state: Path) -> list[str]:
    """No changing call reached the router twice; the export came first and holds
    every peer."""
    calls = api_calls(state)
    problems = []
    if runbook == "migrate-vpc-router-v2":
        if reached(calls, "PUT", "/vpcrouter/version") > 1:
            problems.append("the migration call reached the router twice")
        destructive = reached(calls, "PUT", "/vpcrouter/version") + reached(
            calls, "DELETE", "/power"
        )
        order = [
            (e["step"], e["status"])
            for e in run_record(state)
            if e["event"] == "step" and e["step"] in ("export", "migrate", "power-off", "reimport")
        ]
        first_destructive = next(
            (i for i, (step, _) in enumerate(order) if step != "export"), len(order)
        )
        if destructive and ("export", "ok") not in order[:first_destructive]:
            problems.append("a destructive router call before the export was on disk")
        exports = list((state / "runs").glob("*-router-settings.json"))
        if destructive and not all(
            json.loads(e.read_text())["Router"]["SiteToSiteIPsecVPN"]["Config"] for e in exports
        ):
            problems.append("an export without the router's peers")
    return problems


def audit_problems(state: Path) -> list[str]:
    """One audit record per apply attempt that changed or rolled back the device."""
    kept = ("applied", "rolled_back")
    attempts = [
        (e.get("data") or {}).get("result")
        for e in run_record(state)
        if e["event"] == "step" and e["step"] == "device" and e["status"] != "started"
    ]
    audited = [r["result"] for r in audit_records(state)]
    if [r for r in audited if r in kept] != [r for r in attempts if r in kept]:
        return [f"audit {audited} does not match the run record's device attempts {attempts}"]
    if len(audited) > len(attempts):
        return [f"more audit records {audited} than device attempts {attempts}"]
    return []


def runbook_point(tmp: Path, runbook: str, clean: dict[str, str], point: Point) -> PointResult:
    outcome = PointResult(point)
    scenario, _ = RUNBOOKS[runbook]
    state = tmp / point.name.replace("/", "_").replace(":", "_").replace("@", "_")
    with lab(state, scenario, 1, point.faults) as running:
        check_runbook(running, state, runbook, clean, outcome)
        settle(running, outcome)
    return outcome


def check_runbook(
    running: Any, state: Path, runbook: str, clean: dict[str, str], outcome: PointResult
) -> None:
    problems = outcome.problems
    _, variables = RUNBOOKS[runbook]
    sweep_inventory(state)
    before = running.sites["tokyo"].device.current_config()
    peers = router_peers(running)
    result = fitelctl(*run_args(state, runbook, *variables))
    if "Traceback" in result.stderr:
        problems.append("traceback: " + result.stderr[-300:])
    intended = intended_config(runbook, clean, state)
    problems += device_problems("tokyo", DeviceState.of(running, "tokyo"), before, intended)
    if router_peers(running) != peers:
        problems.append("the router's peers were lost")
    problems += record_problems(run_record(state), killed=False)
    problems += resumed_problems(runbook, state, result)
    problems += final_problems(runbook, running, state, clean)


def resumed_problems(runbook: str, state: Path, result: Any) -> list[str]:
    """Finish the job (``run --resume`` when the faulted run failed), then check that
    no completed step or changing API call ran twice and the audit log accounts for it."""
    problems = []
    if result.returncode != 0:
        resumed = fitelctl(*run_args(state, runbook, "--resume"))
        if resumed.returncode != 0:
            problems.append(f"resume: exit {resumed.returncode}: {resumed.stdout[-300:]}")
    problems += resume_problems(run_record(state))
    problems += changing_call_problems(runbook, state)
    problems += audit_problems(state)
    return problems


def final_problems(runbook: str, running: Any, state: Path, clean: dict[str, str]) -> list[str]:
    now = DeviceState.of(running, "tokyo")
    problems = []
    intended = intended_config(runbook, clean, state)
    if not (same(now.current, now.boot) and same(now.boot, intended) and now.tunnel_up):
        problems.append("the job did not end in the intended state, saved, tunnel up")
    if runbook == "rotate-psk":
        stored = (state / "secrets" / "tokyo.psk").read_text().strip()
        router = running.api.router.router.peers[0].psk
        if not (stored == router == psk_of(state)):
            problems.append("the stored key, the router's and the run's new key differ")
    return problems


def kill_point(tmp: Path, runbook: str, clean: dict[str, str], point: Point) -> PointResult:
    """SIGKILL the lab at a step boundary, restart it, resume."""
    outcome = PointResult(point, fired=True)
    problems = outcome.problems
    scenario, variables = RUNBOOKS[runbook]
    state = tmp / point.name
    process = LabProcess(state, scenario)
    process.start()
    try:
        sweep_inventory(state)
        before = process.saved_boot("tokyo")
        assert point.kill_after_steps is not None
        result = run_killing_lab(
            run_args(state, runbook, *variables), process, point.kill_after_steps
        )
        # the restarted lab may have had to take another port; it has no fault left
        sweep_inventory(state, api_timeout=RESTARTED_API_TIMEOUT)
        if "Traceback" in result.stderr:
            problems.append("traceback: " + result.stderr[-300:])
        boot = process.saved_boot("tokyo")
        intended = intended_config(runbook, clean, state)
        if not (same(boot, before) or same(boot, intended)):
            problems.append("boots neither what it ran before nor the intended config")
        peers = process.saved_router()["settings"]["Router"]["SiteToSiteIPsecVPN"]["Config"]
        if not peers:
            problems.append("the router's peers were lost")
        problems += record_problems(run_record(state), killed=True)
        problems += resumed_problems(runbook, state, result)
        if not same(process.saved_boot("tokyo"), intended_config(runbook, clean, state)):
            problems.append("the job did not end with the intended config saved")
        status = fitelctl("-i", str(state / "sweep.yaml"), "status", "--json", "--timeout", "30")
        if runbook == "rotate-psk" and status.returncode != 0:
            problems.append(f"status after the job: exit {status.returncode}")
    finally:
        process.stop()
    return outcome


@pytest.mark.sweep
@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("runbook", "part"),
    parts(
        {name: (name, count) for name, count in [("migrate-vpc-router-v2", 6), ("rotate-psk", 3)]}
    ),
)
def test_runbook_survives_a_fault_at_every_point(
    clean_runbook: Callable[[str], CleanRunbook], runbook: str, part: Part
) -> None:
    clean = clean_runbook(runbook)
    points = [
        *drop_points(clean.lines),
        Point("commit-fails", ("commit-fails",)),
        *api_points(clean.calls),
    ]
    kills = [Point(f"kill-after-{k}-steps", kill_after_steps=k) for k in range(clean.steps)]
    point_run = partial(runbook_point, clean.tmp, runbook, clean.result)
    kill_run = partial(kill_point, clean.tmp, runbook, clean.result)
    totals = sweep(f"{runbook}, {part}", part.of(points), point_run)
    killed = sweep(f"{runbook} (SIGKILL), {part}", part.of(kills), kill_run)
    failures = totals.failures() + killed.failures()
    assert not failures, "\n".join(failures)


# --- the lab's persistence, which the SIGKILL points rely on ---------------------------------


def test_a_killed_lab_comes_back_as_a_power_cycle(tmp_path: Path) -> None:
    """SIGKILL, restart on the same state dir: same ports and host keys, the device
    boots what was saved, the router keeps its settings and version."""
    process = LabProcess(tmp_path / "lab", "seed-v1")
    process.start()
    try:
        state = process.state
        sweep_inventory(state)
        described = (state / "lab.json").read_text()
        rotated = fitelctl(*run_args(state, "rotate-psk", "--var", "verify_timeout=5"))
        assert rotated.returncode == 0, rotated.stderr
        saved, router = process.saved_boot("tokyo"), process.saved_router()
        new_psk = (state / "secrets" / "tokyo.psk").read_text().strip()
        assert new_psk in saved
        assert (
            router["settings"]["Router"]["SiteToSiteIPsecVPN"]["Config"][0]["PreSharedSecret"]
            == new_psk
        )
        process.kill()
        process.start()
        assert (state / "lab.json").read_text() == described  # same ports, same credentials
        status = fitelctl("-i", str(state / "inventory.yaml"), "status", "--json")
        assert status.returncode == 0, status.stderr  # known_hosts matches, tunnel up
        assert json.loads(status.stdout)["sites"][0]["state"] == "up"
        assert same(process.saved_boot("tokyo"), saved)
    finally:
        process.stop()


def test_unsaved_changes_are_lost_in_a_power_cycle(tmp_path: Path) -> None:
    from fitelctl.lab.device.editing import replay_config

    with lab(tmp_path / "lab", "seed-v2-pending") as running:
        inventory = sweep_inventory(running.options.state_dir)
        v1 = running.sites["tokyo"].device.current_config()
        assert fitelctl("-i", str(inventory), *APPLY).returncode == 0
        device = running.sites["tokyo"].device
        v2 = device.boot_config()
        device.working = replay_config(v1)
        device.commit()  # runs v1 again, not saved
        assert same(device.current_config(), v1)
    state = tmp_path / "lab"
    with BackgroundLab(LabOptions(state, scenario="seed-v2-pending")) as restarted:
        device = restarted.sites["tokyo"].device
        for text in (device.current_config(), device.working_config(), device.boot_config()):
            assert same(text, v2)


def test_fault_specs() -> None:
    from fitelctl.lab.faults import FaultError, parse_faults

    faults = parse_faults(["site2/ssh-drop-after:4@2", "commit-fails", "api-reset-at:3"])
    assert (faults.api_reset_at, faults.api_timeout_at, faults.api_503_at) == (3, None, None)
    site2, tokyo = faults.for_device("site2"), faults.for_device("tokyo")
    assert (site2.ssh_drop_after, site2.ssh_drop_session, site2.commit_fails) == (4, 2, True)
    assert (tokyo.ssh_drop_after, tokyo.commit_fails) == (None, True)
    for bad, says in [
        ("api-timeout-at:0", "counted from 1"),
        ("ssh-drop-after:2@0", "counted from 1"),
        ("tokyo/api-503:1", "only device faults may name a site"),
        ("api-reset-at:x", "non-negative number"),
    ]:
        with pytest.raises(FaultError, match=says):
            parse_faults([bad])


def test_real_ike_faults_need_the_strongswan_lab(tmp_path: Path) -> None:
    from fitelctl.lab.faults import parse_faults

    faults = parse_faults(["tokyo/esp-noise", "site2/drop-ike"])
    assert (faults.for_device("tokyo").esp_noise, faults.for_device("tokyo").drop_ike) == (
        True,
        False,
    )
    assert faults.for_device("site2").drop_ike and faults.need_strongswan
    result = fitelctl("lab", "up", "--state-dir", str(tmp_path), "--fault", "esp-noise")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith("--fault drop-ike, esp-noise and router-restart need real IKE (--ike strongswan)")
    )


def test_unknown_site_in_a_fault_is_one_line(tmp_path: Path) -> None:
    result = fitelctl("lab", "up", "--state-dir", str(tmp_path), "--fault", "osaka/commit-fails")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "unknown site 'osaka'" in result.stderr.strip().splitlines()[-1]


def test_kill_fault_specs() -> None:
    from fitelctl.lab.faults import FaultError, parse_faults

    faults = parse_faults(["site2/kill-after:show working.cfg@2", "api-kill-after:4"])
    assert faults.for_device("site2").kill_after == ("show working.cfg", 2)
    assert (faults.for_device("tokyo").kill_after, faults.api_kill_after) == (None, 4)
    assert parse_faults(["kill-after:set pfs  group14"]).devices[0].kill_after == (
        "set pfs group14",
        1,
    )
    for bad, says in [
        ("kill-after:frobnicate", "the device knows no command 'frobnicate'"),
        ("kill-after:y", "the device knows no command 'y'"),  # an answer, not a command
        ("kill-after:commit@0", "counted from 1"),
        ("api-kill-after:0", "counted from 1"),
        ("tokyo/api-kill-after:1", "only device faults may name a site"),
    ]:
        with pytest.raises(FaultError, match=says):
            parse_faults([bad])


def test_only_a_lab_process_of_its_own_takes_a_kill_fault(tmp_path: Path) -> None:
    from fitelctl.lab.runner import LabError

    with (
        pytest.raises(LabError, match="only a lab in a process of its own"),
        lab(tmp_path / "lab", "seed-v2", faults=("kill-after:commit",)),
    ):
        pass


def test_a_device_resetting_before_its_banner_is_one_line(tmp_path: Path) -> None:
    """A device that dies while fitelctl connects (what a killed lab does to the next
    session): one line, no traceback from paramiko's transport thread."""
    listener = socket.create_server(("127.0.0.1", 0))

    def reset_each() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # the test closed the listener: done
                return
            time.sleep(0.3)  # paramiko is reading the banner by now
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

    threading.Thread(target=reset_each, daemon=True).start()
    with lab(tmp_path / "lab", "seed-v2") as running:
        state = running.options.state_dir
        inventory = yaml.safe_load((state / "inventory.yaml").read_text())
        inventory["sites"]["tokyo"]["device"]["port"] = listener.getsockname()[1]
        (state / "reset.yaml").write_text(yaml.safe_dump(inventory))
        result = fitelctl("-i", str(state / "reset.yaml"), "diff", "tokyo")
    listener.close()
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "cannot open an SSH session" in result.stderr
