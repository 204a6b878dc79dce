"""What this machine lacks for ``--ike strongswan``: one line each, with the command that fixes it.

The lab needs: its own network namespaces (``ip netns add`` unshares and mounts, which
takes CAP_SYS_ADMIN; links and addresses take CAP_NET_ADMIN; root in a container started
without them has neither), ``charon-systemd`` and every plugin ``charon.PLUGINS`` loads,
``ip``, ``nft`` (the NAT bench masquerades with it), a TUN device for
``kernel-libipsec``, and the Python ``vici`` client.  The capabilities are read from the
process's *effective* set, so root without them counts as missing; a container also needs
AppArmor's ``docker-default`` profile lifted, as it denies the mount ``ip netns add`` does.

Debian spreads the plugins over five packages (``dpkg -S``).  ``openssl`` comes only with
``libstrongswan-standard-plugins``, which ``libstrongswan`` merely recommends: on a
machine that installs no recommends, the packages named in the issue lack it, so the
install command names it too.  Everything read can be pointed elsewhere (keyword
arguments), so that tests need neither root nor strongSwan.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from fitelctl.lab.strongswan.charon import CHARON_BINARY, PLUGINS

PROCESS_STATUS = Path("/proc/self/status")
PLUGIN_DIR = Path("/usr/lib/ipsec/plugins")
TUN_DEVICE = Path("/dev/net/tun")

#: Capability bits (``linux/capability.h``) the lab needs, in ``CapEff`` of ``/proc/PID/status``.
CAPABILITIES = {"CAP_SYS_ADMIN": 21, "CAP_NET_ADMIN": 12}

#: The Debian package of each plugin of ``PLUGINS`` that ``libstrongswan`` does not ship.
PLUGIN_PACKAGES = {
    "openssl": "libstrongswan-standard-plugins",
    "curve25519": "libstrongswan-extra-plugins",
    "kernel-libipsec": "libcharon-extra-plugins",
    "socket-default": "strongswan-libcharon",
    "vici": "strongswan-swanctl",
}
CORE_PACKAGE = "libstrongswan"

#: Installs everything above (``libstrongswan`` and ``strongswan-libcharon`` are
#: dependencies of ``charon-systemd``).
APT_INSTALL = (
    "apt-get install -y strongswan-swanctl charon-systemd libcharon-extra-plugins"
    " libstrongswan-extra-plugins libstrongswan-standard-plugins nftables iproute2"
)


def missing(
    *,
    process_status: Path = PROCESS_STATUS,
    charon: Path = CHARON_BINARY,
    plugin_dir: Path = PLUGIN_DIR,
    tun_device: Path = TUN_DEVICE,
    search_path: str | None = None,
) -> list[str]:
    """One line per missing prerequisite: what is missing, then the command that fixes it.

    ``search_path`` is where ``ip`` and ``nft`` are looked for (default: ``PATH``).
    """
    lines = _privileges(process_status.read_text())
    if not charon.is_file():
        lines.append(f"{charon} is missing (Debian package charon-systemd): {APT_INSTALL}")
    for plugin in PLUGINS.split():
        path = plugin_dir / f"libstrongswan-{plugin}.so"
        if not path.is_file():
            package = PLUGIN_PACKAGES.get(plugin, CORE_PACKAGE)
            lines.append(
                f"strongSwan plugin {plugin} is missing ({path}, Debian package {package}):"
                f" {APT_INSTALL}"
            )
    for program, package in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(program, path=search_path) is None:
            lines.append(f"{program} is not on PATH (Debian package {package}): {APT_INSTALL}")
    if not tun_device.exists():
        lines.append(
            f"{tun_device} is missing (kernel-libipsec runs each charon's CHILD_SAs on a TUN"
            " device): modprobe tun (in a container: docker run --device /dev/net/tun …)"
        )
    if importlib.util.find_spec("vici") is None:
        lines.append(
            f"the Python module vici (strongSwan's vici client) is not installed for"
            f" {sys.executable}: {sys.executable} -m pip install vici"
        )
    return lines


def _privileges(status: str) -> list[str]:
    """The capability line, if the process's effective set lacks one the lab needs."""
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    effective_uid = int(fields["Uid"].split()[1])
    effective = int(fields["CapEff"].strip(), 16)
    lacking = [name for name, bit in CAPABILITIES.items() if not effective >> bit & 1]
    if not lacking:
        return []
    names = " and ".join(lacking)
    if effective_uid != 0:
        return [f"not root (effective uid {effective_uid}), so without {names}: sudo fitelctl …"]
    flags = " ".join(f"--cap-add {name.removeprefix('CAP_')}" for name in lacking)
    if "CAP_SYS_ADMIN" in lacking:
        flags += " --security-opt apparmor=unconfined"  # docker-default denies mount
    return [
        f"root, but without {names} in its effective capabilities (a container started"
        f" without them): docker run {flags} …"
    ]
