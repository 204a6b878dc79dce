"""Lifetimes are reported with the JSON path they came from, and odd ones are noted, not fatal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fitelctl.ops.cloud import lifetime_notes, lifetimes
from fitelctl.sakura.models import Appliance, ConnectionDetails

DATA = Path(__file__).resolve().parents[1] / "data" / "sakura"
SETTINGS_IKE = "Settings.Router.SiteToSiteIPsecVPN.IKE.Lifetime"
SETTINGS_ESP = "Settings.Router.SiteToSiteIPsecVPN.ESP.Lifetime"
DETAILS = "vpcrouter/sitetosite/connectiondetails Details.Config[0]"


def appliance(ike: object = 28800, esp: object = 1800) -> Appliance:
    vpn: dict[str, Any] = {"Config": [{"Peer": "8.8.8.8"}]}
    if ike is not None:
        vpn["IKE"] = {"Lifetime": ike}
    if esp is not None:
        vpn["ESP"] = {"Lifetime": esp}
    return Appliance.model_validate(
        {"ID": 1, "Class": "vpcrouter", "Settings": {"Router": {"SiteToSiteIPsecVPN": vpn}}}
    )


def published() -> ConnectionDetails:
    """sacloud/libsacloud's sample: IKE "1800", ESP "28800" (see test_sakura_models)."""
    text = (DATA / "connection_details_libsacloud_sample.json").read_text()
    return ConnectionDetails.model_validate(json.loads(text))


def test_each_value_names_its_path() -> None:
    found = [r.to_json() for r in lifetimes(appliance("28800", "1800"), published(), "8.8.8.8")]
    assert found == [
        {"phase": "IKE", "seconds": 28800, "from": SETTINGS_IKE},
        {"phase": "ESP", "seconds": 1800, "from": SETTINGS_ESP},
        {"phase": "IKE", "seconds": 1800, "from": f"{DETAILS}.IKE.Lifetime"},
        {"phase": "ESP", "seconds": 28800, "from": f"{DETAILS}.ESP.Lifetime"},
    ]


def test_the_published_swap_is_noted_with_both_sides() -> None:
    notes = lifetime_notes(lifetimes(appliance(), published(), "8.8.8.8"))
    implausible, crossed = notes
    assert implausible.startswith(
        f"implausible lifetimes: IKE 1800 s ({DETAILS}.IKE.Lifetime) is shorter than "
        f"ESP 28800 s ({DETAILS}.ESP.Lifetime)"
    )
    assert f"IKE 28800 s ({SETTINGS_IKE})" in crossed and "the settings are what" in crossed


@pytest.mark.parametrize(
    ("settings", "peer", "expected"),
    [
        ((28800, 1800), "8.8.8.8", 2),  # the connection details alone look swapped, and cross
        ((28800, 1800), "192.0.2.1", 0),  # no connection for that office: the settings only
        ((1800, 28800), "192.0.2.1", 1),  # the settings themselves are the odd ones
        ((None, None), "8.8.8.8", 1),  # version 1: no lifetimes in the settings
        ((3600, 3600), "192.0.2.1", 0),
    ],
)
def test_notes(settings: tuple[object, object], peer: str, expected: int) -> None:
    notes = lifetime_notes(lifetimes(appliance(*settings), published(), peer))
    assert len(notes) == expected, notes


def test_nothing_read_nothing_said() -> None:
    bare = Appliance.model_validate({"ID": 1, "Class": "vpcrouter"})
    assert lifetimes(bare) == [] and lifetime_notes([]) == []
