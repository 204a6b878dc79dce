"""One long-lived SSH session per device, and one API client per account (zone).

A poll reuses the open session: the exporter logs in once, not once per poll.  When a
read fails (the device dropped the connection, timed it out, the lab restarted), the
session is closed and the next login waits a back-off that doubles with every failure
in a row, with jitter so that a fleet that lost its sessions together does not come
back in step.  Each device has exactly one ``DeviceSession``, and its lock is held
across connect, read and close, so the exporter never holds more than one of the
box's SSH sessions (a hung read blocks only that device's own poll thread).

Idle behaviour: between polls the transport sends SSH keepalives (``--keepalive``,
``ConnectOptions.keepalive``), so that a firewall or NAT on the way does not forget an
idle connection and a dead one is noticed.  They are transport messages, not CLI
input: a device that ends CLI sessions idle longer than some time shorter than the
interval is served by ``max_idle``, which closes the session (with ``exit``) before it
would be timed out and logs in again for the next poll.  Closing says ``exit`` to the
CLI (``DeviceDriver.logout``), never a dropped TCP.

A device that refuses the session (it allows no more, another operator holds the
last one) is a failed login like any other: the site is unknown, and the next login
waits its back-off.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fitelctl.deadline import NO_DEADLINE
from fitelctl.errors import FitelctlError
from fitelctl.fitelnet.drivers import DeviceDriver
from fitelctl.inventory import Inventory
from fitelctl.ops.cloud import RouterRead, api_settings, read_router_with
from fitelctl.ops.connect import ConnectOptions, connect_site
from fitelctl.ops.status import DeviceStatus, device_status, read_sa_and_version
from fitelctl.parsing import CryptoSaTable, ParseError, parse_crypto_sa
from fitelctl.redact import SECRETS
from fitelctl.sakura.client import SakuraClient

log = logging.getLogger("fitelctl.exporter")


@dataclass(frozen=True)
class SessionPolicy:
    """Back-off after failures (seconds) and the idle limit (None: keep the session)."""

    backoff_min: float = 1.0
    backoff_max: float = 60.0
    max_idle: float | None = None

    def backoff(self, failures: int) -> float:
        """Wait before login attempt number ``failures + 1``: half fixed, half jitter."""
        if failures <= 0:
            return 0.0
        ceiling = min(self.backoff_max, self.backoff_min * 2 ** (failures - 1))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class DeviceRead:
    """One poll of a device: what it said (or why not), when, and how long it took."""

    status: DeviceStatus
    table: CryptoSaTable | None
    problem: str | None
    finished: float  # time.time()
    duration: float


class DeviceSession:
    """The exporter's one session to one device."""

    def __init__(
        self,
        inventory: Inventory,
        site: str,
        options: ConnectOptions,
        policy: SessionPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inventory = inventory
        self.site = site
        self._options = ConnectOptions(
            driver=options.driver,
            trust_new_host_key=options.trust_new_host_key,
            session_log_dir=options.session_log_dir,
            deadline=NO_DEADLINE,  # the site's own connect and command timeouts bound it
            keepalive=options.keepalive,
        )
        self._policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._driver: DeviceDriver | None = None
        self._failures = 0
        self._next_login = 0.0
        self._last_used = 0.0
        #: logins made (successful or not) and polls that failed, since the start
        self.logins = 0
        self.errors = 0

    @property
    def is_open(self) -> bool:
        return self._driver is not None

    def poll(self) -> DeviceRead:
        """Read the device over the open session, logging in first when there is none."""
        started = time.monotonic()
        with self._lock:
            problem, table, version = self._read()
        if problem is not None or table is None:
            self.errors += 1
            status = DeviceStatus(reachable=False)
            return DeviceRead(status, None, problem, time.time(), time.monotonic() - started)
        status = device_status(self.site, table, version)
        return DeviceRead(status, table, None, time.time(), time.monotonic() - started)

    def _read(self) -> tuple[str | None, CryptoSaTable | None, str | FitelctlError]:
        now = self._clock()
        idle = self._policy.max_idle
        if self._driver is not None and idle is not None and now - self._last_used > idle:
            log.info("%s: session idle for more than %gs: logging out", self.site, idle)
            self._logout()
        if self._driver is None:
            if now < self._next_login:
                wait = self._next_login - now
                return f"{self.site}: not reconnected yet (next login in {wait:.0f}s)", None, ""
            try:
                self.logins += 1
                self._driver = connect_site(self.inventory, self.site, self._options)
            except Exception as err:
                return self._failed(err), None, ""
        try:
            output, version = read_sa_and_version(self._driver)
            table = parse_crypto_sa(output)
        except ParseError as err:  # the session is fine; the output was not understood
            self._last_used = self._clock()
            return SECRETS.redact(f"{self.site}: {err}"), None, ""
        except Exception as err:
            self._drop()
            return self._failed(err), None, ""
        self._failures, self._last_used = 0, self._clock()
        return None, table, version

    def _failed(self, err: Exception) -> str:
        self._failures += 1
        wait = self._policy.backoff(self._failures)
        self._next_login = self._clock() + wait
        text = str(err) if isinstance(err, FitelctlError) else f"unexpected {type(err).__name__}"
        message = SECRETS.redact(text if text.startswith(self.site) else f"{self.site}: {text}")
        log.warning("%s (next login in %.1fs)", message, wait)
        return message

    def _drop(self) -> None:
        """The session failed under us: close what is left of it, without ceremony."""
        driver, self._driver = self._driver, None
        if driver is not None:
            driver.close()

    def _logout(self) -> None:
        driver, self._driver = self._driver, None
        if driver is not None:
            try:
                driver.logout()
            except Exception as err:  # the session is being given up either way
                log.debug("%s: logout: %s", self.site, SECRETS.redact(str(err)))

    def close(self, timeout: float = 10.0) -> bool:
        """Say ``exit`` and close; False when a poll held the session past ``timeout``."""
        if not self._lock.acquire(timeout=timeout):
            return False
        try:
            self._logout()
        finally:
            self._lock.release()
        return True


class ApiClients:
    """One Sakura Cloud API client per zone (one account per inventory), kept open."""

    def __init__(self, inventory: Inventory) -> None:
        self._inventory = inventory
        self._clients: dict[str | None, SakuraClient] = {}
        self._lock = threading.Lock()

    def read_router(self, zone: str | None, appliance_id: int) -> RouterRead:
        with self._lock:
            client = self._clients.get(zone)
            if client is None:
                settings = api_settings(self._inventory, zone=zone)
                client = self._clients[zone] = SakuraClient(settings, NO_DEADLINE)
        return read_router_with(client, appliance_id)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
