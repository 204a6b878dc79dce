"""Runbook files: every shipped one loads; a broken one is refused with the line and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from fitelctl.runbook.engine import RunError, resolve_parameters
from fitelctl.runbook.format import RunbookError, load_runbook
from fitelctl.runbook.library import available
from fitelctl.runbook.steps import OPERATIONS

OPS = OPERATIONS

GOOD = """\
name: t
description: test
parameters:
  timeout: {type: number, default: 5, min: 1}
  side: {default: both, choices: [cloud, device, both]}
steps:
  - id: first
    op: status
  - id: second
    op: reconnect
    args: {side: "${side}", timeout: "${timeout}"}
    on_failure: [why]
recovery:
  - id: why
    op: diagnose
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    return path


def test_every_shipped_runbook_loads() -> None:
    names = set(available())
    assert {"reconnect", "rollback", "tunnel-down"} <= names
    for path in available().values():
        runbook = load_runbook(path, OPS)
        assert runbook.description and runbook.steps


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("op: reconnect", "op: reconect"), 10, "unknown op 'reconect'"),
        (("    on_failure: [why]", "    on_failure: [who]"), 9, "on_failure names 'who'"),
        (('"${side}"', '"${sides}"'), 9, "unknown name 'sides'"),
        (("  - id: second", "  - id: first"), 9, "step id 'first' is used twice"),
        (("    args:", "    argz:"), 9, "unknown key 'argz'"),
        (("type: number", "type: nombre"), 4, "type must be one of"),
        (("steps:", "stepz:"), 1, "unknown key 'stepz'"),
        (("    op: status\n", "    op: [status\n"), 9, "not valid YAML"),
        (
            ('timeout: "${timeout}"', "timeout: !seconds 5"),
            11,
            "not valid YAML (could not determine a constructor for the tag '!seconds')",
        ),
        (("default: 5,", "default: !!python/name:os.system 5,"), 4, "python/name:os.system"),
    ],
)
def test_errors_name_the_line_and_what_is_wrong(
    tmp_path: Path, change: tuple[str, str], line: int, message: str
) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(RunbookError) as err:
        load_runbook(path, OPS)
    assert str(err.value).startswith(f"{path}:{line}: "), str(err.value)
    assert message in str(err.value)


def test_references_to_later_steps_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace("    op: status\n", "    op: status\n    when: {second.result: ok}\n", 1)
    with pytest.raises(RunbookError, match=r"'second\.result'"):
        load_runbook(write(tmp_path, text), OPS)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"timeout": "abc"}, "expected a number"),
        ({"timeout": "0"}, "at least 1"),
        ({"side": "left"}, "one of cloud, device, both"),
        ({"colour": "red"}, "unknown --var colour"),
    ],
)
def test_parameters_are_validated(tmp_path: Path, given: dict[str, str], message: str) -> None:
    runbook = load_runbook(write(tmp_path, GOOD), OPS)
    with pytest.raises(RunError, match=message):
        resolve_parameters(runbook, given)
    assert resolve_parameters(runbook, {"timeout": "7"}) == {"timeout": 7.0, "side": "both"}
