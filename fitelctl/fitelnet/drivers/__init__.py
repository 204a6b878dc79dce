"""SSH CLI drivers for FITELnet devices: one protocol, a netmiko and a scrapli implementation.

    target = DeviceTarget(site="tokyo", host="192.0.2.1", username="admin", ...)
    with open_driver(target, "scrapli") as dev:
        print(dev.show("show version"))

Every failure is a ``DeviceError`` subclass whose ``str()`` is one redacted line.
"""

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
    open_driver,
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
