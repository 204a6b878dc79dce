"""Golden tests: the generated config is the article's, line for line."""

from __future__ import annotations

from pathlib import Path

import pytest

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.inventory import load_inventory
from fitelctl.inventory.fitelnet_config import render_text, render_tunnel
from fitelctl.inventory.tunnel import CryptoOverrides

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
PSK = "THIS-IS-SECRET-KEY"


def rendered(example: str, psk: str | None = PSK, **overrides: object) -> str:
    site = load_inventory(ROOT / "inventory" / "examples" / example).site("tokyo")
    tunnel = site.tunnel
    if overrides:
        tunnel = tunnel.model_copy(update={"crypto": CryptoOverrides(**overrides)})  # type: ignore[arg-type]
    return render_text(render_tunnel(tunnel, site.cloud, psk))


def test_article_v1_config_line_for_line() -> None:
    article = (DATA / "config_v1_sakura_tokyo.cfg").read_text()
    text = rendered("article-v1.yaml")
    assert text.startswith(article.rstrip("\n") + "\n!\n")
    # what the article left out: the tunnel interface bound to the map, and the route
    assert text[len(article) :].split("\n") == [
        "!",
        "interface Tunnel 1",
        " tunnel mode ipsec map sakuratokyo",
        "exit",
        "!",
        "ip route 192.168.100.0/24 tunnel 1",
        "",
    ]


def test_article_v2_is_v1_with_exactly_the_articles_changes() -> None:
    v1 = rendered("article-v1.yaml").splitlines()
    v2 = rendered("article-v2.yaml").splitlines()
    changed = {(a, b) for a, b in zip(v1, v2, strict=True) if a != b}
    assert changed == {
        (" set pfs group5", " set pfs group14"),
        (
            " set security-association lifetime seconds 1800",
            " set security-association lifetime seconds 180",
        ),
        (
            " set security-association transform esp-aes esp-sha-hmac",
            " set security-association transform esp-sha256-hmac esp-aes",
        ),
        (" group 5", " group 14"),
        (" hash sha", " hash sha-256"),
    }
    changes = ConfigTree.parse((DATA / "config_v2_changes_sakura_tokyo.cfg").read_text())
    tree = ConfigTree.parse("\n".join(v2))
    for entry in changes.entries:
        target = tree.find(entry.header)
        assert target is not None and set(entry.children) <= set(target.children)


def test_psk_is_a_placeholder_naming_its_reference_without_show_secrets() -> None:
    text = rendered("article-v1.yaml", psk=None)
    assert " local-key <secret:env:TOKYO_PSK>" in text and PSK not in text


def test_keysize_lines_only_when_pinned() -> None:
    assert "keysize" not in rendered("article-v2.yaml")
    text = rendered("article-v2.yaml", ike_key_size=[256, 256, 256], esp_key_size=[128, 256, 256])
    assert " encryption-keysize aes 256 256 256" in text
    assert " set security-association transform-keysize aes 128 256 256" in text


def test_overrides_beat_the_preset() -> None:
    text = rendered("article-v1.yaml", dh_group=14, pfs_group=14, ipsec_lifetime=600)
    assert " group 14" in text and " set pfs group14" in text
    assert " set security-association lifetime seconds 600" in text


@pytest.mark.parametrize("bad", [{"esp_transform": ["esp-aes"]}, {"dh_group": 7}])
def test_invalid_overrides_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CryptoOverrides(**bad)  # type: ignore[arg-type]
