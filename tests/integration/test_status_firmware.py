"""`fitelctl status` over real SSH to the lab: the V01.11 layout's IKE SA, the model and
the firmware of each device, in the JSON and the table."""

from __future__ import annotations

import json

from conftest import RunCli, StartLab
from helpers import lab_inventory_path


def test_newer_firmware_json_names_ike_sa_model_and_firmware(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v2", sa_format="ike_child")
    result = cli("-i", str(lab_inventory_path(lab)), "status", "--json")
    assert result.returncode == 0, result.stderr
    (site,) = json.loads(result.stdout)["sites"]
    device = site["device"]
    assert (site["state"], site["problems"], device["warnings"]) == ("up", [], [])
    assert (device["model"], device["firmware"]) == ("F220", "01.12(00)[0]00.00.0")
    (ike,) = device["ike_sas"]
    assert (ike["encryption"], ike["hash"], ike["dh_group"]) == (
        "aes256-cbc",
        "hmac-sha256-128",
        14,
    )
    assert (ike["remote_ip"], ike["direction"], ike["dpd"]) == ("27.133.132.134", "I", "on")
    assert 0 < ike["lifetime_remaining"] <= ike["lifetime_total"]
    (sa,) = device["ipsec_sas"]
    assert sa["authentication"] == "HMAC-SHA2-256"  # the published V01.11 name
    assert "cookie" not in result.stdout.lower() and "key" not in result.stdout.lower()


def test_old_firmware_json_has_no_ike_sas_and_the_table_names_the_device(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v1")
    inventory = str(lab_inventory_path(lab))
    doc = json.loads(cli("-i", inventory, "status", "--json").stdout)
    (site,) = doc["sites"]
    assert (site["device"]["ike_sas"], site["device"]["model"]) == ([], "F220")
    table = cli("-i", inventory, "status")
    assert table.returncode == 0 and "F220 01.12(00)[0]00.00.0" in table.stdout
