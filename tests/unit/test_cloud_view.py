"""The cloud view: built once from the API models, it alone says whether the router runs."""

from __future__ import annotations

from typing import Any

import pytest

from fitelctl.ops.cloud import CloudView
from fitelctl.sakura.models import Appliance, RouterStatus

PEER = "126.169.118.242"


def appliance(instance: str | None, availability: str, **extra: Any) -> Appliance:
    doc: dict[str, Any] = {
        "ID": 113000000001,
        "Class": "vpcrouter",
        "Availability": availability,
        "Remark": {"Router": {"VPCRouterVersion": 2}},
        **extra,
    }
    if instance is not None:
        doc["Instance"] = {"Status": instance}
    return Appliance.model_validate(doc)


@pytest.mark.parametrize(
    ("instance", "availability", "running", "migrating"),
    [
        ("up", "available", True, False),
        ("down", "available", False, False),
        ("cleaning", "available", False, False),
        (None, "available", False, False),
        ("up", "migrating", False, True),
        ("down", "migrating", False, True),
        ("up", "failed", False, False),
        ("down", "stopped", False, False),
    ],
)
def test_running_only_when_up_and_available(
    instance: str | None, availability: str, running: bool, migrating: bool
) -> None:
    view = CloudView.of(appliance(instance, availability))
    assert (view.is_running, view.is_migrating) == (running, migrating)


def test_the_site_gets_its_own_peer_entry() -> None:
    status = RouterStatus.model_validate(
        {
            "SiteToSiteIPsecVPNPeers": [
                {"Peer": "8.8.8.8", "Status": "UP"},
                {"Peer": PEER, "Status": "DOWN"},
            ]
        }
    )
    view = CloudView.of(appliance("up", "available"), peer=PEER, status=status)
    assert (view.peer, view.peer_status, view.peer_up) == (PEER, "DOWN", False)
    missing = CloudView.of(appliance("up", "available"), peer="10.0.0.1", status=status)
    assert (missing.peer_status, missing.peer_up) == (None, False)


def test_json_has_the_contract_keys() -> None:
    vpn = {"Config": [{"Peer": PEER}], "IKE": {"Lifetime": 1800}, "ESP": {"Lifetime": 28800}}
    router = appliance("down", "migrating", Settings={"Router": {"SiteToSiteIPsecVPN": vpn}})
    doc = CloudView.of(router, peer=PEER).to_json()
    assert list(doc) == [
        "peer",
        "peer_status",
        "vpc_router_version",
        "availability",
        "instance_status",
        "lifetimes",
        "notes",
    ]
    assert doc["peer"] == PEER and doc["peer_status"] is None
    assert (doc["vpc_router_version"], doc["availability"], doc["instance_status"]) == (
        2,
        "migrating",
        "down",
    )
    assert [entry["phase"] for entry in doc["lifetimes"]] == ["IKE", "ESP"]
    assert len(doc["notes"]) == 1 and "implausible lifetimes" in doc["notes"][0]


def test_the_view_cannot_be_changed() -> None:
    view = CloudView.of(appliance("up", "available"))
    with pytest.raises(AttributeError):
        view.availability = "migrating"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("instance", "off", "shutting_down"),
    [("up", False, False), ("cleaning", True, True), ("down", True, False), (None, False, False)],
)
def test_off_includes_shutting_down(instance: str | None, off: bool, shutting_down: bool) -> None:
    view = CloudView.of(appliance(instance, "available"))
    assert (view.is_off, view.is_shutting_down) == (off, shutting_down)
