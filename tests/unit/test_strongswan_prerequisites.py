"""``prerequisites.missing``: one line per thing ``--ike strongswan`` lacks, with its fix.

The cases run against a machine laid out in a temporary folder (no root, no strongSwan);
the checks of this machine itself follow the suite's rule for real tools (skipped where
strongSwan is not installed, failed under CI's ``FITELCTL_REQUIRE_TOOLS=1``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REQUIRE_TOOLS, required_tool

from fitelctl.lab.strongswan.charon import PLUGINS
from fitelctl.lab.strongswan.prerequisites import (
    APT_INSTALL,
    CORE_PACKAGE,
    PLUGIN_DIR,
    PLUGIN_PACKAGES,
    missing,
)

ALL_CAPABILITIES = "000001ffffffffff"
CAP_NET_ADMIN = 1 << 12
CAP_SYS_ADMIN = 1 << 21


class Machine:
    """A machine with everything the lab needs, under ``root``; tests take parts away."""

    def __init__(self, root: Path) -> None:
        self.status = root / "status"
        self.charon = root / "charon-systemd"
        self.plugins = root / "plugins"
        self.tun = root / "tun"
        self.bin = root / "bin"
        self.set_status(uid=0, capabilities=ALL_CAPABILITIES)
        self.charon.write_text("")
        self.plugins.mkdir()
        for plugin in PLUGINS.split():
            self.plugin(plugin).write_text("")
        self.tun.write_text("")
        self.bin.mkdir()
        for program in ("ip", "nft"):
            (self.bin / program).write_text("")
            (self.bin / program).chmod(0o755)

    def plugin(self, name: str) -> Path:
        return self.plugins / f"libstrongswan-{name}.so"

    def set_status(self, *, uid: int, capabilities: str) -> None:
        ids = "\t".join([str(uid)] * 4)
        self.status.write_text(
            f"Name:\tpython\nUid:\t{ids}\nGid:\t{ids}\nCapInh:\t0000000000000000\n"
            f"CapPrm:\t{capabilities}\nCapEff:\t{capabilities}\n"
        )

    def missing(self) -> list[str]:
        return missing(
            process_status=self.status,
            charon=self.charon,
            plugin_dir=self.plugins,
            tun_device=self.tun,
            search_path=str(self.bin),
        )


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def test_a_complete_machine_lacks_nothing(machine: Machine) -> None:
    assert machine.missing() == []


def test_not_root_says_so_and_to_use_sudo(machine: Machine) -> None:
    machine.set_status(uid=1000, capabilities="0000000000000000")
    assert machine.missing() == [
        "not root (effective uid 1000), so without CAP_SYS_ADMIN and CAP_NET_ADMIN: sudo fitelctl …"
    ]


def test_a_user_with_both_capabilities_needs_no_root(machine: Machine) -> None:
    machine.set_status(uid=1000, capabilities=f"{CAP_NET_ADMIN | CAP_SYS_ADMIN:016x}")
    assert machine.missing() == []


def test_root_without_net_admin_counts_as_missing(machine: Machine) -> None:
    """Root in a container started without the capability: the effective set decides."""
    machine.set_status(uid=0, capabilities=f"{int(ALL_CAPABILITIES, 16) & ~CAP_NET_ADMIN:016x}")
    assert machine.missing() == [
        "root, but without CAP_NET_ADMIN in its effective capabilities (a container started"
        " without them): docker run --cap-add NET_ADMIN …"
    ]


def test_root_without_sys_admin_is_told_to_lift_apparmor_too(machine: Machine) -> None:
    """``ip netns add`` mounts; Docker's default AppArmor profile denies that even so."""
    machine.set_status(uid=0, capabilities=f"{int(ALL_CAPABILITIES, 16) & ~CAP_SYS_ADMIN:016x}")
    [line] = machine.missing()
    assert "without CAP_SYS_ADMIN in its effective" in line
    assert line.endswith("docker run --cap-add SYS_ADMIN --security-opt apparmor=unconfined …")


def test_a_missing_charon_names_its_package_and_the_install_command(machine: Machine) -> None:
    machine.charon.unlink()
    assert machine.missing() == [
        f"{machine.charon} is missing (Debian package charon-systemd): {APT_INSTALL}"
    ]


def test_a_missing_plugin_names_its_file_and_package(machine: Machine) -> None:
    machine.plugin("kernel-libipsec").unlink()
    assert machine.missing() == [
        f"strongSwan plugin kernel-libipsec is missing ({machine.plugin('kernel-libipsec')},"
        f" Debian package libcharon-extra-plugins): {APT_INSTALL}"
    ]


def test_every_plugin_charon_loads_is_checked(machine: Machine) -> None:
    for plugin in PLUGINS.split():
        machine.plugin(plugin).unlink()
    lines = machine.missing()
    assert len(lines) == len(PLUGINS.split())
    for plugin, line in zip(PLUGINS.split(), lines, strict=True):
        assert line.startswith(f"strongSwan plugin {plugin} is missing (")
        assert line.endswith(f": {APT_INSTALL}")


@pytest.mark.parametrize(("program", "package"), [("ip", "iproute2"), ("nft", "nftables")])
def test_a_missing_program_names_its_package(machine: Machine, program: str, package: str) -> None:
    (machine.bin / program).unlink()
    assert machine.missing() == [
        f"{program} is not on PATH (Debian package {package}): {APT_INSTALL}"
    ]


def test_a_missing_tun_device_says_how_to_get_one(machine: Machine) -> None:
    machine.tun.unlink()
    [line] = machine.missing()
    assert line.startswith(f"{machine.tun} is missing (kernel-libipsec")
    assert ": modprobe tun (in a container: docker run --device /dev/net/tun …)" in line


def test_a_missing_vici_module_says_how_to_install_it(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "vici", None)  # find_spec answers None, as if absent
    assert machine.missing() == [
        f"the Python module vici (strongSwan's vici client) is not installed for"
        f" {sys.executable}: {sys.executable} -m pip install vici"
    ]


def test_everything_missing_gives_one_line_each(machine: Machine) -> None:
    machine.set_status(uid=1000, capabilities="0000000000000000")
    for path in (machine.charon, machine.tun, machine.bin / "ip", machine.bin / "nft"):
        path.unlink()
    for plugin in PLUGINS.split():
        machine.plugin(plugin).unlink()
    assert len(machine.missing()) == 1 + 1 + len(PLUGINS.split()) + 2 + 1


def test_the_install_command_installs_every_package_a_line_names() -> None:
    """``libstrongswan`` and ``strongswan-libcharon`` come as ``charon-systemd``'s dependencies."""
    installed = set(APT_INSTALL.removeprefix("apt-get install -y ").split())
    named = {CORE_PACKAGE, *PLUGIN_PACKAGES.values(), "charon-systemd", "iproute2", "nftables"}
    assert named - installed == {"libstrongswan", "strongswan-libcharon"}


# ---------------------------------------------------------------- this machine


def _require(problems: list[str]) -> None:
    """Fail under CI (``FITELCTL_REQUIRE_TOOLS=1``), else skip, when anything is missing."""
    if problems:
        message = "--ike strongswan lacks:\n" + "\n".join(problems)
        if os.environ.get(REQUIRE_TOOLS) == "1":
            pytest.fail(message)
        pytest.skip(message)


def test_this_machine_has_everything() -> None:
    _require(missing())


def test_the_plugin_packages_are_the_ones_dpkg_names() -> None:
    dpkg = required_tool("dpkg", "the plugin packages are Debian's; install strongSwan on Debian")
    paths = [PLUGIN_DIR / f"libstrongswan-{plugin}.so" for plugin in PLUGINS.split()]
    _require([f"{path} is missing" for path in paths if not path.is_file()])
    done = subprocess.run(
        [dpkg, "-S", *map(str, paths)], capture_output=True, text=True, check=True
    )
    owners = {
        path: package
        for package, path in (line.split(": ", 1) for line in done.stdout.splitlines())
    }
    assert {
        plugin: owners[str(path)] for plugin, path in zip(PLUGINS.split(), paths, strict=True)
    } == {plugin: PLUGIN_PACKAGES.get(plugin, CORE_PACKAGE) for plugin in PLUGINS.split()}
