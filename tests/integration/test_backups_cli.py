"""`fitelctl backups SITE` lists, `fitelctl backups prune` deletes old ones (issue 11, item 6)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import RunCli

EXAMPLE = Path(__file__).resolve().parents[2] / "inventory/examples/article-v1.yaml"


def _inventory_with_backups(tmp_path: Path, count: int) -> tuple[Path, list[Path]]:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(EXAMPLE.read_text())
    directory = tmp_path / "backups" / "tokyo"
    directory.mkdir(parents=True, mode=0o700)
    paths = [directory / f"2026110{day}T120000.000000Z.cfg" for day in range(1, count + 1)]
    for path in paths:
        path.write_text("local-key secret\n")
    return inventory, paths


def test_prune_json_says_what_it_removed_and_keeps_the_newest(tmp_path: Path, cli: RunCli) -> None:
    inventory, paths = _inventory_with_backups(tmp_path, 4)
    done = cli("-i", str(inventory), "backups", "prune", "tokyo", "--keep", "1", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["sites"] == [
        {"site": "tokyo", "kept": [str(paths[-1])], "removed": [str(p) for p in paths[:-1]]}
    ]
    assert [p.exists() for p in paths] == [False, False, False, True]
    listed = cli("-i", str(inventory), "backups", "tokyo", "--json")  # listing still works
    assert [b["path"] for b in json.loads(listed.stdout)["backups"]] == [str(paths[-1])]


def test_prune_dry_run_deletes_nothing(tmp_path: Path, cli: RunCli) -> None:
    inventory, paths = _inventory_with_backups(tmp_path, 3)
    done = cli("-i", str(inventory), "backups", "prune", "--all", "--keep", "2", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "tokyo: would remove 1 backup(s), kept 2" in done.stdout
    assert f"would remove {paths[0]}" in done.stdout
    assert all(p.exists() for p in paths)


def test_prune_bad_input_is_one_line_and_deletes_nothing(tmp_path: Path, cli: RunCli) -> None:
    inventory, paths = _inventory_with_backups(tmp_path, 2)
    for args, says in [
        (["tokyo", "--keep", "0"], "keep at least 1"),
        (["tokyo", "nowhere", "--keep", "1"], "nowhere"),
        (["--keep", "1"], "--all"),
        (["tokyo"], "--keep"),
    ]:
        done = cli("-i", str(inventory), "backups", "prune", *args)
        assert done.returncode != 0 and says in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
        assert all(p.exists() for p in paths)


def test_backups_without_a_site_is_one_line(tmp_path: Path, cli: RunCli) -> None:
    inventory, _ = _inventory_with_backups(tmp_path, 1)
    done = cli("-i", str(inventory), "backups")
    assert done.returncode == 2 and "Missing argument" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
