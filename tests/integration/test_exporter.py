"""``fitelctl exporter`` against a lab of 22 sites: real sessions, real HTTP, real promtool.

promtool (Debian's ``prometheus`` package) is required, never mocked: a missing one
fails the test with how to install it.
"""

from __future__ import annotations

import logging
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RunCli, StartLab
from helpers import (
    closed_port,
    copy_lab_inventory,
    lab_inventory,
    lab_inventory_path,
    one_line_error,
    required_tool,
    settles,
)
from monitoring import get, serving, tool

import fitelctl.cli.exporter as exporter_cli
from fitelctl.exporter.fleet import Fleet
from fitelctl.exporter.server import ExporterServer
from fitelctl.exporter.sessions import SessionPolicy
from fitelctl.fitelnet.drivers import DriverKind
from fitelctl.inventory import load_inventory
from fitelctl.lab.device.model import SshSession
from fitelctl.lab.runner import Lab
from fitelctl.ops.connect import ConnectOptions, connect_site

SITES = 22


def samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of metric ``name`` in an exposition."""
    found = {}
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


def value(text: str, name: str, site: str, **labels: str) -> float | None:
    wanted = [f'site="{site}"', *(f'{k}="{v}"' for k, v in labels.items())]
    for key, number in samples(text, name).items():
        if all(part in key.split(",") for part in wanted):
            return number
    return None


def enables(lab: Lab, site: str) -> int:
    """Logins the lab device saw: each login enters privileged mode once."""
    return sum(1 for command in list(lab.sites[site].device.commands) if command == "enable")


@pytest.fixture
def lab(start_lab: StartLab) -> Lab:
    return start_lab(sites=SITES)


@pytest.fixture
def running(lab: Lab) -> Iterator[ExporterServer]:
    with serving(lab) as server:
        yield server


def wait_all_polled(server: ExporterServer, polls: int = 1, timeout: float = 60) -> None:
    fleet = server.fleet
    assert settles(
        lambda: (
            all(fleet.state[s].polls >= polls for s in fleet.sites)
            and len(fleet.router_polls) == len(fleet.routers)
        ),
        timeout,
    ), {s: p.polls for s, p in fleet.state.items()}


def test_metrics_pass_promtool_and_sessions_are_reused(
    lab: Lab, running: ExporterServer, tmp_path: Path
) -> None:
    promtool = tool("promtool")
    wait_all_polled(running, polls=3)
    status, text = get(f"http://127.0.0.1:{running.port}/metrics")
    assert status == 200
    check = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout + check.stderr == ""  # no lint warnings either

    sites = running.fleet.sites
    assert len(sites) == SITES
    for site in sites:
        assert value(text, "fitelctl_tunnel_up", site) == 1, site
        assert value(text, "fitelctl_site_state", site, state="up") == 1, site
        assert value(text, "fitelctl_device_up", site) == 1
        assert value(text, "fitelctl_cloud_peer_up", site) == 1
        assert value(text, "fitelctl_device_tunnel_up", site) == 1
        remaining = value(text, "fitelctl_ipsec_sa_lifetime_remaining_seconds", site)
        total = value(text, "fitelctl_ipsec_sa_lifetime_seconds", site)
        assert remaining is not None and total is not None and 0 < remaining <= total
        assert value(text, "fitelctl_ipsec_sa_packets_total", site, direction="in") is not None
        assert value(text, "fitelctl_ipsec_sa_errors_total", site, kind="replay") is not None
        # three polls or more, one login: the session was kept
        assert running.fleet.state[site].polls >= 3
        assert enables(lab, site) == 1, site
        assert value(text, "fitelctl_device_logins_total", site) == 1
    assert f"fitelctl_exporter_sessions_open {float(SITES)}" in text
    info = samples(text, "fitelctl_ipsec_sa_info")
    assert len(info) == SITES and all('pfs_group="' in key for key in info)
    assert 'fitelctl_vpc_router_up{vpc_router="' in text


def test_probe_one_site_and_bad_probes(running: ExporterServer) -> None:
    wait_all_polled(running)
    site = running.fleet.sites[3]
    base = f"http://127.0.0.1:{running.port}"
    status, text = get(f"{base}/probe?site={site}")
    assert status == 200
    probed = samples(text, "fitelctl_tunnel_up")
    assert len(probed) == 1 and f'site="{site}"' in next(iter(probed)).split(",")
    assert "fitelctl_exporter_sessions_open" not in text
    for query, says in (
        ("", "exactly one site"),
        ("?site=", "exactly one site"),
        (f"?site={site}&site={site}", "exactly one site"),
        ("?site=atlantis", "'atlantis' is not polled"),
    ):
        status, text = get(f"{base}/probe{query}")
        assert status == 400, query
        assert says in text and text.count("\n") == 1
    assert get(f"{base}/-/healthy")[0] == 200
    assert get(f"{base}/metrics")[0] == 200  # still serving


def test_a_dropped_session_is_reopened_without_restarting(
    lab: Lab, running: ExporterServer
) -> None:
    wait_all_polled(running)
    site = running.fleet.sites[0]
    device = lab.sites[site].device
    number = next(iter(device.ssh_sessions))
    assert device.disconnect_ssh(number)  # the device ends the exporter's session
    fleet = running.fleet

    def reconnected() -> bool:
        read = fleet.state[site].device
        return enables(lab, site) == 2 and read is not None and read.problem is None

    assert settles(reconnected, 30)
    polls = fleet.state[site].polls
    assert settles(lambda: fleet.state[site].polls >= polls + 2, 30)
    assert enables(lab, site) == 2  # reconnected once, then reused again
    assert len(device.ssh_sessions) == 1
    _, text = get(f"http://127.0.0.1:{running.port}/metrics")
    assert value(text, "fitelctl_tunnel_up", site) == 1
    assert value(text, "fitelctl_poll_errors_total", site) == 1
    assert value(text, "fitelctl_device_logins_total", site) == 2


def test_stop_logs_out_of_every_device_with_exit(lab: Lab, running: ExporterServer) -> None:
    wait_all_polled(running)
    assert running.fleet.stop() == []
    for site in running.fleet.sites:
        assert list(lab.sites[site].device.commands)[-1] == "exit", site
    devices = [lab.sites[site].device for site in running.fleet.sites]
    assert settles(lambda: not any(device.ssh_sessions for device in devices), 10)


def test_a_port_in_use_is_one_line_and_no_login(lab: Lab, cli: RunCli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = cli(
            "--inventory", str(lab_inventory_path(lab)), "exporter", "--listen", f"127.0.0.1:{port}"
        )
    assert result.returncode != 0
    one_line_error(result, f"127.0.0.1:{port}", "already in use")
    assert all(enables(lab, site) == 0 for site in lab.sites)


def test_more_scrapli_sessions_than_libscrapli_survives_are_refused(
    lab: Lab, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exporter_cli, "SCRAPLI_MAX_SESSIONS", len(lab.sites) - 1)
    args = ("--inventory", str(lab_inventory_path(lab)), "exporter", "--listen", "127.0.0.1:0")
    result = cli(*args, "--driver", "scrapli")
    assert result.returncode != 0
    one_line_error(result, f"{len(lab.sites)} scrapli sessions", "--driver asyncssh", "--shard")
    assert all(enables(lab, site) == 0 for site in lab.sites)


def test_an_unreachable_site_is_down_and_the_others_are_served(lab: Lab, tmp_path: Path) -> None:
    path = copy_lab_inventory(lab, tmp_path, "site2", port=closed_port())
    inventory = load_inventory(path)
    fleet = Fleet(inventory, inventory.select([]), 1.0)
    server = ExporterServer(fleet, "127.0.0.1:0")
    fleet.start()
    server.start()
    try:
        assert settles(lambda: all(fleet.state[s].polls >= 1 for s in fleet.sites), 60)
        assert settles(lambda: len(fleet.router_polls) == 1, 30)
        _, text = get(f"http://127.0.0.1:{server.port}/metrics")
    finally:
        server.stop()
        fleet.stop()
    assert value(text, "fitelctl_device_up", "site2") == 0
    assert value(text, "fitelctl_site_state", "site2", state="unknown") == 1
    assert value(text, "fitelctl_tunnel_up", "site2") is None
    errors = value(text, "fitelctl_poll_errors_total", "site2")  # a slow lab: a second poll
    assert errors is not None and 1 <= errors <= fleet.state["site2"].polls
    assert value(text, "fitelctl_tunnel_up", "tokyo") == 1


def test_the_command_serves_and_logs_out_on_sigterm(lab: Lab) -> None:
    # port 0: the kernel picks a free port as the exporter binds, and the exporter says
    # which (a port found free beforehand was once taken meanwhile by another test's lab)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "fitelctl", "-i", str(lab_inventory_path(lab)), "exporter"),
            *("--listen", "127.0.0.1:0", "--interval", "1"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        serving = process.stderr.readline()
        bound = re.fullmatch(r"fitelctl exporter: serving http://127\.0\.0\.1:(\d+)/.*\n", serving)
        assert bound, serving
        port = int(bound[1])

        def all_up() -> bool:
            try:
                _, text = get(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                return False
            return all(value(text, "fitelctl_tunnel_up", site) == 1 for site in lab.sites)

        assert settles(all_up, 90)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert out == ""
    assert f"serving http://127.0.0.1:{port}/metrics, polling {SITES} site(s)" in serving
    assert "every session logged out" in err and "Traceback" not in err
    for site in lab.sites:
        assert list(lab.sites[site].device.commands)[-1] == "exit", site
        assert enables(lab, site) == 1


def test_a_hung_site_costs_only_its_own_timeout(lab: Lab, tmp_path: Path, silent_port: int) -> None:
    path = copy_lab_inventory(lab, tmp_path, "site5", port=silent_port, connect_timeout=30)
    inventory = load_inventory(path)
    fleet = Fleet(inventory, inventory.select([]), 1.0)
    fleet.start()
    try:
        others = [site for site in fleet.sites if site != "site5"]
        # the others poll again and again while site5 still waits for its SSH banner
        assert settles(lambda: all(fleet.state[s].polls >= 3 for s in others), 25)
        assert fleet.state["site5"].polls == 0
    finally:
        fleet.stop(timeout=1)


def test_max_idle_logs_out_and_in_again(lab: Lab) -> None:
    inventory = lab_inventory(lab)
    policy = SessionPolicy(max_idle=0.2)
    fleet = Fleet(inventory, ["tokyo"], 1.0, policy=policy)
    fleet.start()
    try:
        # a new login for the polls after an idle spell (one poll a second, idle > 0.2 s)
        assert settles(lambda: enables(lab, "tokyo") >= 3, 30)
    finally:
        fleet.stop()
    commands = list(lab.sites["tokyo"].device.commands)
    assert commands.count("exit") == enables(lab, "tokyo")  # every one ended with exit
    assert fleet.state["tokyo"].errors == 0


def only_session(lab: Lab, site: str) -> SshSession:
    sessions = list(lab.sites[site].device.ssh_sessions.values())
    assert len(sessions) == 1, sessions
    return sessions[0]


@pytest.mark.parametrize(
    ("driver", "request_name"),
    [("asyncssh", "keepalive@openssh.com"), ("netmiko", "keepalive@lag.net")],
)
def test_an_idle_session_carries_ssh_keepalives(
    lab: Lab, driver: DriverKind, request_name: str
) -> None:
    inventory = lab_inventory(lab)
    options = ConnectOptions(driver=driver, keepalive=1.0)
    fleet = Fleet(inventory, ["tokyo", "site3"], 600.0, options=options)
    quiet = Fleet(inventory, ["site2"], 600.0, options=ConnectOptions(driver=driver))
    fleet.start()
    quiet.start()
    try:
        polled = [*fleet.state.values(), *quiet.state.values()]
        assert settles(lambda: all(p.polls == 1 and p.errors == 0 for p in polled), 60)
        kept, off = [only_session(lab, s) for s in ("tokyo", "site3")], only_session(lab, "site2")
        # one poll each, then idle: the transport keeps talking, about once a second
        assert settles(lambda: all(len(s.global_requests) >= 3 for s in kept), 20)
        assert {name for s in kept for name in s.global_requests} == {request_name}
        assert off.global_requests == []  # keepalive 0 (status, apply): none
        assert all(p.polls == 1 for p in polled)
    finally:
        fleet.stop()
        quiet.stop()


def test_scrapli_sessions_carry_openssh_keepalives_every_connect_timeout(
    lab: Lab, tmp_path: Path
) -> None:
    """libscrapli 0.0.6 runs ``ssh -o ConnectTimeout=T -o ServerAliveInterval=T`` (T: the
    connect timeout) before any option of ours, and OpenSSH keeps the first value: the
    interval is the connect timeout, whatever ``--keepalive`` says."""
    required_tool("ssh", "install OpenSSH's client (Debian: apt-get install -y openssh-client)")
    inventory = load_inventory(copy_lab_inventory(lab, tmp_path, "tokyo", connect_timeout=2))
    fleet = Fleet(inventory, ["tokyo"], 600.0, options=ConnectOptions(driver="scrapli"))
    fleet.start()
    try:
        assert settles(lambda: fleet.state["tokyo"].polls == 1, 60)
        session = only_session(lab, "tokyo")
        assert settles(lambda: len(session.global_requests) >= 2, 20)
        assert set(session.global_requests) == {"keepalive@openssh.com"}
        assert fleet.state["tokyo"].polls == 1 and fleet.state["tokyo"].errors == 0
    finally:
        fleet.stop()


def test_a_device_with_no_session_left_is_unknown_until_the_other_session_ends(
    start_lab: StartLab, caplog: pytest.LogCaptureFixture
) -> None:
    lab = start_lab(sites=3, faults=("tokyo/max-sessions:1",))
    inventory = lab_inventory(lab)
    operator = connect_site(inventory, "tokyo", ConnectOptions())  # holds tokyo's only session
    policy = SessionPolicy(backoff_min=0.2, backoff_max=1.0)
    fleet = Fleet(inventory, inventory.select([]), 1.0, policy=policy)
    server = ExporterServer(fleet, "127.0.0.1:0")
    device = lab.sites["tokyo"].device
    caplog.set_level(logging.WARNING, logger="fitelctl.exporter")
    fleet.start()
    server.start()
    try:
        others = [site for site in fleet.sites if site != "tokyo"]
        assert settles(lambda: device.sessions_refused >= 2, 60)
        assert settles(lambda: all(fleet.state[s].last_success for s in others), 60)
        _, text = get(f"http://127.0.0.1:{server.port}/metrics")
        assert value(text, "fitelctl_device_up", "tokyo") == 0
        assert value(text, "fitelctl_site_state", "tokyo", state="unknown") == 1
        assert value(text, "fitelctl_tunnel_up", "tokyo") is None
        for site in others:
            assert value(text, "fitelctl_tunnel_up", site) == 1, site
        logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("tokyo")]
        assert logged and all("refused an SSH session" in line for line in logged), logged
        assert "may allow no more sessions" in logged[0] and "next login in" in logged[0]
        assert all("\n" not in line for line in logged)
        assert len(device.ssh_sessions) == 1  # the operator's, never a second one

        operator.logout()  # the other session ends: the exporter gets its turn
        metrics = f"http://127.0.0.1:{server.port}/metrics"
        assert settles(lambda: value(get(metrics)[1], "fitelctl_tunnel_up", "tokyo") == 1, 30)
        assert len(device.ssh_sessions) == 1
    finally:
        server.stop()
        fleet.stop()
        operator.close()


def test_a_failing_poll_is_one_redacted_line_and_the_thread_goes_on(
    lab: Lab, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fitelctl.redact import SECRETS

    key = SECRETS.add("k3y-that-must-not-leak")
    inventory = lab_inventory(lab)
    fleet = Fleet(inventory, ["tokyo"], 0.2)
    calls = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError(f"library bug quoting {key}")

    monkeypatch.setattr(fleet.sessions["tokyo"], "poll", broken)
    with caplog.at_level(logging.ERROR, logger="fitelctl"):
        fleet.start()
        try:
            assert settles(lambda: len(calls) >= 2, 10)  # the thread polls again
        finally:
            fleet.stop()
    failures = [r for r in caplog.records if "poll-tokyo failed" in r.getMessage()]
    assert failures and all(r.exc_info is None for r in failures)
    assert key not in caplog.text and "RuntimeError: library bug quoting" in caplog.text
