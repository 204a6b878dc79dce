"""Use-case behind ``fitelctl parse``: read a saved output, give its records.

Kept apart from the CLI so scripts and tests can call it without typer; every
failure is a ``FitelctlError`` that names the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fitelctl.errors import FitelctlError
from fitelctl.parsing import ParseError, parse_output, unknown_line_warnings


@dataclass(frozen=True)
class ParsedFile:
    """The records, and one message per line a template kept aside as unknown."""

    records: list[dict[str, object]]
    warnings: list[str]


def parse_file(command: str, path: Path, *, platform: str, show_secrets: bool) -> ParsedFile:
    """Records the template for ``command`` gives for the output saved in ``path``."""
    try:
        output = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise FitelctlError(f"cannot read {path}: {err.strerror or err}") from err
    try:
        records = parse_output(command, output, platform=platform, show_secrets=show_secrets)
    except ParseError as err:
        raise ParseError(f"{path}: {err}") from err
    warnings = [f"{path}: {warning}" for warning in unknown_line_warnings(command, records)]
    return ParsedFile(records, warnings)
