"""`show crypto sa` read the same however the capture was mangled on its way.

Every saved ``show crypto sa`` case under ``tests/parsers`` (the published F220
V01.11 captures and the old-format ones) is rewritten the ways a real capture
differs from a clean one: lines of a block in another order (IKE block, child main
part, IN sub-block, OUT sub-block each shuffled in place), extra blank lines, CRLF
line ends, trailing spaces, pager remnants (``less``'s ``:`` prompt, the real
FITELnet pager, and the lab's ``--More--`` erased with carriage returns), field
names in another letter case. Each must give exactly the records of the original.
A line never seen, inside a recognised block, is kept aside and named, and the rest
of the block is still read; output with no SA structure stays a clear error.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitelctl.parsing import ParseError, parse_crypto_sa, parse_output, unknown_line_warnings

CASES = Path(__file__).resolve().parent.parent / "parsers" / "furukawa_fitelnet" / "show_crypto_sa"
SAMPLES = sorted(CASES.glob("*.raw"))
PUBLISHED = CASES / "f220_v01_11_cloudflare_dh14.raw"
COMMAND = "show crypto sa"
_HEADERS = ("IKE_SA", "CHILD_SA", "IPSEC SA", "Total number")
_SUB_BLOCKS = ("IN", "OUT")


def _text(raw: Path) -> str:
    return raw.read_bytes().decode("utf-8").replace("\r\n", "\n")


def _segments(lines: list[str]) -> list[list[str]]:
    """Runs of lines whose order inside the run does not matter to the device's meaning.

    A run starts after a block header, an ``IN``/``OUT`` line or a blank line, and
    holds the field lines up to the next of those (the header lines stay put).
    """
    runs: list[list[str]] = [[]]
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith(_HEADERS) or stripped in _SUB_BLOCKS:
            runs.append([line])
            runs.append([])
        else:
            runs[-1].append(line)
    return runs


def _shuffled(text: str, rng: random.Random) -> str:
    out: list[str] = []
    for index, run in enumerate(_segments(text.split("\n"))):
        if index % 2 == 0:  # a run of field lines (odd indexes are fixed lines)
            run = run[:]
            rng.shuffle(run)
        out.extend(run)
    return "\n".join(out)


def _other_case(text: str) -> str:
    """Every field name (text before `` : ``, ``Mode:``, ``IN``/``OUT``, the totals'
    words) in swapped case; values and block headers as printed."""
    out = []
    for line in text.split("\n"):
        stripped = line.strip()
        if " : " in line and "<--->" not in line:
            label, sep, value = line.partition(" : ")
            line = label.swapcase() + sep + value
        elif stripped.startswith("Mode:"):
            line = line.replace("Mode:", "mODE:")
        elif stripped in _SUB_BLOCKS:
            line = line.lower()
        elif stripped.startswith("Total number"):
            line = line.replace("Total number of", "TOTAL NUMBER OF")
        out.append(line)
    return "\n".join(out)


def _blank_lines(text: str) -> str:
    return "\n\n".join(text.split("\n")).replace("\n\n\n\n", "\n\n\n")


def _crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def _trailing_spaces(text: str) -> str:
    return "\n".join(line + " " * (1 + i % 3) for i, line in enumerate(text.split("\n")))


def _less_remnants(text: str) -> str:
    """``less`` stops every few lines with a ``:`` prompt; the key pressed erases it and
    the next line is printed over it (``\\r\\n:\\r`` as pyats-fitelnet strips it)."""
    lines = text.split("\n")
    return "\n".join(":\r" + line if i % 7 == 6 else line for i, line in enumerate(lines))


def _more_remnants(text: str) -> str:
    """The lab's pager: `` --More-- ``, erased with ``\\r`` + spaces + ``\\r``."""
    erase = " --More-- \r" + " " * 10 + "\r"
    lines = text.split("\n")
    return "\n".join(erase + line if i % 5 == 4 else line for i, line in enumerate(lines))


def _a_trailing_less_prompt(text: str) -> str:
    """A capture ending on the pager's own prompt line (quit with ``q``)."""
    return text.rstrip("\n") + "\n:\n"


REWRITES: dict[str, Callable[[str], str]] = {
    "blank_lines": _blank_lines,
    "crlf": _crlf,
    "trailing_spaces": _trailing_spaces,
    "less_remnants": _less_remnants,
    "more_remnants": _more_remnants,
    "trailing_less_prompt": _a_trailing_less_prompt,
    "other_case": _other_case,
    "everything": lambda text: _crlf(_trailing_spaces(_less_remnants(_other_case(text)))),
}


def test_samples_include_the_published_captures() -> None:
    assert PUBLISHED in SAMPLES and len(SAMPLES) >= 6


@pytest.mark.parametrize("raw", SAMPLES, ids=lambda raw: raw.stem)
@pytest.mark.parametrize("rewrite", sorted(REWRITES))
def test_rewritten_capture_gives_the_same_records(raw: Path, rewrite: str) -> None:
    original = _text(raw)
    changed = REWRITES[rewrite](original)
    assert changed != original
    assert parse_output(COMMAND, changed, show_secrets=True) == parse_output(
        COMMAND, original, show_secrets=True
    )


@pytest.mark.parametrize("raw", SAMPLES, ids=lambda raw: raw.stem)
@pytest.mark.parametrize("seed", range(5))
def test_lines_of_a_block_in_another_order_give_the_same_records(raw: Path, seed: int) -> None:
    original = _text(raw)
    shuffled = _shuffled(original, random.Random(seed))
    assert parse_output(COMMAND, shuffled, show_secrets=True) == parse_output(
        COMMAND, original, show_secrets=True
    )


@settings(max_examples=60, deadline=None)
@given(raw=st.sampled_from(SAMPLES), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_any_order_inside_blocks_with_any_rewrite(
    raw: Path, seed: int, data: st.DataObject
) -> None:
    original = _text(raw)
    rewrites = data.draw(st.lists(st.sampled_from(sorted(REWRITES)), max_size=3, unique=True))
    changed = _shuffled(original, random.Random(seed))
    for name in rewrites:
        changed = REWRITES[name](changed)
    assert parse_output(COMMAND, changed, show_secrets=True) == parse_output(
        COMMAND, original, show_secrets=True
    )


def test_the_shuffle_really_moves_lines() -> None:
    original = _text(PUBLISHED)
    assert any(_shuffled(original, random.Random(seed)) != original for seed in range(5))


# -- a line never seen --------------------------------------------------------------------

NEW_LINES = {
    "ike": ("    DPD : on\n", "    DPD : on\n    NAT-T : off\n"),
    "child": ("    PFS : off ESN : off\n", "    PFS : off ESN : off\n    TFC padding : off\n"),
    "in": ("      Rule error    : 0\n", "      Rule error    : 0\n      Drop error    : 0\n"),
    "out": ("      Seq lapped    : 0\n", "      Seq lapped    : 0\n      Seq number    : 12\n"),
}


@pytest.mark.parametrize("where", sorted(NEW_LINES))
def test_an_unknown_line_in_a_block_is_kept_aside_and_the_rest_read(where: str) -> None:
    original = _text(PUBLISHED)
    anchor, replacement = NEW_LINES[where]
    changed = original.replace(anchor, replacement, 1)
    before, after = parse_output(COMMAND, original), parse_output(COMMAND, changed)
    added = replacement.removeprefix(anchor).strip()
    index = 0 if where == "ike" else 1
    assert after[index]["unknown_lines"] == [added]
    after[index]["unknown_lines"] = []
    assert after == before  # every recognised field kept
    (warning,) = unknown_line_warnings(COMMAND, parse_output(COMMAND, changed))
    assert added in warning and f"block {index + 1}" in warning
    table = parse_crypto_sa(changed)
    assert len(table.ipsec_sas) == 1 and table.warnings == [warning]


def test_a_renamed_ike_line_is_a_warning_not_a_failure() -> None:
    changed = _text(PUBLISHED).replace("Hash algorithm :", "Integrity algorithm :")
    table = parse_crypto_sa(changed)
    (ike,) = table.ike_sas
    assert ike.hash is None and ike.encryption == "aes256-cbc"
    assert any("Integrity algorithm : hmac-sha256-128" in w for w in table.warnings)
    assert any("printed no hash line" in w for w in table.warnings)


@pytest.mark.parametrize(
    "output",
    [
        "show crypto sa\n\n    Foo : bar\n  Total number of ISAKMP SA 0\n",
        "show crypto sa\n% Unknown command\n",
        "show crypto sa\n\n  SOME_NEW_SA\n    Foo : bar\n",
    ],
    ids=["unknown-line-before-any-block", "not-indented", "unknown-block"],
)
def test_output_with_no_recognisable_sa_structure_is_an_error_naming_the_line(
    output: str,
) -> None:
    with pytest.raises(ParseError, match=r"unexpected line '"):
        parse_output(COMMAND, output)
