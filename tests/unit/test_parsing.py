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
    firmware_release,
    parse_crypto_sa,
    parse_output,
    parse_version,
    templates_dir,
    unknown_line_warnings,
)

CASES = Path(__file__).resolve().parent.parent / "parsers" / "furukawa_fitelnet"
ARTICLE = (CASES / "show_crypto_sa" / "ipsec_format_article.raw").read_text()
#: F220 V01.11 as published by Cloudflare (see the .yml beside it for the source)
V2 = (CASES / "show_crypto_sa" / "f220_v01_11_cloudflare_dh14.raw").read_text()
NO_SA = (CASES / "show_crypto_sa" / "ipsec_format_no_sa_session.raw").read_text()
VERSION = (CASES / "show_version" / "f220_v01_12.raw").read_text()
F220_EX = (CASES / "show_version" / "f220ex_t10_02_pyats.raw").read_text()

_V2_IKE = V2[V2.index("  IKE_SA") : V2.index("  CHILD_SA")]
_V2_CHILD = V2[V2.index("  CHILD_SA") : V2.index("  Total number")]
#: the published IKE_SA block without its CHILD_SA (phase 2 not up yet)
IKE_ONLY = (
    "show crypto sa\n\n" + _V2_IKE + "  Total number of ISAKMP SA 1\n  Total number of IPSEC SA 0\n"
)


def _second_peer(block: str) -> str:
    return (
        block.replace("anycast-address", "198.51.100.7")
        .replace("tunnel 1", "tunnel 2")
        .replace("CHILD_SA <I>", "CHILD_SA <R>")
        .replace("Mode: <I>", "Mode: <R>")
        .replace("PFS : off ESN : off", "PFS : on (group 14) ESN : on")
    )


#: two tunnels in the published layout: IKE 1, IKE 2, then their children in reverse order
MULTI_V2 = (
    "show crypto sa\n\n"
    + _V2_IKE
    + _second_peer(_V2_IKE)
    + _second_peer(_V2_CHILD)
    + _V2_CHILD
    + "  Total number of ISAKMP SA 2\n  Total number of IPSEC SA 2\n"
)

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
    assert record["dh_group"] is None  # an IKE_SA column, empty on an IPsec SA
    assert record["unknown_lines"] == []  # a List column stays a list
    assert record["ike_sa_index"] is None  # old firmware prints no IKE SA


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


def test_crypto_sa_table_published_v01_11() -> None:
    table = parse_crypto_sa(V2, show_secrets=True)
    assert (table.isakmp_sa_count, table.ipsec_sa_count, table.warnings) == (1, 1, [])
    (ike,) = table.ike_sas
    assert ike.direction_tag == "I"
    assert (ike.local_ip, ike.local_port) == ("<LOCAL_IP>", 500)
    assert (ike.remote_ip, ike.remote_port) == ("anycast-address", 500)
    assert (ike.local_id, ike.local_id_type) == ("<LOCAL_ID>", "ipv4")
    assert (ike.remote_id, ike.remote_id_type) == ("anycast-address", "ipv4")
    assert ike.local_auth == ike.remote_auth == "Pre-shared key"
    assert (ike.encryption, ike.hash) == ("aes256-cbc", "hmac-sha256-128")
    assert (ike.dh_group, ike.dh_group_size) == (14, "2048 bits")
    assert (ike.initiator_cookie, ike.responder_cookie) == (
        "aaaaaaaa bbbbbbbb",
        "cccccccc dddddddd",
    )
    assert (ike.lifetime_remaining, ike.lifetime_total, ike.dpd) == (6852, 14400, "on")
    (child,) = table.ipsec_sas
    assert (child.direction_tag, child.ike_sa_index) == ("I", 0)
    assert (child.peer_ip, child.local_ip) == ("anycast-address", "xxx.xxx.xxx.xxx")
    assert (child.encryption, child.authentication) == ("AES-CBC/256", "HMAC-SHA2-256")
    assert (child.pfs, child.pfs_group, child.esn) == (False, None, False)
    assert (child.lifetime_remaining, child.lifetime_total) == (22868, 28800)
    assert (child.in_spi, child.out_spi) == ("eeeeeeee", "ffffffff")
    assert child.in_cipher_key is None  # the new format never prints keys


@pytest.mark.parametrize(
    ("dh_line", "group", "size"),
    [("14 (2048 bits)", 14, "2048 bits"), ("20", 20, None), ("5 (MODP 1536)", 5, "MODP 1536")],
)
def test_dh_group_bare_or_with_its_size(dh_line: str, group: int, size: str | None) -> None:
    published = "Diffie-Hellman group : 14 (2048 bits)"
    output = V2.replace(published, f"Diffie-Hellman group : {dh_line}")
    (ike,) = parse_crypto_sa(output).ike_sas
    assert (ike.dh_group, ike.dh_group_size) == (group, size)


def test_children_are_tied_to_the_ike_sa_of_their_peer() -> None:
    table = parse_crypto_sa(MULTI_V2)
    assert (table.isakmp_sa_count, table.ipsec_sa_count) == (2, 2)
    assert [ike.remote_ip for ike in table.ike_sas] == ["anycast-address", "198.51.100.7"]
    assert [ike.direction_tag for ike in table.ike_sas] == ["I", "R"]
    assert [(sa.peer_ip, sa.ike_sa_index) for sa in table.ipsec_sas] == [
        ("198.51.100.7", 1),
        ("anycast-address", 0),
    ]
    tunnel2 = table.ipsec_sas[0]
    assert (tunnel2.direction_tag, tunnel2.interface) == ("R", "tunnel 2")
    assert (tunnel2.pfs, tunnel2.pfs_group, tunnel2.esn) == (True, 14, True)
    records = parse_output("show crypto sa", MULTI_V2)
    assert [r["ike_sa_index"] for r in records] == [0, 1, 1, 0]


def test_child_of_an_unknown_peer_goes_to_the_nearest_preceding_ike_sa() -> None:
    output = MULTI_V2.replace("Peer IP : 198.51.100.7/500", "Peer IP : 203.0.113.9/500")
    table = parse_crypto_sa(output)
    assert [sa.ike_sa_index for sa in table.ipsec_sas] == [1, 0]


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


def test_parse_version_typed_model_with_a_space_and_a_t_version() -> None:
    present, other = parse_version(F220_EX)
    assert (present.side, present.model, present.version, present.date) == (
        "present-side",
        "F220 EX",
        "T10.02(00)[0]00.00.0",
        "2022/11/01 15:00",
    )
    assert other.side == "other-side" and present.release is None  # a T build: no release
    assert present.line == "F220 EX   Version T10.02(00)[0]00.00.0 [2022/11/01 15:00]"


def test_parse_version_puts_the_running_side_first() -> None:
    swapped = VERSION.replace("present-side", "PLACEHOLDER").replace("other-side", "present-side")
    first, second = parse_version(swapped.replace("PLACEHOLDER", "other-side"))
    assert (first.side, second.side) == ("present-side", "other-side")


@pytest.mark.parametrize(
    ("text", "release"),
    [("01.11(00)[0]00.00.0", (1, 11)), ("V01.09", (1, 9)), ("T01.06(00)", None), ("x", None)],
)
def test_firmware_release(text: str, release: tuple[int, int] | None) -> None:
    assert firmware_release(text) == release


def test_parse_version_of_another_layout_quotes_the_line() -> None:
    with pytest.raises(ParseError, match=r"unexpected line 'F220 Release 02\.00'"):
        parse_version("show version\nF220 Release 02.00\n")


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
    # A Cipher Key line where no block can hold it (not indented).
    output = ARTICLE.replace("    IN\n", "Cipher Key    : 0x0123abcd\n    IN\n", 1)
    with pytest.raises(ParseError) as caught:
        parse_output("show crypto sa", output)
    assert "Cipher Key" in str(caught.value)
    assert "0x0123abcd" not in str(caught.value)


def test_a_key_line_kept_aside_is_masked_unless_asked() -> None:
    # A Cipher Key line where the template does not expect one (before IN): kept aside.
    output = ARTICLE.replace("    IN\n", "      Cipher Key    : 0x0123abcd\n    IN\n", 1)
    (record,) = parse_output("show crypto sa", output)
    assert record["unknown_lines"] == ["Cipher Key    : <redacted>"]
    warnings = unknown_line_warnings("show crypto sa", [record])
    assert len(warnings) == 1 and "0x0123abcd" not in warnings[0]
    (shown,) = parse_output("show crypto sa", output, show_secrets=True)
    assert shown["unknown_lines"] == ["Cipher Key    : 0x0123abcd"]


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
    cut = MULTI_V2[: MULTI_V2.index("  CHILD_SA <I>")] + "  CHILD_SA <I>\n    Selector :\n"
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
    assert records[1]["in_spi"] == "eeeeeeee"


def test_parse_file(tmp_path: Path) -> None:
    saved = tmp_path / "sa.txt"
    saved.write_text(ARTICLE)
    parsed = parse_file("show crypto sa", saved, platform="furukawa_fitelnet", show_secrets=False)
    (record,) = parsed.records
    assert record["peer_ip"] == "27.133.132.134"
    assert KEY_FIELDS.isdisjoint(record)
    assert parsed.warnings == []


def test_parse_file_unreadable_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(FitelctlError, match=f"^cannot read {missing}"):
        parse_file("show crypto sa", missing, platform="furukawa_fitelnet", show_secrets=False)


def test_parse_file_bad_output_names_the_path(tmp_path: Path) -> None:
    saved = tmp_path / "junk.txt"
    saved.write_text("junk\n")
    with pytest.raises(ParseError, match=f"^{saved}: 'show crypto sa' output not recognised"):
        parse_file("show crypto sa", saved, platform="furukawa_fitelnet", show_secrets=False)
