"""``fitelctl status SITE --nagios`` against the lab: what Nagios or Icinga 2 would read.

Icinga 2 runs a plugin with stderr on the same pipe as stdout (``lib/base/process.cpp``
dup2s both), so every run here must leave stderr empty and print exactly one line. The
performance data is read back with pynag's parser (``pynag.Utils.metrics.PerfData``).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import RunCli, StartLab
from helpers import closed_port, copy_lab_inventory, lab_inventory_path, one_line_error
from pynag.Utils.metrics import PerfData  # type: ignore[import-untyped]

SLACK = 4.0  # what a slow, busy machine adds to a deadline (as in test_deadlines)


def plugin(
    cli: RunCli, inventory: Path | str, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, dict[str, PerfData]]:
    """One plugin run: exit code, the line, its metrics by label (all valid for pynag)."""
    result: subprocess.CompletedProcess[str] = cli(
        "-i", str(inventory), "status", *args, "--nagios", env=env
    )
    assert result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    (line,) = lines
    _, bar, perf = line.partition(" | ")
    metrics = PerfData(perf) if bar else PerfData("")
    assert metrics.is_valid() and not metrics.invalid_metrics, line
    return result.returncode, line, {m.label: m for m in metrics.metrics}


def test_a_tunnel_up_is_ok_with_performance_data(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2")
    code, line, metrics = plugin(cli, lab_inventory_path(lab), "tokyo")
    assert code == 0
    assert line.startswith(
        "FITELCTL OK - site tokyo: up AES-CBC/256 HMAC-SHA2-256-128/256 PFS group 14, SA lifetime "
    )
    assert list(metrics) == [
        "lifetime_remaining",
        "in_packets",
        "out_packets",
        "in_errors",
        "poll_time",
    ]
    lifetime = metrics["lifetime_remaining"]
    assert (lifetime.uom, lifetime.min, lifetime.max) == ("s", "0", "180")  # the article's 180 s
    assert 0 < int(lifetime.value) <= 180
    assert all(metrics[c].uom == "c" for c in ("in_packets", "out_packets", "in_errors"))
    assert metrics["in_errors"].warn == "0"  # the default: any error warns
    poll = metrics["poll_time"]
    assert poll.uom == "s" and 0 < float(poll.value) < 30 and poll.max == "30"


def test_wrong_psk_is_critical(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2", faults=("wrong-psk",))
    code, line, metrics = plugin(cli, lab_inventory_path(lab), "tokyo")
    assert code == 2
    assert line.startswith(
        "FITELCTL CRITICAL - site tokyo: down: no IPsec SA with 27.133.132.134 on tunnel 1; "
        "the VPC router reports peer 126.169.118.242 DOWN | "
    )
    assert metrics["lifetime_remaining"].value == "0"
    secrets = [p.read_text().strip() for p in (lab.options.state_dir / "secrets").iterdir()]
    assert not any(secret in line for secret in secrets)


@pytest.mark.parametrize(
    ("thresholds", "code", "state"),
    [
        (("-w", "181:"), 1, "WARNING"),  # lifetime remaining is at most the 180 s total
        (("--critical-lifetime", "181:", "-w", "200:"), 2, "CRITICAL"),
        (("-w", "~:181"), 0, "OK"),
    ],
)
def test_lifetime_thresholds(
    start_lab: StartLab, cli: RunCli, thresholds: tuple[str, ...], code: int, state: str
) -> None:
    lab = start_lab(scenario="seed-v2")
    got, line, metrics = plugin(cli, lab_inventory_path(lab), "tokyo", *thresholds)
    assert (got, line.split(" - ")[0]) == (code, f"FITELCTL {state}")
    remaining = metrics["lifetime_remaining"]
    if state != "OK":
        assert f"SA lifetime remaining {remaining.value} s ({state.lower()} range 181:)" in line
    assert (remaining.warn, remaining.crit) == {
        "WARNING": ("181:", ""),
        "CRITICAL": ("200:", "181:"),
        "OK": ("~:181", ""),
    }[state]


def test_the_router_saying_down_is_a_warning(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v1")
    assert lab.api is not None
    lab.api.router._peer_up = lambda public_address: False  # type: ignore[method-assign]
    code, line, _ = plugin(cli, lab_inventory_path(lab), "tokyo", "-W", "5")
    assert code == 1
    assert line.startswith("FITELCTL WARNING - site tokyo: degraded AES-CBC/128 ")
    assert "the VPC router reports peer 126.169.118.242 DOWN |" in line


def test_the_api_refused_is_unknown_with_the_device_figures_and_no_retry_lines(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v1")
    env = {**os.environ, "SAKURACLOUD_API_ROOT_URL": f"http://127.0.0.1:{closed_port()}/"}
    code, line, metrics = plugin(cli, lab_inventory_path(lab), "tokyo", env=env)
    assert code == 3
    assert line.startswith("FITELCTL UNKNOWN - site tokyo: unknown: cloud side: ")
    assert "after 3 attempts" in line  # retried, but the retry lines stayed off stderr
    assert int(metrics["lifetime_remaining"].value) > 0


def test_a_wrong_api_secret_is_unknown_and_never_shown(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v1")
    env = {**os.environ, "SAKURACLOUD_ACCESS_TOKEN_SECRET": "wrong-secret-value"}
    code, line, _ = plugin(cli, lab_inventory_path(lab), "tokyo", env=env)
    assert code == 3 and "cloud side" in line and "wrong-secret-value" not in line


def test_an_unreachable_device_is_unknown(start_lab: StartLab, cli: RunCli, tmp_path: Path) -> None:
    lab = start_lab(scenario="seed-v1")
    inventory = copy_lab_inventory(lab, tmp_path, port=closed_port())
    code, line, metrics = plugin(cli, inventory, "tokyo")
    assert code == 3
    assert line.startswith("FITELCTL UNKNOWN - site tokyo: unknown: ")
    assert list(metrics) == ["poll_time"]


def test_the_deadline_is_unknown_in_one_line(start_lab: StartLab, cli_process: RunCli) -> None:
    """In a child process: the request left waiting at the deadline must not outlive the
    process, nor write into a later in-process run's stderr."""
    lab = start_lab(scenario="seed-v1", faults=("api-slow:30",))
    started = time.monotonic()
    code, line, _ = plugin(cli_process, lab_inventory_path(lab), "tokyo", "--timeout", "2")
    elapsed = time.monotonic() - started
    assert elapsed < 2 + SLACK, f"--nagios --timeout 2 took {elapsed:.1f}s"
    assert code == 3
    assert line.startswith("FITELCTL UNKNOWN - site tokyo: unknown: cloud side: ")
    assert "2s deadline (--timeout)" in line


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("tokyo", "-W", "5:1"), "--warning-errors '5:1': the start (5) is above the end (1)"),
        (("tokyo", "--critical-lifetime", "soon"), "--critical-lifetime 'soon': not a threshold"),
        (("tokyo", "--json"), "takes no --json"),
        (("tokyo", "site2"), "exactly one site"),
        ((), "exactly one site"),
        (("--all",), "exactly one site"),
        (("tokyo", "--timeout", "never"), "'--timeout'"),
        (("tokyo", "--no-such-option"), "--no-such-option"),
        (("nowhere",), "unknown site 'nowhere'"),
    ],
)
def test_bad_input_is_one_unknown_line(
    start_lab: StartLab, cli: RunCli, args: tuple[str, ...], named: str
) -> None:
    lab = start_lab(scenario="seed-v1", sites=2)
    code, line, metrics = plugin(cli, lab_inventory_path(lab), *args)
    assert code == 3 and line.startswith("FITELCTL UNKNOWN - ") and named in line
    assert metrics == {}


def test_a_missing_inventory_is_one_unknown_line(cli: RunCli, tmp_path: Path) -> None:
    code, line, _ = plugin(cli, tmp_path / "missing.yaml", "tokyo")
    assert code == 3 and line.startswith("FITELCTL UNKNOWN - ") and "missing.yaml" in line


def test_thresholds_without_nagios_are_refused(cli: RunCli, tmp_path: Path) -> None:
    result = cli("-i", str(tmp_path / "inventory.yaml"), "status", "tokyo", "-w", "60:")
    one_line_error(result, "add --nagios")
