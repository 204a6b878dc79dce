"""The baseline for (b): a plain sequential loop of upstream netmiko over the lab's sites.

    python benchmarks/netmiko_loop.py LAB_JSON [--sites N] [--close-fix]

What one would write without fitelctl: for each device in the lab's ``lab.json``,
``ConnectHandler(device_type="furukawa_fitelnet", ...)`` (netmiko's own FITELnet
driver: login, enable, ``no more``), ``send_command("show crypto sa")``, disconnect.
No parsing, no verdict, no cloud read, no host-key check (netmiko's default).

Upstream's ``disconnect()`` on this device type waits for 2 s of silence (its
``check_config_mode`` has no prompt pattern and falls back to a timing read; see
``fitelctl/fitelnet/drivers/netmiko_driver.py``).  ``--close-fix`` applies the
one-method fix fitelctl's driver carries, so the loop is measured without that
defect too.  Exits non-zero if a device's answer has no SA.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from netmiko import ConnectHandler
from netmiko.furukawa import FurukawaFitelnetSSH


class ClosesFast(FurukawaFitelnetSSH):
    """Upstream with the prompt pattern that ``check_config_mode`` lacks."""

    def check_config_mode(
        self, check_string: str = ")#", pattern: str = r"(?:[>#]|password:)\s*$",
        force_regex: bool = False,
    ) -> bool:  # fmt: skip
        return bool(super().check_config_mode(check_string, pattern, force_regex))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("lab_json", type=Path)
    p.add_argument("--sites", type=int, default=None, help="the first N devices (default all)")
    p.add_argument("--close-fix", action="store_true", help="disconnect without the 2 s wait")
    args = p.parse_args()
    devices = json.loads(args.lab_json.read_text())["devices"][: args.sites]
    for device in devices:
        params: dict[str, Any] = {
            "host": device["host"],
            "port": device["port"],
            "username": device["username"],
            "password": device["password"],
            "secret": device["enable_password"],
        }
        conn = (
            ClosesFast(**params)
            if args.close_fix
            else ConnectHandler(device_type="furukawa_fitelnet", **params)
        )
        with conn:
            output = conn.send_command("show crypto sa")
        if "IPSEC SA" not in output:
            raise SystemExit(f"{device['site']}: no IPsec SA in the answer")


if __name__ == "__main__":
    main()
