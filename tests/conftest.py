"""Shared fixtures: labs started in-process on free 127.0.0.1 ports, ready before use."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from fitelctl.lab.runner import BackgroundLab, Lab, LabOptions

ROOT = Path(__file__).resolve().parents[1]

StartLab = Callable[..., Lab]


@pytest.fixture
def start_lab(tmp_path: Path) -> Iterator[StartLab]:
    """``start_lab(scenario=..., sites=..., faults=(...), sa_format=...)`` → a running Lab."""
    with ExitStack() as stack:
        count = 0

        def start(**options: object) -> Lab:
            nonlocal count
            count += 1
            state_dir = tmp_path / f"lab{count}"
            state_dir.mkdir()
            return stack.enter_context(BackgroundLab(LabOptions(state_dir=state_dir, **options)))  # type: ignore[arg-type]

        yield start


RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli() -> RunCli:
    """Run the real command line in a child process (exit codes and stderr as users see them)."""

    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fitelctl", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            env=env,
        )

    return run
