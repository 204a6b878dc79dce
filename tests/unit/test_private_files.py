"""Secrets at rest: 0600 files in directories nobody else can write (issue 11, item 6)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from fitelctl.inventory import load_inventory
from fitelctl.ops.backups import BackupError, list_backups, prune_backups, save_backup
from fitelctl.private_files import UnsafeDirectory, append_private_line, write_private_file
from fitelctl.runbook.engine import RunRecord

EXAMPLE = Path(__file__).resolve().parents[2] / "inventory/examples/article-v1.yaml"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def inventory_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "inv"
    directory.mkdir()
    (directory / "inventory.yaml").write_text(EXAMPLE.read_text())
    return directory


def test_new_files_are_0600_in_new_0700_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "secret.json"
    write_private_file(path, "psk", root=tmp_path)
    assert path.read_text() == "psk" and mode(path) == 0o600
    assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700
    append_private_line(tmp_path / "c" / "run.jsonl", "{}")
    assert mode(tmp_path / "c" / "run.jsonl") == 0o600 and mode(tmp_path / "c") == 0o700


@pytest.mark.parametrize("bits", [0o770, 0o707, 0o777])
def test_a_directory_others_can_write_is_refused_with_the_fix(tmp_path: Path, bits: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(bits)
    with pytest.raises(UnsafeDirectory) as err:
        write_private_file(shared / "backup.cfg", "local-key secret", root=tmp_path)
    message = str(err.value)
    assert "\n" not in message and f"chmod 700 {shared}" in message
    assert f"mode {bits:04o}" in message
    assert list(shared.iterdir()) == []  # nothing written, not even a temporary file


def test_a_writable_parent_under_the_inventory_directory_is_refused(tmp_path: Path) -> None:
    parent = tmp_path / "backups"
    parent.mkdir()
    parent.chmod(0o777)
    with pytest.raises(UnsafeDirectory, match=f"chmod 700 {parent}`"):
        write_private_file(parent / "tokyo" / "x.cfg", "text", root=tmp_path)
    assert not (parent / "tokyo" / "x.cfg").exists()


def test_the_inventory_directory_itself_and_sticky_parents_are_not_judged(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    root.mkdir()
    root.chmod(0o775)  # an operator's checkout under umask 002
    sticky = root / "scratch"
    sticky.mkdir()
    sticky.chmod(0o1777)  # like /tmp: others cannot replace what is ours
    write_private_file(sticky / "mine" / "x.cfg", "text", root=root)
    assert mode(sticky / "mine") == 0o700


def test_backups_refused_in_a_group_writable_directory(inventory_dir: Path) -> None:
    inventory = load_inventory(inventory_dir / "inventory.yaml")
    (inventory_dir / "backups").mkdir(mode=0o700)
    (inventory_dir / "backups").chmod(0o770)
    with pytest.raises(BackupError) as err:
        save_backup(inventory, "tokyo", "local-key secret\n")
    assert "the device was not changed" in str(err.value)
    assert f"chmod 700 {inventory_dir / 'backups'}" in str(err.value)
    assert not (inventory_dir / "backups" / "tokyo").exists()


def test_backups_are_0600_in_a_0700_directory(inventory_dir: Path) -> None:
    inventory = load_inventory(inventory_dir / "inventory.yaml")
    backup = save_backup(inventory, "tokyo", "local-key secret\n")
    assert mode(backup.path) == 0o600 and mode(backup.path.parent) == 0o700
    assert backup.read() == "local-key secret\n"


def _backups(inventory_dir: Path, count: int) -> list[Path]:
    directory = inventory_dir / "backups" / "tokyo"
    directory.mkdir(parents=True, mode=0o700)
    paths = [directory / f"2026110{day}T120000.000000Z.cfg" for day in range(1, count + 1)]
    for path in paths:
        path.write_text(f"config of {path.stem}\n")
    (directory / "notes.txt").write_text("not a backup")
    return paths


def test_prune_keeps_the_newest_and_leaves_other_files(inventory_dir: Path) -> None:
    inventory = load_inventory(inventory_dir / "inventory.yaml")
    paths = _backups(inventory_dir, 5)
    dry = prune_backups(inventory, "tokyo", 2, dry_run=True)
    assert [b.path for b in dry.removed] == paths[:3] and all(p.exists() for p in paths)
    done = prune_backups(inventory, "tokyo", 2)
    assert [b.path for b in done.kept] == paths[3:]
    assert [b.path for b in list_backups(inventory, "tokyo")] == paths[3:]
    assert (paths[0].parent / "notes.txt").exists()
    assert prune_backups(inventory, "tokyo", 10).removed == []


def test_prune_never_deletes_the_newest(inventory_dir: Path) -> None:
    inventory = load_inventory(inventory_dir / "inventory.yaml")
    paths = _backups(inventory_dir, 2)
    with pytest.raises(BackupError, match="keep at least 1"):
        prune_backups(inventory, "tokyo", 0)
    assert all(p.exists() for p in paths)
    prune_backups(inventory, "tokyo", 1)
    assert [p.exists() for p in paths] == [False, True]


def test_run_records_refused_where_others_can_write(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    runs.chmod(0o777)
    with pytest.raises(UnsafeDirectory, match="chmod 700"):
        RunRecord.create(runs, "reconnect", "tokyo", root=tmp_path)
    assert list(runs.iterdir()) == []


@pytest.mark.parametrize(("durable", "syncs"), [(True, 2), (False, 0)])
def test_a_durable_write_is_synced_and_the_labs_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durable: bool, syncs: int
) -> None:
    """The file and the rename are fsynced for fitelctl's own records; the lab's state,
    saved while it answers a request, only has to survive its process being killed."""
    import os

    synced: list[int] = []
    real_fsync = os.fsync

    def counted_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counted_fsync)
    path = tmp_path / "state" / "router.json"
    write_private_file(path, "{}\n", guard=False, durable=durable)
    assert path.read_text() == "{}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(synced) == syncs
