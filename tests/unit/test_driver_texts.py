"""How both drivers judge the published FITELnet texts (shared rules in drivers.base)."""

from __future__ import annotations

import re

import pytest

from fitelctl.fitelnet.drivers.base import (
    CONFIRM_PATTERN,
    OTHER_EDITS_MARKER,
    PROMPT_PATTERN,
    device_error_line,
)

# takamitsu-iida/pyats-fitelnet, unicon.plugins/README.md (FX201): "exit" refused in
# configuration mode, the input repeated with carets under the whole word.
REAL_INVALID = "\nexit\n^^^^\n<ERROR> Invalid input detected at '^' marker.\nfx201-pe1(config)#"
# same file: configure terminal while another session holds edits
REAL_OTHER_EDITOR = (
    "WARNING: Another users has already edited working.cfg.\n"
    "         Please check working.cfg.\n\nfx201-pe1(config)#"
)


def test_invalid_input_names_the_word_under_the_carets() -> None:
    assert device_error_line(REAL_INVALID) == (
        "<ERROR> Invalid input detected at '^' marker. (at 'exit')"
    )


@pytest.mark.parametrize(
    "text",
    [
        "<ERROR> Unrecognized command",
        "<ERROR> 'xyz' is Unrecognized command",  # pyats-fitelnet settings.py
        "<ERROR> Authentication failed",
    ],
)
def test_error_lines_are_refusals(text: str) -> None:
    assert device_error_line(f"\n{text}\n\nfx201-pe1#") == text


def test_without_carets_the_error_line_stands_alone() -> None:
    text = "<ERROR> Invalid input detected at '^' marker."
    assert device_error_line(f"{text}\n") == text


def test_the_other_editor_warning_is_noticed_but_is_no_refusal() -> None:
    assert OTHER_EDITS_MARKER in REAL_OTHER_EDITOR
    assert device_error_line(REAL_OTHER_EDITOR) is None


@pytest.mark.parametrize(
    "question",
    [
        "save ok?[y/N]:",
        "load ok?[y/N]:",
        "restore ok?[y/N]:",
        "refresh ok?[y/N]:",
        "reset ok?[y/N]:",
        "Disconnect OK?[y/N]:",
    ],
)
def test_every_published_question_is_a_question_not_a_prompt(question: str) -> None:
    assert re.search(CONFIRM_PATTERN, question, re.M)
    assert not re.search(PROMPT_PATTERN, question)
