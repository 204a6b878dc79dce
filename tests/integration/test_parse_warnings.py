"""`fitelctl parse` on a published capture with a line it does not know: records, the line
kept in ``unknown_lines``, and a warning on stderr naming it (never a failure)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT, RunCli

PUBLISHED = ROOT / "tests/parsers/furukawa_fitelnet/show_crypto_sa/f220_v01_11_cloudflare_early.raw"


def test_published_capture_parses_with_no_warning(cli: RunCli) -> None:
    result = cli("parse", "show crypto sa", str(PUBLISHED))
    assert result.returncode == 0 and result.stderr == ""
    ike, child = json.loads(result.stdout)
    assert (ike["sa_type"], ike["local_ip"], ike["dh_group"]) == ("IKE_SA", "xxx.xxx.xxx.xxx", 14)
    assert (child["sa_type"], child["ike_sa_index"], child["in_spi"]) == ("CHILD_SA", 0, "eeeeeeee")


def test_an_unknown_line_is_kept_and_warned_about(cli: RunCli, tmp_path: Path) -> None:
    saved = tmp_path / "sa.txt"
    text = PUBLISHED.read_text().replace("    DPD : on\n", "    DPD : on\n    NAT-T : off\n")
    saved.write_text(text.replace("\n", "\r\n"))
    result = cli("parse", "show crypto sa", str(saved))
    assert result.returncode == 0, result.stderr
    ike, child = json.loads(result.stdout)
    assert (ike["unknown_lines"], ike["hash"], child["unknown_lines"]) == (
        ["NAT-T : off"],
        "hmac-sha256-128",
        [],
    )
    assert result.stderr.startswith(f"warning: {saved}: 'show crypto sa': IKE_SA block 1 ")
    assert "'NAT-T : off'" in result.stderr and "Traceback" not in result.stderr
