"""What the fuzz tests share: one reproducible hypothesis profile and text mutations.

``fuzz(N)`` is derandomized (the same examples on every run, so CI is reproducible)
and keeps no example database in the tree. The mutations are the ways saved
device output, logs and YAML go wrong in practice: a line lost, repeated, cut,
two lines swapped, a number changed, bytes of garbage, a file cut short.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

_FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: any text, control characters and non-ASCII included
GARBAGE = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40).map(lambda raw: raw.decode("utf-8", errors="replace")),
    st.sampled_from(["\t", "\r", "\x00", "\x1b[0m", "\ufeff", "\uff1a", "\u2010", " " * 80]),
)


def fuzz(examples: int) -> settings:
    """The shared profile with ``examples`` examples per test."""
    return settings(_FUZZ, max_examples=examples)


_NUMBER = re.compile(r"\d+")


def _index(draw: st.DrawFn, lines: list[str]) -> int:
    return draw(st.integers(0, max(len(lines) - 1, 0)))


def _delete(draw: st.DrawFn, lines: list[str]) -> list[str]:
    i = _index(draw, lines)
    return lines[:i] + lines[i + 1 :]


def _duplicate(draw: st.DrawFn, lines: list[str]) -> list[str]:
    i = _index(draw, lines)
    return lines[: i + 1] + lines[i:]


def _truncate_line(draw: st.DrawFn, lines: list[str]) -> list[str]:
    i = _index(draw, lines)
    if not lines:
        return lines
    cut = draw(st.integers(0, len(lines[i])))
    return [*lines[:i], lines[i][:cut], *lines[i + 1 :]]


def _swap(draw: st.DrawFn, lines: list[str]) -> list[str]:
    i, j = _index(draw, lines), _index(draw, lines)
    if not lines:
        return lines
    swapped = list(lines)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    return swapped


def _garbage_line(draw: st.DrawFn, lines: list[str]) -> list[str]:
    i = draw(st.integers(0, len(lines)))
    return [*lines[:i], draw(GARBAGE), *lines[i:]]


def _garbage_in_line(draw: st.DrawFn, lines: list[str]) -> list[str]:
    if not lines:
        return lines
    i = _index(draw, lines)
    at = draw(st.integers(0, len(lines[i])))
    text = lines[i][:at] + draw(GARBAGE) + lines[i][at:]
    return [*lines[:i], *text.splitlines(), *lines[i + 1 :]]


def _change_number(draw: st.DrawFn, lines: list[str]) -> list[str]:
    numbered = [i for i, line in enumerate(lines) if _NUMBER.search(line)]
    if not numbered:
        return lines
    i = draw(st.sampled_from(numbered))
    new = draw(
        st.sampled_from(["0", "-1", "00", "4294967296", "99999999999999999999999", "1e9", ""])
        | st.integers(0, 10**12).map(str)
    )
    matches = list(_NUMBER.finditer(lines[i]))
    which = draw(st.sampled_from(matches))
    line = lines[i][: which.start()] + new + lines[i][which.end() :]
    return [*lines[:i], line, *lines[i + 1 :]]


def _cut_file(draw: st.DrawFn, lines: list[str]) -> list[str]:
    return lines[: _index(draw, lines)]


LINE_MUTATIONS = (
    _delete,
    _duplicate,
    _truncate_line,
    _swap,
    _garbage_line,
    _garbage_in_line,
    _change_number,
    _cut_file,
)


@st.composite
def mutated_lines(draw: st.DrawFn, lines: list[str], max_mutations: int = 4) -> list[str]:
    """``lines`` after one to ``max_mutations`` random line mutations."""
    for _ in range(draw(st.integers(1, max_mutations))):
        mutate = draw(st.sampled_from(LINE_MUTATIONS))
        lines = mutate(draw, lines)
    return lines
