"""The router's log diagnosis on logs real charons wrote (``tests/data/real_charon_logs``).

The logs come from ``tests/interop/capture_router_logs.py``: two real strongSwan 5.9
charons negotiate the article's configs with one thing changed each, in both roles,
with and without NAT (the router initiating through the office's NAT over the mapping
the F220's earlier tunnel left), and the router's log is kept in the router's syslog form.
``cases.json`` says what each log must be diagnosed as: the cause the bench's referee
saw, whether the router is rate-limiting the office, and what the detail must quote
(the parameter that differs and the F220 line that fixes it, where the router's log
can show them).  ``tests/interop/test_router_logs_fresh.py`` regenerates the logs and
checks the same, so that these fixtures cannot drift from real charons.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import NEGOTIATED_CAUSES

from fitelctl.vpn_log import diagnose_log

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "real_charon_logs"
DOCUMENT: dict[str, Any] = json.loads((FIXTURES / "cases.json").read_text())
CASES: dict[str, dict[str, Any]] = DOCUMENT["cases"]
SYSLOG_LINE = re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d rt-\d{12} charon: \d+\[\w+\] ")
LAB_ADDRESS = re.compile(r"\b198\.1[89]\.\d+\.\d+")


def log_of(name: str) -> str:
    return (FIXTURES / f"{name}.log").read_text()


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_real_charon_log_is_diagnosed_as_the_referee_saw_it(name: str) -> None:
    case = CASES[name]
    verdict = diagnose_log(log_of(name), peer=DOCUMENT["peer"])
    assert verdict.cause == case["cause"], verdict.detail
    assert verdict.rate_limited == case["rate_limited"], verdict.detail
    for quote in case["detail_quotes"]:
        assert quote in verdict.detail


def test_where_the_log_shows_them_the_detail_must_name_parameter_and_line() -> None:
    """The F220 initiating, the router's log lists what differs: the quotes may not skip it."""
    for name, case in CASES.items():
        if case["role"] == "responder":
            wanted = [w for w in (case["parameter"], case["f220_line"]) if w]
            assert set(wanted) <= set(case["detail_quotes"]), name


def test_the_cases_cover_every_failure_class_both_roles_and_nat() -> None:
    causes = {case["cause"] for case in CASES.values()}
    assert causes == NEGOTIATED_CAUSES
    assert {(case["role"], case["nat"]) for case in CASES.values()} == {
        ("responder", False),
        ("responder", True),
        ("initiator", False),
        ("initiator", True),
    }
    assert sum(case["rate_limited"] for case in CASES.values()) == 2


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_log_is_in_the_routers_syslog_form_and_speaks_of_config_addresses(name: str) -> None:
    lines = log_of(name).splitlines()
    assert lines
    assert [line for line in lines if not SYSLOG_LINE.match(line)] == []
    assert LAB_ADDRESS.findall(log_of(name)) == []
