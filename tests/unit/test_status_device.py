"""``status``'s device side on real published output: IKE SAs, model and firmware, and
what a device prints that fitelctl does not know (a warning, never a changed verdict).

The device is a stand-in answering ``show crypto sa``/``show version`` with text
taken from the published captures (``tests/parsers``); the verdict is ``judge``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml
from conftest import ROOT

from fitelctl.errors import FitelctlError
from fitelctl.inventory import Inventory
from fitelctl.ops import status as status_module
from fitelctl.ops.check import check_site
from fitelctl.ops.connect import ConnectOptions
from fitelctl.ops.status import SiteStatus, judge, read_device

CASES = ROOT / "tests" / "parsers" / "furukawa_fitelnet"
EXAMPLE = ROOT / "inventory" / "examples" / "article-v2.yaml"
PUBLISHED_SA = (CASES / "show_crypto_sa" / "f220_v01_11_cloudflare_dh14.raw").read_text()
OLD_SA = (CASES / "show_crypto_sa" / "ipsec_format_article.raw").read_text()
F220_EX = (CASES / "show_version" / "f220ex_t10_02_pyats.raw").read_text()
F220 = (CASES / "show_version" / "f220_v01_12.raw").read_text()


@pytest.fixture(autouse=True)
def tokyo_psk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKYO_PSK", "Grid-Test-Psk_0123")


def inventory(**device: Any) -> Inventory:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["sites"]["tokyo"]["device"].update(device)
    return Inventory.model_validate({**data, "base_dir": EXAMPLE.parent})


class FakeDevice:
    def __init__(self, answers: dict[str, str | FitelctlError]) -> None:
        self.answers = answers
        self.sent: list[str] = []

    def show(self, command: str) -> str:
        self.sent.append(command)
        answer = self.answers[command]
        if isinstance(answer, FitelctlError):
            raise answer
        return answer


def run_status(
    monkeypatch: pytest.MonkeyPatch, sa: str, version: str | FitelctlError
) -> tuple[SiteStatus, FakeDevice]:
    inv = inventory()
    peer = inv.site("tokyo").cloud.global_address
    device = FakeDevice(
        {"show crypto sa": sa.replace("anycast-address", peer), "show version": version}
    )

    @contextmanager
    def connect(*_args: object, **_kwargs: object) -> Iterator[FakeDevice]:
        yield device

    monkeypatch.setattr(status_module, "connect_site", connect)
    found, problem = read_device(inv, "tokyo", ConnectOptions())
    return judge(inv, "tokyo", found, problem, None), device


def test_published_v01_11_output_is_up_with_its_ike_sa_and_firmware(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result, device = run_status(monkeypatch, PUBLISHED_SA, F220)
    assert device.sent == ["show crypto sa", "show version"]  # one session, one extra command
    assert (result.state, result.problems) == ("up", [])
    doc = result.to_json()["device"]
    assert (doc["model"], doc["firmware"], doc["warnings"]) == ("F220", "01.12(00)[0]00.00.0", [])
    peer = inventory().site("tokyo").cloud.global_address
    assert doc["ike_sas"] == [
        {
            "direction": "I",
            "local_ip": "<LOCAL_IP>",
            "remote_ip": peer,
            "local_id": "<LOCAL_ID>",
            "remote_id": peer,
            "encryption": "aes256-cbc",
            "hash": "hmac-sha256-128",
            "dh_group": 14,
            "lifetime_remaining": 6852,
            "lifetime_total": 14400,
            "dpd": "on",
        }
    ]
    assert "cookie" not in str(doc).lower() and "key" not in str(doc["ike_sas"]).lower()


def test_old_firmware_has_no_ike_sas(monkeypatch: pytest.MonkeyPatch) -> None:
    result, _ = run_status(monkeypatch, OLD_SA, F220_EX)
    doc = result.to_json()["device"]
    assert (result.state, doc["ike_sas"]) == ("up", [])
    assert (doc["model"], doc["firmware"]) == ("F220 EX", "T10.02(00)[0]00.00.0")


def test_an_unknown_line_is_a_warning_and_the_tunnel_stays_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    changed = PUBLISHED_SA.replace("    DPD : on\n", "    DPD : on\n    NAT-T : off\n")
    with caplog.at_level(logging.DEBUG, logger="fitelctl.status"):
        result, _ = run_status(monkeypatch, changed, F220)
    assert (result.state, result.problems) == ("up", [])
    (warning,) = result.device.warnings
    assert (
        warning.startswith("tokyo: 'show crypto sa': IKE_SA block 1") and "'NAT-T : off'" in warning
    )
    assert warning in caplog.messages


@pytest.mark.parametrize(
    ("version", "quoted"),
    [
        ("\n  --- present-side ---\nF999 Version 01.12(00)[0]00.00.0 [2023/07/26 15:00]\n",
         "'F999   Version 01.12(00)[0]00.00.0 [2023/07/26 15:00]'"),
        ("\nF220   Release 02.00 (2026/01/01)\n", "'F220   Release 02.00 (2026/01/01)'"),
        (FitelctlError("tokyo: command 'show version' timed out"), "timed out"),
    ],
    ids=["model-never-seen", "new-layout", "command-failed"],
)  # fmt: skip
def test_a_version_that_cannot_be_read_is_a_warning_naming_the_device(
    monkeypatch: pytest.MonkeyPatch, version: str | FitelctlError, quoted: str
) -> None:
    result, _ = run_status(monkeypatch, PUBLISHED_SA, version)
    assert (result.state, result.problems) == ("up", [])
    (warning,) = result.device.warnings
    assert warning.startswith("tokyo: ") and quoted in warning
    known = isinstance(version, str) and "F999" in version
    assert result.device.model == ("F999" if known else None)


# -- check: what depends on the firmware the inventory states ------------------------------


@pytest.mark.parametrize(
    ("firmware", "says"),
    [
        ("01.11(00)", "as IKE_SA and CHILD_SA blocks (V01.11 and later)"),
        ("V01.09", "as IPSEC SA blocks (before V01.11)"),
        ("T10.02(00)[0]00.00.0", "cannot tell which `show crypto sa` layout"),
    ],
)
def test_check_says_what_depends_on_the_stated_firmware(firmware: str, says: str) -> None:
    findings = [
        f for f in check_site(inventory(firmware=firmware), "tokyo") if f.rule == "firmware"
    ]
    (finding,) = findings
    assert finding.severity == "info" and says in finding.message and firmware in finding.message
    assert "status reads both layouts" in finding.message


def test_check_names_a_model_never_seen_and_is_silent_without_firmware() -> None:
    (finding,) = [
        f
        for f in check_site(inventory(model="F999", firmware="01.12"), "tokyo")
        if f.rule == "firmware"
    ]
    assert "'F999' is not a model fitelctl has seen" in finding.message
    assert not [f for f in check_site(inventory(), "tokyo") if f.rule == "firmware"]


def test_debug_option_sends_the_warnings_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    from fitelctl import cli

    logger = logging.getLogger("fitelctl")
    handlers, level = list(logger.handlers), logger.level
    try:
        cli._log_debug_to_stderr()
        logging.getLogger("fitelctl.status").debug("tokyo: 'show crypto sa': IKE_SA block 1 …")
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
    err = capsys.readouterr().err
    assert err == "fitelctl: debug: fitelctl.status: tokyo: 'show crypto sa': IKE_SA block 1 …\n"


def test_sa_output_with_a_new_layout_is_unknown_naming_the_device_and_the_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    changed = PUBLISHED_SA.replace("  IKE_SA\n", "IKEv2 SA table\n  IKE_SA\n")
    result, _ = run_status(monkeypatch, changed, F220)
    assert result.state == "unknown"
    (problem,) = result.problems
    assert problem.startswith("tokyo: 'show crypto sa' output not recognised")
    assert problem.endswith("unexpected line 'IKEv2 SA table'")
