"""The Nornir contender for (b): ``show crypto sa`` on every lab site with nornir_netmiko.

    benchmarks/.venv-nornir/bin/python benchmarks/nornir_status.py LAB_JSON [--sites N]
                                                                   [--workers 64] [--close-fix]

What a Nornir user would write: Nornir 3's threaded runner (``--workers`` threads,
64 like ``fitelctl status``), an inventory built in memory from the lab's
``lab.json`` (platform ``furukawa_fitelnet``, upstream netmiko's FITELnet driver:
login, enable, ``no more``), ``netmiko_send_command("show crypto sa")`` on every
host, then ``close_connections()``.  Passwords and enable secrets are read from the
lab's ``secrets/`` files; host keys are checked against the lab's ``known_hosts``
(``ssh_strict``, the same netmiko options fitelctl's netmiko driver passes).  No
parsing, no verdict, no cloud read.

Upstream's ``disconnect()`` on this device type waits for 2 s of silence (see
``netmiko_loop.py``); ``--close-fix`` maps ``furukawa_fitelnet`` to the same
one-method fix, so the comparison does not credit fitelctl with an upstream defect.
Exits non-zero (naming the hosts) unless every host answered with an IPsec SA.

Runs in its own venv, ``benchmarks/.venv-nornir`` (Nornir is no dependency of
fitelctl): ``_bench.nornir_python()`` creates it.  Nothing else is imported from
the project.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from netmiko.ssh_dispatcher import CLASS_MAPPER
from netmiko_loop import ClosesFast  # the same fix as the fixed netmiko loop
from nornir import InitNornir  # type: ignore[import-not-found,unused-ignore]
from nornir.core.inventory import (  # type: ignore[import-not-found,unused-ignore]
    ConnectionOptions,
    Defaults,
    Groups,
    Host,
    Hosts,
    Inventory,
)
from nornir.core.plugins.inventory import (  # type: ignore[import-not-found,unused-ignore]
    InventoryPluginRegister,
)
from nornir_netmiko.tasks import (  # type: ignore[import-not-found,unused-ignore]
    netmiko_send_command,
)

PLATFORM = "furukawa_fitelnet"


class DictInventory:
    """Nornir inventory plugin: hosts given as a dict (``{name: {hostname: ..., ...}}``)."""

    def __init__(self, hosts: dict[str, dict[str, Any]]) -> None:
        self.hosts = hosts

    def load(self) -> Any:
        hosts = Hosts()
        for name, data in self.hosts.items():
            options = {
                "netmiko": ConnectionOptions(extras=data["netmiko_extras"]),
            }
            hosts[name] = Host(
                name=name,
                hostname=data["hostname"],
                port=data["port"],
                username=data["username"],
                password=data["password"],
                platform=PLATFORM,
                connection_options=options,
            )
        return Inventory(hosts=hosts, groups=Groups(), defaults=Defaults())


def lab_hosts(lab_json: Path, sites: int | None) -> dict[str, dict[str, Any]]:
    """The first ``sites`` lab devices as DictInventory hosts, with their netmiko options."""
    state_dir = lab_json.parent
    secrets = state_dir / "secrets"
    known_hosts = str(state_dir / "known_hosts")
    hosts = {}
    for device in json.loads(lab_json.read_text())["devices"][:sites]:
        site = device["site"]
        hosts[site] = {
            "hostname": device["host"],
            "port": device["port"],
            "username": device["username"],
            "password": (secrets / f"{site}.password").read_text().strip(),
            "netmiko_extras": {
                "secret": (secrets / f"{site}.enable").read_text().strip(),
                "allow_agent": False,
                "use_keys": False,
                "ssh_strict": True,
                "system_host_keys": False,
                "alt_host_keys": True,
                "alt_key_file": known_hosts,
            },
        }
    return hosts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("lab_json", type=Path)
    p.add_argument("--sites", type=int, default=None, help="the first N devices (default all)")
    p.add_argument("--workers", type=int, default=64, help="threaded runner's num_workers")
    p.add_argument("--close-fix", action="store_true", help="disconnect without the 2 s wait")
    args = p.parse_args()
    if args.close_fix:
        # ConnectHandler (which nornir_netmiko calls) looks the class up here at call time
        CLASS_MAPPER[PLATFORM] = ClosesFast
    InventoryPluginRegister.register("DictInventory", DictInventory)
    nr = InitNornir(
        runner={"plugin": "threaded", "options": {"num_workers": args.workers}},
        inventory={
            "plugin": "DictInventory",
            "options": {"hosts": lab_hosts(args.lab_json, args.sites)},
        },
        logging={"enabled": False},  # else Nornir writes ./nornir.log
    )
    results = nr.run(task=netmiko_send_command, command_string="show crypto sa")
    nr.close_connections()
    bad = []
    for name, multi in results.items():
        if multi.failed:
            exc = multi[0].exception
            first_line = next(iter(str(exc).splitlines()), "")
            bad.append(f"{name}: {type(exc).__name__}: {first_line}")
        elif "IPSEC SA" not in str(multi[0].result):
            bad.append(f"{name}: no IPsec SA in the answer")
    if bad or len(results) != len(nr.inventory.hosts):
        raise SystemExit(
            f"{len(bad)} of {len(nr.inventory.hosts)} host(s) failed:\n" + "\n".join(bad[:10])
        )


if __name__ == "__main__":
    main()
