"""``fitelctl check`` as users and scripts meet it: output, JSON shape, exit codes, no PSK."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, RunCli
from helpers import one_line_error

V1 = ROOT / "inventory/examples/article-v1.yaml"
V2 = ROOT / "inventory/examples/article-v2.yaml"
PSK = "Unmistakable-Psk-4711"


def env(psk: str | None = PSK) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if k != "TOKYO_PSK"}
    if psk is not None:
        values["TOKYO_PSK"] = psk
    return values


def check(cli: RunCli, inventory: Path, *args: str, psk: str | None = PSK) -> Any:
    result = cli("-i", str(inventory), "check", *args, env=env(psk))
    assert "Traceback" not in result.stderr
    if psk:
        assert psk not in result.stdout + result.stderr
    return result


def json_report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(result.stdout)  # stdout holds the document only
    return report


def v1_router_with_v2_device(tmp_path: Path) -> Path:
    data = yaml.safe_load(V2.read_text())
    data["sites"]["tokyo"]["cloud"] = {"version": 1, "global_address": "27.133.132.134"}
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_article_v2_json_shape_and_warnings_only(cli: RunCli) -> None:
    result = check(cli, V2, "--json")
    assert result.returncode == 0, result.stderr
    report = json_report(result)
    assert list(report) == ["sites"]
    (site,) = report["sites"]
    assert list(site) == ["site", "ok", "findings"]
    assert site["site"] == "tokyo" and site["ok"] is True
    assert all(list(f) == ["severity", "rule", "message"] for f in site["findings"])
    assert sorted((f["severity"], f["rule"]) for f in site["findings"]) == [
        ("warning", "esp-lifetime-differs"),
        ("warning", "ipsec-lifetime-short"),
    ]


def test_article_v1_human_output_says_ok(cli: RunCli) -> None:
    result = check(cli, V1)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "tokyo: ok",
        "1 site checked: no errors, no warnings",
    ]


def test_article_v2_human_output_lists_warnings(cli: RunCli) -> None:
    result = check(cli, V2, "tokyo")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "tokyo: 2 warnings"
    assert any(line.startswith("  warning ipsec-lifetime-short: ") for line in lines)
    assert lines[-1] == "1 site checked: 2 warnings"


def test_errors_exit_1_in_both_formats(cli: RunCli, tmp_path: Path) -> None:
    inventory = v1_router_with_v2_device(tmp_path)
    human = check(cli, inventory)
    assert human.returncode == 1
    assert "  error v1-unsupported-algorithm: " in human.stdout
    assert human.stdout.splitlines()[-1].startswith("1 site checked: 4 errors")
    report = json_report(check(cli, inventory, "--json"))
    (site,) = report["sites"]
    assert site["ok"] is False
    assert {f["rule"] for f in site["findings"] if f["severity"] == "error"} == {
        "v1-unsupported-algorithm"
    }


def test_unset_psk_is_a_finding_not_a_crash(cli: RunCli) -> None:
    result = check(cli, V1, "--json", psk=None)
    assert result.returncode == 1
    (site,) = json_report(result)["sites"]
    (finding,) = site["findings"]
    assert (finding["severity"], finding["rule"]) == ("error", "psk-unresolved")
    assert "TOKYO_PSK" in finding["message"]


@pytest.mark.parametrize("as_json", [False, True])
def test_bad_psk_value_never_reaches_any_output(cli: RunCli, as_json: bool) -> None:
    bad = "a far too long pre-shared key with spaces 1234567890"
    result = check(cli, V1, *(["--json"] if as_json else []), psk=bad)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert bad not in output and "far too long pre-shared" not in output
    assert "psk-too-long" in output and "psk-characters" in output


def test_unknown_site_is_one_line_of_bad_input(cli: RunCli) -> None:
    result = check(cli, V1, "nara")
    assert result.returncode == 2
    one_line_error(result, "unknown site 'nara'")


def test_invalid_inventory_is_one_line_of_bad_input(cli: RunCli, tmp_path: Path) -> None:
    data = yaml.safe_load(V1.read_text())
    data["sites"]["tokyo"]["tunnel"]["crypto"] = {"dh_group": 3}
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    result = check(cli, path, "--json")
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "sites.tokyo.tunnel.crypto.dh_group" in line


def test_help(cli: RunCli) -> None:
    result = cli("check", "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout and "--json" in result.stdout
