"""A real Prometheus server scrapes the exporter (22 lab sites); its query API must see
``up`` = 1 and every tunnel up, through ``/metrics`` and through ``/probe`` relabelling.
Also: the shipped example config and alert rules pass ``promtool``, and the exporter
recovers from a lab restart (same state directory, same ports) without a restart.

Prometheus and promtool (Debian's ``prometheus`` package) are required: a missing one
fails the test, saying how to install it.  Prometheus listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml
from conftest import StartLab
from helpers import ROOT, copy_lab_inventory, lab_inventory, settles
from monitoring import get, query, running_prometheus, serving, tool, values
from test_exporter import SITES, enables, value

from fitelctl.exporter.fleet import Fleet
from fitelctl.exporter.server import ExporterServer
from fitelctl.exporter.sessions import SessionPolicy
from fitelctl.exporter.shard import shard_sites
from fitelctl.inventory import load_inventory
from fitelctl.lab.runner import BackgroundLab, Lab, LabOptions

EXAMPLES = ROOT / "examples/prometheus"
PROBED = ["tokyo", "site7"]


@pytest.fixture
def exporter(start_lab: StartLab) -> Iterator[ExporterServer]:
    with serving(start_lab(sites=SITES)) as server:
        yield server


def prometheus_config(exporter_port: int, tmp_path: Path) -> Path:
    """The example's /metrics job and /probe job, aimed at this exporter, 1 s scrapes."""
    example = yaml.safe_load((EXAMPLES / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in example["scrape_configs"]}
    whole, sites = jobs["fitelctl"], jobs["fitelctl-sites"]
    whole["static_configs"] = [{"targets": [f"127.0.0.1:{exporter_port}"]}]
    sites["static_configs"] = [{"targets": PROBED}]
    sites["relabel_configs"][-1]["replacement"] = f"127.0.0.1:{exporter_port}"
    shutil.copy(EXAMPLES / "fitelctl-rules.yml", tmp_path / "fitelctl-rules.yml")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["fitelctl-rules.yml"],
        "scrape_configs": [whole, sites],
    }
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def prometheus(exporter: ExporterServer, tmp_path: Path) -> Iterator[str]:
    with running_prometheus(prometheus_config(exporter.port, tmp_path), tmp_path) as url:
        yield url


def test_prometheus_scrapes_every_site_up(prometheus: str, exporter: ExporterServer) -> None:
    expected_up = {f"127.0.0.1:{exporter.port}": 1.0, **dict.fromkeys(PROBED, 1.0)}
    assert settles(lambda: values(prometheus, 'up{job=~"fitelctl.*"}') == expected_up, 60), values(
        prometheus, "up"
    )
    everyone = dict.fromkeys(exporter.fleet.sites, 1.0)
    assert settles(
        lambda: values(prometheus, 'fitelctl_tunnel_up{job="fitelctl"}') == everyone, 30
    ), values(prometheus, "fitelctl_tunnel_up")
    assert values(prometheus, 'fitelctl_tunnel_up{job="fitelctl-sites"}') == dict.fromkeys(
        PROBED, 1.0
    )
    assert values(prometheus, 'fitelctl_site_state{job="fitelctl",state="up"}') == everyone
    assert values(prometheus, "ALERTS") == {}  # no alert fires on a healthy fleet


def test_the_shipped_rules_and_config_pass_promtool() -> None:
    promtool = tool("promtool")
    for args in (
        ["check", "rules", str(EXAMPLES / "fitelctl-rules.yml")],
        ["check", "config", str(EXAMPLES / "prometheus.yml")],
    ):
        check = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "SUCCESS" in check.stdout


def test_every_shipped_alert_passes_its_promtool_unit_tests() -> None:
    """fitelctl-rules.test.yml: input series and the alerts expected of them (tunnel
    down two polls not one, SA not renewed, errors rising across a rekey, polls
    failing, exporter down), run by promtool's own rule evaluator."""
    promtool = tool("promtool")
    rules = yaml.safe_load((EXAMPLES / "fitelctl-rules.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((EXAMPLES / "fitelctl-rules.test.yml").read_text())
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"]}
    assert tested == alerts
    fired = {
        case["alertname"]
        for test in tests["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert fired == alerts  # every alert is shown firing, not only staying quiet
    check = subprocess.run(
        [promtool, "test", "rules", "fitelctl-rules.test.yml"],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS" in check.stdout


def test_a_lab_restart_is_recovered_without_restarting_the_exporter(tmp_path: Path) -> None:
    options = LabOptions(state_dir=tmp_path / "lab", sites=3)
    options.state_dir.mkdir()
    with BackgroundLab(options) as lab:
        inventory = lab_inventory(lab)
        fleet = Fleet(inventory, inventory.select([]), 1.0, policy=SessionPolicy(0.2, 2.0))
        server = ExporterServer(fleet, "127.0.0.1:0")
        fleet.start()
        server.start()
        assert settles(lambda: all(fleet.state[s].last_success for s in fleet.sites), 30)
    try:
        assert settles(lambda: all(fleet.state[s].errors for s in fleet.sites), 30)
        _, text = get(f"http://127.0.0.1:{server.port}/metrics")
        assert value(text, "fitelctl_device_up", "tokyo") == 0
        with BackgroundLab(options) as again:  # same state directory: same ports and keys
            restarted: Lab = again

            def all_up() -> bool:
                _, text = get(f"http://127.0.0.1:{server.port}/metrics")
                return all(value(text, "fitelctl_tunnel_up", s) == 1 for s in fleet.sites)

            assert settles(all_up, 60)
            assert all(enables(restarted, site) == 1 for site in fleet.sites)
    finally:
        server.stop()
        fleet.stop()


def test_the_dashboard_queries_run_and_name_exported_metrics(
    prometheus: str, exporter: ExporterServer
) -> None:
    dashboard = json.loads((EXAMPLES / "fitelctl-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert settles(lambda: bool(values(prometheus, "fitelctl_tunnel_up")), 60)
    _, exposition = get(f"http://127.0.0.1:{exporter.port}/metrics")
    exported = set(re.findall(r"^(\w+)[{ ]", exposition, re.MULTILINE))
    for expr in exprs:
        query(prometheus, expr.replace("$site", ".*"))  # status success: valid PromQL
        for name in re.findall(r"\bfitelctl_\w+", expr):
            assert name in exported, (name, expr)


SHARDS = 3


def test_sharded_exporters_behind_one_prometheus_show_every_site_once(
    start_lab: StartLab, tmp_path: Path
) -> None:
    """Three exporters with --shard 1/3, 2/3, 3/3 on one inventory, one Prometheus with
    the shipped ``fitelctl-sharded`` job: every site exactly once, from its own shard.
    The lab has one VPC router; its first three sites keep it (one group, one share),
    the others name none, so they are shared out one by one."""
    lab = start_lab(sites=SITES)
    path = copy_lab_inventory(lab, tmp_path / "inventory")
    data = yaml.safe_load(path.read_text())
    routed = list(data["sites"])[:3]
    for name, site in data["sites"].items():
        cloud = dict(site["cloud"])  # the file shares one mapping (a YAML anchor)
        if name not in routed:
            del cloud["vpc_router_id"], cloud["zone"]
        site["cloud"] = cloud
    path.write_text(yaml.safe_dump(data))
    inventory = load_inventory(path)
    everyone = inventory.select([])
    shares = {k: shard_sites(inventory, everyone, k, SHARDS) for k in range(1, SHARDS + 1)}
    assert all(shares.values()), shares  # each exporter has work: the test means something
    assert sorted(s for sites in shares.values() for s in sites) == sorted(everyone)
    assert any(set(routed) <= set(sites) for sites in shares.values())  # a router stays whole

    with ExitStack() as stack:
        servers = {}
        for k, sites in shares.items():
            policy = SessionPolicy(backoff_min=0.2)
            fleet = Fleet(inventory, sites, 1.0, policy=policy)
            server = ExporterServer(fleet, "127.0.0.1:0")
            fleet.start()
            server.start()
            stack.callback(fleet.stop)
            stack.callback(server.stop)
            servers[k] = server
        example = yaml.safe_load((EXAMPLES / "prometheus.yml").read_text())
        job = next(j for j in example["scrape_configs"] if j["job_name"] == "fitelctl-sharded")
        assert [c["labels"]["shard"] for c in job["static_configs"]] == ["1/3", "2/3", "3/3"]
        for k, target in enumerate(job["static_configs"], start=1):
            target["targets"] = [f"127.0.0.1:{servers[k].port}"]
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [job],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        url = stack.enter_context(running_prometheus(tmp_path / "prometheus.yml", tmp_path))

        ups = {f"127.0.0.1:{server.port}": 1.0 for server in servers.values()}
        assert settles(lambda: values(url, 'up{job="fitelctl-sharded"}') == ups, 60)
        all_up = dict.fromkeys(everyone, 1.0)
        assert settles(lambda: values(url, "fitelctl_tunnel_up") == all_up, 60), values(
            url, "fitelctl_tunnel_up"
        )
        # exactly one series per site: no site is polled (or scraped) by two shards
        assert values(url, "count by (site) (fitelctl_tunnel_up)") == dict.fromkeys(everyone, 1.0)
        for series in query(url, "fitelctl_tunnel_up"):
            labels = series["metric"]
            assert isinstance(labels, dict)
            k = int(labels["shard"].split("/")[0])
            assert labels["site"] in shares[k], labels
            assert labels["instance"] == f"127.0.0.1:{servers[k].port}"
        sites_per_exporter = values(url, "fitelctl_exporter_sites")
        assert sorted(sites_per_exporter.values()) == sorted(float(len(s)) for s in shares.values())
