"""Data-driven template tests, as in ntc-templates.

Every ``<platform>/<command_dir>/<case>.raw`` here is parsed through the clitable
index (command = directory name with ``_`` as spaces) and must give exactly the
records of the sibling ``<case>.yml`` (``parsed_sample:``, lower-case keys, every
column as TextFSM returns it, secrets included). Adding a case is adding two files.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from textfsm import clitable

from fitelctl.parsing import INDEX_FILE, templates_dir

CASES_DIR = Path(__file__).resolve().parent
RAW_FILES = sorted(CASES_DIR.glob("*/*/*.raw"))


def _case_id(raw: Path) -> str:
    return str(raw.relative_to(CASES_DIR))


def _records(table: clitable.CliTable) -> list[dict[str, str]]:
    return [
        {str(name).lower(): value for name, value in zip(table.header, row, strict=True)}
        for row in table
    ]


def test_cases_exist() -> None:
    assert RAW_FILES, f"no *.raw under {CASES_DIR}"


@pytest.mark.parametrize("raw", RAW_FILES, ids=_case_id)
def test_template_gives_expected_records(raw: Path) -> None:
    expected_file = raw.with_suffix(".yml")
    assert expected_file.is_file(), f"{raw.name} has no {expected_file.name} beside it"
    expected = yaml.safe_load(expected_file.read_text(encoding="utf-8"))["parsed_sample"]
    platform, command = raw.parent.parent.name, raw.parent.name.replace("_", " ")

    table = clitable.CliTable(INDEX_FILE, str(templates_dir()))
    output = raw.read_bytes().decode("utf-8")  # keeps CRLF line ends as captured
    table.ParseCmd(output, {"Command": command, "Platform": platform})

    assert _records(table) == expected


def test_every_indexed_template_has_a_case() -> None:
    with (templates_dir() / INDEX_FILE).open(encoding="utf-8") as handle:
        rows = [line for line in handle if line.strip() and not line.startswith("#")]
    entries = list(csv.DictReader(rows, skipinitialspace=True))
    tested = {f"{raw.parent.parent.name}_{raw.parent.name}.textfsm" for raw in RAW_FILES}
    assert entries
    for entry in entries:
        assert entry["Template"] in tested, f"{entry['Template']} has no test case"
