"""Many sites at once: a hung site costs only its own timeout; stopping early stops the queue."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, RunCli, StartLab
from helpers import DRIVERS, lab_inventory_path

from fitelctl.cli.status import STATUS_WORKERS, _default_workers
from fitelctl.fitelnet.drivers import DriverKind
from fitelctl.inventory import load_inventory
from fitelctl.ops.connect import ConnectOptions
from fitelctl.ops.pool import for_each_site
from fitelctl.ops.status import SiteStatus, collect_status

CONNECT_TIMEOUT = 6.0


def with_hung_site(state_dir: Path, port: int, connect_timeout: float = CONNECT_TIMEOUT) -> Path:
    """The lab's inventory with a site ``hung`` first, on a port that never answers."""
    data = yaml.safe_load(lab_inventory_path(state_dir).read_text())
    hung = json.loads(json.dumps(data["sites"]["tokyo"]))
    hung["device"].update(port=port, connect_timeout=connect_timeout)
    data["sites"] = {"hung": hung, **data["sites"]}
    path = state_dir / "inventory-hung.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_hung_site_does_not_hold_back_the_others(start_lab: StartLab, driver: DriverKind) -> None:
    lab = start_lab(scenario="seed-v1", sites=4)
    with socket.socket() as hung_device:  # the kernel accepts, nothing ever answers
        hung_device.bind(("127.0.0.1", 0))
        hung_device.listen(16)
        port = hung_device.getsockname()[1]
        inventory = load_inventory(with_hung_site(lab.options.state_dir, port))
        finished: list[str] = []

        def on_result(result: SiteStatus) -> None:
            finished.append(result.site)
            if len(finished) == 4:  # no need to wait out CONNECT_TIMEOUT: the hung
                hung_device.close()  # device goes away (its queued connection is reset)

        results = collect_status(
            inventory,
            list(inventory.sites),
            workers=2,
            options=ConnectOptions(driver=driver),
            on_result=on_result,
        )
    # the four reachable sites shared the one other worker and all finished first
    assert finished[-1] == "hung"
    assert sorted(finished[:-1]) == sorted(["tokyo", "site2", "site3", "site4"])
    states = {r.site: r.state for r in results}
    assert [r.site for r in results] == ["hung", "tokyo", "site2", "site3", "site4"]
    assert states == {"hung": "unknown", "tokyo": "up", "site2": "up", "site3": "up", "site4": "up"}
    (problem,) = next(r for r in results if r.site == "hung").problems
    assert f"127.0.0.1:{port}" in problem


def test_status_json_over_a_fleet_with_a_hung_site(
    start_lab: StartLab, cli: RunCli, silent_port: int
) -> None:
    lab = start_lab(scenario="seed-v1", sites=3)
    inventory = with_hung_site(lab.options.state_dir, silent_port, connect_timeout=1)
    result = cli(
        "-i", str(inventory), "status", "--all", "--json", "--workers", "2", "--driver", "scrapli"
    )
    assert result.returncode == 3  # worst state: unknown
    doc = json.loads(result.stdout)  # one JSON document and nothing else on stdout
    assert [(s["site"], s["state"]) for s in doc["sites"]] == [
        ("hung", "unknown"),
        ("tokyo", "up"),
        ("site2", "up"),
        ("site3", "up"),
    ]
    assert "Traceback" not in result.stderr


def status_with_stderr_on_a_terminal(inventory: Path, *args: str) -> tuple[str, str]:
    """Run ``status`` with stderr on a pseudo-terminal (as a person sees it); stdout piped."""
    controller, terminal = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "fitelctl", "-i", str(inventory), "status", "--all", *args],
            stdout=subprocess.PIPE,
            stderr=terminal,
            cwd=ROOT,
            env={**os.environ, "TERM": "xterm", "COLUMNS": "120"},
        )
        os.close(terminal)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        stdout = process.communicate(timeout=60)[0]
    finally:
        os.close(controller)
    return stdout.decode(), seen.decode(errors="replace")


def test_progress_on_a_terminal_and_nothing_extra_with_json(start_lab: StartLab) -> None:
    lab = start_lab(scenario="seed-v1", sites=3)
    inventory = lab_inventory_path(lab)
    table, progress = status_with_stderr_on_a_terminal(inventory)
    assert "querying sites" in progress and "(last: " in progress
    assert "tokyo" in table and "site3" in table
    doc, terminal = status_with_stderr_on_a_terminal(inventory, "--json")
    assert [s["state"] for s in json.loads(doc)["sites"]] == ["up"] * 3
    assert terminal.strip() == ""


def test_status_all_is_every_site_and_excludes_naming_sites(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v1", sites=2)
    inventory = str(lab_inventory_path(lab))
    result = cli("-i", inventory, "status", "--all", "--json")
    assert result.returncode == 0
    assert [s["site"] for s in json.loads(result.stdout)["sites"]] == ["tokyo", "site2"]
    both = cli("-i", inventory, "status", "--all", "tokyo")
    assert both.returncode == 2 and "--all" in both.stderr and "Traceback" not in both.stderr


def test_status_reads_wider_than_apply_unless_the_inventory_says(start_lab: StartLab) -> None:
    lab = start_lab(scenario="seed-v1")
    path = lab_inventory_path(lab)
    assert _default_workers(load_inventory(path)) == STATUS_WORKERS
    assert load_inventory(path).defaults.workers == 16  # apply's bound is unchanged
    data = yaml.safe_load(path.read_text())
    data["defaults"]["workers"] = 3
    path.write_text(yaml.safe_dump(data))
    assert _default_workers(load_inventory(path)) == 3


def test_stopping_early_cancels_the_sites_not_yet_started() -> None:
    started: list[str] = []
    lock = threading.Lock()

    def work(site: str) -> str:
        with lock:
            started.append(site)
        if site == "s0":
            raise KeyboardInterrupt  # what Ctrl-C looks like to the caller
        time.sleep(0.05)
        return site

    sites = [f"s{i}" for i in range(200)]
    with pytest.raises(KeyboardInterrupt):
        for_each_site(sites, work, workers=2)
    time.sleep(0.2)  # let the one session in flight finish
    assert len(started) < 20, f"{len(started)} of 200 sites started after the interrupt"


def test_results_stream_in_finishing_order_and_return_in_site_order() -> None:
    delays = {"slow": 0.3, "a": 0.0, "b": 0.05}
    seen: list[str] = []

    def work(site: str) -> str:
        time.sleep(delays[site])
        return site

    assert for_each_site(["slow", "a", "b"], work, workers=3, on_done=seen.append) == [
        "slow",
        "a",
        "b",
    ]
    assert seen == ["a", "b", "slow"]


def test_no_sites_no_pool() -> None:
    assert for_each_site([], lambda site: site, workers=4) == []
