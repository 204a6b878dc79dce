"""From an inventory site to a connected device driver (secrets resolved on use).

The site's connect and command timeouts are cut to what is left of the command's
deadline (``fitelctl.deadline``) when the session opens, and no session opens once
it has run out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Self, cast

from fitelctl.deadline import Deadline, current
from fitelctl.fitelnet.drivers import DeviceDriver, DeviceTarget, DriverKind, open_driver
from fitelctl.inventory import Inventory, resolve_secret


@dataclass(frozen=True)
class ConnectOptions:
    """How this invocation connects, over what the inventory says."""

    driver: DriverKind | None = None
    #: record a host key known_hosts does not have yet (a changed key is still refused)
    trust_new_host_key: bool = False
    #: write a redacted transcript per site into this directory
    session_log_dir: Path | None = None
    #: bounds connect and command timeouts (default: the running command's deadline)
    deadline: Deadline | None = None
    #: seconds between SSH keepalives on an idle session (0: none; the exporter sets it)
    keepalive: float = 0.0


def device_target(inventory: Inventory, site: str, options: ConnectOptions) -> DeviceTarget:
    device = inventory.site(site).device
    defaults = inventory.defaults
    deadline = options.deadline or current()

    def secret(field: str, ref: str | None) -> str | None:
        if ref is None:
            return None
        return resolve_secret(ref, inventory, what=f"sites.{site}.device.{field}")

    return DeviceTarget(
        site=site,
        host=device.host,
        port=device.port,
        username=device.username,
        password=secret("password", device.password),
        enable_password=secret("enable_password", device.enable_password),
        private_key_path=inventory.path(device.private_key) if device.private_key else None,
        known_hosts=inventory.known_hosts(),
        trust_new_host_key=options.trust_new_host_key,
        connect_timeout=deadline.clamp(device.connect_timeout or defaults.connect_timeout),
        command_timeout=deadline.clamp(device.command_timeout or defaults.command_timeout),
        session_log=options.session_log_dir / f"{site}.log" if options.session_log_dir else None,
        keepalive=options.keepalive,
    )


def connect_site(
    inventory: Inventory, site: str, options: ConnectOptions | None = None
) -> DeviceDriver:
    """A connected driver for ``site`` (the caller closes it)."""
    options = options or ConnectOptions()
    (options.deadline or current()).check(f"{site}: connecting to the device")
    target = device_target(inventory, site, options)
    kind = options.driver or inventory.site(site).device.driver or inventory.defaults.driver
    connection = open_driver(target, kind)
    connection.connect()
    deadline = options.deadline or current()
    if deadline.seconds is None:
        return connection
    return cast(DeviceDriver, _Bounded(connection, deadline, target.command_timeout))


class _Bounded:
    """A connected driver whose command timeout is cut again, before each operation, to
    what is left of the deadline: a session opened early must not outlast it."""

    def __init__(self, driver: DeviceDriver, deadline: Deadline, command_timeout: float) -> None:
        self._driver = driver
        self._deadline = deadline
        self._command_timeout = command_timeout

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._driver, name)
        if not callable(attribute):
            return attribute

        def bounded(*args: Any, **kwargs: Any) -> Any:
            target = self._driver.target  # type: ignore[attr-defined]
            timeout = self._deadline.clamp(self._command_timeout)
            self._driver.target = replace(target, command_timeout=timeout)  # type: ignore[attr-defined]
            return attribute(*args, **kwargs)

        return bounded

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._driver.close()
