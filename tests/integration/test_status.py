"""`fitelctl status` against the lab over real SSH: verdicts, JSON, exit codes, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import RunCli, StartLab
from helpers import DRIVERS, lab_inventory, lab_inventory_path

from fitelctl.ops.status import collect_status


def status_json(cli: RunCli, inventory: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = cli("-i", str(inventory), "status", "--json", *args)
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


VPN_SETTINGS = "Settings.Router.SiteToSiteIPsecVPN"


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(
    ("scenario", "state", "encryption", "authentication", "pfs"),
    [
        ("seed-v1", "up", "AES-CBC/128", "HMAC-SHA1-96/160", 5),
        ("seed-v2", "up", "AES-CBC/256", "HMAC-SHA2-256-128/256", 14),
        ("seed-v2-pending", "down", None, None, None),
        ("fresh", "down", None, None, None),
        ("migration-stuck", "up", "AES-CBC/128", "HMAC-SHA1-96/160", 5),
    ],
)
def test_scenario_verdicts(
    start_lab: StartLab,
    cli: RunCli,
    driver: str,
    scenario: str,
    state: str,
    encryption: str | None,
    authentication: str | None,
    pfs: int | None,
) -> None:
    lab = start_lab(scenario=scenario)
    code, doc = status_json(cli, lab_inventory_path(lab), "--driver", driver)
    (site,) = doc["sites"]
    assert (site["site"], site["state"]) == ("tokyo", state)
    assert code == {"up": 0, "down": 2}[state]
    assert site["device"]["reachable"] is True
    version = 1 if scenario in ("seed-v1", "migration-stuck") else 2
    assert site["cloud"] == {
        "peer": "126.169.118.242",
        "peer_status": "UP" if state == "up" else "DOWN",
        "vpc_router_version": version,
        "availability": "available",
        "instance_status": "up",
        # version 1 settings carry no lifetimes; version 2's name the path they came from
        "lifetimes": []
        if version == 1
        else [
            {"phase": "IKE", "seconds": 28800, "from": f"{VPN_SETTINGS}.IKE.Lifetime"},
            {"phase": "ESP", "seconds": 1800, "from": f"{VPN_SETTINGS}.ESP.Lifetime"},
        ],
        "notes": [],
    }
    if encryption is None:
        assert site["device"]["ipsec_sas"] == []
        assert site["problems"] == [
            "no IPsec SA with 27.133.132.134 on tunnel 1",
            "the VPC router reports peer 126.169.118.242 DOWN",
        ]
        return
    (sa,) = site["device"]["ipsec_sas"]
    assert (sa["encryption"], sa["authentication"], sa["pfs_group"]) == (
        encryption,
        authentication,
        pfs,
    )
    assert sa["peer_ip"] == "27.133.132.134" and sa["interface"] == "tunnel 1"
    assert 0 < sa["lifetime_remaining"] <= sa["lifetime_total"]
    assert site["problems"] == []


def test_json_matches_the_contract_and_carries_no_key_material(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v1")
    result = cli("-i", str(lab_inventory_path(lab)), "status", "--json")
    doc = json.loads(result.stdout)
    sa = doc["sites"][0]["device"]["ipsec_sas"][0]
    assert set(sa) == {
        "peer_ip",
        "local_ip",
        "interface",
        "encryption",
        "authentication",
        "pfs_group",
        "lifetime_remaining",
        "lifetime_total",
        "in_spi",
        "out_spi",
        "in_packets",
        "out_packets",
        "in_errors",
    }
    assert "key" not in result.stdout.lower()
    secrets = [p.read_text().strip() for p in (lab.options.state_dir / "secrets").iterdir()]
    assert not any(secret in result.stdout + result.stderr for secret in secrets)


def test_newer_firmware_format_is_read_too(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2", sa_format="ike_child")
    code, doc = status_json(cli, lab_inventory_path(lab))
    assert code == 0
    assert doc["sites"][0]["device"]["isakmp_sa_count"] == 1


def test_many_sites_worst_state_wins(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v1", sites=4)
    inventory = lab_inventory_path(lab)
    code, doc = status_json(cli, inventory)
    assert code == 0 and [s["state"] for s in doc["sites"]] == ["up"] * 4
    code, doc = status_json(cli, inventory, "site3", "tokyo")
    assert [s["site"] for s in doc["sites"]] == ["site3", "tokyo"]


def test_table_for_people(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2")
    result = cli("-i", str(lab_inventory_path(lab)), "status")
    assert result.returncode == 0
    for text in ("tokyo", "up", "27.133.132.134", "AES-CBC/256", "group 14"):
        assert text in result.stdout


@pytest.mark.parametrize("driver", DRIVERS)
def test_public_key_login(start_lab: StartLab, cli: RunCli, tmp_path: Path, driver: str) -> None:
    import shutil

    import yaml

    lab = start_lab(scenario="seed-v1")
    state = lab.options.state_dir
    for name in ("known_hosts", "client_ed25519"):
        shutil.copy(state / name, tmp_path / name)
    shutil.copytree(state / "secrets", tmp_path / "secrets")
    data = yaml.safe_load(lab_inventory_path(state).read_text())
    device = data["sites"]["tokyo"]["device"]
    del device["password"]
    device.update(private_key="client_ed25519", driver=driver)
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(data))
    code, doc = status_json(cli, tmp_path / "inventory.yaml")
    assert code == 0 and doc["sites"][0]["state"] == "up"


@pytest.mark.parametrize("driver", DRIVERS)
def test_session_log_is_written_and_redacted(
    start_lab: StartLab, cli: RunCli, tmp_path: Path, driver: str
) -> None:
    lab = start_lab(scenario="seed-v1")
    state = lab.options.state_dir
    logs = tmp_path / "logs"
    result = cli(
        "-i",
        str(lab_inventory_path(state)),
        "status",
        "--driver",
        driver,
        "--session-log",
        str(logs),
    )
    assert result.returncode == 0
    transcript = (logs / "tokyo.log").read_text()
    assert "IPSEC SA" in transcript and "Cipher Key" in transcript
    secrets = [p.read_text().strip() for p in (state / "secrets").iterdir()]
    assert not any(secret in transcript for secret in secrets)
    keys = [line.split(":", 1)[1].strip() for line in transcript.splitlines() if "Key    :" in line]
    assert keys and all(key == "<redacted>" for key in keys)


def test_wrong_psk_fault_keeps_the_tunnel_down(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2", faults=("wrong-psk",))
    code, doc = status_json(cli, lab_inventory_path(lab))
    assert code == 2 and doc["sites"][0]["state"] == "down"


def test_device_up_but_cloud_says_down_is_degraded(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v1")
    assert lab.api is not None
    lab.api.router._peer_up = lambda public_address: False  # type: ignore[method-assign]
    code, doc = status_json(cli, lab_inventory_path(lab))
    site = doc["sites"][0]
    assert (code, site["state"]) == (1, "degraded")
    assert site["cloud"]["peer_status"] == "DOWN"
    assert site["problems"] == ["the VPC router reports peer 126.169.118.242 DOWN"]


def test_cloud_side_unreadable_is_unknown(start_lab: StartLab, cli: RunCli, tmp_path: Path) -> None:
    import os

    lab = start_lab(scenario="seed-v1")
    env = {**os.environ, "SAKURACLOUD_ACCESS_TOKEN_SECRET": "wrong-secret-value"}
    result = cli("-i", str(lab_inventory_path(lab)), "status", "--json", env=env)
    site = json.loads(result.stdout)["sites"][0]
    assert (result.returncode, site["state"]) == (3, "unknown")
    assert any("cloud side" in p and "token" in p for p in site["problems"])
    assert "wrong-secret-value" not in result.stdout + result.stderr


def test_one_api_read_per_vpc_router(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v1", sites=5)
    assert lab.api is not None
    before = len(lab.api.requests)
    code, doc = status_json(cli, lab_inventory_path(lab))
    assert code == 0 and len(doc["sites"]) == 5
    requests = list(lab.api.requests)[before:]
    assert sorted(r.split()[0] for r in requests) == ["GET", "GET"]


def test_api_503_burst_is_retried(start_lab: StartLab, cli: RunCli) -> None:
    import os

    lab = start_lab(scenario="seed-v1", faults=("api-503:2",))
    env = {**os.environ, "SAKURACLOUD_RETRY_MAX": "3"}
    result = cli("-i", str(lab_inventory_path(lab)), "status", "--json", env=env)
    assert result.returncode == 0, result.stdout


def _with_cloud(lab_dir: Path, **changes: object) -> Path:
    import yaml

    data = yaml.safe_load(lab_inventory_path(lab_dir).read_text())
    for key, value in changes.items():
        section, _, name = key.partition("__")
        target = data["api"] if section == "api" else data["sites"]["tokyo"]["cloud"]
        target[name] = value
    path = lab_dir / "changed.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"cloud__vpc_router_id": 999999999999}, "appliance ID"),
        ({"cloud__zone": "xx9z"}, "xx9z"),
        ({"api__timeout": 0.5}, "within 0.5s"),
    ],
)
def test_cloud_side_bad_input_is_unknown_with_one_clear_reason(
    start_lab: StartLab, cli: RunCli, changes: dict[str, object], expected: str
) -> None:
    faults = ("api-slow:2",) if "api__timeout" in changes else ()
    lab = start_lab(scenario="seed-v1", faults=faults)
    path = _with_cloud(lab.options.state_dir, **changes)
    env = {**__import__("os").environ, "SAKURACLOUD_RETRY_MAX": "0"}
    result = cli("-i", str(path), "status", "--json", env=env)
    assert "Traceback" not in result.stderr
    if result.stdout:
        site = json.loads(result.stdout)["sites"][0]
        assert (result.returncode, site["state"]) == (3, "unknown")
        assert any(expected in p for p in site["problems"]), site["problems"]
    else:  # a setting that cannot be used at all is an error line before any read
        assert result.returncode != 0 and expected in result.stderr


def test_an_appliance_that_is_not_a_vpc_router(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v1")
    assert lab.api is not None
    path = _with_cloud(lab.options.state_dir, cloud__vpc_router_id=lab.api.other_appliance_id)
    result = cli("-i", str(path), "status", "--json")
    site = json.loads(result.stdout)["sites"][0]
    assert (result.returncode, site["state"]) == (3, "unknown")
    assert any("vpcrouter" in p or "VPC router" in p for p in site["problems"]), site["problems"]


def test_router_powered_off_takes_the_tunnel_down(start_lab: StartLab, cli: RunCli) -> None:
    from fitelctl.ops.cloud import client_for

    lab = start_lab(scenario="seed-v1")
    inventory = lab_inventory(lab)
    client, appliance_id = client_for(inventory, "tokyo")
    with client:
        client.shutdown(appliance_id, force=True)
        client.wait_for_state(appliance_id, instance_status="down", timeout=10, interval=0.05)
    code, doc = status_json(cli, lab_inventory_path(lab))
    site = doc["sites"][0]
    assert (code, site["state"]) == (2, "down")
    assert site["cloud"]["instance_status"] == "down"
    assert any("VPC router is down" in p for p in site["problems"]), site["problems"]


def test_a_fleet_read_by_two_processes_gives_the_same_verdicts(start_lab: StartLab) -> None:
    """The processes split the devices; the routers are read and judged once, here."""
    lab = start_lab(sites=6, faults=("site4/max-sessions:0",))
    inventory = lab_inventory(lab)
    names = inventory.select([])

    def verdicts(processes: int) -> list[tuple[str, str, int, str | None]]:
        statuses = collect_status(inventory, names, workers=2, processes=processes)
        return [
            (s.site, s.state, s.device.ipsec_sa_count, s.cloud.peer_status if s.cloud else None)
            for s in statuses
        ]

    split = verdicts(2)
    assert split == verdicts(1)
    assert [state for _, state, _, _ in split].count("up") == 5  # site4 refuses every session
    assert next(row for row in split if row[0] == "site4")[1] == "unknown"
