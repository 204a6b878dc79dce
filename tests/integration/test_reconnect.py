"""`fitelctl reconnect`: a new SA afterwards, or the reason there is none."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
import yaml
from conftest import RunCli, StartLab
from helpers import lab_inventory_path

from fitelctl.lab.runner import Lab


def reconnect(
    cli: RunCli, lab: Lab, *args: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    result = cli(
        "-i",
        str(lab_inventory_path(lab)),
        "reconnect",
        "tokyo",
        "--json",
        *args,
        env=env,
    )
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("side", ["cloud", "device", "both"])
def test_each_side_brings_a_new_sa(start_lab: StartLab, cli: RunCli, side: str) -> None:
    lab = start_lab(scenario="seed-v1")
    assert lab.api is not None
    before_requests = len(lab.api.requests)
    code, doc = reconnect(cli, lab, "--side", side)
    assert (code, doc["result"], doc["side"]) == (0, "reconnected", side)
    assert doc["after"]["in_spi"] != doc["before"]["in_spi"]
    assert doc["after"]["encryption"] == "AES-CBC/128"
    assert doc["cloud"]["peer_status"] == "UP"
    config_calls = [r for r in list(lab.api.requests)[before_requests:] if r.endswith("/config")]
    assert len(config_calls) == (0 if side == "device" else 1)


def test_no_new_sa_says_so(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    code, doc = reconnect(cli, lab, "--timeout", "2")
    assert (code, doc["result"], doc["after"]) == (1, "failed", None)
    (problem,) = doc["problems"]  # the wait for the SA got what the deadline left of 2 s
    assert "no new IPsec SA within " in problem and "(the command's 2s deadline)" in problem


def test_timeout_bounds_the_whole_reconnect(start_lab: StartLab, cli: RunCli) -> None:
    """A slow API (30 s per answer) cannot stretch ``--timeout 2``: login, re-apply, wait."""
    lab = start_lab(scenario="seed-v1", faults=("api-slow:30",))
    started = time.monotonic()
    code, doc = reconnect(cli, lab, "--side", "cloud", "--timeout", "2")
    elapsed = time.monotonic() - started
    assert elapsed < 2 + 4, f"reconnect --timeout 2 took {elapsed:.1f}s"
    assert (code, doc["result"], doc["after"]) == (1, "failed", None)
    (problem,) = doc["problems"]
    assert "apply the configuration of appliance" in problem and "2s deadline" in problem


def test_cloud_side_needs_an_appliance_id(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v1")
    path = lab_inventory_path(lab)
    data = yaml.safe_load(path.read_text())
    del data["sites"]["tokyo"]["cloud"]["vpc_router_id"]
    path.write_text(yaml.safe_dump(data))
    code, doc = reconnect(cli, lab, "--side", "cloud")
    assert code == 1 and "cloud.vpc_router_id is not set" in doc["problems"][0]
    code, doc = reconnect(cli, lab)
    assert (code, doc["side"], doc["result"]) == (0, "device", "reconnected")


def test_api_unavailable_is_a_clear_failure(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v1", faults=("api-503:50",))
    env = {**os.environ, "SAKURACLOUD_RETRY_MAX": "1"}
    code, doc = reconnect(cli, lab, "--side", "cloud", env=env)
    assert code == 1 and doc["result"] == "failed"
    assert "503" in doc["problems"][0] or "unavailable" in doc["problems"][0].lower()


def test_apply_asks_the_cloud_side_to_reconnect(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    assert lab.api is not None
    before = len(lab.api.requests)
    result = cli("-i", str(lab_inventory_path(lab)), "apply", "tokyo", "--yes")
    assert result.returncode == 0
    assert any(
        r.startswith("PUT") and r.endswith("/config") for r in list(lab.api.requests)[before:]
    )
