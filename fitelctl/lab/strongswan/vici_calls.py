"""The vici commands the lab and the referee give a charon: load, initiate, list, forget.

Each call opens its own session (``Charon.session``) and reads every answer, so that
calls from several threads never share a socket.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import vici

from fitelctl.lab.strongswan.charon import Charon, CharonError
from fitelctl.lab.strongswan.translate import Connection


def load(charon: Charon, connections: Sequence[Connection], *, start: bool) -> None:
    """Load connections and their keys; their ``start_action`` only when ``start``."""
    with charon.session() as session:
        for n, connection in enumerate(connections):
            body = connection.body if start else _without_start(connection.body)
            session.load_conn({connection.name: body})
            session.load_shared(
                {
                    "id": f"psk-{connection.name}-{n}",
                    "type": "IKE",
                    "data": connection.psk,
                    "owners": list(connection.psk_owners),
                }
            )


def _without_start(body: dict[str, Any]) -> dict[str, Any]:
    children = {name: {**child, "start_action": "none"} for name, child in body["children"].items()}
    return {**body, "children": children}


def initiate(charon: Charon, connection: Connection) -> None:
    """Start ``connection`` and wait for its end (run it in a thread): charon's log says how
    it went, so a failure is not an error here."""
    child = next(iter(connection.body["children"]))
    try:
        with charon.session() as session:
            for _ in session.initiate({"ike": connection.name, "child": child, "timeout": -1}):
                pass
    except (CharonError, vici.exception.CommandException):
        return


def sas(charon: Charon, conn: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``list-sas`` (of ``conn`` only, if given): (connection name, IKE_SA) pairs, each
    IKE_SA's CHILD_SAs inside it."""
    with charon.session() as session:
        query = {"ike": conn} if conn else {}
        return [(name, sa) for item in session.list_sas(query) for name, sa in item.items()]


def terminate_all(charon: Charon, conn: str | None = None) -> None:
    """End every SA (of ``conn``) now; ``force``: charon waits for no answer from the peer."""
    with charon.session() as session:
        query = {"ike": conn} if conn else {}
        found = [sa for item in session.list_sas(query) for sa in item.values()]
        for sa in found:
            # one that ended meanwhile (a half-open SA timing out) is "not found": fine
            with contextlib.suppress(vici.exception.CommandException):
                for _ in session.terminate(
                    {"ike-id": sa["uniqueid"], "force": "yes", "timeout": -1}
                ):
                    pass


def unload_others(charon: Charon, keep: set[str]) -> None:
    """Unload every connection not named in ``keep``."""
    with charon.session() as session:
        for name in session.get_conns().get("conns", []):
            if name.decode() not in keep:  # vici's strings are bytes
                session.unload_conn({"name": name})


def reset(charon: Charon) -> None:
    """Forget every SA, connection and key: what follows starts from nothing."""
    terminate_all(charon)
    with charon.session() as session:
        for name in session.get_conns().get("conns", []):
            session.unload_conn({"name": name})
        for key in session.get_shared().get("keys", []):
            session.unload_shared({"id": key})
