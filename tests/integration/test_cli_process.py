"""The ``cli`` fixture (fitelctl in the test process) answers as ``python -m fitelctl`` does.

Most tests run the command line in the test process (tests/helpers.py) to save a
child process's imports per call.  These run the same commands in a real child
process too and compare all a user sees: exit code, stdout, stderr.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, RunCli, StartLab
from helpers import lab_inventory_path

ARTICLE = ROOT / "tests/parsers/furukawa_fitelnet/show_crypto_sa/ipsec_format_article.raw"


def seen(result: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--help"],
        ["backups", "prune", "--help"],
        ["nosuch"],  # usage errors name the program: python -m fitelctl
        ["status", "--workers", "0"],
        ["-i", "missing/inventory.yaml", "status"],
        ["parse", "show crypto sa", str(ARTICLE)],
        ["parse", "show crypto sa", "missing.raw"],
    ],
    ids=" ".join,
)
def test_same_answer_as_a_child_process(cli: RunCli, cli_process: RunCli, args: list[str]) -> None:
    assert seen(cli(*args)) == seen(cli_process(*args))


def test_same_answer_against_a_lab(start_lab: StartLab, cli: RunCli, cli_process: RunCli) -> None:
    """JSON on stdout, the debug log on stderr; counters and lifetimes move between the two
    runs, everything else is the same."""
    args = ("-i", str(lab_inventory_path(start_lab())), "--debug", "status", "--json")
    here, child = seen(cli(*args)), seen(cli_process(*args))
    assert "fitelctl: debug: " in here[2]
    assert re.sub(r"\d+", "N", repr(here)) == re.sub(r"\d+", "N", repr(child))


def test_a_run_leaves_nothing_behind_for_the_next(cli: RunCli, tmp_path: Path) -> None:
    """``--debug`` and the inventory option last one run, as in a process of their own."""
    assert cli("--debug", "-i", str(tmp_path / "none.yaml"), "parse", "x", "y").returncode != 0
    result = cli("status")  # the default inventory again: ./inventory/inventory.yaml
    assert "none.yaml" not in result.stderr and "debug" not in result.stderr
