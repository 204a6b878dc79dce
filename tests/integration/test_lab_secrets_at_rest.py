"""The lab keeps its own secrets (host keys, client key, passwords, saved device configs
with PSKs) 0600, written the one way fitelctl writes private files, and still starts in
a group-writable state directory under ``umask 002`` (a lab is a throwaway)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from fitelctl.lab.runner import BackgroundLab, LabOptions


@pytest.fixture
def umask_002() -> Iterator[None]:
    previous = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_lab_in_a_group_writable_dir_starts_and_keeps_its_secrets_0600(
    tmp_path: Path, umask_002: None
) -> None:
    state = tmp_path / "lab"
    state.mkdir(mode=0o775)
    state.chmod(0o775)
    with BackgroundLab(LabOptions(state_dir=state, scenario="seed-v2-pending")) as running:
        running.sites["tokyo"].device.boot_config()  # the lab answers
    secrets = [
        *sorted((state / "secrets").iterdir()),
        state / "client_ed25519",
        *sorted((state / "hostkeys").iterdir()),
        *sorted((state / "lab-state" / "devices").iterdir()),
        state / "lab-state" / "router.json",
    ]
    assert secrets, "the lab wrote no secrets"
    loose = [f"{p.name} {stat.S_IMODE(p.stat().st_mode):o}" for p in secrets if p.is_file()]
    assert all(entry.endswith(" 600") for entry in loose), loose
    assert not list(state.rglob("*.tmp")), "a temporary file was left behind"
