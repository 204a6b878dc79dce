"""Runbook step arguments are checked against what each operation declares (issue 11, item 3).

A misspelt argument used to load fine and be ignored (`{availabilty: available,
timout: 5}` made router-wait return at once).  Now each kind of mistake is refused
before anything runs, with the file, the line and the closest valid name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fitelctl.inventory import Inventory
from fitelctl.runbook.base import StepArgumentError, StepContext
from fitelctl.runbook.engine import RunError, _call, check_arguments, resolve_parameters
from fitelctl.runbook.format import RunbookError, load_runbook
from fitelctl.runbook.library import available
from fitelctl.runbook.steps import OPERATIONS

HEAD = """\
name: t
description: test
parameters:
  wait_for: {default: 30}
steps:
  - id: first
    op: status
"""


def load_step(tmp_path: Path, step: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(HEAD + step)
    load_runbook(path, OPERATIONS)
    return path


def refused(tmp_path: Path, step: str) -> str:
    with pytest.raises(RunbookError) as err:
        load_step(tmp_path, step)
    return str(err.value)


def test_the_issues_example_is_refused_with_the_line_and_the_closest_name(tmp_path: Path) -> None:
    message = refused(
        tmp_path,
        "  - id: wait-up\n    op: router-wait\n    args: {availabilty: available, timout: 5}\n",
    )
    assert message == (
        f"{tmp_path / 't.yaml'}:10: step 'wait-up': `availabilty`: unknown argument of "
        "router-wait; did you mean `availability`?"
    )


@pytest.mark.parametrize(
    ("step", "line", "says"),
    [
        # misspelt: the closest valid name
        (
            "    args:\n      instance_status: down\n      timout: 5\n",
            12,
            "`timout`: unknown argument of router-wait; did you mean `timeout`?",
        ),
        # unknown, nothing close: the valid names
        (
            "    args: {instance_status: down, colour: red}\n",
            10,
            "`colour`: unknown argument of router-wait; it takes `instance_status`, "
            "`availability`, `timeout`, `interval`",
        ),
        # wrong type
        (
            "    args: {instance_status: down, timeout: soon}\n",
            10,
            "`timeout` of router-wait: expected a number, not 'soon'",
        ),
        # out of range
        (
            "    args:\n      instance_status: down\n      interval: 0\n",
            12,
            "`interval` of router-wait: must be at least 0.01, not 0",
        ),
        # not one of the choices
        (
            "    args: {instance_status: sleeping}\n",
            10,
            "`instance_status` of router-wait: must be one of up, cleaning, down, not 'sleeping'",
        ),
    ],
)
def test_each_kind_of_bad_argument_names_its_line(
    tmp_path: Path, step: str, line: int, says: str
) -> None:
    message = refused(tmp_path, "  - id: w\n    op: router-wait\n" + step)
    assert message.startswith(f"{tmp_path / 't.yaml'}:{line}: step 'w': "), message
    assert message.endswith(says), message


def test_a_missing_required_argument_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, "  - id: export\n    op: router-export\n")
    assert message.endswith(":8: step 'export': router-export needs argument `path`")


def test_yaml_booleans_where_a_word_is_expected_get_a_hint(tmp_path: Path) -> None:
    message = refused(tmp_path, "  - id: down\n    op: router-power\n    args: {state: off}\n")
    assert message.endswith(
        "`state` of router-power: expected a text, not False "
        "(YAML reads on/off/yes/no as booleans: quote it)"
    )


def test_wait_sub_arguments_are_checked(tmp_path: Path) -> None:
    misspelt = refused(tmp_path, "    wait: {until: {state: up}, timeout: 5, intervall: 1}\n")
    assert ":8: step 'first': wait: unknown key 'intervall'; did you mean 'interval'?" in misspelt
    negative = refused(tmp_path, "    wait: {until: {state: up}, timeout: -5}\n")
    assert "step 'first': wait: `timeout` must be at least 0, not -5" in negative


def test_a_misspelt_op_gets_the_closest_name(tmp_path: Path) -> None:
    message = refused(tmp_path, "  - id: w\n    op: router-wiat\n")
    assert "unknown op 'router-wiat' (did you mean `router-wait`?)" in message


def test_templates_load_and_are_checked_when_the_parameters_are_known(tmp_path: Path) -> None:
    path = load_step(
        tmp_path,
        "  - id: w\n    op: router-wait\n"
        '    args: {instance_status: down, timeout: "${wait_for}"}\n'
        '    wait: {until: {state: up}, timeout: "${wait_for}"}\n',
    )
    runbook = load_runbook(path, OPERATIONS)
    scope = {**resolve_parameters(runbook, {}), "site": "tokyo", "run_dir": "", "run_id": ""}
    check_arguments(runbook, scope)  # the default, 30, is a number
    scope = {**resolve_parameters(runbook, {"wait_for": "soon"}), "site": "tokyo"}
    with pytest.raises(RunError) as err:
        check_arguments(runbook, scope)
    assert str(err.value) == (
        f"{path}:10: step 'w': `timeout` of router-wait (from '${{wait_for}}'): expected a "
        "number, not 'soon'"
    )


def test_a_whole_value_from_an_earlier_step_loads_whatever_its_type(tmp_path: Path) -> None:
    load_step(
        tmp_path,
        '  - id: advice\n    op: inventory-advice\n    args: {changes: "${steps.first.cloud}"}\n',
    )


def test_values_from_earlier_steps_are_checked_when_the_step_runs(tmp_path: Path) -> None:
    router_wait = OPERATIONS["router-wait"]
    with pytest.raises(StepArgumentError, match="`timeout` of router-wait: expected a number"):
        router_wait.check({"instance_status": "down", "timeout": [1, 2]})
    ctx = StepContext(Inventory(sites={}), "tokyo", tmp_path)
    failed = _call(router_wait, ctx, {"instance_status": "down", "timeout": "soon"})
    assert not failed.ok and "expected a number, not 'soon'" in failed.summary


def test_declared_defaults_and_conversions_reach_the_operation() -> None:
    checked: dict[str, Any] = OPERATIONS["router-wait"].check(
        {"instance_status": "down", "timeout": "2.5"}
    )
    assert checked == {
        "instance_status": "down",
        "availability": None,
        "timeout": 2.5,
        "interval": 5.0,
    }


def test_every_shipped_runbook_passes_every_check_with_its_defaults() -> None:
    for path in available().values():
        runbook = load_runbook(path, OPERATIONS)
        scope = {**resolve_parameters(runbook, {}), "site": "tokyo", "run_dir": "r", "run_id": "i"}
        check_arguments(runbook, scope)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("timeout=soon", "--var timeout=soon: expected a number, not 'soon'"),
        ("timeout=-1", "--var timeout=-1: must be at least 0, not '-1'"),
    ],
)
def test_a_var_is_judged_by_the_same_rules_as_a_step_argument(
    tmp_path: Path, given: str, message: str
) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "name: t\ndescription: t\nparameters:\n  timeout: {type: number, min: 0, default: 5}\n"
        "steps:\n  - {id: s, op: router-wait, args: {timeout: '${timeout}'}}\n"
    )
    runbook = load_runbook(path, OPERATIONS)
    name, value = given.split("=")
    with pytest.raises(RunError, match="t: " + re.escape(message)):
        resolve_parameters(runbook, {name: value})
    assert resolve_parameters(runbook, {"timeout": "2.5"}) == {"timeout": 2.5}
