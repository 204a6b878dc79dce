"""Operations on a site's VPC router that the runbooks chain: export/import, power, migration.

Each function reads what it needs over the API, does one thing and returns a
small result; none prints.  They exist for the source article's incidents
(docs/domain.md#incidents-in-the-article):
the version 1 → 2 migration, which can leave the router stuck (Availability
``migrating``, no VPN, logs unreadable) until it is powered off, the settings
exported *before* the migration are imported and it is powered on again; and
the cloud half of a PSK rotation or an algorithm change.

Choices made here:

- An export is exactly ``Appliance.Settings`` as the API serialises it (what the
  control panel's "export" gives, docs/domain.md#endpoints-fitelctl-calls), pre-shared
  keys included, because an
  import must restore exactly.  So the file is created 0600 and an existing file
  is never replaced unless asked.
- Every settings change is the API's write sequence: read (for the current
  ``SettingsHash``) → ``PUT /appliance/:id`` → ``PUT /appliance/:id/config``.
  Saving without applying would leave the tunnels on the old settings.
- Power and migration calls are idempotent for a runbook that resumes: they
  return ``False`` and send nothing when the router is already there.
- "Stuck" is a judgement made after waiting: Availability still ``migrating``
  (or ``failed``), or a running router whose status (peers and logs) cannot be
  read.  ``wait_migration`` returns the state rather than raising on timeout so
  that a runbook can branch to the workaround.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, get_args

from pydantic import SecretStr, ValidationError

from fitelctl.errors import FitelctlError
from fitelctl.inventory import Inventory
from fitelctl.inventory.tunnel import Cloud
from fitelctl.ops.check import psk_findings
from fitelctl.ops.cloud import CloudView, client_for
from fitelctl.private_files import write_private_file
from fitelctl.redact import SECRETS
from fitelctl.sakura.client import SakuraClient
from fitelctl.sakura.errors import SakuraError
from fitelctl.sakura.models import (
    Appliance,
    EspSettings,
    IkeSettings,
    SiteToSitePeer,
    SiteToSiteVpn,
    VpcRouterSettings,
)

#: What a version-2 router accepts (docs/domain.md#vpc-router-versions-1-and-2); the
#: inventory's ``cloud`` model is the source.
ENCRYPTION_ALGOS: tuple[str, ...] = get_args(Cloud.model_fields["encryption_algo"].annotation)
HASH_ALGOS: tuple[str, ...] = get_args(Cloud.model_fields["hash_algo"].annotation)
DH_GROUPS: tuple[str, ...] = get_args(Cloud.model_fields["dh_group"].annotation)


class RouterOpError(FitelctlError):
    """A router operation cannot go on; ``str()`` is one redacted line."""

    def __init__(self, message: str) -> None:
        super().__init__(SECRETS.redact(" ".join(message.split())))


class SettingsFileError(RouterOpError):
    """An export cannot be written, or a file to import is not a settings export."""


class NoPeerEntry(RouterOpError):
    """The router has no site-to-site peer entry for the site."""


class UnsupportedSetting(RouterOpError):
    """The router (its version, its settings) cannot take the requested change."""


# -- state ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouterState:
    """One look at the site's VPC router, as a runbook needs it: the router's
    :class:`CloudView` (with this site's peer), and why its status was unreadable."""

    site: str
    cloud: CloudView
    #: why status could not be read although the router runs (one line), else None
    status_error: str | None = None

    @property
    def version(self) -> int | None:
        return self.cloud.version

    @property
    def running(self) -> bool:
        return self.cloud.is_running

    @property
    def peer_up(self) -> bool:
        return self.cloud.peer_up

    @property
    def stuck(self) -> bool:
        """After a wait: still migrating (or failed), or running with unreadable status."""
        cloud = self.cloud
        return cloud.is_migrating or cloud.is_failed or self.status_error is not None

    def to_json(self) -> dict[str, Any]:
        cloud = self.cloud
        return {
            "site": self.site,
            "appliance_id": cloud.appliance_id,
            "version": cloud.version,
            "availability": cloud.availability,
            "instance_status": cloud.instance_status,
            "peer": cloud.peer,
            "peer_status": cloud.peer_status,
            "status_error": self.status_error,
            "running": self.running,
            "stuck": self.stuck,
        }


def _peer_address(inventory: Inventory, site: str) -> str:
    config = inventory.site(site)
    return config.tunnel.cloud_peer_address(config.cloud)


def _state(
    inventory: Inventory, site: str, client: SakuraClient, appliance: Appliance
) -> RouterState:
    """``appliance`` plus, when the router runs, its status (an error there is recorded)."""
    peer = _peer_address(inventory, site)
    state = RouterState(site, CloudView.of(appliance, peer=peer))
    if not state.running:
        return state
    try:
        status = client.status(appliance.ID)
    except SakuraError as err:
        return replace(state, status_error=str(err))
    return replace(state, cloud=CloudView.of(appliance, peer=peer, status=status))


def read_state(inventory: Inventory, site: str) -> RouterState:
    """The router's state now (status read only when it is up and available)."""
    client, appliance_id = client_for(inventory, site)
    with client:
        return _state(inventory, site, client, client.read_appliance(appliance_id))


def is_stuck(inventory: Inventory, site: str) -> bool:
    """Whether the router needs the workaround; meaningful after waiting for a migration."""
    return read_state(inventory, site).stuck


def wait_router(
    inventory: Inventory,
    site: str,
    *,
    instance_status: str | None = None,
    availability: str | None = None,
    timeout: float = 600.0,
    interval: float = 5.0,
) -> RouterState:
    """Poll until the router shows the given state; StateTimeoutError after ``timeout``."""
    client, appliance_id = client_for(inventory, site)
    with client:
        appliance = client.wait_for_state(
            appliance_id,
            instance_status=instance_status,
            availability=availability,
            timeout=timeout,
            interval=interval,
        )
        return _state(inventory, site, client, appliance)


def wait_migration(
    inventory: Inventory,
    site: str,
    *,
    version: int = 2,
    timeout: float = 600.0,
    interval: float = 5.0,
) -> RouterState:
    """Poll until the router is ``available`` at ``version``; on timeout return it (``stuck``).

    Never raises on timeout: a migration that does not end is the article's case,
    and the runbook branches on ``RouterState.stuck`` to the workaround.
    """
    client, appliance_id = client_for(inventory, site)
    with client:
        deadline = time.monotonic() + timeout
        while True:
            appliance = client.read_appliance(appliance_id)
            done = (
                CloudView.of(appliance).is_available
                and (appliance.vpc_router_version or 0) >= version
            )
            if done or time.monotonic() >= deadline:
                return _state(inventory, site, client, appliance)
            time.sleep(interval)


# -- power and migration ------------------------------------------------------------------


def power_off(inventory: Inventory, site: str, *, force: bool = False) -> bool:
    """Shut the router down (``force``: power off at once); False when already off or going."""
    client, appliance_id = client_for(inventory, site)
    with client:
        if CloudView.of(client.read_appliance(appliance_id)).is_off:
            return False
        client.shutdown(appliance_id, force=force)
        return True


def power_on(inventory: Inventory, site: str) -> bool:
    """Boot the router; False when it is already up."""
    client, appliance_id = client_for(inventory, site)
    with client:
        if CloudView.of(client.read_appliance(appliance_id)).is_up:
            return False
        client.boot(appliance_id)
        return True


def migrate_router(inventory: Inventory, site: str, *, version: int = 2) -> bool:
    """Ask for the version migration (the call is configurable: UNKNOWN publicly).

    False when the router already reports ``version``: nothing is sent.
    """
    client, appliance_id = client_for(inventory, site)
    with client:
        current = client.read_appliance(appliance_id).vpc_router_version
        if current is not None and current >= version:
            return False
        client.migrate_version(appliance_id, version)
        return True


# -- settings: export, import, changes -----------------------------------------------------


def export_settings(
    inventory: Inventory, site: str, path: Path, *, overwrite: bool = False
) -> Path:
    """Write the router's Settings JSON (PSKs included) to ``path``, mode 0600; return ``path``."""
    client, appliance_id = client_for(inventory, site)
    with client:
        settings = client.read_appliance(appliance_id).Settings
    if settings is None:
        raise SettingsFileError(
            f"{site}: the API returned no Settings for appliance {appliance_id}; nothing to export"
        )
    text = json.dumps(settings.to_api(), indent=2, ensure_ascii=False) + "\n"
    try:
        write_private_file(path, text, overwrite=overwrite)
    except FileExistsError:
        raise SettingsFileError(
            f"{path}: already exists; an export is never overwritten: choose another path "
            "(or ask to overwrite)"
        ) from None
    except OSError as err:
        raise SettingsFileError(f"{path}: cannot write the export: {err.strerror}") from None
    return path


def read_settings_file(path: Path) -> VpcRouterSettings:
    """A settings export, validated; SettingsFileError naming the file otherwise."""
    not_export = f"{path}: not a VPC router settings export"
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsFileError(f"{path}: no such settings export") from None
    except OSError as err:
        raise SettingsFileError(
            f"{path}: cannot read the settings export: {err.strerror}"
        ) from None
    except UnicodeDecodeError:
        raise SettingsFileError(f"{not_export} (not UTF-8 text)") from None
    except json.JSONDecodeError as err:
        raise SettingsFileError(f"{not_export} (not JSON: line {err.lineno})") from None
    if isinstance(data, dict) and ("Appliance" in data or "Settings" in data):
        raise SettingsFileError(
            f"{not_export}: it holds a whole appliance; an export is its 'Settings' object only"
        )
    if not isinstance(data, dict) or not isinstance(data.get("Router"), dict):
        raise SettingsFileError(f"{not_export} (expected a JSON object with a 'Router' object)")
    try:
        return VpcRouterSettings.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SettingsFileError(f"{not_export} ({where}: {first['msg']})") from None


def _write_settings(client: SakuraClient, appliance_id: int, appliance: Appliance) -> None:
    """PUT the (changed) settings with the hash they were read with, then apply them."""
    assert appliance.Settings is not None
    client.update_settings(appliance_id, appliance.Settings, appliance.SettingsHash)
    client.apply_config(appliance_id)


def import_settings(inventory: Inventory, site: str, path: Path) -> None:
    """Replace the router's settings with an export's, then apply them (the article's fix)."""
    settings = read_settings_file(path)
    client, appliance_id = client_for(inventory, site)
    with client:
        current = client.read_appliance(appliance_id)
        current.Settings = settings
        _write_settings(client, appliance_id, current)


def _change_vpn(
    inventory: Inventory, site: str, change: Callable[[SiteToSiteVpn, Appliance], None]
) -> None:
    """Read the router, let ``change`` edit its site-to-site VPN settings, write and apply."""
    client, appliance_id = client_for(inventory, site)
    with client:
        appliance = client.read_appliance(appliance_id)
        vpn = appliance.site_to_site
        if vpn is None:
            raise UnsupportedSetting(
                f"{site}: appliance {appliance_id} has no site-to-site VPN settings "
                "(Settings.Router.SiteToSiteIPsecVPN); enable site-to-site VPN first"
            )
        change(vpn, appliance)
        _write_settings(client, appliance_id, appliance)


def _one_of(site: str, name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise UnsupportedSetting(
            f"{site}: {name} {value!r} is not one a version-2 VPC router accepts "
            f"({', '.join(allowed)})"
        )


def set_router_algorithms(
    inventory: Inventory,
    site: str,
    *,
    encryption_algo: str,
    hash_algo: str,
    dh_group: str,
    ike_lifetime: int | None = None,
    esp_lifetime: int | None = None,
) -> None:
    """Set a version-2 router's algorithms (and lifetimes), then apply: tunnels renegotiate."""
    _one_of(site, "EncryptionAlgo", encryption_algo, ENCRYPTION_ALGOS)
    _one_of(site, "HashAlgo", hash_algo, HASH_ALGOS)
    _one_of(site, "DHGroup", dh_group, DH_GROUPS)

    def change(vpn: SiteToSiteVpn, appliance: Appliance) -> None:
        version = appliance.vpc_router_version
        if version != 2:
            raise UnsupportedSetting(
                f"{site}: appliance {appliance.ID} is VPC router version {version}: its "
                "algorithms are fixed by the service; migrate it to version 2 first"
            )
        vpn.EncryptionAlgo, vpn.HashAlgo, vpn.DHGroup = encryption_algo, hash_algo, dh_group
        if ike_lifetime is not None:
            if vpn.IKE is None:
                vpn.IKE = IkeSettings(Lifetime=ike_lifetime)
            else:
                vpn.IKE.Lifetime = ike_lifetime
        if esp_lifetime is not None:
            if vpn.ESP is None:
                vpn.ESP = EspSettings(Lifetime=esp_lifetime)
            else:
                vpn.ESP.Lifetime = esp_lifetime

    _change_vpn(inventory, site, change)


def set_router_psk(inventory: Inventory, site: str, psk: str) -> None:
    """Set the PreSharedSecret of the site's peer entry, then apply (the tunnel renegotiates)."""
    SECRETS.add(psk)
    problems = [message for severity, _rule, message in psk_findings(psk) if severity == "error"]
    if problems:
        raise UnsupportedSetting(f"{site}: not setting the VPC router's key: {problems[0]}")
    peer = _peer_address(inventory, site)

    def change(vpn: SiteToSiteVpn, appliance: Appliance) -> None:
        entry = _peer_entry(vpn, peer)
        if entry is None:
            have = ", ".join(p.Peer for p in vpn.peers) or "none"
            raise NoPeerEntry(
                f"{site}: appliance {appliance.ID} has no site-to-site peer entry for {peer} "
                f"(it has: {have}); add one, or fix cloud.peer / tunnel.public_address in the "
                "inventory"
            )
        entry.PreSharedSecret = SecretStr(psk)

    _change_vpn(inventory, site, change)


def _peer_entry(vpn: SiteToSiteVpn, peer: str) -> SiteToSitePeer | None:
    return next((p for p in vpn.peers if p.Peer == peer), None)
