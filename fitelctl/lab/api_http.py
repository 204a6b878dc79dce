"""The Sakura Cloud API's HTTP face for one ``LabVpcRouter``: auth, faults, routing.

Serves the subset ``fitelctl.sakura`` uses, under ``/{zone}/api/cloud/1.1/``:
Basic auth, the real service's envelopes (``is_ok`` on success, the error
envelope otherwise), IDs as integers only when ``X-Sakura-Bigint-As-Int: 1``
is sent.  Beside the router sits a load balancer that only answers reads
(``ApiServer.other_appliance_id``).

The API faults (docs/output-contract.md#lab-faults) act here, before anything
else: ``unavailable=N`` (``api-503:N``: the next N calls answer 503), ``delay=S`` (``api-slow:S``:
every answer waits S seconds) and ``fail_at`` (call index from 1 → ``503``,
``reset`` or ``timeout``: ``api-503-at:N``, ``api-reset-at:N``,
``api-timeout-at:N``).  A 503 or a reset call never reaches the router (the
front end failed); a timed-out call does, and only its answer is lost (held
until the client gives up), the case where a client must not assume either way.

``calls`` is the number of requests received; each is also appended, as
``N METHOD /path [fault]``, to ``call_log`` when given (the sweep reads it to see
that a resumed run repeats no change).  ``on_change`` runs after every request
that may have changed the router (the lab persists its state there).
``die_after(N, die)`` (``api-kill-after:N``) calls ``die`` once the answer to call N
is written out.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from fitelctl.lab.api_errors import HttpError, bad_request
from fitelctl.lab.json_http_server import JsonHttpServer, Request, Unanswered
from fitelctl.lab.vpc_router import ZONE_IDS, LabVpcRouter

CallFault = Literal["503", "reset", "timeout"]


class ApiServer:
    """A running lab API; ``root_url`` is what ``SAKURACLOUD_API_ROOT_URL`` should say."""

    def __init__(
        self,
        router: LabVpcRouter,
        *,
        token: str,
        secret: str,
        unavailable: int,
        delay: float,
        fail_at: Mapping[int, CallFault] | None = None,
        call_log: Path | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.router = router
        self.zone = router.zone
        self.appliance_id = router.appliance_id
        #: a load balancer beside the router, to show what pointing at the wrong appliance does
        self.other_appliance_id = router.appliance_id + 1
        self.root_url = ""
        self.port = 0
        #: "METHOD /path" of the requests received, in order (the latest 10000)
        self.requests: deque[str] = deque(maxlen=10_000)
        self._credentials = f"{token}:{secret}".encode()
        self._unavailable = unavailable
        self._delay = delay
        self._fail_at = dict(fail_at or {})
        self._call_log = call_log
        self._on_change = on_change
        self.calls = 0
        self._die_after: tuple[int, Callable[[], None]] | None = None
        self._last_words: Request | None = None
        self._http = JsonHttpServer(self._answer, self._answered)

    def die_after(self, call: int, die: Callable[[], None]) -> None:
        """Call ``die`` once the answer to call ``call`` (from 1) is written out."""
        self._die_after = (call, die)

    def _answered(self, request: Request) -> None:
        if request is self._last_words and self._die_after is not None:
            self._die_after[1]()

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port``; 0, or a port taken meanwhile: any free port."""
        try:
            self.port = await self._http.start(host, port)
        except OSError:
            if not port:
                raise
            self.port = await self._http.start(host, 0)
        self.root_url = f"http://{host}:{self.port}/"

    async def close(self) -> None:
        self.router.close()
        await self._http.close()

    async def _answer(self, request: Request) -> tuple[int, dict[str, Any]]:
        call = f"{request.method} {urlsplit(request.target).path}"
        self.requests.append(call)
        self.calls += 1
        if self._die_after is not None and self._die_after[0] == self.calls:
            self._last_words = request
        fault = self._fail_at.pop(self.calls, None)
        self._log(f"{self.calls} {call}" + (f" [{fault}]" if fault else ""))
        if fault == "reset":
            raise Unanswered(reset=True)
        unavailable = self._unavailable > 0 or fault == "503"
        self._unavailable -= self._unavailable > 0
        if self._delay:
            await asyncio.sleep(self._delay)
        try:
            if unavailable:
                raise HttpError(503, "service_unavailable", "service unavailable")
            if not self._authorized(request):
                raise HttpError(401, "unauthorized", "error-unauthorized")
            payload = self._route(request)
        except HttpError as err:
            return err.status, err.envelope()
        finally:
            if request.method != "GET" and self._on_change is not None:
                self._on_change()
        if fault == "timeout":  # done, but the answer never leaves
            raise Unanswered(reset=False)
        if request.headers.get("x-sakura-bigint-as-int") != "1":
            payload = _ids_as_strings(payload)
        return 200, payload

    def _log(self, line: str) -> None:
        if self._call_log is not None:
            with self._call_log.open("a", encoding="utf-8") as log:
                log.write(line + "\n")

    def _authorized(self, request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(value, validate=True)
        except ValueError:
            return False
        return hmac.compare_digest(given, self._credentials)

    def _route(self, request: Request) -> dict[str, Any]:
        prefix = f"/{self.zone}/api/cloud/1.1/"
        path = urlsplit(request.target).path
        parts = path.removeprefix(prefix).strip("/").split("/")
        if not path.startswith(prefix) or parts[0] != "appliance" or len(parts) < 2:
            raise HttpError(404, "not_found", f"no API at {path}")
        if not parts[1].isdigit() or int(parts[1]) not in (
            self.appliance_id,
            self.other_appliance_id,
        ):
            raise HttpError(404, "not_found", f"appliance[ID:{parts[1]}] is not found")
        action = "/".join(parts[2:])
        if int(parts[1]) == self.other_appliance_id:
            if (request.method, action) != ("GET", ""):
                raise HttpError(404, "not_found", "the lab's load balancer only answers reads")
            return {"Appliance": _load_balancer(self.other_appliance_id, self.zone), "is_ok": True}
        router = self.router
        router.collect_logs()
        body = _json_body(request)
        handlers: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
            ("GET", ""): lambda: {"Appliance": router.appliance()},
            ("PUT", ""): lambda: router.update_settings(body),
            ("PUT", "config"): router.apply_config,
            ("PUT", "power"): router.boot,
            ("DELETE", "power"): router.shutdown,
            ("PUT", "reset"): router.reset,
            ("PUT", "vpcrouter/version"): lambda: router.migrate(body),
            ("GET", "status"): lambda: {"Router": router.status()},
            ("GET", "download/log/VPNLogs"): lambda: {"Log": router.vpn_log()},
            ("GET", "vpcrouter/sitetosite/connectiondetails"): router.connection_details,
            ("GET", "cpu/monitor"): lambda: {"Data": router.cpu_monitor()},
        }
        handler = handlers.get((request.method, action))
        if handler is None:
            if any(known == action for _, known in handlers):
                raise HttpError(405, "method_not_allowed", f"{request.method} is not allowed here")
            raise HttpError(404, "not_found", f"no API at {path}")
        return {**handler(), "is_ok": True}


def _json_body(request: Request) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad_request("the body is not JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


def _load_balancer(appliance_id: int, zone: str) -> dict[str, Any]:
    return {
        "ID": appliance_id,
        "Class": "loadbalancer",
        "Name": "fitelctl-lab-lb",
        "Plan": {"ID": 1},
        "Availability": "available",
        "Instance": {"Status": "up"},
        "Remark": {"Zone": {"ID": ZONE_IDS[zone]}, "Servers": [[]]},
        "Interfaces": [None],
    }


def _ids_as_strings(value: Any) -> Any:
    """Without ``X-Sakura-Bigint-As-Int: 1`` the API sends IDs as strings."""
    if isinstance(value, dict):
        return {
            k: str(v) if k == "ID" and isinstance(v, int) else _ids_as_strings(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_ids_as_strings(v) for v in value]
    return value
