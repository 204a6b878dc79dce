"""Use-case behind ``fitelctl parse``: read a saved output, give its records.

Kept apart from the CLI so scripts and tests can call it without typer; every
failure is a ``FitelctlError`` that names the file.
"""

from __future__ import annotations

from pathlib import Path

from fitelctl.errors import FitelctlError
from fitelctl.parsing import ParseError, parse_output


def parse_file(
    command: str, path: Path, *, platform: str, show_secrets: bool
) -> list[dict[str, object]]:
    """Records the template for ``command`` gives for the output saved in ``path``."""
    try:
        output = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise FitelctlError(f"cannot read {path}: {err.strerror or err}") from err
    try:
        return parse_output(command, output, platform=platform, show_secrets=show_secrets)
    except ParseError as err:
        raise ParseError(f"{path}: {err}") from err
