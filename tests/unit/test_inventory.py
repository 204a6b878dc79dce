"""Inventory loading: every mistake names the file, the key and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from fitelctl.inventory import (
    InventoryError,
    SecretError,
    inventory_path,
    load_inventory,
    resolve_secret,
)
from fitelctl.redact import SECRETS

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
version: 1
sites:
  tokyo:
    device: {host: 127.0.0.1, port: 2222, username: admin, password: "file:secrets/pw",
             enable_password: "env:FITELCTL_TEST_ENABLE"}
    tunnel: {name: sakuratokyo, wan_address: 172.30.128.254, psk: "env:TOKYO_PSK"}
    cloud: {version: 2, global_address: 27.133.132.134}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    return path


def test_example_inventory_is_valid() -> None:
    inventory = load_inventory(ROOT / "inventory" / "example.yaml")
    assert inventory.site("tokyo").cloud.global_address == "27.133.132.134"
    assert inventory.known_hosts() == ROOT / "inventory" / "known_hosts"


def test_secret_references_resolve_relative_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pw").write_text("s3cret-pw\n")
    monkeypatch.setenv("FITELCTL_TEST_ENABLE", "en-able-1")
    inventory = load_inventory(write(tmp_path, GOOD))
    device = inventory.site("tokyo").device
    assert device.password is not None and device.enable_password is not None
    assert resolve_secret(device.password, inventory, what="pw") == "s3cret-pw"
    assert resolve_secret(device.enable_password, inventory, what="en") == "en-able-1"
    assert SECRETS.redact("login s3cret-pw then en-able-1") == "login <redacted> then <redacted>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace('"file:secrets/pw"', "hunter2"),
            "sites.tokyo.device.password: must be a secret reference",
        ),
        (GOOD.replace("port: 2222", "prot: 2222"), "sites.tokyo.device.prot: unknown key"),
        (GOOD.replace("port: 2222", "port: 70000"), "sites.tokyo.device.port:"),
        (
            GOOD.replace(GOOD.splitlines(keepends=True)[6], ""),
            "sites.tokyo.tunnel: required key is missing",
        ),
        (GOOD.replace('psk: "env:TOKYO_PSK"', "psk: s3cret"), "sites.tokyo.tunnel.psk: must be"),
        (GOOD.replace("wan_address: 172.30.128.254", "wan_address: 172.30.128"), "wan_address"),
        (GOOD.replace("version: 2,", "version: 3,"), "sites.tokyo.cloud.version"),
        (GOOD.replace("psk:", "preset: v9, psk:"), "unknown preset 'v9'"),
        ("sites: [", "is not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_invalid_inventory_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    assert str(err.value).startswith(str(path))
    assert expected in str(err.value)
    assert "hunter2" not in str(err.value)


def test_missing_inventory_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"inventory not found.*-i PATH"):
        load_inventory(tmp_path / "nope.yaml")


def test_unknown_site_lists_the_known_ones(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, GOOD))
    with pytest.raises(InventoryError, match=r"unknown site 'osaka' .*tokyo"):
        inventory.select(["osaka"])


def test_unresolvable_secrets_say_which(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FITELCTL_TEST_ENABLE", raising=False)
    inventory = load_inventory(write(tmp_path, GOOD))
    device = inventory.site("tokyo").device
    assert device.password and device.enable_password
    expected = r"sites\.tokyo\.device\.password: cannot read secret file"
    with pytest.raises(SecretError, match=expected):
        resolve_secret(device.password, inventory, what="sites.tokyo.device.password")
    with pytest.raises(SecretError, match="FITELCTL_TEST_ENABLE is not set"):
        resolve_secret(device.enable_password, inventory, what="enable")


def test_inventory_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FITELCTL_INVENTORY", "/x/env.yaml")
    assert inventory_path(Path("/y/opt.yaml")) == Path("/y/opt.yaml")
    assert inventory_path(None) == Path("/x/env.yaml")
    monkeypatch.delenv("FITELCTL_INVENTORY")
    assert inventory_path(None) == Path("inventory/inventory.yaml")
