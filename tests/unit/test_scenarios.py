"""Lab scenarios carry the article's configs exactly."""

from __future__ import annotations

from pathlib import Path

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.lab.scenarios import device_config, site_addresses

DATA = Path(__file__).parent.parent / "data"


def test_tokyo_v1_crypto_section_is_the_articles_config() -> None:
    article = (DATA / "config_v1_sakura_tokyo.cfg").read_text()
    ours = device_config(site_addresses(0), "v1", "THIS-IS-SECRET-KEY")
    assert article.strip() in ours


def test_tokyo_v2_is_v1_with_the_articles_changes() -> None:
    v1 = ConfigTree.parse(device_config(site_addresses(0), "v1", "k"))
    v2 = ConfigTree.parse(device_config(site_addresses(0), "v2", "k"))
    changes = ConfigTree.parse((DATA / "config_v2_changes_sakura_tokyo.cfg").read_text())
    for changed in changes.entries:
        if not changed.is_block:
            assert v2.find(changed.header) is not None
            continue
        block = v2.find(changed.header)
        assert block is not None
        for line in changed.children:
            assert line in block.children
    unchanged = [
        e.header for e in v1.entries if e.header not in {c.header for c in changes.entries}
    ]
    for header in unchanged:
        assert v1.find(header) == v2.find(header)


def test_other_sites_have_their_own_names_and_addresses() -> None:
    site = site_addresses(41)
    assert site.site == "site42" and site.map_name == "sakurasite42"
    assert "crypto map sakurasite42 ipsec-isakmp" in device_config(site, "v1", "k")
    assert len({site_addresses(i).public for i in range(300)}) == 300
