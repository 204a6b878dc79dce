"""The one place that runs TextFSM: device output in, records out.

Every command's output is read by a template in ``parsers/`` (ntc-templates
conventions), found through the clitable ``index``. The same directory serves
``textfsm.clitable.CliTable`` and netmiko's ``use_textfsm=True`` (with
``NET_TEXTFSM`` pointing at it), so anything parsed here parses the same way there.
What TextFSM leaves to its caller is done here, and only here:

- a clear ``ParseError`` instead of a TextFSM traceback or an empty success: no
  template for the command, a line the template does not expect (its ``Error``
  rule fires), no record at all, or an output cut before its trailer (a ``Fillup``
  value, printed after the records it belongs to, left empty);
- numbers: a column whose Value regex is exactly ``(\\d+)`` becomes an ``int``;
  every other column stays a string; an empty column becomes ``None``;
- key material (``redact.SECRET_FIELDS``) is dropped unless asked for;
- ``parse_crypto_sa`` turns ``show crypto sa`` records into typed values.

The index picks the template (one per command); the template is then run with
``textfsm.TextFSM`` directly rather than ``CliTable.ParseCmd``, because the checks
above need the template's own Value declarations. No output is read with regular
expressions in Python: the templates are the only description of what the device
prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import textfsm
from textfsm import clitable

from fitelctl.errors import FitelctlError
from fitelctl.redact import redact_record, redact_text

DEFAULT_PLATFORM = "furukawa_fitelnet"
INDEX_FILE = "index"
_NUMBER_REGEX = r"(\d+)"
_CRYPTO_SA = "show crypto sa"
_IKE_SA = "IKE_SA"


class ParseError(FitelctlError):
    """Output that no template reads, or reads only in part."""


def templates_dir() -> Path:
    """Where the templates and their index are.

    A wheel carries them as ``fitelctl/_parsers`` (hatch force-include); a source
    checkout or editable install has them at the top-level ``parsers/``.
    """
    package = Path(__file__).resolve().parent
    installed = package / "_parsers"
    return installed if installed.is_dir() else package.parent / "parsers"


def parse_output(
    command: str,
    output: str,
    *,
    platform: str = DEFAULT_PLATFORM,
    show_secrets: bool = False,
) -> list[dict[str, object]]:
    """Records (lower-case keys) the template for ``command`` gives for ``output``.

    Raises ``ParseError`` rather than return a partial or empty result.
    """
    template = _find_template(command, platform)
    if not output.strip():
        raise ParseError(f"{command!r} output is empty")
    with template.open(encoding="utf-8") as handle:
        fsm = textfsm.TextFSM(handle)
    try:
        rows: list[dict[str, str]] = fsm.ParseTextToDicts(output)
    except textfsm.TextFSMError as err:
        line = str(err).partition("Input Line: ")[2] or str(err)
        raise ParseError(
            f"{command!r} output not recognised by {template.name}: "
            f"unexpected line {redact_text(line.strip())!r}"
        ) from err
    if not rows:
        raise ParseError(
            f"{command!r} output not recognised by {template.name}: no complete record "
            "(cut short, or the output of another command?)"
        )
    for trailer in fsm.GetValuesByAttrib("Fillup"):
        if any(not row[trailer] for row in rows):
            raise ParseError(
                f"{command!r} output is cut short: it ends before the line giving {trailer.lower()}"
            )
    numbers = {value.name for value in fsm.values if value.regex == _NUMBER_REGEX}
    records = [_convert(row, numbers) for row in rows]
    return records if show_secrets else [redact_record(record) for record in records]


def _find_template(command: str, platform: str) -> Path:
    directory = templates_dir()
    if not (directory / INDEX_FILE).is_file():
        raise ParseError(f"no TextFSM template index at {directory / INDEX_FILE}")
    cli_table = clitable.CliTable(INDEX_FILE, str(directory))
    row = cli_table.index.GetRowMatch({"Command": command, "Platform": platform})
    if not row:
        raise ParseError(
            f"no TextFSM template for {command!r} on platform {platform!r} "
            f"in {directory / INDEX_FILE}"
        )
    return directory / str(cli_table.index.index[row]["Template"])


def _convert(row: dict[str, str], numbers: set[str]) -> dict[str, object]:
    record: dict[str, object] = {}
    for name, text in row.items():
        value: object = text or None
        if text and name in numbers:
            value = int(text)
        record[name.lower()] = value
    return record


@dataclass(frozen=True)
class IkeSa:
    """An ``IKE_SA`` block (firmware V01.11 and later only)."""

    direction_tag: str
    mode: str
    local_ip: str
    local_port: int
    remote_ip: str
    remote_port: int
    local_id: str
    remote_id: str
    local_auth: str
    remote_auth: str
    encryption: str
    hash: str
    dh_group: int
    initiator_cookie: str
    responder_cookie: str
    lifetime_remaining: int
    lifetime_total: int
    dpd: str


@dataclass(frozen=True)
class IpsecSa:
    """An ``IPSEC SA`` (old firmware) or ``CHILD_SA`` (V01.11+) block.

    The four keys are printed by old firmware only, and kept only when the
    caller asked for secrets; they never appear in ``repr``.
    """

    direction_tag: str
    selector_local: str
    selector_remote: str
    interface: str
    peer_ip: str
    peer_port: int
    local_ip: str
    local_port: int
    encryption: str
    authentication: str
    lifetime_remaining: int
    lifetime_total: int
    pfs: bool
    pfs_group: int | None
    esn: bool
    in_spi: str
    in_packets: int
    in_octets: int
    in_replay_errors: int
    in_auth_errors: int
    in_padding_errors: int
    in_rule_errors: int
    out_spi: str
    out_packets: int
    out_octets: int
    out_seq_lapped: int
    in_cipher_key: str | None = field(default=None, repr=False)
    in_auth_key: str | None = field(default=None, repr=False)
    out_cipher_key: str | None = field(default=None, repr=False)
    out_auth_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CryptoSaTable:
    """``show crypto sa`` as a whole: the device's totals and every SA block."""

    isakmp_sa_count: int
    ipsec_sa_count: int
    ike_sas: list[IkeSa]
    ipsec_sas: list[IpsecSa]


def parse_crypto_sa(output: str, *, show_secrets: bool = False) -> CryptoSaTable:
    """Typed ``show crypto sa``, either firmware format.

    The totals come from the template too: every record carries them, and an
    output with no SA block gives one record holding only the totals.
    """
    records = parse_output(_CRYPTO_SA, output, show_secrets=show_secrets)
    blocks = [record for record in records if record["sa_type"] is not None]
    return CryptoSaTable(
        isakmp_sa_count=_int(records[0], "isakmp_sa_count"),
        ipsec_sa_count=_int(records[0], "ipsec_sa_count"),
        ike_sas=[_ike_sa(block) for block in blocks if block["sa_type"] == _IKE_SA],
        ipsec_sas=[_ipsec_sa(block) for block in blocks if block["sa_type"] != _IKE_SA],
    )


def _ike_sa(record: dict[str, object]) -> IkeSa:
    return IkeSa(
        direction_tag=_str(record, "direction_tag"),
        mode=_str(record, "mode"),
        local_ip=_str(record, "local_ip"),
        local_port=_int(record, "local_port"),
        remote_ip=_str(record, "remote_ip"),
        remote_port=_int(record, "remote_port"),
        local_id=_str(record, "local_id"),
        remote_id=_str(record, "remote_id"),
        local_auth=_str(record, "local_auth"),
        remote_auth=_str(record, "remote_auth"),
        encryption=_str(record, "encryption"),
        hash=_str(record, "hash"),
        dh_group=_int(record, "dh_group"),
        initiator_cookie=_str(record, "initiator_cookie"),
        responder_cookie=_str(record, "responder_cookie"),
        lifetime_remaining=_int(record, "lifetime_remaining"),
        lifetime_total=_int(record, "lifetime_total"),
        dpd=_str(record, "dpd"),
    )


def _ipsec_sa(record: dict[str, object]) -> IpsecSa:
    return IpsecSa(
        direction_tag=_str(record, "direction_tag"),
        selector_local=_str(record, "selector_local"),
        selector_remote=_str(record, "selector_remote"),
        interface=_str(record, "interface"),
        peer_ip=_str(record, "peer_ip"),
        peer_port=_int(record, "peer_port"),
        local_ip=_str(record, "local_ip"),
        local_port=_int(record, "local_port"),
        encryption=_str(record, "encryption"),
        authentication=_str(record, "authentication"),
        lifetime_remaining=_int(record, "lifetime_remaining"),
        lifetime_total=_int(record, "lifetime_total"),
        pfs=_str(record, "pfs") == "on",
        pfs_group=_optional_int(record, "pfs_group"),
        esn=_str(record, "esn") == "on",
        in_spi=_str(record, "in_spi"),
        in_packets=_int(record, "in_packets"),
        in_octets=_int(record, "in_octets"),
        in_replay_errors=_int(record, "in_replay_errors"),
        in_auth_errors=_int(record, "in_auth_errors"),
        in_padding_errors=_int(record, "in_padding_errors"),
        in_rule_errors=_int(record, "in_rule_errors"),
        out_spi=_str(record, "out_spi"),
        out_packets=_int(record, "out_packets"),
        out_octets=_int(record, "out_octets"),
        out_seq_lapped=_int(record, "out_seq_lapped"),
        in_cipher_key=_optional_str(record, "in_cipher_key"),
        in_auth_key=_optional_str(record, "in_auth_key"),
        out_cipher_key=_optional_str(record, "out_cipher_key"),
        out_auth_key=_optional_str(record, "out_auth_key"),
    )


def _missing(record: dict[str, object], key: str) -> ParseError:
    return ParseError(
        f"{_CRYPTO_SA!r} output has a {record['sa_type']} block without its {key} line"
    )


def _str(record: dict[str, object], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise _missing(record, key)
    return value


def _int(record: dict[str, object], key: str) -> int:
    value = record.get(key)
    if not isinstance(value, int):
        raise _missing(record, key)
    return value


def _optional_str(record: dict[str, object], key: str) -> str | None:
    value = record.get(key)
    return value if isinstance(value, str) else None


def _optional_int(record: dict[str, object], key: str) -> int | None:
    value = record.get(key)
    return value if isinstance(value, int) else None
