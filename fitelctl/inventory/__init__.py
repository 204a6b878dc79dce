"""The inventory: sites, their devices and tunnels, and references to secrets.

Secrets are never values in the file, only references (``env:NAME``,
``file:PATH``, ``keyring:SERVICE/USER``), resolved at the moment they are
needed and registered with ``redact.SECRETS`` so that no output can carry them.
Every validation error names the file, the key and what is wrong.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from fitelctl.errors import FitelctlError
from fitelctl.fitelnet.drivers.base import DriverKind
from fitelctl.ike import CloudPeer
from fitelctl.inventory.strict import StrictModel
from fitelctl.inventory.tunnel import Cloud, Tunnel
from fitelctl.redact import SECRETS
from fitelctl.secret_refs import SecretRef

DEFAULT_INVENTORY = Path("inventory/inventory.yaml")
#: libyaml's safe loader when PyYAML has it: 4x faster on a 200-site inventory
#: (0.11 s -> 0.03 s here), the same documents and errors; else the pure-Python one
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class InventoryError(FitelctlError):
    """The inventory is missing, unreadable or invalid."""


class SecretError(FitelctlError):
    """A secret reference does not resolve."""


class EmptySecretError(SecretError):
    """A secret reference resolves, to nothing."""


class Device(StrictModel):
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    password: SecretRef | None = None
    enable_password: SecretRef | None = None
    private_key: Path | None = None
    driver: DriverKind | None = None
    connect_timeout: float | None = Field(default=None, gt=0)
    command_timeout: float | None = Field(default=None, gt=0)
    #: what the operator says the box is (e.g. "F220", "01.12(00)"); only ``check``
    #: reads it, to say what depends on it (``status`` reads the real one)
    model: str | None = None
    firmware: str | None = None


class Site(StrictModel):
    device: Device
    tunnel: Tunnel
    cloud: Cloud

    def cloud_peer(self, *, psk: str = "", router_up: bool = True) -> CloudPeer:
        """The cloud side as the inventory describes it, for the negotiation model."""
        cloud, tunnel = self.cloud, self.tunnel
        return CloudPeer(
            router_version=cloud.version,
            router_up=router_up,
            global_address=cloud.global_address,
            peer=tunnel.cloud_peer_address(cloud),
            remote_id=tunnel.cloud_remote_id(cloud),
            psk=psk,
            encryption_algo=cloud.encryption_algo,
            hash_algo=cloud.hash_algo,
            dh_group=cloud.dh_group,
            ike_lifetime=cloud.ike_lifetime,
            esp_lifetime=cloud.esp_lifetime,
        )


class Defaults(StrictModel):
    driver: DriverKind = "asyncssh"
    known_hosts: Path = Path("known_hosts")
    connect_timeout: float = Field(default=10.0, gt=0)
    command_timeout: float = Field(default=30.0, gt=0)
    workers: int = Field(default=16, ge=1, le=512)
    backup_dir: Path = Path("backups")
    audit_log: Path = Path("audit.jsonl")
    verify_timeout: float = Field(default=60.0, gt=0)


class Api(StrictModel):
    """How to reach the Sakura Cloud API; the ``SAKURACLOUD_*`` environment overrides it."""

    root_url: str | None = None
    zone: str | None = None
    token: SecretRef | None = None
    secret: SecretRef | None = None
    retry_max: int | None = Field(default=None, ge=0, le=100)
    timeout: float | None = Field(default=None, gt=0)
    rate_limit: float | None = Field(
        default=None, gt=0, description="requests per second this process sends (default 10)"
    )
    migration_call: str | None = Field(
        default=None,
        description="METHOD PATH FIELD of the v1->v2 migration call (UNKNOWN publicly)",
    )


class Inventory(StrictModel):
    version: Literal[1] = 1
    defaults: Defaults = Defaults()
    api: Api = Api()
    sites: dict[str, Site]
    #: the directory of the inventory file: relative paths are relative to it
    base_dir: Path = Field(default=Path("."), exclude=True)

    def site(self, name: str) -> Site:
        if name not in self.sites:
            known = ", ".join(sorted(self.sites)) or "none"
            raise InventoryError(f"unknown site '{name}' (inventory has: {known})")
        return self.sites[name]

    def select(self, names: list[str]) -> list[str]:
        """The named sites (validated), or every site when none is named."""
        for name in names:
            self.site(name)
        return names or list(self.sites)

    def with_site_changes(self, site: str, changes: dict[str, Any]) -> Inventory:
        """A copy with ``changes`` ({"tunnel.preset": "sakura-v2", ...}) validated in.

        Runbooks use it to act on a state the inventory does not describe yet
        (after a migration, with a new PSK) without editing the file.
        """
        self.site(site)
        data = self.model_dump(mode="json", exclude_none=True)
        for dotted, value in changes.items():
            target = data["sites"][site]
            *parents, last = dotted.split(".")
            for part in parents:
                target = target.setdefault(part, {})
            target[last] = value
        return _validated({**data, "base_dir": self.base_dir}, where="changed inventory")

    def path(self, relative: Path) -> Path:
        return relative if relative.is_absolute() else self.base_dir / relative

    def known_hosts(self) -> Path:
        return self.path(self.defaults.known_hosts)


def inventory_path(option: Path | None) -> Path:
    """``-i`` wins, then ``$FITELCTL_INVENTORY``, then ``./inventory/inventory.yaml``."""
    if option is not None:
        return option
    env = os.environ.get("FITELCTL_INVENTORY")
    return Path(env) if env else DEFAULT_INVENTORY


def load_inventory(path: Path) -> Inventory:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError(
            f"{path}: inventory not found (use -i PATH or set FITELCTL_INVENTORY)"
        ) from None
    except UnicodeDecodeError as err:
        line = err.object[: err.start].count(b"\n") + 1
        raise InventoryError(f"{path}: line {line} is not UTF-8 text") from None
    except OSError as err:
        raise InventoryError(f"{path}: cannot read inventory: {err.strerror}") from None
    try:
        data: Any = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as err:
        at = _yaml_error_line(err, text)
        where = f" line {at}" if at else ""
        raise InventoryError(f"{path}:{where} is not valid YAML") from None
    if not isinstance(data, dict):
        raise InventoryError(f"{path}: expected a mapping with 'sites' at the top")
    return _validated({**data, "base_dir": path.parent}, where=str(path))


def _yaml_error_line(err: yaml.YAMLError, text: str) -> int | None:
    """The line a YAML error is on: its mark, or for a character YAML refuses, its position."""
    mark = getattr(err, "problem_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(err, "position", None)
    return text.count("\n", 0, position) + 1 if isinstance(position, int) else None


def _validated(data: dict[str, Any], *, where: str) -> Inventory:
    """The model, or one line naming where, the key and what is wrong (never the value)."""
    try:
        return Inventory.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(_readable(str(part)) for part in first["loc"])
        raise InventoryError(f"{where}: {key}: {_message(first)}") from None


def _readable(text: str) -> str:
    """A key or name as written; quoted when empty, padded or holding a control character
    (a line break would split the one-line error)."""
    return text if text and text.isprintable() and text == text.strip() else repr(text)


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (typo?)"
    if error["type"] == "missing":
        return "required key is missing"
    return str(error["msg"]).removeprefix("Value error, ")


def resolve_secret(ref: str, inventory: Inventory, *, what: str) -> str:
    """The secret's value; registered for redaction before anyone can print it."""
    scheme, _, target = ref.partition(":")
    if scheme == "env":
        value = os.environ.get(target)
        if value is None:
            raise SecretError(f"{what}: environment variable {_readable(target)} is not set")
    elif scheme == "file":
        path = inventory.path(Path(target))
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, ValueError) as err:
            shown = _readable(str(path))
            raise SecretError(f"{what}: cannot read secret file {shown}: {_why(err)}") from None
    else:
        value = _keyring_secret(target, what)
    if not value:
        raise EmptySecretError(
            f"{what}: secret reference {_readable(ref)} resolves to an empty value"
        )
    return SECRETS.add(value)


def _why(err: OSError | ValueError) -> str:
    """Why a secret file cannot be read, in a few words (never its content)."""
    if isinstance(err, OSError):
        return str(err.strerror)
    return "not UTF-8 text" if isinstance(err, UnicodeDecodeError) else "not a valid path"


def _keyring_secret(target: str, what: str) -> str:
    service, _, user = target.partition("/")
    try:
        import keyring  # type: ignore[import-not-found]
    except ImportError:
        raise SecretError(f"{what}: keyring:{target} needs the 'keyring' package") from None
    value = keyring.get_password(service, user)
    if value is None:
        raise SecretError(f"{what}: no keyring entry for service '{service}' user '{user}'")
    return str(value)
