"""The lab's Sakura Cloud API: one VPC router per zone, over real HTTP on 127.0.0.1.

This is the entry point (``start_api_server``, ``ApiServer``); the pieces are:

* ``vpc_router``: the router as the API sees it (appliance JSON, power,
  Availability, migration, peer status, VPN log) and how it drives the
  world's tunnels;
* ``vpc_router_settings``: the settings JSON, its validation and SettingsHash;
* ``api_http``: Basic auth, envelopes and routing of
  ``/{zone}/api/cloud/1.1/appliance/:id/...``;
* ``json_http_server``: the minimal HTTP/1.1 server underneath;
* ``api_errors``: the API's error envelope, shared by all of the above.

Faults (docs/output-contract.md#lab-faults) are options of ``start_api_server``:
``unavailable=N`` (``api-503:N``), ``delay=S`` (``api-slow:S``) and ``fail_at``
(``api-503-at:N``, ``api-reset-at:N``, ``api-timeout-at:N``) act in ``api_http``,
``migration_stuck`` (the source article's stuck migration,
docs/domain.md#incidents-in-the-article) and ``api_quirks`` (``api-quirks``: the answers'
published quirks, docs/domain.md#quirks-of-the-answers) in ``vpc_router``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fitelctl.lab.api_http import ApiServer, CallFault
from fitelctl.lab.vpc_router import ZONE_IDS, LabVpcRouter
from fitelctl.lab.world import LabWorld

__all__ = ["ApiServer", "start_api_server"]


async def start_api_server(
    world: LabWorld,
    *,
    token: str,
    secret: str,
    zone: str = "tk1v",
    router_address: str | None = None,
    appliance_id: int = 113700012345,
    unavailable: int = 0,
    delay: float = 0.0,
    migration_stuck: bool = False,
    api_quirks: bool = False,
    transition_seconds: float = 0.2,
    host: str = "127.0.0.1",
    port: int = 0,
    fail_at: Mapping[int, CallFault] | None = None,
    call_log: Path | None = None,
    router_state: dict[str, Any] | None = None,
    persist: Callable[[dict[str, Any]], None] | None = None,
    router_class: Callable[..., LabVpcRouter] = LabVpcRouter,
) -> ApiServer:
    """Serve ``world``'s VPC router (the only one, unless ``router_address`` picks one).

    ``router_state`` (from an earlier ``persist`` call) brings the router back as a
    killed lab left it; ``persist`` receives its state after each possible change.
    ``router_class`` builds the router (``LabCharonRouter`` when a real charon plays it).
    """
    if zone not in ZONE_IDS:
        raise ValueError(f"unknown zone {zone!r}")
    if router_address is None:
        if len(world.routers) != 1:
            raise ValueError("the world has several VPC routers: pass router_address")
        router_address = next(iter(world.routers))
    lab_router = router_class(
        world,
        world.routers[router_address],
        appliance_id=appliance_id,
        zone=zone,
        transition_seconds=transition_seconds,
        migration_stuck=migration_stuck,
        api_quirks=api_quirks,
    )
    if router_state is not None:
        lab_router.restore(router_state)
    on_change = None
    if persist is not None:
        save = persist

        def on_change() -> None:
            save(lab_router.to_state())

        lab_router.on_change = on_change
        on_change()
    server = ApiServer(
        lab_router,
        token=token,
        secret=secret,
        unavailable=unavailable,
        delay=delay,
        fail_at=fail_at,
        call_log=call_log,
        on_change=on_change,
    )
    await server.start(host, port)
    return server
