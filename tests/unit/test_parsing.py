"""parse_output / parse_crypto_sa: typing, secrets, and refusing what is not output."""

from __future__ import annotations

from pathlib import Path

import pytest
from netmiko.utilities import structured_data_converter
from textfsm import clitable

from fitelctl import parsing
from fitelctl.errors import FitelctlError
from fitelctl.ops.parse import parse_file
from fitelctl.parsing import (
    INDEX_FILE,
    CryptoSaTable,
    ParseError,
    parse_crypto_sa,
    parse_output,
    templates_dir,
)

CASES = Path(__file__).resolve().parent.parent / "parsers" / "furukawa_fitelnet"
ARTICLE = (CASES / "show_crypto_sa" / "ipsec_format_article.raw").read_text()
V2 = (CASES / "show_crypto_sa" / "ike_child_format_v2.raw").read_text()
MULTI_V2 = (CASES / "show_crypto_sa" / "ike_child_format_multi.raw").read_text()
NO_SA = (CASES / "show_crypto_sa" / "ike_child_format_no_sa.raw").read_text()
IKE_ONLY = (CASES / "show_crypto_sa" / "ike_child_format_ike_only_netmiko.raw").read_text()
VERSION = (CASES / "show_version" / "f220_v01_12.raw").read_text()

ARTICLE_IN_CIPHER_KEY = "0x5cfc51fc465b4743718389b0d401d39c"
KEY_FIELDS = {"in_cipher_key", "in_auth_key", "out_cipher_key", "out_auth_key"}


def test_templates_dir_holds_the_index() -> None:
    assert (templates_dir() / INDEX_FILE).is_file()


def test_templates_dir_prefers_the_installed_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "fitelctl"
    (package / "_parsers").mkdir(parents=True)
    monkeypatch.setattr(parsing, "__file__", str(package / "parsing.py"))
    assert templates_dir() == package / "_parsers"
    (package / "_parsers").rmdir()
    assert templates_dir() == tmp_path / "parsers"


def test_numbers_become_int_and_empty_columns_none() -> None:
    (record,) = parse_output("show crypto sa", ARTICLE)
    assert record["sa_type"] == "IPSEC SA"
    assert record["peer_ip"] == "27.133.132.134"
    assert record["peer_port"] == 500
    assert record["pfs"] == "on"
    assert record["pfs_group"] == 5
    assert record["lifetime_remaining"] == 568
    assert record["out_octets"] == 482024
    assert record["in_spi"] == "93c1ab67"  # hex stays text
    assert record["isakmp_sa_count"] == 0
    assert record["ipsec_sa_count"] == 1
    assert record["mode"] is None  # an IKE_SA column, empty on an IPsec SA


def test_secrets_absent_by_default() -> None:
    (record,) = parse_output("show crypto sa", ARTICLE)
    assert KEY_FIELDS.isdisjoint(record)
    assert ARTICLE_IN_CIPHER_KEY not in repr(record)


def test_secrets_present_when_asked() -> None:
    (record,) = parse_output("show crypto sa", ARTICLE, show_secrets=True)
    assert record["in_cipher_key"] == ARTICLE_IN_CIPHER_KEY
    assert record["out_auth_key"] == "0xe0dd472e17d86b4ad21c82841734d16b1cd21195"


def test_crypto_sa_table_old_format() -> None:
    table = parse_crypto_sa(ARTICLE)
    assert (table.isakmp_sa_count, table.ipsec_sa_count, table.ike_sas) == (0, 1, [])
    (sa,) = table.ipsec_sas
    assert sa.direction_tag == "I"
    assert (sa.selector_local, sa.selector_remote) == ("0.0.0.0/0 ALL ALL", "0.0.0.0/0 ALL ALL")
    assert sa.interface == "tunnel 1"
    assert (sa.peer_ip, sa.peer_port) == ("27.133.132.134", 500)
    assert (sa.local_ip, sa.local_port) == ("172.30.128.254", 500)
    assert (sa.encryption, sa.authentication) == ("AES-CBC/128", "HMAC-SHA1-96/160")
    assert (sa.lifetime_remaining, sa.lifetime_total) == (568, 1800)
    assert (sa.pfs, sa.pfs_group, sa.esn) == (True, 5, False)
    assert (sa.in_spi, sa.in_packets, sa.in_octets) == ("93c1ab67", 6, 296)
    assert (sa.in_replay_errors, sa.in_auth_errors) == (0, 0)
    assert (sa.in_padding_errors, sa.in_rule_errors) == (0, 0)
    assert (sa.out_spi, sa.out_packets, sa.out_octets, sa.out_seq_lapped) == (
        "cb5be797",
        821,
        482024,
        0,
    )
    assert sa.in_cipher_key is None and sa.out_auth_key is None


def test_crypto_sa_table_keeps_keys_only_when_asked_and_never_in_repr() -> None:
    (sa,) = parse_crypto_sa(ARTICLE, show_secrets=True).ipsec_sas
    assert sa.in_cipher_key == ARTICLE_IN_CIPHER_KEY
    assert sa.in_auth_key == "0x0863fb7d9f439b5f7842bc7b1588e165bc736ac0"
    assert sa.out_cipher_key == "0xd0470f34d9baba9f369cd5ba0b877f11"
    assert ARTICLE_IN_CIPHER_KEY not in repr(sa)


def test_crypto_sa_table_new_format() -> None:
    table = parse_crypto_sa(V2, show_secrets=True)
    assert (table.isakmp_sa_count, table.ipsec_sa_count) == (1, 1)
    (ike,) = table.ike_sas
    assert (ike.mode, ike.direction_tag) == ("Main", "I")
    assert (ike.local_ip, ike.remote_ip) == ("172.30.128.254", "27.133.132.134")
    assert (ike.local_id, ike.remote_id) == ("172.30.128.254", "27.133.132.134")
    assert ike.local_auth == ike.remote_auth == "Pre-shared key"
    assert (ike.encryption, ike.hash, ike.dh_group) == ("AES-CBC/256", "HMAC-SHA2-256", 14)
    assert (ike.initiator_cookie, ike.responder_cookie) == (
        "0x3f9c2a1b7d4e6f80",
        "0x91ab2cd3ef456789",
    )
    assert (ike.lifetime_remaining, ike.lifetime_total) == (28512, 28800)
    assert ike.dpd == "on (interval 15 sec)"
    (child,) = table.ipsec_sas
    assert (child.encryption, child.authentication) == ("AES-CBC/256", "HMAC-SHA2-256-128/256")
    assert (child.pfs, child.pfs_group, child.lifetime_total) == (True, 14, 180)
    assert child.in_cipher_key is None  # the new format never prints keys


def test_crypto_sa_table_several_sas_and_pfs_off() -> None:
    table = parse_crypto_sa(MULTI_V2)
    assert (table.isakmp_sa_count, table.ipsec_sa_count) == (2, 3)
    assert [ike.remote_ip for ike in table.ike_sas] == ["27.133.132.134", "203.0.113.10"]
    assert [sa.direction_tag for sa in table.ipsec_sas] == ["I", "R", "R"]
    assert [sa.interface for sa in table.ipsec_sas] == ["tunnel 1", "tunnel 2", "tunnel 2"]
    off = table.ipsec_sas[1]
    assert (off.pfs, off.pfs_group, off.esn) == (False, None, False)
    assert table.ipsec_sas[2].esn is True


def test_no_sa_is_totals_only() -> None:
    assert parse_crypto_sa(NO_SA) == CryptoSaTable(0, 0, [], [])
    (record,) = parse_output("show crypto sa", NO_SA)
    assert (record["isakmp_sa_count"], record["ipsec_sa_count"]) == (0, 0)
    assert record["sa_type"] is None


def test_ike_sa_without_child_sa() -> None:
    table = parse_crypto_sa(IKE_ONLY)
    assert (table.isakmp_sa_count, table.ipsec_sa_count) == (1, 0)
    assert len(table.ike_sas) == 1 and table.ipsec_sas == []


def test_crlf_and_prompt_as_captured() -> None:
    raw = (CASES / "show_crypto_sa" / "ipsec_format_multi_session.raw").read_bytes().decode()
    assert "\r\n" in raw
    assert len(parse_crypto_sa(raw).ipsec_sas) == 3


def test_show_version() -> None:
    assert parse_output("sh ver", VERSION) == [
        {"side": "present-side", "model": "F220", "version": "01.12(00)[0]00.00.0",
         "date": "2023/07/26 15:00"},
        {"side": "other-side", "model": "F220", "version": "01.12(00)[0]00.00.0",
         "date": "2023/07/26 15:00"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    "output",
    [
        "% Invalid input detected at '^' marker.\n",
        "<ERROR> Unrecognized command\n",
        "just some text\nthat is not show crypto sa\n",
        VERSION,
    ],
)
def test_garbage_is_a_parse_error(output: str) -> None:
    with pytest.raises(ParseError, match=r"^'show crypto sa' output not recognised by "):
        parse_output("show crypto sa", output)


def test_parse_error_is_one_line_and_a_fitelctl_error() -> None:
    with pytest.raises(FitelctlError) as caught:
        parse_output("show crypto sa", "% Invalid input detected at '^' marker.\n")
    assert isinstance(caught.value, ParseError)
    assert "\n" not in str(caught.value)
    assert "unexpected line \"% Invalid input detected at '^' marker.\"" in str(caught.value)


def test_parse_error_never_shows_key_material() -> None:
    # A Cipher Key line where the template does not expect one (before IN).
    output = ARTICLE.replace("    IN\n", "      Cipher Key    : 0x0123abcd\n    IN\n", 1)
    with pytest.raises(ParseError) as caught:
        parse_output("show crypto sa", output)
    assert "Cipher Key" in str(caught.value)
    assert "0x0123abcd" not in str(caught.value)


@pytest.mark.parametrize("output", ["", "\n\n", "show crypto sa\n"])
def test_empty_output_is_a_parse_error(output: str) -> None:
    with pytest.raises(ParseError):
        parse_output("show crypto sa", output)


@pytest.mark.parametrize("raw", [ARTICLE, V2, MULTI_V2], ids=["article", "v2", "multi_v2"])
def test_output_cut_anywhere_before_its_totals_is_a_parse_error(raw: str) -> None:
    lines = raw.splitlines(keepends=True)
    last_total = max(i for i, line in enumerate(lines) if "Total number of" in line)
    for end in range(last_total + 1):
        with pytest.raises(ParseError):
            parse_output("show crypto sa", "".join(lines[:end]))
    for end in range(last_total + 1, len(lines) + 1):
        assert parse_output("show crypto sa", "".join(lines[:end]))


def test_cut_inside_a_later_block_names_the_missing_totals() -> None:
    cut = MULTI_V2[: MULTI_V2.index("  CHILD_SA <R>")] + "  CHILD_SA <R>\n    Selector :\n"
    with pytest.raises(ParseError, match="cut short: it ends before the line giving "):
        parse_output("show crypto sa", cut)


@pytest.mark.parametrize(
    ("command", "platform"),
    [("show foo", "furukawa_fitelnet"), ("show crypto sa", "cisco_ios")],
)
def test_no_template_is_a_parse_error(command: str, platform: str) -> None:
    with pytest.raises(ParseError, match=rf"^no TextFSM template for '{command}' on platform"):
        parse_output(command, ARTICLE, platform=platform)


@pytest.mark.parametrize("command", ["show crypto sa", "sh cr sa", "sho crypto sa"])
def test_clitable_index_resolves_abbreviations(command: str) -> None:
    table = clitable.CliTable(INDEX_FILE, str(templates_dir()))
    table.ParseCmd(ARTICLE, {"Command": command, "Platform": "furukawa_fitelnet"})
    assert table.size == 1
    assert table[1]["IN_CIPHER_KEY"] == ARTICLE_IN_CIPHER_KEY


def test_netmiko_use_textfsm_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # What send_command(..., use_textfsm=True) calls for device_type furukawa_fitelnet.
    monkeypatch.setenv("NET_TEXTFSM", str(templates_dir()))
    records = structured_data_converter(
        V2,
        command="show crypto sa",
        platform="furukawa_fitelnet",
        use_textfsm=True,
        raise_parsing_error=True,
    )
    assert isinstance(records, list)
    assert [r["sa_type"] for r in records] == ["IKE_SA", "CHILD_SA"]
    assert records[1]["in_spi"] == "ccbf4f48"


def test_parse_file(tmp_path: Path) -> None:
    saved = tmp_path / "sa.txt"
    saved.write_text(ARTICLE)
    (record,) = parse_file("show crypto sa", saved, platform="furukawa_fitelnet",
                           show_secrets=False)  # fmt: skip
    assert record["peer_ip"] == "27.133.132.134"
    assert KEY_FIELDS.isdisjoint(record)


def test_parse_file_unreadable_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(FitelctlError, match=f"^cannot read {missing}"):
        parse_file("show crypto sa", missing, platform="furukawa_fitelnet", show_secrets=False)


def test_parse_file_bad_output_names_the_path(tmp_path: Path) -> None:
    saved = tmp_path / "junk.txt"
    saved.write_text("junk\n")
    with pytest.raises(ParseError, match=f"^{saved}: 'show crypto sa' output not recognised"):
        parse_file("show crypto sa", saved, platform="furukawa_fitelnet", show_secrets=False)
