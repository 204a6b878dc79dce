"""``fitelctl parse``: run a saved device output through the TextFSM templates."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fitelctl.cli.options import emit_json, show_secrets_option


def parse(
    command: Annotated[
        str, typer.Argument(help='The command that produced the output, e.g. "show crypto sa".')
    ],
    file: Annotated[Path, typer.Argument(help="A file holding the saved output.")],
    platform: Annotated[str, typer.Option(help="Template platform.")] = "furukawa_fitelnet",
    show_secrets: Annotated[
        bool, show_secrets_option("Include key material (Cipher/Auth Key). Off by default.")
    ] = False,
) -> None:
    """Print the records the TextFSM template gives for FILE, as a JSON list.

    A line the template does not know inside a block it recognised is kept in that
    record's ``unknown_lines`` and named in a warning on stderr.
    """
    from fitelctl.ops.parse import parse_file

    parsed = parse_file(command, file, platform=platform, show_secrets=show_secrets)
    emit_json(parsed.records)
    for warning in parsed.warnings:
        sys.stderr.write(f"warning: {warning}\n")
