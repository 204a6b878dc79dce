"""Every shipped runbook against the lab, success and failure branches; resume never repeats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, RunCli, StartLab
from helpers import lab_inventory_path

from fitelctl.lab.runner import Lab


def run(cli: RunCli, lab: Lab, *args: str) -> Any:
    return cli("-i", str(lab_inventory_path(lab)), "run", *args, timeout=300)


def record_events(lab: Lab, runbook: str) -> list[dict[str, Any]]:
    (path,) = sorted((lab.options.state_dir / "runs").glob(f"{runbook}-tokyo-*.jsonl"))[-1:]
    return [json.loads(line) for line in path.read_text().splitlines()]


def step_statuses(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["step"], e["status"]) for e in events if e["event"] == "step"]


def test_reconnect_runbook(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v1")
    result = run(cli, lab, "reconnect", "--site", "tokyo")
    assert result.returncode == 0, result.stderr
    assert "reconnect tokyo: done" in result.stdout
    events = record_events(lab, "reconnect")
    assert [s for s in step_statuses(events) if s[1] != "started"] == [
        ("before", "ok"),
        ("reconnect", "ok"),
        ("verify", "ok"),
    ]
    assert events[-1]["event"] == "end" and events[-1]["ok"] is True
    assert events[-1]["snapshot"]["status"]["data"]["state"] == "up"


def test_reconnect_runbook_failure_branch_reports_both_sides(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    result = run(cli, lab, "reconnect", "--site", "tokyo", "--var", "timeout=1")
    assert result.returncode == 1
    assert "FAILED at step 'reconnect'" in result.stdout and "--resume" in result.stdout
    assert "recovery diagnose why" in result.stderr
    assert "proposal_mismatch_main_mode" in result.stderr
    assert "state now (judged against the inventory file): down" in result.stderr
    end = record_events(lab, "reconnect")[-1]
    assert end["ok"] is False and end["failed_step"] == "reconnect"
    snapshot = end["snapshot"]
    assert snapshot["status"]["data"]["cloud"]["peer_status"] == "DOWN"
    assert snapshot["config"]["data"]["changes"] is True


def test_resume_goes_on_from_the_failed_step(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    assert run(cli, lab, "reconnect", "--site", "tokyo", "--var", "timeout=1").returncode == 1
    fixed = cli("-i", str(lab_inventory_path(lab)), "apply", "tokyo", "--yes")
    assert fixed.returncode == 0
    resumed = run(cli, lab, "reconnect", "--site", "tokyo", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "both sides before: done in the earlier run, skipped" in resumed.stderr
    events = record_events(lab, "reconnect")
    assert next(e for e in events if e["event"] == "resume")["skipping"] == ["before"]
    assert [s for s in step_statuses(events) if s[1] != "started"] == [
        ("before", "ok"),
        ("reconnect", "failed"),
        ("why", "ok"),
        ("reconnect", "ok"),
        ("verify", "ok"),
    ]


def test_resume_never_repeats_a_step_that_changed_something(
    start_lab: StartLab, cli: RunCli, tmp_path: Path
) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    runbook = tmp_path / "apply-then-fail.yaml"
    runbook.write_text(
        "name: apply-then-fail\ndescription: test\nsteps:\n"
        "  - {id: fix, op: apply}\n"
        "  - id: expect-down\n    op: status\n"
        "    wait: {until: {state: down}, timeout: 1, interval: 0.2}\n"
    )
    assert run(cli, lab, str(runbook), "--site", "tokyo").returncode == 1
    audit = lab.options.state_dir / "audit.jsonl"
    assert len(audit.read_text().splitlines()) == 1
    assert run(cli, lab, str(runbook), "--site", "tokyo", "--resume").returncode == 1
    assert len(audit.read_text().splitlines()) == 1  # apply did not run again
    events = record_events(lab, "apply-then-fail")
    assert [e["skipping"] for e in events if e["event"] == "resume"] == [["fix"]]


def test_resume_without_an_unfinished_run_is_a_clear_error(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v1")
    result = run(cli, lab, "reconnect", "--site", "tokyo", "--resume")
    assert result.returncode != 0
    assert "no unfinished run" in result.stderr and "Traceback" not in result.stderr


def test_dry_run_shows_the_steps_and_changes_nothing(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    result = run(cli, lab, "tunnel-down", "--site", "tokyo", "--dry-run")
    assert result.returncode == 0
    assert (
        "fix: apply" in result.stdout
        and "asks: 'Apply the proposed commands to tokyo?'" in result.stdout
    )
    assert not (lab.options.state_dir / "runs").exists()
    assert not (lab.options.state_dir / "audit.jsonl").exists()


def test_tunnel_down_diagnoses_proposes_and_fixes(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    result = run(cli, lab, "tunnel-down", "--site", "tokyo", "--yes")
    assert result.returncode == 0, result.stderr
    statuses = [s for s in step_statuses(record_events(lab, "tunnel-down")) if s[1] != "started"]
    assert statuses == [
        ("status", "ok"),
        ("diagnose", "ok"),
        ("proposal", "ok"),
        ("fix", "ok"),
        ("verify", "ok"),
    ]
    assert "proposal_mismatch_main_mode" in result.stderr


def test_tunnel_down_without_confirmation_does_not_apply(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    result = run(cli, lab, "tunnel-down", "--site", "tokyo")
    assert result.returncode == 1
    assert "FAILED at step 'fix'" in result.stdout
    assert not (lab.options.state_dir / "audit.jsonl").exists()


def test_tunnel_down_when_it_is_up_changes_nothing(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v1")
    result = run(cli, lab, "tunnel-down", "--site", "tokyo")
    assert result.returncode == 0, result.stderr
    statuses = dict(
        s for s in step_statuses(record_events(lab, "tunnel-down")) if s[1] != "started"
    )
    assert statuses["proposal"] == "skipped" and statuses["fix"] == "skipped"


def test_rollback_runbook_restores_the_latest_backup(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    inventory = str(lab_inventory_path(lab))
    assert cli("-i", inventory, "apply", "tokyo", "--yes").returncode == 0
    # the rollback brings back the v1 config; the v2 router refuses it, so verify fails
    result = run(cli, lab, "rollback", "--site", "tokyo", "--yes", "--var", "timeout=1")
    assert result.returncode == 1
    assert "FAILED at step 'restore'" in result.stdout
    events = record_events(lab, "rollback")
    assert events[-1]["snapshot"]["config"]["data"]["changes"] is False  # put back: still v2


def test_rollback_runbook_success(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v1")
    inventory = lab_inventory_path(lab)
    text = inventory.read_text().replace("lifetime: 1800", "lifetime: 1800")
    inventory.write_text(
        text.replace("preset: sakura-v1", "preset: sakura-v1\n      crypto: {ipsec_lifetime: 900}")
    )
    assert cli("-i", str(inventory), "apply", "tokyo", "--yes").returncode == 0
    result = run(cli, lab, "rollback", "--site", "tokyo", "--yes")
    assert result.returncode == 0, result.stderr
    events = record_events(lab, "rollback")
    restore = next(e for e in events if e.get("step") == "restore" and e["status"] == "ok")
    assert restore["data"]["result"] == "applied" and restore["data"]["saved"] is True


MIGRATE_FAST = [
    "--var",
    "migrate_timeout=1",
    "--var",
    "interval=0.1",
    "--var",
    "power_timeout=10",
    "--var",
    "verify_timeout=10",
]


def test_migrate_gets_through_the_articles_stuck_router(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="migration-stuck")
    result = run(cli, lab, "migrate-vpc-router-v2", "--site", "tokyo", "--yes", *MIGRATE_FAST)
    assert result.returncode == 0, result.stderr
    events = record_events(lab, "migrate-vpc-router-v2")
    statuses = [s for s in step_statuses(events) if s[1] != "started"]
    assert ("migrated", "failed") in statuses
    for recovery in ("power-off", "wait-off", "reimport", "power-on", "wait-up"):
        assert (recovery, "ok") in statuses
    assert statuses[-4:] == [
        ("device", "ok"),
        ("reconnect", "ok"),
        ("verify", "ok"),
        ("inventory", "ok"),
    ]
    verify = next(e for e in events if e.get("step") == "verify" and e["status"] == "ok")
    sa = verify["data"]["device"]["ipsec_sas"][0]
    assert (sa["encryption"], sa["authentication"], sa["pfs_group"]) == (
        "AES-CBC/256",
        "HMAC-SHA2-256-128/256",
        14,
    )
    assert verify["data"]["cloud"]["vpc_router_version"] == 2
    assert "sites.tokyo.cloud.version: 2" in result.stderr
    export = next(e for e in events if e.get("step") == "export" and e["status"] == "ok")
    assert oct(Path(export["data"]["path"]).stat().st_mode)[-3:] == "600"
    psk = (lab.options.state_dir / "secrets" / "tokyo.psk").read_text().strip()
    record = (sorted((lab.options.state_dir / "runs").glob("migrate*.jsonl"))[-1]).read_text()
    assert psk not in record and psk not in result.stderr + result.stdout


def test_migrate_failure_then_resume_without_repeating(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v1", faults=("ssh-drop-after:2",))
    result = run(cli, lab, "migrate-vpc-router-v2", "--site", "tokyo", "--yes", *MIGRATE_FAST)
    assert result.returncode == 1 and "FAILED at step 'device'" in result.stdout
    end = record_events(lab, "migrate-vpc-router-v2")[-1]
    assert end["snapshot"]["status"]["data"]["cloud"]["vpc_router_version"] == 2
    assert lab.api is not None
    migrations = [r for r in lab.api.requests if "version" in r]
    resumed = run(cli, lab, "migrate-vpc-router-v2", "--site", "tokyo", "--yes", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert [r for r in lab.api.requests if "version" in r] == migrations  # not migrated twice
    events = record_events(lab, "migrate-vpc-router-v2")
    assert next(e for e in events if e["event"] == "resume")["skipping"] == [
        "algorithms",
        "before",
        "export",
        "migrate",
        "migrated",
    ]


def test_rotate_psk_on_both_sides(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2")
    secret = lab.options.state_dir / "secrets" / "tokyo.psk"
    old = secret.read_text().strip()
    result = run(cli, lab, "rotate-psk", "--site", "tokyo", "--yes")
    assert result.returncode == 0, result.stderr
    new = secret.read_text().strip()
    assert new != old and Path(f"{secret}.previous").read_text().strip() == old
    assert oct(secret.stat().st_mode)[-3:] == "600"
    status = cli("-i", str(lab_inventory_path(lab)), "status", "--json")
    assert json.loads(status.stdout)["sites"][0]["state"] == "up"
    record = sorted((lab.options.state_dir / "runs").glob("rotate-psk*.jsonl"))[-1].read_text()
    for key in (old, new):
        assert key not in record and key not in result.stdout + result.stderr


def test_rotate_psk_failure_puts_both_sides_back(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2", faults=("ssh-drop-after:0",))
    secret = lab.options.state_dir / "secrets" / "tokyo.psk"
    old = secret.read_text()
    result = run(cli, lab, "rotate-psk", "--site", "tokyo", "--yes", "--var", "verify_timeout=1")
    assert result.returncode == 1 and "FAILED at step 'device'" in result.stdout
    statuses = [s for s in step_statuses(record_events(lab, "rotate-psk")) if s[1] != "started"]
    assert ("router", "ok") in statuses and ("router-back", "ok") in statuses
    assert secret.read_text() == old
    end = record_events(lab, "rotate-psk")[-1]
    assert end["snapshot"]["status"]["data"]["state"] == "up"


def test_a_broken_runbook_is_refused_before_anything_runs(
    start_lab: StartLab, cli: RunCli, tmp_path: Path
) -> None:
    lab = start_lab(scenario="seed-v1")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: b\ndescription: d\nsteps:\n  - id: one\n    op: stauts\n")
    result = run(cli, lab, str(broken), "--site", "tokyo")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{broken}:5: step 'one': unknown op 'stauts'" in lines[0]
    assert not (lab.options.state_dir / "runs").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], ":9: step 'wait': `timout`: unknown argument of router-wait; did you mean `timeout`?"),
        (
            ["--var", "seconds=soon"],
            ":9: step 'wait': `timeout` of router-wait (from '${seconds}'): expected a number, "
            "not 'soon'",
        ),
    ],
)
def test_a_bad_step_argument_is_refused_by_run_before_anything_runs(
    cli: RunCli, tmp_path: Path, args: list[str], says: str
) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text((ROOT / "inventory/examples/article-v1.yaml").read_text())
    runbook = tmp_path / "wait.yaml"
    runbook.write_text(
        "name: wait\ndescription: d\nparameters: {seconds: {default: 5}}\nsteps:\n"
        "  - id: wait\n    op: router-wait\n    args:\n      instance_status: up\n"
        + ('      timeout: "${seconds}"\n' if args else "      timout: 5\n")
    )
    result = cli("-i", str(inventory), "run", str(runbook), "--site", "tokyo", "--yes", *args)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{runbook}{says}" in lines[0], result.stderr
    assert not (tmp_path / "runs").exists()  # no run record: nothing started


def test_playbooks_lists_the_shipped_runbooks(cli: RunCli) -> None:
    result = cli("playbooks", "--json")
    names = {p["name"] for p in json.loads(result.stdout)["playbooks"]}
    assert names >= {"reconnect", "migrate-vpc-router-v2", "rotate-psk", "rollback", "tunnel-down"}
