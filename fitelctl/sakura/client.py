"""HTTP client for the VPC router subset of the Sakura Cloud IaaS API 1.1.

Each operation is described once as a ``Call`` (method, path, body, how to
read the answer), and ``_Core`` decides, for each answer, to return, retry or
raise; ``SakuraClient`` sends the requests and waits between attempts.

Behaviour follows the official SDK (``sacloud/iaas-api-go``): HTTP Basic auth
with token:secret, ``X-Sakura-Bigint-As-Int: 1`` so IDs come back as integers,
a self-throttle of ~10 requests/s per account (shared by every client this
process opens with the same token and API root, so a fleet run with one client
per site still stays under the service's limit), and retries with exponential
backoff and jitter on 423 and 503 (the SDK's codes) and 429, at most
``retry_max`` times.  A connection refused or a host name that does not resolve
is retried only briefly (``BRIEF_RETRIES``).  A connection lost after a non-GET
request was sent, and any timeout, is not retried: the API may have acted on
it, so the error says to read the appliance first.

Everything is bounded by the command's deadline (``fitelctl.deadline``): each
request's timeout is cut to what is left, a retry whose wait would outlast it is
not made, and each retry is logged (warning, stderr) with method, path, reason,
retry number and wait, in the spirit of ``hashicorp/go-retryablehttp``'s
``[DEBUG] GET <url> (status: 503): retrying in 1s (9 left)``.

The version migration call is UNKNOWN publicly
(docs/domain.md#unknowns-and-what-fitelctl-assumes): ``migrate_version``
sends whatever ``ApiSettings.migration_call`` says (default: what the lab
serves, ``PUT appliance/{id}/vpcrouter/version`` with ``{"Version": N}``).
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from fitelctl import __version__, deadline
from fitelctl.deadline import MIN_ATTEMPT, Deadline
from fitelctl.redact import SECRETS
from fitelctl.sakura import errors
from fitelctl.sakura.config import ApiSettings
from fitelctl.sakura.models import (
    Appliance,
    CpuMonitor,
    RouterStatus,
    VpcRouterSettings,
    VpnLog,
)

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("fitelctl.sakura")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

OK_STATUSES = frozenset({200, 201, 202, 204})
RETRY_STATUSES = frozenset({423, 429, 503})
#: connection refused / DNS failure: retried this often, BRIEF_WAIT * n apart (~1.5 s in all)
BRIEF_RETRIES = 2
BRIEF_WAIT = 0.5
VPC_ROUTER_CLASS = "vpcrouter"


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API operation: what to send and how to read a successful answer."""

    method: str
    path: str  # relative to ApiSettings.api_url
    what: str  # for messages: "read appliance 1 in tk1v"
    parse: Callable[[Any], T]
    body: dict[str, Any] | None = None
    #: advice when the API answers 409 (other than still_creating)
    conflict: str = ""


@dataclass(frozen=True)
class _Retry:
    delay: float


def _nothing(_data: Any) -> None:
    return None


def _enveloped(key: str, model: type[M]) -> Callable[[Any], M]:
    def parse(data: Any) -> M:
        if not isinstance(data, dict) or key not in data:
            raise ValueError(f"no '{key}' in the answer")
        return model.model_validate(data[key])

    return parse


def _vpc_router(what: str) -> Callable[[Any], Appliance]:
    read = _enveloped("Appliance", Appliance)

    def parse(data: Any) -> Appliance:
        appliance = read(data)
        if appliance.Class != VPC_ROUTER_CLASS:
            raise errors.NotVpcRouterError(
                f"{what}: appliance {appliance.ID} is a {appliance.Class or 'non-router'}, "
                "not a VPC router; check the appliance ID"
            )
        return appliance

    return parse


class Calls:
    """The operations, as ``Call`` values; shared by both clients."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings

    def _what(self, verb: str, appliance_id: int) -> str:
        return f"{verb} appliance {appliance_id} in {self.settings.zone}"

    def read_appliance(self, appliance_id: int) -> Call[Appliance]:
        what = self._what("read", appliance_id)
        return Call("GET", f"appliance/{appliance_id}", what, _vpc_router(what))

    def update_settings(
        self, appliance_id: int, settings: VpcRouterSettings, settings_hash: str
    ) -> Call[Appliance]:
        what = self._what("update the settings of", appliance_id)
        body = {"Appliance": {"Settings": settings.to_api(), "SettingsHash": settings_hash}}
        stale = (
            f"the router's settings changed since they were read (SettingsHash {settings_hash} "
            "is stale): read the appliance again and re-apply"
        )
        return Call("PUT", f"appliance/{appliance_id}", what, _vpc_router(what), body, stale)

    def apply_config(self, appliance_id: int) -> Call[None]:
        what = self._what("apply the configuration of", appliance_id)
        return Call("PUT", f"appliance/{appliance_id}/config", what, _nothing)

    def boot(self, appliance_id: int) -> Call[None]:
        what = self._what("boot", appliance_id)
        busy = "the router is already running or changing power state"
        return Call("PUT", f"appliance/{appliance_id}/power", what, _nothing, conflict=busy)

    def shutdown(self, appliance_id: int, *, force: bool = False) -> Call[None]:
        what = self._what("force off" if force else "shut down", appliance_id)
        body = {"Force": True} if force else None
        busy = "the router is already off or changing power state"
        return Call("DELETE", f"appliance/{appliance_id}/power", what, _nothing, body, busy)

    def reset(self, appliance_id: int) -> Call[None]:
        what = self._what("reset", appliance_id)
        busy = "the router is not running"
        return Call("PUT", f"appliance/{appliance_id}/reset", what, _nothing, conflict=busy)

    def status(self, appliance_id: int) -> Call[RouterStatus]:
        what = self._what("read the status of", appliance_id)
        return Call(
            "GET", f"appliance/{appliance_id}/status", what, _enveloped("Router", RouterStatus)
        )

    def vpn_log(self, appliance_id: int) -> Call[VpnLog]:
        what = self._what("download the VPN log of", appliance_id)
        path = f"appliance/{appliance_id}/download/log/VPNLogs"
        return Call("GET", path, what, VpnLog.model_validate)

    def cpu_monitor(self, appliance_id: int) -> Call[CpuMonitor]:
        what = self._what("read the CPU monitor of", appliance_id)
        return Call("GET", f"appliance/{appliance_id}/cpu/monitor", what, CpuMonitor.model_validate)

    def migrate_version(self, appliance_id: int, version: int) -> Call[None]:
        what = self._what(f"migrate to VPC router version {version}", appliance_id)
        method, path, body = self.settings.migration_call.render(appliance_id, version)
        return Call(method, path, what, _nothing, body)


#: requests let through at once after an idle second (``go.uber.org/ratelimit``'s slack)
BURST = 10


class _Throttle:
    """At most ``rate`` request starts per second on average, up to ``BURST`` at once.

    The SDK's throttle (``sacloud/go-http`` over ``go.uber.org/ratelimit``) spaces
    requests ``1/rate`` apart but saves up to 10 unused slots while idle, so after an
    idle second it lets 10 through at once.  This one does the same, and counts the
    time before the process started as idle: a one-site ``status`` makes its two
    router calls (the appliance, then its status) without the 100 ms gap a strictly
    spaced throttle would put between them.  The burst is never more than one
    second's worth (a ``rate_limit`` of 2 lets 2 through at once).  Reservations are
    safe across threads (generic cell rate algorithm: ``_due`` is when the next
    request would start if none were saved up).
    """

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._tolerance = (min(BURST, max(1, int(rate))) - 1) * self._interval
        self._due = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Seconds to wait before this request may start."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._due - self._tolerance)
            self._due = max(self._due, start) + self._interval
            return start - now


_THROTTLES: dict[tuple[str, str, float], _Throttle] = {}
_THROTTLES_LOCK = threading.Lock()


def shared_throttle(settings: ApiSettings) -> _Throttle:
    """The one throttle of this process for ``settings``' account and API root.

    The service limits requests per account, and fleet operations open a client per
    site (each on its own thread), so a per-client throttle would let N sites send N
    times the rate.
    """
    key = (settings.root_url, settings.token, settings.rate_limit)
    with _THROTTLES_LOCK:
        return _THROTTLES.setdefault(key, _Throttle(settings.rate_limit))


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context every API client of this process shares.

    httpx builds one per client by default, loading the whole CA bundle each time:
    about 50 ms of CPU per client, which a fleet ``status`` or an exporter poll would
    pay once per VPC router read.  A context is safe to share between threads.
    """
    return httpx.create_ssl_context()


class _Core:
    """Request building and answer handling, apart from sending and waiting."""

    def __init__(self, settings: ApiSettings, deadline: Deadline | None = None) -> None:
        SECRETS.add(settings.secret)
        SECRETS.add(settings.token)
        self.settings = settings
        self._deadline = deadline
        self.calls = Calls(settings)
        self._throttle = shared_throttle(settings)
        self._host = urlsplit(settings.api_url).netloc

    def _client_options(self) -> dict[str, Any]:
        return {
            "base_url": self.settings.api_url,
            "auth": httpx.BasicAuth(self.settings.token, self.settings.secret),
            "headers": {
                "X-Sakura-Bigint-As-Int": "1",
                "Accept": "application/json",
                "User-Agent": f"fitelctl/{__version__}",
            },
            "timeout": httpx.Timeout(self.settings.timeout),
            "follow_redirects": False,
            "verify": tls_context(),
        }

    @property
    def deadline(self) -> Deadline:
        """This client's deadline if it was given one, else the running command's."""
        return self._deadline or deadline.current()

    def _attempt(self, call: Call[Any]) -> dict[str, Any]:
        """The request for one attempt, its timeout cut to what the deadline leaves."""
        self.deadline.check(call.what)
        request: dict[str, Any] = {
            "method": call.method,
            "url": call.path,
            "timeout": self.deadline.clamp(self.settings.timeout),
        }
        if call.body is not None:
            request["json"] = call.body
        return request

    def _backoff(self, retry: int, response: httpx.Response | None = None) -> float:
        """Exponential backoff with jitter; a numeric Retry-After wins when it asks for more."""
        ceiling = min(self.settings.retry_wait_max, self.settings.retry_wait_min * 2**retry)
        delay = random.uniform(ceiling / 2, ceiling)
        after = response.headers.get("Retry-After", "") if response is not None else ""
        if after.isdigit():
            delay = max(delay, min(float(after), self.settings.retry_wait_max))
        return delay

    def _retry(
        self, call: Call[Any], attempt: int, *, limit: int, delay: float, reason: str
    ) -> _Retry | str:
        """Retry after ``delay`` if the policy and the deadline allow, else why not."""
        if attempt >= limit:
            return f"after {attempt + 1} attempts"
        left = self.deadline.remaining()
        if delay + MIN_ATTEMPT >= left:
            return f"after {attempt + 1} attempts (the command's deadline left no time to retry)"
        log.warning(
            "retrying %s %s (%s) in %.2fs: retry %d/%d, %s",
            call.method,
            call.path,
            SECRETS.redact(reason),
            delay,
            attempt + 1,
            limit,
            "no deadline" if left == float("inf") else f"{left:.1f}s left of the deadline",
        )
        return _Retry(delay)

    def _answer(self, call: Call[T], response: httpx.Response, attempt: int) -> T | _Retry:
        status = response.status_code
        log.debug("%s %s -> %d", call.method, call.path, status)
        stopped = ""
        if status in RETRY_STATUSES:
            reason = f"{status} {response.reason_phrase}".strip()
            delay = self._backoff(attempt, response)
            retry = self._retry(
                call, attempt, limit=self.settings.retry_max, delay=delay, reason=reason
            )
            if isinstance(retry, _Retry):
                return retry
            stopped = retry
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = None
        if status not in OK_STATUSES:
            raise errors.api_error(call.what, status, data, stopped=stopped, conflict=call.conflict)
        if data is None:
            raise errors.ResponseError(
                f"{call.what}: the API answered {status} with a body that is not JSON"
            )
        try:
            return call.parse(data)
        except (ValidationError, ValueError) as err:
            raise errors.ResponseError(
                f"{call.what}: unexpected answer from the API ({_first_problem(err)})"
            ) from None

    def _failure(self, call: Call[T], exc: httpx.TransportError, attempt: int) -> _Retry:
        """Retry a connection failure that is safe to repeat, else raise the typed error.

        Nothing listening (connection refused) or no such host (DNS) is retried only
        ``BRIEF_RETRIES`` times, ``BRIEF_WAIT`` apart: waiting longer rarely brings an
        API back, and a monitoring check must answer.  A connection lost on a GET is
        retried with the usual backoff.  A timeout, or a lost non-GET, is not retried:
        the API may have acted on it.
        """
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            cut = self._cut_by_deadline()
            kind = errors.ApiDeadlineError if cut else errors.ApiTimeoutError
            raise kind(
                f"{call.what}: no answer from {self._host} within "
                + (
                    f"the command's {self.deadline.seconds:g}s deadline (--timeout)"
                    if cut
                    else f"{self.settings.timeout:g}s (SAKURACLOUD_API_REQUEST_TIMEOUT)"
                )
                + "; the request may still take effect, read the appliance before retrying"
            ) from None
        reason = _transport_reason(exc)
        never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        if never_sent:
            limit = min(self.settings.retry_max, BRIEF_RETRIES)
            retry = self._retry(
                call, attempt, limit=limit, delay=BRIEF_WAIT * (attempt + 1), reason=reason
            )
        elif call.method == "GET":
            delay = self._backoff(attempt)
            retry = self._retry(
                call, attempt, limit=self.settings.retry_max, delay=delay, reason=reason
            )
        else:
            raise errors.ApiConnectionError(
                f"{call.what}: the connection to {self._host} was lost ({reason}); "
                "the request may have taken effect, read the appliance before retrying"
            ) from None
        if isinstance(retry, _Retry):
            return retry
        raise errors.ApiConnectionError(
            f"{call.what}: cannot reach {self._host} ({reason}) {retry}; "
            "check SAKURACLOUD_API_ROOT_URL and the network"
        ) from None

    def _cut_by_deadline(self) -> bool:
        """Whether a timeout that just ran out was the deadline's, not the setting's."""
        return self.deadline.seconds is not None and self.deadline.remaining() < 2 * MIN_ATTEMPT

    @staticmethod
    def _reached(
        appliance: Appliance, instance_status: str | None, availability: str | None
    ) -> bool:
        return (instance_status is None or appliance.instance_status == instance_status) and (
            availability is None or appliance.Availability == availability
        )

    @staticmethod
    def _not_reached(
        appliance: Appliance, instance_status: str | None, availability: str | None, timeout: float
    ) -> errors.StateTimeoutError:
        wanted = ", ".join(
            f"{name}={value}"
            for name, value in (
                ("Instance.Status", instance_status),
                ("Availability", availability),
            )
            if value is not None
        )
        return errors.StateTimeoutError(
            f"appliance {appliance.ID} did not reach {wanted} within {timeout:g}s "
            f"(Instance.Status={appliance.instance_status}, Availability={appliance.Availability})"
        )


def _transport_reason(exc: httpx.TransportError) -> str:
    """``ConnectError: [Errno 111] Connection refused``: one line, secrets masked."""
    detail = " ".join(str(exc).split())
    return SECRETS.redact(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)


def _first_problem(err: Exception) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return f"{where}: {first['msg']}"
    return str(err)


class SakuraClient(_Core):
    """Blocking client; use as a context manager or call ``close()``."""

    def __init__(self, settings: ApiSettings, deadline: Deadline | None = None) -> None:
        super().__init__(settings, deadline)
        self._http = httpx.Client(**self._client_options())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def run(self, call: Call[T]) -> T:
        """Send ``call``, retrying as the policy allows; return its parsed answer."""
        attempt = 0
        while True:
            self.deadline.sleep(self._throttle.reserve())
            try:
                outcome = self._answer(call, self._http.request(**self._attempt(call)), attempt)
            except httpx.TransportError as exc:
                outcome = self._failure(call, exc, attempt)
            if not isinstance(outcome, _Retry):
                return outcome
            attempt += 1
            self.deadline.sleep(outcome.delay)

    def read_appliance(self, appliance_id: int) -> Appliance:
        return self.run(self.calls.read_appliance(appliance_id))

    def update_settings(
        self, appliance_id: int, settings: VpcRouterSettings, settings_hash: str
    ) -> Appliance:
        return self.run(self.calls.update_settings(appliance_id, settings, settings_hash))

    def apply_config(self, appliance_id: int) -> None:
        self.run(self.calls.apply_config(appliance_id))

    def boot(self, appliance_id: int) -> None:
        self.run(self.calls.boot(appliance_id))

    def shutdown(self, appliance_id: int, *, force: bool = False) -> None:
        self.run(self.calls.shutdown(appliance_id, force=force))

    def reset(self, appliance_id: int) -> None:
        self.run(self.calls.reset(appliance_id))

    def status(self, appliance_id: int) -> RouterStatus:
        return self.run(self.calls.status(appliance_id))

    def vpn_log(self, appliance_id: int) -> VpnLog:
        return self.run(self.calls.vpn_log(appliance_id))

    def cpu_monitor(self, appliance_id: int) -> CpuMonitor:
        return self.run(self.calls.cpu_monitor(appliance_id))

    def migrate_version(self, appliance_id: int, version: int) -> None:
        self.run(self.calls.migrate_version(appliance_id, version))

    def wait_for_state(
        self,
        appliance_id: int,
        *,
        instance_status: str | None = None,
        availability: str | None = None,
        timeout: float = 600.0,
        interval: float = 5.0,
    ) -> Appliance:
        """Poll until the appliance shows the given state, within ``timeout`` and the deadline."""
        timeout = min(timeout, self.deadline.remaining())
        ends = time.monotonic() + timeout
        while True:
            appliance = self.read_appliance(appliance_id)
            if self._reached(appliance, instance_status, availability):
                return appliance
            if time.monotonic() >= ends:
                raise self._not_reached(appliance, instance_status, availability, timeout)
            time.sleep(max(0.0, min(interval, ends - time.monotonic())))
