"""The runbooks' router operations against the lab's API over real HTTP on 127.0.0.1.

Each test drives the source article's incidents (docs/domain.md#incidents-in-the-article)
end to end where the lab allows it:
export/import, power, the v1 → v2 migration (fast, and the stuck one with its
workaround), algorithm changes and a PSK rotation.  Waits poll with short
intervals and a bound; nothing sleeps a fixed time.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import RunCli, StartLab
from helpers import lab_inventory, lab_inventory_path

from fitelctl.inventory import Inventory
from fitelctl.lab.runner import Lab
from fitelctl.ops.cloud import client_for
from fitelctl.ops.psk import generate_psk, store_psk
from fitelctl.ops.router import (
    NoPeerEntry,
    RouterState,
    SettingsFileError,
    UnsupportedSetting,
    export_settings,
    import_settings,
    is_stuck,
    migrate_router,
    power_off,
    power_on,
    read_state,
    set_router_algorithms,
    set_router_psk,
    wait_migration,
    wait_router,
)
from fitelctl.sakura.errors import StateTimeoutError
from fitelctl.sakura.models import SiteToSiteVpn

#: waits: a bound far above the lab's 0.2 s transitions, polled often
TIMEOUT, INTERVAL = 15.0, 0.05
SITE = "tokyo"
PEER = "126.169.118.242"


def lab_psk(lab: Lab) -> str:
    return (lab.options.state_dir / "secrets" / f"{SITE}.psk").read_text().strip()


def api_requests(lab: Lab) -> list[str]:
    assert lab.api is not None
    return list(lab.api.requests)


def writes_since(lab: Lab, before: int) -> list[str]:
    return [r for r in api_requests(lab)[before:] if not r.startswith("GET")]


def router_vpn(inventory: Inventory) -> tuple[SiteToSiteVpn, str]:
    client, appliance_id = client_for(inventory, SITE)
    with client:
        appliance = client.read_appliance(appliance_id)
    assert appliance.site_to_site is not None
    return appliance.site_to_site, appliance.SettingsHash


def settings_json(inventory: Inventory) -> dict[str, Any]:
    client, appliance_id = client_for(inventory, SITE)
    with client:
        settings = client.read_appliance(appliance_id).Settings
    assert settings is not None
    return settings.to_api()


def wait_up(inventory: Inventory) -> RouterState:
    return wait_router(
        inventory,
        SITE,
        instance_status="up",
        availability="available",
        timeout=TIMEOUT,
        interval=INTERVAL,
    )


def apply_device(cli: RunCli, lab: Lab) -> None:
    result = cli("-i", str(lab_inventory_path(lab)), "apply", SITE, "--yes")
    assert result.returncode == 0, result.stdout + result.stderr


def edit_inventory(lab: Lab, **tunnel_and_cloud: dict[str, Any]) -> None:
    path = lab_inventory_path(lab)
    data = yaml.safe_load(path.read_text())
    for section, changes in tunnel_and_cloud.items():
        data["sites"][SITE][section].update(changes)
    path.write_text(yaml.safe_dump(data))


# -- export / import --------------------------------------------------------------------------


def test_export_then_import_restores_the_settings(start_lab: StartLab, tmp_path: Path) -> None:
    lab = start_lab(scenario="seed-v1")
    inventory = lab_inventory(lab)
    exported = export_settings(inventory, SITE, tmp_path / "exports" / "before.json")
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600
    data = json.loads(exported.read_text())
    assert data == settings_json(inventory)
    (entry,) = data["Router"]["SiteToSiteIPsecVPN"]["Config"]
    assert (entry["Peer"], entry["PreSharedSecret"]) == (PEER, lab_psk(lab))
    _, hash_at_export = router_vpn(inventory)

    set_router_psk(inventory, SITE, generate_psk())
    _, changed_hash = router_vpn(inventory)
    assert changed_hash != hash_at_export
    assert read_state(inventory, SITE).cloud.peer_status == "DOWN"

    before = len(api_requests(lab))
    import_settings(inventory, SITE, exported)
    appliance_id = inventory.site(SITE).cloud.vpc_router_id
    assert writes_since(lab, before) == [
        f"PUT /tk1v/api/cloud/1.1/appliance/{appliance_id}",
        f"PUT /tk1v/api/cloud/1.1/appliance/{appliance_id}/config",
    ]
    assert settings_json(inventory) == data
    _, imported_hash = router_vpn(inventory)
    assert imported_hash not in ("", changed_hash)
    assert read_state(inventory, SITE).cloud.peer_status == "UP"


def test_an_export_is_never_overwritten_unless_asked(start_lab: StartLab, tmp_path: Path) -> None:
    lab = start_lab(scenario="seed-v1")
    inventory = lab_inventory(lab)
    path = tmp_path / "exports" / "settings.json"
    path.parent.mkdir()
    path.write_text("keep me\n")
    with pytest.raises(SettingsFileError, match="already exists") as refused:
        export_settings(inventory, SITE, path)
    assert path.read_text() == "keep me\n"
    assert str(path) in str(refused.value)
    assert export_settings(inventory, SITE, path, overwrite=True) == path
    assert json.loads(path.read_text())["Router"]["SiteToSiteIPsecVPN"]["Enabled"] == "True"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temporary left


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such settings export"),
        ("{not json", "not JSON: line 1"),
        ("[1, 2]", "expected a JSON object with a 'Router' object"),
        ('{"Appliance": {"Settings": {}}}', "holds a whole appliance"),
        ('{"Router": "x"}', "expected a JSON object with a 'Router' object"),
        (
            '{"Router": {"SiteToSiteIPsecVPN": {"Config": '
            '[{"PreSharedSecret": "file-secret-Zq81"}]}}}',
            "Router.SiteToSiteIPsecVPN.Config.0.Peer: Field required",
        ),
    ],
)
def test_import_refuses_what_is_not_an_export(
    start_lab: StartLab, tmp_path: Path, content: str | None, expected: str
) -> None:
    lab = start_lab(scenario="seed-v1")
    path = tmp_path / "settings.json"
    if content is not None:
        path.write_text(content)
    before = len(api_requests(lab))
    with pytest.raises(SettingsFileError) as err:
        import_settings(lab_inventory(lab), SITE, path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and expected in message
    assert "file-secret-Zq81" not in message and "\n" not in message
    assert writes_since(lab, before) == []


# -- power and migration --------------------------------------------------------------------------


def test_power_off_and_on_with_waits(start_lab: StartLab) -> None:
    lab = start_lab(scenario="seed-v1")
    inventory = lab_inventory(lab)
    assert power_off(inventory, SITE) is True
    down = wait_router(inventory, SITE, instance_status="down", timeout=TIMEOUT, interval=INTERVAL)
    assert (down.cloud.instance_status, down.running, down.cloud.peer_status, down.stuck) == (
        "down",
        False,
        None,
        False,
    )
    assert power_off(inventory, SITE, force=True) is False  # already off: nothing sent
    assert power_on(inventory, SITE) is True
    up = wait_up(inventory)
    assert up.to_json() == {
        "site": SITE,
        "appliance_id": up.cloud.appliance_id,
        "version": 1,
        "availability": "available",
        "instance_status": "up",
        "peer": PEER,
        "peer_status": "UP",
        "status_error": None,
        "running": True,
        "stuck": False,
    }
    assert up.running and up.peer_up and not up.stuck
    assert up.to_json()["running"] is True
    assert power_on(inventory, SITE) is False


def test_migration_to_version_2(start_lab: StartLab) -> None:
    lab = start_lab(scenario="seed-v1")
    inventory = lab_inventory(lab)
    assert migrate_router(inventory, SITE) is True
    state = wait_migration(inventory, SITE, timeout=TIMEOUT, interval=INTERVAL)
    assert (state.version, state.cloud.availability, state.running, state.stuck) == (
        2,
        "available",
        True,
        False,
    )
    # the article: after the migration the F220's version-1 config no longer links
    assert state.cloud.peer_status == "DOWN"
    assert migrate_router(inventory, SITE) is False  # already version 2: nothing sent
    assert not is_stuck(inventory, SITE)


def test_stuck_migration_and_the_articles_workaround(
    start_lab: StartLab, cli: RunCli, tmp_path: Path
) -> None:
    lab = start_lab(scenario="migration-stuck")
    inventory = lab_inventory(lab)
    exported = export_settings(inventory, SITE, tmp_path / "before-migration.json")
    assert migrate_router(inventory, SITE) is True

    stuck = wait_migration(inventory, SITE, timeout=1.0, interval=INTERVAL)
    assert (stuck.cloud.availability, stuck.stuck, stuck.running, stuck.cloud.peer_status) == (
        "migrating",
        True,
        False,
        None,
    )
    assert is_stuck(inventory, SITE)
    with pytest.raises(StateTimeoutError, match="did not reach Availability=available"):
        wait_router(inventory, SITE, availability="available", timeout=0.2, interval=INTERVAL)

    # the workaround: power off -> import the settings exported before -> power on
    assert power_off(inventory, SITE, force=True) is True
    wait_router(inventory, SITE, instance_status="down", timeout=TIMEOUT, interval=INTERVAL)
    import_settings(inventory, SITE, exported)
    assert power_on(inventory, SITE) is True
    state = wait_up(inventory)
    assert (state.version, state.running, state.stuck) == (2, True, False)
    assert state.cloud.peer_status == "DOWN"  # the F220 still runs its version-1 config

    # the device gets the version-2 parameters: the tunnel comes up
    edit_inventory(
        lab,
        tunnel={"preset": "sakura-v2"},
        cloud={
            "version": 2,
            "encryption_algo": "aes256",
            "hash_algo": "sha256",
            "dh_group": "modp2048",
        },
    )
    apply_device(cli, lab)
    assert read_state(lab_inventory(lab), SITE).cloud.peer_status == "UP"


# -- algorithms ----------------------------------------------------------------------------------


def test_router_algorithms_decide_what_links(start_lab: StartLab) -> None:
    lab = start_lab(scenario="seed-v2")
    inventory = lab_inventory(lab)
    assert read_state(inventory, SITE).cloud.peer_status == "UP"

    set_router_algorithms(
        inventory,
        SITE,
        encryption_algo="aes128",
        hash_algo="sha1",
        dh_group="modp1024",
        ike_lifetime=3600,
        esp_lifetime=900,
    )
    vpn, _ = router_vpn(inventory)
    assert (vpn.EncryptionAlgo, vpn.HashAlgo, vpn.DHGroup) == ("aes128", "sha1", "modp1024")
    assert vpn.IKE is not None and vpn.IKE.Lifetime == 3600
    assert vpn.IKE.DPD is not None and (vpn.IKE.DPD.Interval, vpn.IKE.DPD.Timeout) == (15, 30)
    assert vpn.ESP is not None and vpn.ESP.Lifetime == 900
    assert (
        read_state(inventory, SITE).cloud.peer_status == "DOWN"
    )  # the F220 offers aes256/sha256/14

    set_router_algorithms(
        inventory, SITE, encryption_algo="aes256", hash_algo="sha256", dh_group="modp2048"
    )
    assert read_state(inventory, SITE).cloud.peer_status == "UP"


def test_no_version_2_setting_links_the_version_1_config(start_lab: StartLab) -> None:
    """The closest a v2 router gets to the F220's v1 set (group 5 is not offered) stays down."""
    lab = start_lab(scenario="seed-v2-pending")
    inventory = lab_inventory(lab)
    set_router_algorithms(
        inventory, SITE, encryption_algo="aes128", hash_algo="sha1", dh_group="modp1024"
    )
    assert read_state(inventory, SITE).cloud.peer_status == "DOWN"
    client, appliance_id = client_for(inventory, SITE)
    with client:
        assert any(
            line.endswith("no proposal found") for line in client.vpn_log(appliance_id).lines
        )


def test_algorithm_changes_that_cannot_apply(start_lab: StartLab) -> None:
    lab = start_lab(scenario="seed-v1")
    inventory = lab_inventory(lab)
    before = len(api_requests(lab))
    with pytest.raises(UnsupportedSetting, match=r"DHGroup 'modp1536'.*modp1024, modp2048"):
        set_router_algorithms(
            inventory, SITE, encryption_algo="aes128", hash_algo="sha1", dh_group="modp1536"
        )
    with pytest.raises(UnsupportedSetting, match="version 1: its algorithms are fixed"):
        set_router_algorithms(
            inventory, SITE, encryption_algo="aes128", hash_algo="sha1", dh_group="modp2048"
        )
    assert writes_since(lab, before) == []


# -- PSK rotation and rollback --------------------------------------------------------------------


def test_psk_rotation_and_rollback(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v1")
    inventory = lab_inventory(lab)
    old, new = lab_psk(lab), generate_psk()

    set_router_psk(inventory, SITE, new)
    (entry,) = router_vpn(inventory)[0].peers
    assert entry.PreSharedSecret.get_secret_value() == new
    assert (
        read_state(inventory, SITE).cloud.peer_status == "DOWN"
    )  # the device still has the old key

    message = store_psk(inventory, SITE, new)
    assert "previous key kept" in message and new not in message and old not in message
    assert lab_psk(lab) == new
    apply_device(cli, lab)
    assert read_state(inventory, SITE).cloud.peer_status == "UP"

    # back to the previous key on both sides
    assert old not in store_psk(inventory, SITE, old)
    assert lab_psk(lab) == old
    set_router_psk(inventory, SITE, old)
    assert read_state(inventory, SITE).cloud.peer_status == "DOWN"
    apply_device(cli, lab)
    assert read_state(inventory, SITE).cloud.peer_status == "UP"


def test_psk_errors_never_show_the_key(start_lab: StartLab) -> None:
    lab = start_lab(scenario="seed-v1")
    inventory = lab_inventory(lab)
    before = len(api_requests(lab))

    too_long = "L0ng" * 11
    with pytest.raises(UnsupportedSetting) as err:
        set_router_psk(inventory, SITE, too_long)
    assert "44 characters" in str(err.value) and too_long not in str(err.value)

    with_space = "has a space Kq2"
    with pytest.raises(UnsupportedSetting) as err:
        set_router_psk(inventory, SITE, with_space)
    assert with_space not in str(err.value)
    assert writes_since(lab, before) == []

    edit_inventory(lab, cloud={"peer": "198.51.100.7"})
    key = generate_psk()
    with pytest.raises(NoPeerEntry) as missing:
        set_router_psk(lab_inventory(lab), SITE, key)
    message = str(missing.value)
    assert "no site-to-site peer entry for 198.51.100.7 (it has: 126.169.118.242)" in message
    assert key not in message and lab_psk(lab) not in message
    assert writes_since(lab, before) == []
