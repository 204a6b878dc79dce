"""Real charons still write what ``tests/data/real_charon_logs`` holds.

The cases are regenerated into a temporary folder by the code that wrote the fixtures
(``capture_router_logs``, on the suite's benches): the cases and their expectations
must be the stored ones, the referee must see each case's cause, no log may hold a
pre-shared key, and ``diagnose_log`` must say of each fresh log what
``test_vpn_log_real_charon`` requires of the stored one.  Time stamps, SPIs, message
IDs and thread numbers differ from run to run, so the texts are not compared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from capture_router_logs import FIXTURES, capture, problems, verdict_mismatches, write

from fitelctl.lab.strongswan.referee import Bench

pytestmark = pytest.mark.interop


def test_real_charons_write_logs_the_diagnosis_reads_as_the_fixtures_say(
    benches: dict[bool, Bench], tmp_path: Path
) -> None:
    captures = capture(benches)
    assert {c.case.name: problems(c) for c in captures if problems(c)} == {}
    write(captures, tmp_path)
    fresh = json.loads((tmp_path / "cases.json").read_text())
    assert fresh == json.loads((FIXTURES / "cases.json").read_text())
    wrong = {
        name: mismatches
        for name, record in fresh["cases"].items()
        if (
            mismatches := verdict_mismatches(
                record, (tmp_path / f"{name}.log").read_text(), fresh["peer"]
            )
        )
    }
    assert wrong == {}
