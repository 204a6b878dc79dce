"""``parse`` on damaged device output: records or one clear ``ParseError``, never key material.

Every saved output under ``tests/parsers/**/*.raw`` (found when the tests are collected, so new
cases are fuzzed too) is mutated the ways a capture goes wrong: lines lost,
repeated, cut, swapped, numbers changed, garbage bytes. Whatever comes out, the
Cipher/Auth keys of old-firmware ``show crypto sa`` blocks must not: not in the
records, not in their JSON, not in an error message, unless ``show_secrets``.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest
from fuzz_helpers import GARBAGE, fuzz, mutated_lines
from helpers import ROOT, one_line_error, run_in_process
from hypothesis import given
from hypothesis import strategies as st

from fitelctl.parsing import ParseError, parse_crypto_sa, parse_output, parse_version
from fitelctl.redact import SECRET_FIELDS

CASES_DIR = ROOT / "tests" / "parsers"
RAW_FILES = sorted(CASES_DIR.glob("*/*/*.raw"))
CRYPTO_SA_FILES = [raw for raw in RAW_FILES if raw.parent.name == "show_crypto_sa"]
VERSION_FILES = [raw for raw in RAW_FILES if raw.parent.name == "show_version"]
#: what redaction recognises as device key material, and a printed value worth looking for
#: (an SPI is 8 hex digits, a cookie 16; the shortest key, AES-128, 32)
_KEY_LINE = re.compile(r"(?:Cipher|Auth) Key\s*:\s*(?:0x)?(?P<hex>[0-9A-Fa-f]{12,})")


def _case_id(raw: Path) -> str:
    return str(raw.relative_to(CASES_DIR))


def _command(raw: Path) -> str:
    return raw.parent.name.replace("_", " ")


def _lines(raw: Path) -> list[str]:
    return raw.read_bytes().decode("utf-8").splitlines()


def key_material(*texts: str) -> set[str]:
    """The hex of every Cipher/Auth Key line in ``texts`` (lower-case, without ``0x``)."""
    return {m["hex"].lower() for text in texts for m in _KEY_LINE.finditer(text)}


def assert_no_key(keys: set[str], shown: str) -> None:
    shown = shown.lower()
    leaked = [key for key in keys if key in shown]
    assert not leaked, f"key material {leaked} in {shown!r}"


def test_fixtures_are_found() -> None:
    assert RAW_FILES and CRYPTO_SA_FILES
    assert any(key_material(raw.read_text()) for raw in CRYPTO_SA_FILES), "no output with keys"


@pytest.mark.parametrize("raw", RAW_FILES, ids=_case_id)
@fuzz(40)
@given(data=st.data())
def test_damaged_output_gives_records_or_a_clear_error(raw: Path, data: st.DataObject) -> None:
    original = raw.read_bytes().decode("utf-8")
    output = "\n".join(data.draw(mutated_lines(_lines(raw)), label="output"))
    command = _command(raw)
    keys = key_material(original, output)
    try:
        records = parse_output(command, output)
    except ParseError as err:
        message = str(err)
        assert message.startswith(repr(command)), message
        assert "\n" not in message and len(message) > len(repr(command)) + 10
        assert_no_key(keys, message)
        return
    assert records, "a success with no record"
    for record in records:
        assert not SECRET_FIELDS & record.keys()
        assert all(_is_column(value) for value in record.values()), record
    assert_no_key(keys, json.dumps(records))
    # redaction takes the key fields away and leaves every other column as it was
    revealed = parse_output(command, output, show_secrets=True)
    assert [_plain_columns(r) for r in revealed] == [_plain_columns(r) for r in records]


def _is_column(value: object) -> bool:
    if isinstance(value, list):
        return all(isinstance(item, str) for item in value)
    return value is None or isinstance(value, int | str)


def _plain_columns(record: dict[str, object]) -> dict[str, object]:
    """The columns that hold no device text verbatim (no key, no unknown line)."""
    return {k: v for k, v in record.items() if k not in SECRET_FIELDS and not isinstance(v, list)}


@pytest.mark.parametrize("raw", CRYPTO_SA_FILES, ids=_case_id)
@fuzz(40)
@given(data=st.data())
def test_damaged_crypto_sa_gives_a_table_or_a_clear_error(raw: Path, data: st.DataObject) -> None:
    output = "\n".join(data.draw(mutated_lines(_lines(raw)), label="output"))
    keys = key_material(raw.read_text(), output)
    try:
        table = parse_crypto_sa(output)
    except ParseError as err:
        assert str(err).startswith("'show crypto sa'") and "\n" not in str(err)
        assert_no_key(keys, str(err))
        return
    for sa in table.ipsec_sas:
        assert (sa.in_cipher_key, sa.in_auth_key, sa.out_cipher_key, sa.out_auth_key) == (None,) * 4
    assert_no_key(keys, repr(table))
    records = parse_output("show crypto sa", output)
    assert len(table.ike_sas) + len(table.ipsec_sas) == sum(1 for r in records if r["sa_type"])


@pytest.mark.parametrize("raw", VERSION_FILES, ids=_case_id)
@fuzz(40)
@given(data=st.data())
def test_damaged_version_gives_firmware_or_a_clear_error(raw: Path, data: st.DataObject) -> None:
    output = "\n".join(data.draw(mutated_lines(_lines(raw)), label="output"))
    try:
        versions = parse_version(output)
    except ParseError as err:
        assert str(err).startswith("'show version'") and "\n" not in str(err)
        return
    assert versions and len(versions) == len(parse_output("show version", output))
    for version in versions:
        assert all((version.side, version.model, version.version, version.date))
        assert version.model in version.line and version.version in version.line
    assert [v.side for v in versions] == sorted(
        (v.side for v in versions), key=lambda side: side != "present-side"
    )


KEY_LINES = [
    (raw, index)
    for raw in CRYPTO_SA_FILES
    for index, line in enumerate(_lines(raw))
    if _KEY_LINE.search(line)
]


@fuzz(100)
@given(case=st.sampled_from(KEY_LINES), data=st.data())
def test_a_key_line_with_a_damaged_label_never_shows_its_key(
    case: tuple[Path, int], data: st.DataObject
) -> None:
    """Line noise in ``Cipher Key`` makes the line unknown to the template, not harmless."""
    raw, index = case
    lines = _lines(raw)
    line = lines[index]
    label_end = line.index(":")
    start = data.draw(st.integers(0, label_end), label="start")
    end = data.draw(st.integers(start, label_end), label="end")
    noise = data.draw(GARBAGE, label="noise")
    lines[index] = line[:start] + noise + line[end:]
    output = "\n".join(lines)
    keys = key_material(line)
    try:
        records = parse_output("show crypto sa", output)
    except ParseError as err:
        assert_no_key(keys, str(err))
        return
    assert_no_key(keys, json.dumps(records))


def test_keys_are_there_when_asked_for() -> None:
    """The opposite check, so the ones above cannot pass by finding no key at all."""
    raw = next(raw for raw in CRYPTO_SA_FILES if key_material(raw.read_text()))
    table = parse_crypto_sa(raw.read_text(), show_secrets=True)
    shown = {
        (key or "").lower().removeprefix("0x")
        for sa in table.ipsec_sas
        for key in (sa.in_cipher_key, sa.in_auth_key, sa.out_cipher_key, sa.out_auth_key)
    }
    assert key_material(raw.read_text()) <= shown


@fuzz(5)
@given(
    raw=st.sampled_from(RAW_FILES),
    data=st.data(),
    tail=st.binary(max_size=30),
)
def test_parse_command_on_damaged_file(raw: Path, data: st.DataObject, tail: bytes) -> None:
    """The real command line: one JSON list on stdout, or one error line naming the file."""
    lines = data.draw(mutated_lines(_lines(raw)), label="output")
    content = "\n".join(lines).encode("utf-8", errors="surrogateescape") + tail
    keys = key_material(raw.read_text(), content.decode("utf-8", errors="replace"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "saved output.txt"
        path.write_bytes(content)
        result = run_in_process("parse", _command(raw), str(path))
    assert "Traceback" not in result.stderr
    assert_no_key(keys, result.stdout + result.stderr)
    if result.returncode == 0:
        assert result.stderr == ""
        records = json.loads(result.stdout)
        assert isinstance(records, list) and records
    else:
        one_line_error(result, str(path), repr(_command(raw)))


@pytest.mark.parametrize("name", ["missing.txt", "."])
def test_a_file_that_cannot_be_read_is_one_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    result = run_in_process("parse", "show crypto sa", str(path))
    one_line_error(result, f"cannot read {path}")
    assert result.returncode == 2
