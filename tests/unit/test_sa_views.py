"""`show crypto sa` from a real charon's SAs: a list-sas answer captured from the
strongSwan lab (``tests/data/vici_list_sas_tokyo.json``: tokyo on the seed-v2 config, 5 s
after it came up) printed in both layouts and read back by fitelctl's own parser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.crypto_config import DeviceTunnel, read_tunnels
from fitelctl.lab.crypto_sa import SaFormat, render_crypto_sa
from fitelctl.lab.scenarios import device_config, site_addresses
from fitelctl.lab.strongswan.sa_views import established, ike_view, installed_children, ipsec_view
from fitelctl.parsing import parse_crypto_sa

CAPTURE = Path(__file__).parent.parent / "data" / "vici_list_sas_tokyo.json"
#: the lab's addresses back to tokyo's config addresses
CONFIG_ADDRESS = {"198.19.1.2": "172.30.128.254", "198.19.0.1": "27.133.132.134"}


def _vici(value: Any) -> Any:
    """The JSON capture as vici hands it over: every leaf value ``bytes``."""
    if isinstance(value, dict):
        return {k: _vici(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_vici(v) for v in value]
    return value.encode()


@pytest.fixture
def ike_sa() -> dict[str, Any]:
    ((name, sa),) = json.loads(CAPTURE.read_text())
    assert name == "tunnel1"
    return dict(_vici(sa))


@pytest.fixture
def tunnel() -> DeviceTunnel:
    text = device_config(site_addresses(0), "v2", "the-psk")
    (found,) = read_tunnels(ConfigTree.parse(text))
    assert isinstance(found, DeviceTunnel)
    return found


@pytest.mark.parametrize("fmt", ["ipsec", "ike_child"])
def test_the_charons_sa_reads_back_as_what_it_negotiated(
    ike_sa: dict[str, Any], tunnel: DeviceTunnel, fmt: SaFormat
) -> None:
    assert established(ike_sa)
    (child,) = installed_children(ike_sa)
    text = render_crypto_sa(
        fmt,
        [ike_view(ike_sa, tunnel, CONFIG_ADDRESS)],
        [ipsec_view(ike_sa, child, tunnel, CONFIG_ADDRESS)],
    )
    table = parse_crypto_sa(text)
    (sa,) = table.ipsec_sas
    assert (sa.peer_ip, sa.local_ip) == ("27.133.132.134", "172.30.128.254")
    assert sa.encryption == "AES-CBC/256"
    assert sa.pfs_group == 14
    assert (sa.in_spi, sa.out_spi) == ("630ba4b9", "cd9852ce")
    assert (sa.in_packets, sa.in_octets, sa.out_packets) == (1, 84, 1)
    assert (sa.lifetime_remaining, sa.lifetime_total) == (175, 180)  # 5 s after install
    if fmt == "ike_child":
        (ike,) = table.ike_sas
        assert ike.remote_id == "27.133.132.134"
        assert ike.local_id == "172.30.128.254"


def test_a_child_being_negotiated_is_not_shown(ike_sa: dict[str, Any]) -> None:
    for child in ike_sa["child-sas"].values():
        child["state"] = b"INSTALLING"
    assert installed_children(ike_sa) == []
    ike_sa["state"] = b"CONNECTING"
    assert not established(ike_sa)
