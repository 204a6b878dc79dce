"""ruff and strict mypy are part of the test suite, so CI enforces them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


LINTED = ("fitelctl", "tests", "benchmarks")


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", *LINTED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = run("ruff", "format", "--check", *LINTED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    # the paths are pyproject.toml's [tool.mypy] files: fitelctl, tests and benchmarks
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
