"""The fleet the exporter polls: one thread per device and one per VPC router.

Each device is polled on its own daemon thread over its own persistent session, each
VPC router on its own thread with the zone's API client, every ``interval`` seconds.
A site that hangs holds only its own thread (bounded by its connect and command
timeouts); the others keep their rhythm.  Scrapes read the latest results and never
wait for a poll.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from fitelctl.errors import FitelctlError
from fitelctl.exporter.sessions import ApiClients, DeviceRead, DeviceSession, SessionPolicy
from fitelctl.inventory import Inventory
from fitelctl.ops.cloud import RouterRead
from fitelctl.ops.connect import ConnectOptions
from fitelctl.redact import SECRETS

log = logging.getLogger("fitelctl.exporter")

RouterKey = tuple[str | None, int]


@dataclass
class RouterPoll:
    """The latest read of one VPC router: the read or why it failed."""

    read: RouterRead | str
    finished: float
    duration: float
    errors: int = 0


@dataclass
class SitePolls:
    """What the fleet knows of one site now."""

    device: DeviceRead | None = None
    last_success: float | None = None
    polls: int = 0
    errors: int = 0


@dataclass
class Fleet:
    inventory: Inventory
    sites: list[str]
    interval: float
    options: ConnectOptions = field(default_factory=ConnectOptions)
    policy: SessionPolicy = field(default_factory=SessionPolicy)

    def __post_init__(self) -> None:
        self.sessions = {
            site: DeviceSession(self.inventory, site, self.options, self.policy)
            for site in self.sites
        }
        self.state = {site: SitePolls() for site in self.sites}
        self.routers: dict[RouterKey, list[str]] = {}
        for site in self.sites:
            cloud = self.inventory.site(site).cloud
            if cloud.vpc_router_id is not None:
                self.routers.setdefault((cloud.zone, cloud.vpc_router_id), []).append(site)
        self.router_polls: dict[RouterKey, RouterPoll] = {}
        self.api = ApiClients(self.inventory)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def router_of(self, site: str) -> RouterKey | None:
        cloud = self.inventory.site(site).cloud
        return None if cloud.vpc_router_id is None else (cloud.zone, cloud.vpc_router_id)

    def start(self) -> None:
        for site in self.sites:
            self._spawn(f"poll-{site}", partial(self._poll_device, site))
        for key in self.routers:
            self._spawn(f"router-{key[1]}", partial(self._poll_router, key))

    def _spawn(self, name: str, poll: Callable[[], None]) -> None:
        thread = threading.Thread(target=self._every_interval, args=(poll,), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _every_interval(self, poll: Callable[[], None]) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                poll()
            except Exception as err:  # a bug in one site's poll must not end its thread
                # one redacted line, not a traceback: an exception's text may quote a key
                name = threading.current_thread().name
                log.error("%s failed: %s", name, SECRETS.redact(f"{type(err).__name__}: {err}"))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def _poll_device(self, site: str) -> None:
        read = self.sessions[site].poll()
        polls = self.state[site]
        polls.device, polls.polls = read, polls.polls + 1
        if read.problem is None:
            polls.last_success = read.finished
        else:
            polls.errors += 1

    def _poll_router(self, key: RouterKey) -> None:
        started = time.monotonic()
        zone, appliance_id = key
        previous = self.router_polls.get(key)
        errors = previous.errors if previous else 0
        read: RouterRead | str
        try:
            read = self.api.read_router(zone, appliance_id)
        except FitelctlError as err:
            read = f"cloud side: {err}"
        except Exception as err:  # a library failure must not end the router's thread
            read = f"cloud side: unexpected {type(err).__name__}: {err}"
        if isinstance(read, str):
            read, errors = SECRETS.redact(read), errors + 1
            log.warning("%s", read)
        self.router_polls[key] = RouterPoll(read, time.time(), time.monotonic() - started, errors)

    def stop(self, timeout: float = 10.0) -> list[str]:
        """Stop polling and log out of every device; the sites whose session stayed busy."""
        self._stop.set()
        busy: list[str] = []

        def close(site: str) -> None:
            if not self.sessions[site].close(timeout):
                busy.append(site)

        closers = [threading.Thread(target=close, args=(s,), daemon=True) for s in self.sites]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join(timeout + 1)
        self.api.close()
        return sorted(busy)
