"""Real published running configs on the lab (``lab up --device-config SITE=FILE``).

``diff``, ``apply`` and ``status`` through the command line against devices that start
from the configs in ``tests/data/real_configs/``: only the managed tunnel changes, the
other tunnels and everything outside IPsec stay as they were.  The upstream netmiko
driver reads what the devices run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import ROOT, RunCli, StartLab
from helpers import ARTICLE_V2_CHANGES, lab_inventory_path
from operator_session import operator_session

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.diff import equivalent
from fitelctl.lab.runner import Lab

REAL = ROOT / "tests" / "data" / "real_configs"
BOX = REAL / "sakura_and_cloudflare_one_box.cfg"


def running(lab: Lab, site: str = "tokyo") -> ConfigTree:
    """``show running-config`` as the upstream netmiko driver reads it."""
    device = next(
        d
        for d in json.loads((lab.options.state_dir / "lab.json").read_text())["devices"]
        if d["site"] == site
    )
    with operator_session(device) as conn:
        output = conn.send_command("show running-config")
    assert isinstance(output, str)  # netmiko gives a list or dict only when asked to parse
    return ConfigTree.parse(output)


def not_ours(tree: ConfigTree, name: str, interface: str) -> ConfigTree:
    """Entries that are not the managed tunnel's (its objects, interface and routes)."""
    return ConfigTree(
        [
            e
            for e in tree.entries
            if name not in e.header
            and e.header != f"interface Tunnel {interface}"
            and not e.header.endswith(f"tunnel {interface}")
            and not e.header.startswith("crypto ipsec security-association lifetime")
        ]
    )


def run_json(cli: RunCli, lab: Lab, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("-i", str(lab_inventory_path(lab)), *args, "--json")
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


def test_a_box_with_a_cloudflare_tunnel_gets_only_the_sakura_change(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v2-pending", device_configs=(f"tokyo={BOX}",))
    before = running(lab)
    assert equivalent(before, ConfigTree.parse(BOX.read_text()))
    code, status = run_json(cli, lab, "status")
    assert (code, status["sites"][0]["state"]) == (2, "down")

    inventory = str(lab_inventory_path(lab))
    diff = cli("-i", inventory, "diff", "tokyo")
    assert diff.returncode == 1 and "Traceback" not in diff.stderr
    lines = diff.stdout.splitlines()
    assert lines[:9] == ARTICLE_V2_CHANGES
    # the box holds the article's key, the inventory the lab's: one masked line
    assert lines[9:] == ["crypto isakmp profile sakuratokyo", lines[10], "exit"]
    assert lines[10].startswith(" local-key ") and "THIS-IS-SECRET-KEY" not in diff.stdout

    code, applied = run_json(cli, lab, "apply", "tokyo", "--yes")
    assert (code, applied["sites"][0]["result"]) == (0, "applied"), applied
    code, status = run_json(cli, lab, "status")
    assert (code, status["sites"][0]["state"]) == (0, "up")
    assert status["sites"][0]["device"]["ipsec_sas"][0]["interface"] == "tunnel 1"
    after = running(lab)
    assert equivalent(not_ours(after, "sakuratokyo", "1"), not_ours(before, "sakuratokyo", "1"))
    tunnel2 = after.find("interface Tunnel 2")
    assert tunnel2 is not None and "link-state sync-sa" in tunnel2.children


def test_a_real_srv6_router_gets_a_new_tunnel_and_keeps_the_rest(
    start_lab: StartLab, cli: RunCli
) -> None:
    """F221 CE from pyats-fitelnet (BGP, VRFs, Port-channels) as site2; tokyo as usual."""
    config = REAL / "pyats_l3vpn_f221-ce1.cfg"
    lab = start_lab(scenario="seed-v2", sites=2, device_configs=(f"site2={config}",))
    before = running(lab, "site2")
    assert before.find("router bgp 65000") is not None
    inventory = str(lab_inventory_path(lab))
    diff = cli("-i", inventory, "diff", "site2")
    assert diff.returncode == 1 and "Traceback" not in diff.stderr
    assert not [line for line in diff.stdout.splitlines() if line.lstrip().startswith("no ")]
    code, applied = run_json(cli, lab, "apply", "site2", "--yes")
    assert (code, applied["sites"][0]["result"]) == (0, "applied"), applied
    after = running(lab, "site2")
    name = lab.sites["site2"].addresses.map_name
    assert equivalent(not_ours(after, name, "1"), before)
    code, status = run_json(cli, lab, "status", "site2")
    assert (code, status["sites"][0]["state"]) == (0, "up")


def test_diff_refuses_a_tunnel_interface_another_peer_uses(
    start_lab: StartLab, cli: RunCli
) -> None:
    config = REAL / "cloudflare_router1_ikev2.cfg"
    lab = start_lab(scenario="seed-v1", device_configs=(f"tokyo={config}",))
    before = running(lab)
    inventory = str(lab_inventory_path(lab))
    result = cli("-i", inventory, "diff", "tokyo")
    assert result.returncode not in (0, 1) and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'interface Tunnel 1' belongs to interface Tunnel 1" in result.stderr
    assert "tunnel mode ipsec map MAP1" in result.stderr
    code, applied = run_json(cli, lab, "apply", "tokyo", "--yes")
    assert (code, applied["sites"][0]["result"]) == (1, "failed")
    assert equivalent(running(lab), before)


def test_bad_device_configs_are_one_line_errors_naming_the_file(
    cli: RunCli, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.cfg"
    bad.write_text("hostname f220\n!\ncrypto isakmp policy P\n group 17\nexit\n")
    for args, expected in [
        (["--device-config", f"osaka={BOX}"], "unknown site 'osaka'"),
        (["--device-config", f"tokyo={tmp_path / 'missing.cfg'}"], "cannot read"),
        (["--device-config", str(BOX)], "expected SITE=FILE"),
        (["--device-config", f"tokyo={bad}"], f"{bad}:4: the lab device rejects this line"),
    ]:
        result = cli("lab", "up", "--state-dir", str(tmp_path / "state"), *args, timeout=60)
        assert result.returncode != 0, args
        assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "group 17" not in result.stderr
    assert not (tmp_path / "state" / "ready").exists()
