"""`fitelctl diagnose` and `fitelctl logs` against the lab (SSH device + Sakura API), and bad input.

The commands run through the real command line's entry point (one-line errors,
exit codes), in the test process (tests/helpers.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, StartLab
from helpers import (
    closed_port,
    copy_lab_inventory,
    lab_inventory,
    lab_inventory_path,
    one_line_error,
)

from fitelctl.inventory import Inventory, load_inventory
from fitelctl.lab.charon_log import Retransmit
from fitelctl.lab.runner import Lab
from fitelctl.ops.cloud import client_for
from fitelctl.ops.connect import connect_site
from fitelctl.ops.diagnose import diagnose_site
from fitelctl.ops.logs import follow, follow_router_log, new_lines
from fitelctl.sakura.client import SakuraClient

ARTICLE_LOG = ROOT / "tests/data/sakura/vpnlog_v2_reconnect_seed.log"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def fitelctl(cli: Run) -> Run:
    return cli


def lab_secrets(lab: Lab) -> list[str]:
    return [p.read_text().strip() for p in (lab.options.state_dir / "secrets").iterdir()]


def diagnose_json(fitelctl: Run, lab: Lab, *args: str, **kw: Any) -> tuple[int, dict[str, Any]]:
    result = fitelctl(
        "-i", str(lab_inventory_path(lab)), "diagnose", "tokyo", "--json", *args, **kw
    )
    assert "Traceback" not in result.stderr
    assert not any(secret in result.stdout + result.stderr for secret in lab_secrets(lab))
    return result.returncode, json.loads(result.stdout)


def router_client(lab: Lab) -> tuple[SakuraClient, int]:
    return client_for(lab_inventory(lab), "tokyo")


# --- diagnose SITE ----------------------------------------------------------------------------


def test_pending_migration_is_a_main_mode_mismatch_naming_hash_and_group(
    start_lab: StartLab, fitelctl: Run
) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    code, doc = diagnose_json(fitelctl, lab)
    assert code == 1
    assert (doc["site"], doc["cause"]) == ("tokyo", "proposal_mismatch_main_mode")
    assert "DH group: the F220 offers group 5, the router wants group 14" in doc["detail"]
    assert "set `group 14` (crypto isakmp policy)" in doc["detail"]
    assert "set `hash sha-256`" in doc["detail"]
    assert "set `set pfs group14`" in doc["detail"]  # what quick mode will need next
    assert "`fitelctl apply tokyo`" in doc["detail"]
    assert doc["evidence"][-1].endswith("no proposal found")


def test_wrong_psk_is_a_psk_mismatch_without_the_key(start_lab: StartLab, fitelctl: Run) -> None:
    lab = start_lab(scenario="seed-v2", faults=("wrong-psk",))
    code, doc = diagnose_json(fitelctl, lab)
    assert (code, doc["cause"]) == (1, "psk_mismatch")
    assert "differ" in doc["detail"] and "PreSharedSecret" in doc["detail"]
    assert "the inventory's key is the F220's" in doc["detail"]


def test_an_established_tunnel_is_ok(start_lab: StartLab, fitelctl: Run) -> None:
    lab = start_lab(scenario="seed-v2")
    result = fitelctl("-i", str(lab_inventory_path(lab)), "diagnose", "tokyo")
    assert result.returncode == 0, result.stderr
    first, *evidence = result.stdout.splitlines()
    assert first.startswith("ok: the tunnel is up: AES-CBC/256, HMAC-SHA2-256-128/256")
    assert evidence and all(line.startswith("  ") for line in evidence)


def test_a_router_powered_off_is_router_down(start_lab: StartLab, fitelctl: Run) -> None:
    lab = start_lab(scenario="seed-v2")
    client, appliance_id = router_client(lab)
    with client:
        client.shutdown(appliance_id)
        client.wait_for_state(appliance_id, instance_status="down", timeout=10, interval=0.05)
    code, doc = diagnose_json(fitelctl, lab)
    assert (code, doc["cause"]) == (1, "router_down")
    assert "powered off: boot it" in doc["detail"]


def test_a_stuck_migration_says_the_articles_workaround(start_lab: StartLab, fitelctl: Run) -> None:
    lab = start_lab(scenario="migration-stuck")
    client, appliance_id = router_client(lab)
    with client:
        client.migrate_version(appliance_id, 2)
    code, doc = diagnose_json(fitelctl, lab)
    assert (code, doc["cause"]) == (1, "router_down")
    assert "power it off, import the settings exported before" in doc["detail"]


def wait_for_line(lab: Lab, fragment: str, count: int = 1, timeout: float = 30.0) -> list[str]:
    """The router's log once ``count`` lines contain ``fragment`` (lines come as time passes)."""
    assert lab.api is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with router_client(lab)[0] as client:  # any API call collects what is due
            log = client.vpn_log(lab.api.appliance_id).lines
        if sum(fragment in line for line in log) >= count:
            return log
        time.sleep(0.2)
    raise AssertionError(f"no {fragment!r} in the router's log within {timeout}s")


def test_the_router_giving_up_on_a_silent_office_is_no_response(
    start_lab: StartLab, fitelctl: Run, tmp_path: Path
) -> None:
    """The router's own main mode to an F220 without crypto config: retransmits, gives up."""
    lab = start_lab(scenario="fresh")
    assert lab.api is not None
    lab.api.router.retransmit = Retransmit(timeout=0.01)  # strongSwan's schedule, sped up
    log = wait_for_line(lab, "establishing IKE_SA failed, peer not responding")
    assert any("initiating Main Mode IKE_SA peer-126.169.118.242-tunnel-vti[" in x for x in log)
    assert any("sending retransmit 5 of request message ID 0, seq 1" in x for x in log)

    code, doc = diagnose_json(fitelctl, lab)
    assert (code, doc["cause"], doc["rate_limited"]) == (1, "no_response", False)
    assert any(
        e.endswith("establishing IKE_SA failed, peer not responding") for e in doc["evidence"]
    )

    saved = tmp_path / "router.log"
    saved.write_text("\n".join(log) + "\n")
    result = fitelctl("diagnose", "--from-log", str(saved), "--peer", "126.169.118.242")
    assert result.returncode == 1
    assert result.stdout.startswith(
        "no_response: the router initiated main mode to 126.169.118.242"
    )


def test_retries_with_a_wrong_key_fill_the_half_open_limit(
    start_lab: StartLab, fitelctl: Run
) -> None:
    """Each wrong-key main mode stays half-open for 30 s; the sixth is dropped unanswered."""
    lab = start_lab(scenario="seed-v2", faults=("wrong-psk",))
    assert lab.api is not None
    client, appliance_id = router_client(lab)
    with client:
        for _ in range(6):  # every apply makes the office negotiate again
            client.apply_config(appliance_id)
        log = client.vpn_log(appliance_id).lines
    refused = [x for x in log if "per-IP half-open IKE_SA limit of 5 reached" in x]
    assert refused and refused[0].endswith(
        "04[NET] ignoring IKE_SA setup from 126.169.118.242, "
        "per-IP half-open IKE_SA limit of 5 reached"
    )
    assert sum("could not decrypt payloads" in x for x in log) == 5

    code, doc = diagnose_json(fitelctl, lab)
    assert (code, doc["cause"], doc["rate_limited"]) == (1, "psk_mismatch", True)
    assert "rate-limiting 126.169.118.242" in doc["detail"] and "PreSharedSecret" in doc["detail"]
    assert doc["evidence"][-1].endswith("limit of 5 reached")


def test_an_apply_lets_the_routers_attempt_go_on_and_a_reset_starts_over(
    start_lab: StartLab,
) -> None:
    """Applying settings keeps charon's SAs; a reset restarts charon (and its half-open SAs)."""
    lab = start_lab(scenario="fresh")
    client, appliance_id = router_client(lab)
    with client:
        client.apply_config(appliance_id)
        log = client.vpn_log(appliance_id).lines
        assert sum("initiating Main Mode" in line for line in log) == 1
        client.reset(appliance_id)
    log = wait_for_line(lab, "initiating Main Mode IKE_SA peer-126.169.118.242-tunnel-vti[2]")
    assert sum("initiating Main Mode" in line for line in log) == 2


def test_a_reset_lifts_the_half_open_limit(start_lab: StartLab, fitelctl: Run) -> None:
    lab = start_lab(scenario="seed-v2", faults=("wrong-psk",))
    client, appliance_id = router_client(lab)
    with client:
        for _ in range(6):
            client.apply_config(appliance_id)
        client.reset(appliance_id)
    # after the reset, the office's next try is answered again (and fails on the key)
    log = wait_for_line(lab, "could not decrypt payloads", count=6)
    refused = max(i for i, line in enumerate(log) if "limit of 5 reached" in line)
    assert refused < max(i for i, line in enumerate(log) if "could not decrypt payloads" in line)
    code, doc = diagnose_json(fitelctl, lab)
    assert (code, doc["cause"], doc["rate_limited"]) == (1, "psk_mismatch", False)


def test_a_device_without_crypto_never_contacts_the_router(start_lab: StartLab) -> None:
    lab = start_lab(scenario="fresh")
    result = diagnose_site(lab_inventory(lab), "tokyo")
    assert result.cause == "no_response"
    assert "no IPsec tunnel on tunnel 1" in result.detail and "fitelctl apply" in result.detail


def test_settings_decide_when_the_log_is_silent(start_lab: StartLab) -> None:
    lab = start_lab(scenario="seed-v2")
    assert lab.api is not None
    client, appliance_id = router_client(lab)
    with client:
        appliance = client.read_appliance(appliance_id)
        assert appliance.Settings and appliance.site_to_site
        appliance.site_to_site.peers[0].RemoteID = "10.9.9.9"
        client.update_settings(appliance_id, appliance.Settings, appliance.SettingsHash)
        client.apply_config(appliance_id)
    lab.api.router.log.clear()  # the negotiation it caused has rotated out of the log
    result = diagnose_site(lab_inventory(lab), "tokyo")
    assert (result.cause, result.evidence) == ("id_mismatch", [])
    assert "presents identity 172.30.128.254" in result.detail and "10.9.9.9" in result.detail


def test_an_unreachable_device_falls_back_on_the_router_and_the_inventory(
    start_lab: StartLab, tmp_path: Path
) -> None:
    up = start_lab(scenario="seed-v2")
    result = diagnose_site(load_inventory(unreachable_device(up, tmp_path / "up")), "tokyo")
    assert result.cause == "ok" and "reports peer 126.169.118.242 UP" in result.detail

    pending = start_lab(scenario="seed-v2-pending")
    result = diagnose_site(load_inventory(unreachable_device(pending, tmp_path / "p")), "tokyo")
    assert result.cause == "proposal_mismatch_main_mode"
    assert "the inventory's settings match the router's" in result.detail
    assert "its settings are the inventory's" in result.evidence[-1]


def unreachable_device(lab: Lab, dest: Path) -> Path:
    """A copy of the lab's inventory whose device port has nothing listening."""
    return copy_lab_inventory(lab, dest, port=closed_port(), connect_timeout=5)


def test_an_unreadable_router_exits_3(start_lab: StartLab, fitelctl: Run) -> None:
    lab = start_lab(scenario="seed-v2")
    env = {**os.environ, "SAKURACLOUD_ACCESS_TOKEN_SECRET": "wrong-secret-value"}
    code, doc = diagnose_json(fitelctl, lab, env=env)
    assert (code, doc["cause"]) == (3, "unknown")
    assert doc["detail"].startswith("cannot read the VPC router:") and "401" in doc["detail"]
    assert "wrong-secret-value" not in doc["detail"]


# --- diagnose --from-log ----------------------------------------------------------------------


def test_the_articles_log_from_a_file_is_ok(fitelctl: Run) -> None:
    result = fitelctl("diagnose", "--from-log", str(ARTICLE_LOG), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {"file", "cause", "detail", "evidence", "rate_limited"}
    assert (doc["file"], doc["cause"], doc["rate_limited"]) == (str(ARTICLE_LOG), "ok", False)


def test_a_saved_log_of_another_office_is_no_response(fitelctl: Run) -> None:
    result = fitelctl("diagnose", "--from-log", str(ARTICLE_LOG), "--peer", "198.51.100.9")
    assert result.returncode == 1
    assert result.stdout.startswith("no_response: ")


# --- logs -------------------------------------------------------------------------------------


def test_logs_prints_the_last_lines_redacted(start_lab: StartLab, fitelctl: Run) -> None:
    lab = start_lab(scenario="seed-v2")
    assert lab.api is not None
    psk = (lab.options.state_dir / "secrets" / "tokyo.psk").read_text().strip()
    lab.api.router.log.append(f"Jul 18 13:22:00 rt charon: 05[CFG] <2> debug: key {psk} here")
    expected = list(lab.api.router.log)[-4:]
    result = fitelctl("-i", str(lab_inventory_path(lab)), "logs", "tokyo", "--lines", "4")
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    assert printed[:3] == expected[:3]
    assert printed[3] == expected[3].replace(psk, "<redacted>")
    assert not any(secret in result.stdout for secret in lab_secrets(lab))


class RenegotiateThenStop:
    """A ``Waiter``: the first wait makes the F220 negotiate again, the second ends the loop."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.waits: list[float] = []

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        if len(self.waits) == 1:
            with connect_site(self.inventory, "tokyo") as device:
                device.show("clear crypto sa")
        return len(self.waits) > 1


def test_follow_prints_the_tail_then_only_new_lines(start_lab: StartLab) -> None:
    lab = start_lab(scenario="seed-v2")
    assert lab.api is not None
    before = list(lab.api.router.log)
    inventory = lab_inventory(lab)
    stop = RenegotiateThenStop(inventory)
    lines = list(follow_router_log(inventory, "tokyo", lines=2, interval=2.0, stop=stop))
    assert stop.waits == [2.0, 2.0]
    assert lines[:2] == before[-2:]
    added = lines[2:]
    assert added == list(lab.api.router.log)[len(before) :]
    assert "<2> received packet" in added[0] and "established with SPIs" in added[-1]


# --- bad input ---------------------------------------------------------------------------------


def test_unknown_site(start_lab: StartLab, fitelctl: Run) -> None:
    lab = start_lab(scenario="seed-v2")
    for command in (["diagnose", "osaka"], ["logs", "osaka"]):
        result = fitelctl("-i", str(lab_inventory_path(lab)), *command)
        assert result.returncode == 2
        one_line_error(result, "unknown site 'osaka'", "tokyo")


def test_missing_log_file(fitelctl: Run, tmp_path: Path) -> None:
    result = fitelctl("diagnose", "--from-log", str(tmp_path / "none.log"))
    assert result.returncode == 2
    one_line_error(result, "none.log", "cannot read the log")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give a SITE to diagnose live, or --from-log FILE"),
        (["tokyo", "--from-log", str(ARTICLE_LOG)], "not both"),
        (["tokyo", "--peer", "192.0.2.1"], "--peer applies to --from-log only"),
    ],
)
def test_site_and_from_log_are_exclusive(fitelctl: Run, args: list[str], message: str) -> None:
    result = fitelctl("diagnose", *args)
    assert result.returncode == 2
    one_line_error(result, message)


def test_logs_refuses_a_negative_count(fitelctl: Run) -> None:
    result = fitelctl("logs", "tokyo", "--lines", "-1")
    assert result.returncode == 2
    one_line_error(result, "--lines")


# --- following a log that rotates -------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "added"),
    [
        ([], ["a", "b"], ["a", "b"]),
        (["a", "b"], ["a", "b"], []),
        (["a", "b"], ["a", "b", "c"], ["c"]),
        (["a", "b", "c"], ["b", "c", "d", "e"], ["d", "e"]),  # the router dropped "a"
        (["x", "x"], ["x", "x", "x"], ["x"]),
        (["a", "b"], ["p", "q"], ["p", "q"]),  # reset, or more dropped than was read
        (["a", "b"], [], []),
    ],
)
def test_new_lines(before: list[str], after: list[str], added: list[str]) -> None:
    assert new_lines(before, after) == added


def test_follow_polls_until_told_to_stop() -> None:
    downloads = iter([["a", "b", "c"], ["b", "c", "d"], ["b", "c", "d"], ["e"]])
    waits: list[float] = []

    class FourPolls:
        def wait(self, timeout: float) -> bool:
            waits.append(timeout)
            return len(waits) > 3

    lines = list(follow(lambda: next(downloads), lines=1, interval=0.5, stop=FourPolls()))
    assert lines == ["c", "d", "e"]
    assert waits == [0.5] * 4
