"""SSH CLI drivers for FITELnet devices: one protocol, a netmiko and a scrapli implementation.

    target = DeviceTarget(site="tokyo", host="192.0.2.1", username="admin", ...)
    with open_driver(target, "scrapli") as dev:
        print(dev.show("show version"))

Every failure is a ``DeviceError`` subclass whose ``str()`` is one redacted line.
"""

from __future__ import annotations

from fitelctl.errors import FitelctlError
from fitelctl.fitelnet.drivers.base import (
    AuthenticationFailed,
    CommandRejected,
    CommandTimeout,
    DeviceBusy,
    DeviceDriver,
    DeviceError,
    DeviceTarget,
    DeviceUnreachable,
    DriverKind,
    EnablePasswordRejected,
    HostKeyChanged,
    HostKeyRejected,
    HostKeyUnknown,
    OtherSessionEdits,
    SessionDropped,
    UnexpectedPrompt,
)


def open_driver(target: DeviceTarget, kind: DriverKind) -> DeviceDriver:
    """A driver for ``target`` (not yet connected: call ``connect()`` or use ``with``).

    The implementation modules are imported here, lazily, so that a command using
    one library never pays for loading the other.
    """
    if kind == "netmiko":
        from fitelctl.fitelnet.drivers.netmiko_driver import NetmikoDriver

        return NetmikoDriver(target)
    if kind == "scrapli":
        from fitelctl.fitelnet.drivers.scrapli_driver import ScrapliDriver

        return ScrapliDriver(target)
    if kind == "asyncssh":
        from fitelctl.fitelnet.drivers.asyncssh_driver import AsyncsshDriver

        return AsyncsshDriver(target)
    raise FitelctlError(
        f"unknown device driver {kind!r}: expected 'netmiko', 'scrapli' or 'asyncssh'"
    )


__all__ = [
    "AuthenticationFailed",
    "CommandRejected",
    "CommandTimeout",
    "DeviceBusy",
    "DeviceDriver",
    "DeviceError",
    "DeviceTarget",
    "DeviceUnreachable",
    "DriverKind",
    "EnablePasswordRejected",
    "HostKeyChanged",
    "HostKeyRejected",
    "HostKeyUnknown",
    "OtherSessionEdits",
    "SessionDropped",
    "UnexpectedPrompt",
    "open_driver",
]
