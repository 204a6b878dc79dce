"""Failures around the device: nothing sent means nothing to undo; a failed undo says so."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.fitelnet.drivers import DeviceTarget, DeviceUnreachable, SessionDropped
from fitelctl.inventory import Inventory, load_inventory
from fitelctl.ops import apply as apply_ops
from fitelctl.ops.apply import ApplyOptions, Plan, SiteOutcome, execute_plan

ROOT = Path(__file__).resolve().parents[2]
TARGET = DeviceTarget(
    site="tokyo",
    host="127.0.0.1",
    port=22,
    username="u",
    password=None,
    enable_password=None,
    known_hosts=None,
)


class DropsOnConfigure:
    """A device session that shows a config, then drops when configured."""

    def __enter__(self) -> DropsOnConfigure:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def show(self, command: str) -> str:
        return "x\n"

    def configure(self, lines: Sequence[str], *, other_edits_ok: bool = False) -> str:
        raise SessionDropped(TARGET, "during configure")


def inventory(tmp_path: Path) -> Inventory:
    example = (ROOT / "inventory" / "examples" / "article-v2.yaml").read_text()
    (tmp_path / "inventory.yaml").write_text(example)
    return load_inventory(tmp_path / "inventory.yaml")


def plan() -> Plan:
    return Plan("tokyo", [" group 14"], ConfigTree(), SiteOutcome("tokyo"), backup_text="x\n")


def test_unreachable_before_sending_leaves_nothing_to_undo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: Any) -> Any:
        raise DeviceUnreachable(TARGET, "connection refused")

    monkeypatch.setattr(apply_ops, "connect_site", unreachable)
    outcome = execute_plan(inventory(tmp_path), plan(), ApplyOptions())
    assert outcome.result == "failed" and outcome.saved is False
    assert "connection refused" in outcome.problems[0]
    assert "nothing was sent" in outcome.problems[-1]


def test_failed_rollback_says_what_runs_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = iter([DropsOnConfigure()])

    def connect(*args: Any) -> Any:
        session = next(sessions, None)
        if session is None:
            raise DeviceUnreachable(TARGET, "connection refused")
        return session

    monkeypatch.setattr(apply_ops, "connect_site", connect)
    outcome = execute_plan(inventory(tmp_path), plan(), ApplyOptions())
    assert outcome.result == "failed" and outcome.saved is False
    assert "ROLLBACK FAILED" in outcome.problems[-1]
    assert "NOT saved" in outcome.problems[-1] and "reboot" in outcome.problems[-1]
    assert str(tmp_path / "backups" / "tokyo") in outcome.problems[-1]
    assert (tmp_path / "audit.jsonl").read_text().count('"result": "failed"') == 1
