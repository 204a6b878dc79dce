"""A simulated Furukawa FITELnet F220: its configs and files (``model``), its CLI
(``cli``, sans-IO) and the line discipline an SSH channel drives it through
(``terminal``).  ``fitelctl.lab.ssh_server`` serves it over SSH."""

from fitelctl.lab.device.cli import CliSession, DropConnection, InputMode, SessionKind
from fitelctl.lab.device.model import DeviceFaults, DeviceSpec, LabDevice
from fitelctl.lab.device.world_api import CryptoWorld

__all__ = [
    "CliSession",
    "CryptoWorld",
    "DeviceFaults",
    "DeviceSpec",
    "DropConnection",
    "InputMode",
    "LabDevice",
    "SessionKind",
]
