"""From an inventory site to a connected device driver (secrets resolved on use)."""

from __future__ import annotations

from fitelctl.fitelnet.drivers import DeviceDriver, DeviceTarget, open_driver
from fitelctl.inventory import Inventory, resolve_secret


def device_target(
    inventory: Inventory, site: str, *, trust_new_host_key: bool = False
) -> DeviceTarget:
    device = inventory.site(site).device
    defaults = inventory.defaults
    return DeviceTarget(
        site=site,
        host=device.host,
        port=device.port,
        username=device.username,
        password=(
            resolve_secret(device.password, inventory, what=f"sites.{site}.device.password")
            if device.password
            else None
        ),
        enable_password=(
            resolve_secret(
                device.enable_password, inventory, what=f"sites.{site}.device.enable_password"
            )
            if device.enable_password
            else None
        ),
        private_key_path=inventory.path(device.private_key) if device.private_key else None,
        known_hosts=inventory.known_hosts(),
        trust_new_host_key=trust_new_host_key,
        connect_timeout=device.connect_timeout or defaults.connect_timeout,
        command_timeout=device.command_timeout or defaults.command_timeout,
    )


def connect_site(
    inventory: Inventory,
    site: str,
    *,
    driver: str | None = None,
    trust_new_host_key: bool = False,
) -> DeviceDriver:
    """A connected driver for ``site`` (the caller closes it)."""
    target = device_target(inventory, site, trust_new_host_key=trust_new_host_key)
    kind = driver or inventory.site(site).device.driver or inventory.defaults.driver
    connection = open_driver(target, kind)  # type: ignore[arg-type]
    connection.connect()
    return connection
