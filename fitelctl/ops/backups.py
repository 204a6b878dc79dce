"""Device config backups on disk: one file per apply, timestamped, never overwritten.

A backup is the exact ``show current.cfg`` text, PSK included, because a rollback
must put back exactly what ran.  So the files are private (0600 in a 0700
directory) and nothing prints them; ``backups`` lists names, times and sizes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fitelctl.errors import FitelctlError
from fitelctl.inventory import Inventory


class BackupError(FitelctlError):
    pass


@dataclass(frozen=True)
class Backup:
    site: str
    path: Path
    taken_at: datetime
    size: int

    def read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except OSError as err:
            raise BackupError(f"cannot read backup {self.path}: {err.strerror}") from None


def _site_dir(inventory: Inventory, site: str) -> Path:
    return inventory.path(inventory.defaults.backup_dir) / site


def save_backup(inventory: Inventory, site: str, config_text: str) -> Backup:
    directory = _site_dir(inventory, site)
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        now = datetime.now(UTC)
        path = directory / f"{now:%Y%m%dT%H%M%S.%fZ}.cfg"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(config_text)
    except OSError as err:
        raise BackupError(
            f"{site}: cannot write the backup into {directory}: {err.strerror}; "
            "nothing was changed on the device"
        ) from None
    return Backup(site, path, now, len(config_text.encode()))


def list_backups(inventory: Inventory, site: str) -> list[Backup]:
    """Oldest first."""
    inventory.site(site)
    directory = _site_dir(inventory, site)
    if not directory.is_dir():
        return []
    backups = []
    for path in sorted(directory.glob("*.cfg")):
        try:
            taken = datetime.strptime(path.stem, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            continue
        backups.append(Backup(site, path, taken, path.stat().st_size))
    return backups
