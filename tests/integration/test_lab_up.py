"""`fitelctl lab up` as a separate process, exactly as docs/output-contract.md describes it.

Bad arguments fail before the lab starts: those run in the test process (``cli``).
"""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from conftest import ROOT, RunCli
from helpers import lab_inventory, lab_inventory_path


@contextmanager
def lab_process(state_dir: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fitelctl", "lab", "up", "--state-dir", str(state_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=60), "lab did not announce readiness"
        yield proc, proc.stdout.readline()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_lab_up_writes_its_description_then_stops_cleanly(tmp_path: Path) -> None:
    state = tmp_path / "lab"
    with lab_process(state, "--sites", "3", "--scenario", "seed-v2") as (proc, line):
        assert line.startswith("lab ready:")
        assert (state / "ready").exists()
        lab = json.loads((state / "lab.json").read_text())
        assert [d["site"] for d in lab["devices"]] == ["tokyo", "site2", "site3"]
        for device in lab["devices"]:
            assert device["host"] == "127.0.0.1"
            assert {"port", "username", "password", "enable_password"} <= device.keys()
        inventory = lab_inventory(state)
        assert list(inventory.sites) == ["tokyo", "site2", "site3"]
        assert inventory.site("tokyo").cloud.global_address == "27.133.132.134"
        assert inventory.site("site3").tunnel.preset == "sakura-v2"
        raw = yaml.safe_load(lab_inventory_path(state).read_text())
        assert raw["sites"]["tokyo"]["device"]["password"].startswith("file:")
        known = (state / "known_hosts").read_text().splitlines()
        ports = {d["port"] for d in lab["devices"]}
        assert {line.split()[0] for line in known} == {f"[127.0.0.1]:{p}" for p in ports}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert not (state / "ready").exists()
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()


def test_host_keys_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "lab"
    with lab_process(state) as (proc, _):
        first = {line.split()[2] for line in (state / "known_hosts").read_text().splitlines()}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    with lab_process(state) as (proc, _):
        second = {line.split()[2] for line in (state / "known_hosts").read_text().splitlines()}
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert first == second


def test_bad_scenario_and_fault_are_one_line_errors(cli: RunCli, tmp_path: Path) -> None:
    for args, expected in [
        (["--scenario", "seed-v9"], "unknown scenario 'seed-v9'"),
        (["--fault", "ssh-drop-after:x"], "ssh-drop-after:N"),
        (["--fault", "api-503:many"], "api-503:N"),
        (["--fault", "bogus"], "unknown fault"),
    ]:
        result = cli("lab", "up", "--state-dir", str(tmp_path), *args, timeout=60)
        assert result.returncode != 0
        assert expected in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
