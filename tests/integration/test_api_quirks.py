"""The API's published quirks through the real command line: numbers as strings, lifetimes swapped.

The lab's ``api-quirks`` fault serves every number of the settings and status
as a string and the site-to-site connection details with the IKE and ESP
lifetimes swapped, as sacloud/libsacloud's published sample shows them.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from conftest import RunCli, StartLab
from helpers import lab_inventory_path

from fitelctl.lab.runner import Lab

SETTINGS = "Settings.Router.SiteToSiteIPsecVPN"
DETAILS = "vpcrouter/sitetosite/connectiondetails Details.Config[0]"


def run(cli: RunCli, lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    result = cli("-i", str(lab_inventory_path(lab)), *args)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def test_status_reads_string_numbers_and_names_where_lifetimes_came_from(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v2", faults=("api-quirks",))
    result = run(cli, lab, "status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    cloud = as_json(result)["sites"][0]["cloud"]
    assert cloud["peer_status"] == "UP"
    assert cloud["lifetimes"] == [
        {"phase": "IKE", "seconds": 28800, "from": f"{SETTINGS}.IKE.Lifetime"},
        {"phase": "ESP", "seconds": 1800, "from": f"{SETTINGS}.ESP.Lifetime"},
    ]
    assert cloud["notes"] == []


def test_diagnose_notes_the_swapped_connection_details(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2", faults=("api-quirks",))
    result = run(cli, lab, "diagnose", "tokyo", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    doc = as_json(result)
    assert doc["cause"] == "ok"
    implausible = next(e for e in doc["evidence"] if e.startswith("implausible lifetimes"))
    assert f"IKE 1800 s ({DETAILS}.IKE.Lifetime)" in implausible
    assert f"ESP 28800 s ({DETAILS}.ESP.Lifetime)" in implausible
    crossed = next(e for e in doc["evidence"] if "cross IKE and ESP" in e)
    assert f"IKE 28800 s ({SETTINGS}.IKE.Lifetime)" in crossed
    psk = (lab.options.state_dir / "secrets" / "tokyo.psk").read_text().strip()
    assert psk not in result.stdout  # the connection details carry the PSK


def test_without_the_quirks_the_answers_agree(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2")
    doc = as_json(run(cli, lab, "diagnose", "tokyo", "--json"))
    assert doc["cause"] == "ok"
    assert not any("lifetime" in e for e in doc["evidence"])


# --- bad input ----------------------------------------------------------------------------------


def test_a_lifetime_that_is_not_a_number_is_one_line_naming_its_path(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v2", faults=("api-quirks",))
    assert lab.api is not None
    lab.api.router.settings["Router"]["SiteToSiteIPsecVPN"]["IKE"]["Lifetime"] = "eight hours"

    status = run(cli, lab, "status", "--json")
    assert status.returncode == 3
    (problem,) = [p for p in as_json(status)["sites"][0]["problems"] if "cloud side" in p]
    assert f"{SETTINGS}.IKE.Lifetime" in problem and "valid integer" in problem

    diagnose = run(cli, lab, "diagnose", "tokyo")
    assert diagnose.returncode == 3
    (line,) = diagnose.stdout.splitlines()
    assert line.startswith("unknown: cannot read the VPC router:")
    assert f"{SETTINGS}.IKE.Lifetime" in line


def test_unreadable_connection_details_only_add_a_note(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2")
    assert lab.api is not None
    router = lab.api.router
    served = router.connection_details

    def broken() -> dict[str, Any]:
        answer = served()
        answer["Details"]["Config"][0]["ESP"]["Lifetime"] = "28800s"
        return answer

    router.connection_details = broken  # type: ignore[method-assign]
    doc = as_json(run(cli, lab, "diagnose", "tokyo", "--json"))
    assert doc["cause"] == "ok"
    (note,) = [e for e in doc["evidence"] if e.startswith("note:")]
    assert "connection details" in note and "Details.Config.0.ESP.Lifetime" in note
