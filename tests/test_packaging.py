"""A non-editable install carries the templates, lab assets and scrapli definition.

Builds the wheel, unpacks it away from the source tree and uses it from there:
nothing may be found through the checkout.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import fitelctl, pathlib, sys
from fitelctl.parsing import templates_dir, parse_crypto_sa
from fitelctl.lab.scenarios import device_config, site_addresses
from importlib import resources
here = pathlib.Path(fitelctl.__file__).resolve()
assert str(here).startswith(sys.argv[1]), here
assert templates_dir().resolve().is_relative_to(pathlib.Path(sys.argv[1])), templates_dir()
table = parse_crypto_sa(pathlib.Path(sys.argv[2]).read_text())
assert table.ipsec_sas[0].encryption == "AES-CBC/128"
assert "crypto map sakuratokyo ipsec-isakmp" in device_config(site_addresses(0), "v1", "k")
definition = resources.files("fitelctl.fitelnet.drivers") / "definitions/furukawa_fitelnet.yaml"
assert definition.is_file() and "password:" in definition.read_text()
from fitelctl.runbook.library import shipped_dir
assert shipped_dir().resolve().is_relative_to(pathlib.Path(sys.argv[1])), shipped_dir()
assert (shipped_dir() / "rotate-psk.yaml").is_file()
print("ok")
"""


def test_wheel_is_self_contained(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("fitelctl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "fitelctl/_parsers/index" in names
    assert "fitelctl/_parsers/furukawa_fitelnet_show_crypto_sa.textfsm" in names
    assert "fitelctl/lab/assets/crypto_v1.cfg.tmpl" in names
    assert "fitelctl/_playbooks/migrate-vpc-router-v2.yaml" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    sample = ROOT / "tests/parsers/furukawa_fitelnet/show_crypto_sa/ipsec_format_article.raw"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(site.resolve()), str(sample)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "ok", result.stderr
