"""Device config backups on disk: one file per apply, timestamped, never overwritten.

A backup is the exact ``show current.cfg`` text, PSK included, because a rollback
must put back exactly what ran.  So the files are private (0600 in a 0700
directory that nobody else can write to, see ``fitelctl.private_files``) and
nothing prints them; ``backups`` lists names, times and sizes, and ``prune``
keeps the newest N per site so old keys do not pile up on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fitelctl.errors import FitelctlError
from fitelctl.inventory import Inventory
from fitelctl.private_files import UnsafeDirectory, write_private_file


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
    now = datetime.now(UTC)
    path = directory / f"{now:%Y%m%dT%H%M%S.%fZ}.cfg"
    try:
        write_private_file(path, config_text, overwrite=False, root=inventory.base_dir)
    except UnsafeDirectory as err:
        raise BackupError(
            f"{site}: not writing the backup: {err}; the device was not changed"
        ) from None
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


@dataclass(frozen=True)
class Pruned:
    site: str
    kept: list[Backup]
    removed: list[Backup]


def prune_backups(inventory: Inventory, site: str, keep: int, *, dry_run: bool = False) -> Pruned:
    """Delete all but the newest ``keep`` backups of ``site`` (``keep`` ≥ 1: never the newest).

    Only files named as ``save_backup`` names them are considered; anything else in
    the directory is left alone.  With ``dry_run`` nothing is deleted.
    """
    if keep < 1:
        raise BackupError(f"--keep {keep}: keep at least 1 backup (the newest is never deleted)")
    backups = list_backups(inventory, site)
    kept, removed = backups[-keep:], backups[:-keep]
    if not dry_run:
        for backup in removed:
            try:
                backup.path.unlink()
            except FileNotFoundError:
                continue
            except OSError as err:
                raise BackupError(
                    f"{site}: cannot delete {backup.path}: {err.strerror} "
                    f"(deleted before it: {removed.index(backup)})"
                ) from None
    return Pruned(site, kept, removed)
