"""`fitelctl apply` against the lab: apply, unchanged re-apply, and each fault's clean rollback.

An independent client, the upstream netmiko driver used unmodified, confirms
what the device runs and boots afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import RunCli, StartLab
from helpers import ARTICLE_V2_CHANGES, lab_inventory_path, sessions_ended
from operator_session import configure_terminal, operator_session

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.diff import equivalent
from fitelctl.lab.runner import Lab


def referee(lab: Lab, site: str = "tokyo") -> dict[str, str]:
    """current.cfg, working.cfg and the boot file as the upstream netmiko driver reads them."""
    device = next(
        d
        for d in json.loads((lab.options.state_dir / "lab.json").read_text())["devices"]
        if d["site"] == site
    )
    with operator_session(device) as conn:
        shown = {}
        for name in ("current.cfg", "working.cfg", "config /drive/boot.cfg"):
            output = conn.send_command(f"show {name}")
            assert isinstance(output, str)  # netmiko gives a list or dict only when asked to parse
            shown[name] = output
        return shown


def same(a: str, b: str) -> bool:
    return equivalent(ConfigTree.parse(a), ConfigTree.parse(b))


def apply_json(cli: RunCli, lab: Lab, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("-i", str(lab_inventory_path(lab)), "apply", "--json", *args)
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


def count_calls(lab: Lab, method: str, site: str = "tokyo") -> list[int]:
    """Count the device's commits/saves by wrapping the lab device's own method."""
    device = lab.sites[site].device
    calls = [0]
    original: Callable[..., Any] = getattr(device, method)

    def counted(*args: Any) -> Any:
        calls[0] += 1
        return original(*args)

    setattr(device, method, counted)
    return calls


def test_pending_v2_is_fixed_by_one_apply_then_unchanged(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    before = referee(lab)
    code, doc = apply_json(cli, lab, "tokyo", "--yes")
    (site,) = doc["sites"]
    assert (code, site["result"], site["saved"]) == (0, "applied", True)
    assert site["diff"] == ARTICLE_V2_CHANGES
    after = referee(lab)
    assert same(after["current.cfg"], after["working.cfg"])
    assert same(after["current.cfg"], after["config /drive/boot.cfg"])
    assert not same(after["current.cfg"], before["current.cfg"])
    assert " group 14" in after["current.cfg"] and " hash sha-256" in after["current.cfg"]
    status = json.loads(cli("-i", str(lab_inventory_path(lab)), "status", "--json").stdout)
    sa = status["sites"][0]["device"]["ipsec_sas"][0]
    assert (sa["encryption"], sa["pfs_group"]) == ("AES-CBC/256", 14)

    commits, saves = count_calls(lab, "commit"), count_calls(lab, "save")
    code, doc = apply_json(cli, lab, "tokyo", "--yes")
    assert (code, doc["sites"][0]["result"], doc["sites"][0]["saved"]) == (0, "unchanged", False)
    assert doc["sites"][0]["diff"] == []
    assert (commits[0], saves[0]) == (0, 0)
    backups = cli("-i", str(lab_inventory_path(lab)), "backups", "tokyo", "--json")
    assert len(json.loads(backups.stdout)["backups"]) == 1


@pytest.mark.parametrize("fault", ["wrong-psk", "commit-fails", "ssh-drop-after:3"])
def test_each_fault_ends_in_a_clean_rollback(start_lab: StartLab, cli: RunCli, fault: str) -> None:
    lab = start_lab(scenario="seed-v2-pending", faults=(fault,))
    before = referee(lab)
    saves = count_calls(lab, "save")
    # wrong-psk waits out the verify timeout: the smallest one allowed
    code, doc = apply_json(cli, lab, "tokyo", "--yes", "--verify-timeout", "1")
    (site,) = doc["sites"]
    assert code == 1 and site["result"] == "rolled_back" and site["saved"] is False
    assert saves[0] == 0
    assert any("rolled back" in p for p in site["problems"])
    after = referee(lab)
    for name in ("current.cfg", "working.cfg", "config /drive/boot.cfg"):
        assert same(after[name], before["current.cfg"]), name
    assert after["config /drive/boot.cfg"] == before["config /drive/boot.cfg"]


def test_unchanged_on_a_site_already_in_its_intended_state(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v1")
    commits = count_calls(lab, "commit")
    code, doc = apply_json(cli, lab, "--all", "--yes")
    assert (code, doc["sites"][0]["result"], commits[0]) == (0, "unchanged", 0)


def test_dry_run_changes_nothing(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    before = referee(lab)
    code, doc = apply_json(cli, lab, "tokyo", "--dry-run")
    assert (code, doc["sites"][0]["result"]) == (0, "dry_run")
    assert doc["sites"][0]["diff"] == ARTICLE_V2_CHANGES
    assert referee(lab) == before
    assert not (lab.options.state_dir / "backups").exists()


def test_many_sites_concurrently(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending", sites=4)
    code, doc = apply_json(cli, lab, "--all", "--yes", "--workers", "2")
    assert code == 0
    assert [s["result"] for s in doc["sites"]] == ["applied"] * 4
    assert [s["site"] for s in doc["sites"]] == ["tokyo", "site2", "site3", "site4"]


def test_sites_on_one_vpc_router_share_its_reconnects(start_lab: StartLab, cli: RunCli) -> None:
    """Each cloud-side reconnect renegotiates every peer of the router: six sites changing
    at once must not send six (the slow API keeps the first one open while the others
    commit, as a busy real API would)."""
    lab = start_lab(scenario="seed-v2-pending", sites=6, faults=("api-slow:0.5",))
    assert lab.api is not None
    code, doc = apply_json(cli, lab, "--all", "--yes", "--workers", "6")
    assert code == 0, [(s["site"], s["result"], s.get("problems")) for s in doc["sites"]]
    assert [s["result"] for s in doc["sites"]] == ["applied"] * 6
    reapplies = [r for r in lab.api.requests if r.startswith("PUT ") and r.endswith("/config")]
    assert 1 <= len(reapplies) < 6


def test_no_secret_in_json_diff_or_audit(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="fresh")
    state = lab.options.state_dir
    psk = (state / "secrets" / "tokyo.psk").read_text().strip()
    result = cli("-i", str(lab_inventory_path(state)), "apply", "tokyo", "--yes", "--json")
    doc = json.loads(result.stdout)
    site = doc["sites"][0]
    assert site["result"] == "applied"
    assert " local-key <redacted>" in site["diff"]
    audit = (state / "audit.jsonl").read_text()
    for text in (result.stdout, result.stderr, audit):
        assert psk not in text
    record = json.loads(audit.splitlines()[-1])
    assert record["site"] == "tokyo" and record["result"] == "applied" and record["user"]
    assert oct((state / "audit.jsonl").stat().st_mode)[-3:] == "600"
    backup = next((state / "backups" / "tokyo").iterdir())
    assert oct(backup.stat().st_mode)[-3:] == "600"


def test_check_errors_refuse_before_touching_the_device(
    start_lab: StartLab, cli: RunCli, tmp_path: Path
) -> None:
    import yaml

    lab = start_lab(scenario="seed-v2-pending")
    inventory = yaml.safe_load(lab_inventory_path(lab).read_text())
    inventory["sites"]["tokyo"]["cloud"]["version"] = 1  # v2 crypto against a v1 router
    path = lab.options.state_dir / "broken.yaml"
    path.write_text(yaml.safe_dump(inventory))
    before = referee(lab)
    result = cli("-i", str(path), "apply", "tokyo", "--yes", "--json")
    site = json.loads(result.stdout)["sites"][0]
    assert result.returncode == 1 and site["result"] == "failed"
    assert any("v1-unsupported-algorithm" in p for p in site["problems"])
    assert referee(lab) == before


def test_uncommitted_edits_of_another_session_are_not_applied_over(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    lab_json = json.loads((lab.options.state_dir / "lab.json").read_text())["devices"][0]
    with operator_session(lab_json) as other:  # types the line, then `end` and `exit`
        configure_terminal(other)
        other.send_command("ip route 10.9.9.0/24 172.30.128.1", expect_string=r"\)#")
    sessions_ended(lab)
    code, doc = apply_json(cli, lab, "tokyo", "--yes")
    site = doc["sites"][0]
    assert code == 1 and site["result"] == "failed"
    assert "working.cfg holds edits that were never committed" in site["problems"][0]


def test_apply_without_yes_outside_a_terminal_asks_for_it(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    result = cli("-i", str(lab_inventory_path(lab)), "apply", "tokyo")
    assert result.returncode == 1 and "--yes" in result.stderr
    assert "Traceback" not in result.stderr


def test_diff_command(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    result = cli("-i", str(lab_inventory_path(lab)), "diff", "tokyo")
    assert result.returncode == 1
    assert result.stdout.splitlines() == ARTICLE_V2_CHANGES
