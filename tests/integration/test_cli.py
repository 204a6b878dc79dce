"""The command line as users meet it: help, version, parse, demo, start-up imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, RunCli

ARTICLE = ROOT / "tests/parsers/furukawa_fitelnet/show_crypto_sa/ipsec_format_article.raw"
ARTICLE_KEYS = ("5cfc51fc465b4743718389b0d401d39c", "e0dd472e17d86b4ad21c82841734d16b1cd21195")


def test_version(cli: RunCli) -> None:
    from fitelctl import __version__

    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"fitelctl {__version__}"


def _command_paths() -> list[list[str]]:
    """Every command and group of the real command line, found by walking it (so none is missed)."""
    import typer

    from fitelctl.cli import app

    found: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _command_paths()


def test_the_help_test_sees_every_command() -> None:
    names = {" ".join(path) for path in COMMANDS}
    for expected in ("status", "sessions", "backups list", "backups prune", "lab up", "run"):
        assert expected in names


@pytest.mark.parametrize("command", COMMANDS, ids=lambda path: " ".join(path) or "fitelctl")
def test_every_command_has_help(cli: RunCli, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout


def test_parse_prints_records_without_key_material(cli: RunCli) -> None:
    result = cli("parse", "show crypto sa", str(ARTICLE))
    assert result.returncode == 0
    (record,) = json.loads(result.stdout)
    assert record["encryption"] == "AES-CBC/128" and record["out_packets"] == 821
    assert all(key == key.lower() for key in record)
    assert not any(k in result.stdout for k in ARTICLE_KEYS)
    assert "cipher_key" not in result.stdout


def test_parse_show_secrets_is_the_explicit_way_to_see_keys(cli: RunCli) -> None:
    result = cli("parse", "show crypto sa", str(ARTICLE), "--show-secrets")
    (record,) = json.loads(result.stdout)
    assert record["in_cipher_key"] == "0x5cfc51fc465b4743718389b0d401d39c"


def test_parse_rejects_output_no_template_matches(cli: RunCli, tmp_path: Path) -> None:
    garbage = tmp_path / "out.txt"
    garbage.write_text("% Unknown command\n")
    result = cli("parse", "show crypto sa", str(garbage))
    assert result.returncode != 0 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(garbage) in lines[0] and "Traceback" not in result.stderr


def test_parse_missing_file_and_unknown_command(cli: RunCli, tmp_path: Path) -> None:
    result = cli("parse", "show crypto sa", str(tmp_path / "nope.txt"))
    assert result.returncode != 0 and "nope.txt" in result.stderr
    result = cli("parse", "show interfaces", str(ARTICLE))
    assert result.returncode != 0 and "show interfaces" in result.stderr


def test_fast_commands_do_not_import_ssh_or_http_libraries() -> None:
    probe = (
        "import sys\n"
        "from fitelctl.cli import app\n"
        "for args in (['--help'], ['--version'], ['parse', 'show crypto sa', sys.argv[1]]):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'netmiko', 'scrapli', 'asyncssh', 'httpx', 'paramiko'})\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(ARTICLE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert "HEAVY []" in result.stderr, result.stderr


def test_demo_runs_end_to_end(cli: RunCli) -> None:
    result = cli("demo", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "demo ok" in result.stdout
    for step in ("status", "check tokyo", "diff tokyo", "apply tokyo --yes", "reconnect tokyo"):
        assert f"$ fitelctl {step}" in result.stdout
    assert " set pfs group14" in result.stdout and "applied (saved)" in result.stdout
    assert "AES-CBC/256" in result.stdout
    assert "Cipher Key" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["status", "--workers", "0"], "--workers"),
        (["nosuch"], "No such command 'nosuch'"),
        (["render"], "Missing argument"),
    ],
)
def test_usage_errors_are_one_line(cli: RunCli, args: list[str], expected: str) -> None:
    result = cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "--help" in lines[0]
