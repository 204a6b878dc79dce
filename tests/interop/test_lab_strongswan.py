"""``lab up --ike strongswan``: what fitelctl shows of the lab comes from real charons.

Each test starts a lab whose F220s and VPC router negotiate through charon-systemd in
network namespaces, and runs fitelctl's real commands on its inventory.  Needs root and
strongSwan (``require_strongswan``: fails under CI, never skips there).
"""

from __future__ import annotations

import functools
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    ROOT,
    lab_inventory_path,
    leftovers_lock,
    require_strongswan,
    run_in_process,
    settles,
)

from fitelctl.lab.charon_log import Retransmit
from fitelctl.lab.runner import BackgroundLab, Lab, LabOptions
from fitelctl.lab.scenarios import device_config, site_addresses
from fitelctl.lab.strongswan.charon import Timing
from fitelctl.lab.strongswan.lab_world import StrongswanWorld
from fitelctl.lab.strongswan.netns import OWNERS_DIR, PREFIX, ip
from fitelctl.parsing import IpsecSa, parse_crypto_sa

pytestmark = pytest.mark.interop

StartLab = Callable[..., BackgroundLab]

#: failures that meet silence end in ~2 s instead of charon's ~165 s
QUICK = Timing(Retransmit(timeout=0.5, base=1.4, tries=2))
OFFICE = "126.169.118.242"  # tokyo's public address: the router's Peer


@pytest.fixture
def strongswan_lab(tmp_path: Path) -> Iterator[StartLab]:
    """``start(scenario, *faults, device_configs=(), sites=1)``: a lab of real charons (its
    ``BackgroundLab``: the lab is ``.lab``), stopped after the test."""
    require_strongswan()
    labs: list[BackgroundLab] = []

    def start(
        scenario: str, *faults: str, device_configs: tuple[str, ...] = (), sites: int = 1
    ) -> BackgroundLab:
        state_dir = tmp_path / f"lab{len(labs)}"
        options = LabOptions(
            state_dir=state_dir,
            scenario=scenario,
            sites=sites,
            faults=faults,
            ike="strongswan",
            ike_timing=QUICK,
            device_configs=device_configs,
        )
        labs.append(BackgroundLab(options))
        with leftovers_lock(exclusive=False):  # its start removes dead labs' namespaces
            labs[-1].__enter__()
        return labs[-1]

    yield start
    for lab in labs:
        lab.__exit__(None, None, None)


def fitelctl(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return run_in_process("-i", str(lab_inventory_path(lab)), *args)


def status(lab: Lab) -> dict[str, Any]:
    result = fitelctl(lab, "status", "--json")
    (site,) = json.loads(result.stdout)["sites"]
    return dict(site)


def router_log(lab: Lab) -> str:
    return fitelctl(lab, "logs", "tokyo", "-n", "500").stdout


def established_spis(log: str) -> list[tuple[str, str]]:
    """(router's inbound, router's outbound) SPI of each CHILD_SA the router's log names."""
    return re.findall(r"established with SPIs (\w+)_i (\w+)_o", log)


def charon_world(lab: Lab) -> StrongswanWorld:
    assert isinstance(lab.world, StrongswanWorld)
    return lab.world


def up_with(lab: Lab, state: str = "up", timeout: float = 10.0) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def reached() -> bool:
        found.update(status(lab))
        return bool(found["state"] == state)

    assert settles(reached, timeout), found
    return found


def test_the_demo_runs_on_real_charons_and_prints_the_routers_real_log() -> None:
    require_strongswan()
    with leftovers_lock(exclusive=False):
        result = run_in_process("demo", "--ike", "strongswan")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "lab up --scenario seed-v2-pending --ike strongswan" in out
    # the failure: the F220's version-1 proposals against the version-2 router's
    assert "rt-113700012345 charon: " in out
    assert "IKE:AES_CBC_128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1536" in out
    assert "<1> no proposal found" in out
    # the success, after apply
    assert "selected proposal: ESP:AES_CBC_256/HMAC_SHA2_256_128/MODP_2048/NO_EXT_SEQ" in out
    assert re.search(r"CHILD_SA peer-126\.169\.118\.242-tunnel-vti\{\d+\} established", out)
    assert "demo ok" in out


def test_show_crypto_sa_is_the_device_charons_sa_and_its_counters_move(
    strongswan_lab: StartLab,
) -> None:
    lab = strongswan_lab("seed-v2").lab
    first = up_with(lab)
    (sa,) = first["device"]["ipsec_sas"]
    assert (sa["encryption"], sa["pfs_group"]) == ("AES-CBC/256", 14)
    assert first["cloud"]["peer_status"] == "UP"
    # the router's own log names the same CHILD_SA: its inbound SPI is the F220's outbound
    assert (sa["out_spi"], sa["in_spi"]) in established_spis(router_log(lab))
    # the lab's traffic: a datagram and its echo every 2 s (waited for, not slept: on a
    # loaded machine the sender may take longer)
    seen: dict[str, Any] = {}

    def moved() -> bool:
        (seen["sa"],) = status(lab)["device"]["ipsec_sas"]
        later = seen["sa"]
        return bool(
            later["out_packets"] >= sa["out_packets"] + 2
            and later["in_packets"] >= sa["in_packets"] + 2
            and later["lifetime_remaining"] <= sa["lifetime_remaining"] - 4
        )

    assert settles(moved, 20), (sa, seen)
    later = seen["sa"]
    assert later["in_spi"] == sa["in_spi"]
    assert later["lifetime_total"] == 180


def test_every_site_of_a_three_site_lab_negotiates_and_gets_its_own_traffic_back(
    strongswan_lab: StartLab,
) -> None:
    """One router, three offices: each office's tunnel comes up, and the router's echoes
    of each office's datagrams come back through that office's own tunnel (its IN
    counters move, not only its OUT ones)."""
    lab = strongswan_lab("seed-v2", sites=3).lab
    seen: dict[str, Any] = {}

    def all_moving() -> bool:
        seen.update(
            (site["site"], site)
            for site in json.loads(fitelctl(lab, "status", "--json").stdout)["sites"]
        )
        return all(
            site["state"] == "up"
            and site["cloud"]["peer_status"] == "UP"
            and [
                (sa["in_packets"] >= 2, sa["out_packets"] >= 2)
                for sa in site["device"]["ipsec_sas"]
            ]
            == [(True, True)]
            for site in seen.values()
        )

    assert settles(all_moving, 30), seen
    assert sorted(seen) == ["site2", "site3", "tokyo"]
    # the router's one log: each peer's CHILD_SA under IKE_SA and CHILD_SA ids of its own
    log = router_log(lab)
    established = re.findall(
        r"<(peer-[\d.]+-tunnel-vti)\|(\d+)> CHILD_SA \1\{(\d+)\} established", log
    )
    assert sorted(name for name, _, _ in established) == [
        "peer-126.169.118.242-tunnel-vti",
        "peer-198.18.0.2-tunnel-vti",
        "peer-198.18.0.3-tunnel-vti",
    ], log  # the whole log: this failed twice in about 20 runs, not yet explained
    assert (
        len({ike for _, ike, _ in established}) == len({child for _, _, child in established}) == 3
    )
    assert log.count("loaded plugins: ") == 1  # the router started once


def test_replayed_and_forged_esp_move_the_error_counters_of_that_sa_only(
    strongswan_lab: StartLab,
) -> None:
    """``tokyo/esp-noise``: tokyo's charon refuses the replays and forgeries sent to its
    SA (real libipsec refusals, read from its log) and `show crypto sa` counts them;
    site2, sent none, counts none."""
    background = strongswan_lab("seed-v2", "tokyo/esp-noise", sites=2)
    lab = background.lab
    seen: dict[str, IpsecSa] = {}

    def counted() -> bool:
        for site in ("tokyo", "site2"):
            text = background.call(functools.partial(lab.world.show_crypto_sa, site))
            sas = parse_crypto_sa(text).ipsec_sas
            if len(sas) != 1:
                return False
            seen[site] = sas[0]
        return seen["tokyo"].in_replay_errors >= 2 and seen["tokyo"].in_auth_errors >= 2

    assert settles(counted, 20), seen
    tokyo, site2 = seen["tokyo"], seen["site2"]
    assert (tokyo.in_padding_errors, tokyo.in_rule_errors) == (0, 0)  # need the SA's keys
    assert tokyo.in_packets >= 2  # the good traffic still gets through
    assert (site2.in_replay_errors, site2.in_auth_errors, site2.in_packets > 0) == (0, 0, True)
    found = {
        site["site"]: site for site in json.loads(fitelctl(lab, "status", "--json").stdout)["sites"]
    }
    assert found["tokyo"]["state"] == "degraded"
    assert found["tokyo"]["device"]["ipsec_sas"][0]["in_errors"] >= 4
    assert found["site2"]["state"] == "up"


def test_reconnect_from_the_cloud_makes_the_router_initiate_new_sas(
    strongswan_lab: StartLab,
) -> None:
    lab = strongswan_lab("seed-v2").lab
    (before,) = up_with(lab)["device"]["ipsec_sas"]
    result = fitelctl(lab, "reconnect", "tokyo", "--side", "cloud")
    assert result.returncode == 0, result.stdout + result.stderr
    (after,) = up_with(lab)["device"]["ipsec_sas"]
    assert after["in_spi"] != before["in_spi"]
    log = router_log(lab)
    assert "initiating Main Mode IKE_SA peer-126.169.118.242-tunnel-vti" in log
    assert (after["out_spi"], after["in_spi"]) in established_spis(log)


def test_a_wrong_psk_is_diagnosed_from_the_real_routers_log(strongswan_lab: StartLab) -> None:
    lab = strongswan_lab("seed-v2", "wrong-psk").lab
    assert settles(lambda: "decryption failed" in router_log(lab), 10)
    result = fitelctl(lab, "diagnose", "tokyo")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("psk_mismatch:")
    assert "decryption failed" in result.stdout  # the evidence is the real line
    assert "PreSharedSecret" in result.stdout


def test_a_router_log_line_the_lab_cannot_translate_is_named_and_the_rest_kept(
    strongswan_lab: StartLab,
) -> None:
    """A lab address that stands for no config address is a lab defect: the line is left
    out and named in the lab's log (which lands on the stderr of the command whose API
    call collected it); the lines read with it still reach the router's log."""
    lab = strongswan_lab("seed-v2").lab
    up_with(lab)
    router_log(lab)  # everything so far collected
    odd = "198.19.250.250"  # in the lab's range, standing for nothing
    with charon_world(lab).offices["tokyo"].router_charon.log_file.open("a") as log_file:
        log_file.write(
            f"Dec  7 06:04:47 13[NET] <9> sending packet: to {odd}[500]\n"
            "Dec  7 06:04:48 13[IKE] <9> the line after the odd one\n"
        )
    result = fitelctl(lab, "logs", "tokyo", "-n", "500")
    assert result.returncode == 0, result.stderr
    assert "the line after the odd one" in result.stdout and odd not in result.stdout
    assert f"a line left out of the VPC router's log: lab address {odd}" in result.stderr


def test_dropped_ike_packets_meet_real_silence(strongswan_lab: StartLab) -> None:
    lab = strongswan_lab("seed-v2", "tokyo/drop-ike").lab
    device = charon_world(lab).offices["tokyo"].charon
    assert settles(lambda: any("giving up after" in line for line in device.log_lines()), 10)
    assert "received packet" not in router_log(lab)  # nothing ever arrived
    result = fitelctl(lab, "diagnose", "tokyo")
    assert result.stdout.startswith("no_response:"), result.stdout + result.stderr
    assert status(lab)["state"] == "down"


def test_a_router_restart_mid_tunnel_comes_back_by_itself(strongswan_lab: StartLab) -> None:
    lab = strongswan_lab("seed-v2", "router-restart:3").lab
    (before,) = up_with(lab)["device"]["ipsec_sas"]
    assert settles(lambda: router_log(lab).count("created TUN device: ipsec0") == 2, 10)

    def new_sa_up() -> bool:
        found = status(lab)
        sas = found["device"]["ipsec_sas"]
        fresh = [sa for sa in sas if sa["in_spi"] != before["in_spi"]]
        return found["cloud"]["peer_status"] == "UP" and bool(fresh)

    assert settles(new_sa_up, 15)


def test_power_off_stops_the_routers_charon_and_boot_brings_the_tunnel_back(
    strongswan_lab: StartLab,
) -> None:
    background = strongswan_lab("seed-v2")
    lab, run = background.lab, background.call
    (before,) = up_with(lab)["device"]["ipsec_sas"]
    assert lab.api is not None
    router = lab.api.router
    run(router.shutdown)
    assert settles(lambda: run(lambda: router.instance_status) == "down", 10)
    assert not any(office.router_charon.running for office in charon_world(lab).offices.values())
    run(router.boot)

    def back() -> bool:
        """A new SA, and the lab's traffic through it both ways (the router's charon
        started afresh: its ``ipsec0`` and the routes into it are new)."""
        sas = status(lab)["device"]["ipsec_sas"]
        return any(
            sa["in_spi"] != before["in_spi"] and sa["in_packets"] >= 1 and sa["out_packets"] >= 1
            for sa in sas
        )

    assert settles(back, 20)
    assert status(lab)["cloud"]["peer_status"] == "UP"


def test_the_ipsec_sa_rekeys_for_real_at_its_configured_lifetime(
    strongswan_lab: StartLab, tmp_path: Path
) -> None:
    """The article's config with a 60 s IPsec SA lifetime (the device's minimum): charon
    renews the CHILD_SA before it runs out, under the same IKE_SA, with new SPIs."""
    secrets = tmp_path / "lab0" / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "tokyo.psk").write_text("rekey-test-psk\n")
    config = device_config(site_addresses(0), "v2", "rekey-test-psk").replace(
        "set security-association lifetime seconds 180",
        "set security-association lifetime seconds 60",
    )
    (tmp_path / "tokyo.cfg").write_text(config)
    lab = strongswan_lab("seed-v2", device_configs=(f"tokyo={tmp_path / 'tokyo.cfg'}",)).lab
    (first,) = up_with(lab)["device"]["ipsec_sas"]
    assert first["lifetime_total"] == 60
    started = time.monotonic()

    def rekeyed() -> bool:
        sas = status(lab)["device"]["ipsec_sas"]
        return any(sa["in_spi"] != first["in_spi"] for sa in sas)

    assert settles(rekeyed, 60)
    took = time.monotonic() - started
    assert took < first["lifetime_remaining"], took  # renewed before it ran out
    log = router_log(lab)
    assert len(established_spis(log)) == 2
    assert log.count("IKE_SA peer-126.169.118.242-tunnel-vti[1] established") == 1


def test_dead_peer_detection_takes_the_tunnel_down_at_the_routers_dpd_timing(
    strongswan_lab: StartLab,
) -> None:
    """The Internet starts dropping the office's IKE and ESP-in-UDP mid-tunnel: the
    router's charon, on its settings' DPD (every 15 s, dead after 30 s), gives the peer
    up by itself; nothing in the lab tells it to."""
    background = strongswan_lab("seed-v2")
    lab, world = background.lab, charon_world(background.lab)
    up_with(lab)
    cut = time.monotonic()
    background.call(lambda: world.network.drop_ike(world.offices["tokyo"].place))
    assert settles(lambda: not background.call(lambda: world.router_peer_up(OFFICE)), 60)
    took = time.monotonic() - cut
    log = router_log(lab)
    assert "sending DPD request" in log, log  # charon's own lines, the router's syslog form
    assert "DPD check timed out, enforcing DPD action" in log, log
    assert status(lab)["cloud"]["peer_status"] == "DOWN"
    # seen: 29.6 s and 30 s; never before the first DPD request (15 s after the last
    # packet), never long after the 30 s timeout
    assert 15 <= took <= 30 + 15, took


def test_a_committed_config_the_translation_refuses_is_named_and_nothing_negotiates(
    tmp_path: Path,
) -> None:
    """The device accepts a crypto map naming a profile that does not exist (as typed,
    before the profile is); the lab's charons cannot be given it: ``lab up`` says on
    stderr which tunnel and what is missing, and nothing negotiates."""
    require_strongswan()
    config = device_config(site_addresses(0), "v2", "refused-test-psk").replace(
        " set isakmp-profile sakuratokyo", " set isakmp-profile notyet"
    )
    (tmp_path / "tokyo.cfg").write_text(config)
    state_dir = tmp_path / "state"
    with leftovers_lock(exclusive=False):
        lab = _lab_up(
            state_dir, "--scenario", "seed-v2", "--device-config", f"tokyo={tmp_path / 'tokyo.cfg'}"
        )
    try:
        result = run_in_process("-i", str(state_dir / "inventory.yaml"), "status", "--json")
        (found,) = json.loads(result.stdout)["sites"]
        assert found["state"] == "down"
        assert found["device"]["ipsec_sas"] == []
    finally:
        lab.send_signal(signal.SIGTERM)
        _, stderr = lab.communicate(timeout=30)
    assert stderr.splitlines() == [
        "fitelctl: lab: tokyo: the committed config has no strongSwan translation: "
        "tunnel 1: 'crypto isakmp profile notyet' is referenced but not configured"
    ]


def _lab_up(state_dir: Path, *options: str) -> subprocess.Popen[str]:
    """``fitelctl lab up --ike strongswan`` as its own process, once it is ready."""
    command = ["lab", "up", "--ike", "strongswan", "--state-dir", str(state_dir), *options]
    process = subprocess.Popen(
        [sys.executable, "-m", "fitelctl", *command],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert settles(lambda: (state_dir / "ready").exists(), 60), process.poll()
    return process


def test_a_killed_lab_leaves_namespaces_the_next_lab_up_removes(tmp_path: Path) -> None:
    require_strongswan()
    with leftovers_lock(exclusive=True):
        _kill_a_lab_up_and_start_another(tmp_path)


def _kill_a_lab_up_and_start_another(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"

    def namespaces_of(pid: int) -> list[str]:
        return [n for n in ip("netns", "list").split() if n.startswith(f"{PREFIX}{pid}-")]

    first = _lab_up(state_dir)
    assert len(namespaces_of(first.pid)) == 3  # isp, vpc router, tokyo
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert len(namespaces_of(first.pid)) == 3
    sockets = f"{PREFIX}{first.pid}-*.vici"  # the router's and tokyo's charons
    assert len(list(OWNERS_DIR.glob(sockets))) == 2
    (state_dir / "ready").unlink()
    second = _lab_up(state_dir)
    assert namespaces_of(first.pid) == []
    second.send_signal(signal.SIGTERM)
    _, stderr = second.communicate(timeout=30)
    assert second.returncode == 0, stderr
    assert f"removed namespace {PREFIX}{first.pid}-" in stderr
    assert namespaces_of(second.pid) == []
    # the dead lab's charons went with their namespaces, and their vici sockets too
    assert list(OWNERS_DIR.glob(sockets)) == []
