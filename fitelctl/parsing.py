"""The one place that runs TextFSM: device output in, records out.

Every command's output is read by a template in ``parsers/`` (ntc-templates
conventions), found through the clitable ``index``. The same directory serves
``textfsm.clitable.CliTable`` and netmiko's ``use_textfsm=True`` (with
``NET_TEXTFSM`` pointing at it), so anything parsed here parses the same way there.
What TextFSM leaves to its caller is done here, and only here:

- ``normalise_output``: CRLF/CR line ends, trailing spaces, terminal escapes and
  pager remnants (the real FITELnet pager is ``less``, whose ``:`` prompt line can be
  left in a capture, as is the ``--More--`` of other pagers) are removed before TextFSM runs;
- a clear ``ParseError`` instead of a TextFSM traceback or an empty success: no
  template for the command, a line the template does not expect (its ``Error``
  rule fires), no record at all, or an output cut before its trailer (a ``Fillup``
  value, printed after the records it belongs to, left empty);
- numbers: a column whose Value regex is exactly ``(\\d+)`` becomes an ``int``;
  a ``List`` column stays a list; every other column stays a string; an empty
  column becomes ``None``;
- key material (``redact.SECRET_FIELDS``) is dropped unless asked for;
- ``show crypto sa``: each record gets ``ike_sa_index`` (see ``tie_sas``) and the
  lines a template kept aside as unknown become warnings (``unknown_line_warnings``);
- ``parse_crypto_sa`` and ``parse_version`` turn records into typed values.

The index picks the template (one per command); the template is then run with
``textfsm.TextFSM`` directly rather than ``CliTable.ParseCmd``, because the checks
above need the template's own Value declarations. No output is read with regular
expressions in Python: the templates are the only description of what the device
prints.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import textfsm
from textfsm import clitable

from fitelctl.errors import FitelctlError
from fitelctl.redact import MASK, redact_record, redact_text

DEFAULT_PLATFORM = "furukawa_fitelnet"
INDEX_FILE = "index"
_NUMBER_REGEX = r"(\d+)"
_CRYPTO_SA = "show crypto sa"
_CRYPTO_SA_TEMPLATE = "furukawa_fitelnet_show_crypto_sa.textfsm"
_VERSION = "show version"
_IKE_SA = "IKE_SA"
_UNKNOWN_LINES = "unknown_lines"
_KEY_LIKE = re.compile(r"(?:0x)?[0-9A-Fa-f]{12,}")
_TERMINAL_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x08")
#: Lines that are only a pager's prompt: ``less``'s ``:`` (the real FITELnet pager,
#: as handled by takamitsu-iida/pyats-fitelnet's unicon plugin) and a ``--More--`` pager's.
_PAGER_PROMPTS = frozenset({":", "--More--"})

#: Models whose ``show version`` the project has seen (published captures) or whose
#: name the published guides give (F70/F71: no capture found).
KNOWN_MODELS = frozenset({"F220", "F220 EX", "F221", "FX201", "F70", "F71"})


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
    output = normalise_output(output)
    if not output.strip():
        raise ParseError(f"{command!r} output is empty")
    with _fsm(template) as fsm:
        try:
            # ParseText, not ParseTextToDicts: that rebuilds the header for every row
            header = fsm.header
            rows: list[dict[str, str | list[str]]] = [
                dict(zip(header, row, strict=True)) for row in fsm.ParseText(output)
            ]
        except textfsm.TextFSMError as err:
            line = str(err).partition("Input Line: ")[2] or str(err)
            raise ParseError(
                f"{command!r} output not recognised by {template.name}: "
                f"unexpected line {_mask_line(line.strip())!r}"
            ) from err
        trailers = fsm.GetValuesByAttrib("Fillup")
        numbers = {value.name for value in fsm.values if value.regex == _NUMBER_REGEX}
    if not rows:
        raise ParseError(
            f"{command!r} output not recognised by {template.name}: no complete record "
            "(cut short, or the output of another command?)"
        )
    for trailer in trailers:
        if any(not row[trailer] for row in rows):
            raise ParseError(
                f"{command!r} output is cut short: it ends before the line giving {trailer.lower()}"
            )
    records = [_convert(row, numbers) for row in rows]
    if template.name == _CRYPTO_SA_TEMPLATE:
        records = tie_sas(records)
    return records if show_secrets else [_redacted(record) for record in records]


def normalise_output(output: str) -> str:
    """``output`` as the screen showed it: one ``\\n`` per line, no trailing spaces,
    no terminal escapes, no pager prompt lines.

    A carriage return inside a line (a pager erasing its prompt, then printing the
    next line over it) keeps what was printed last.
    """
    lines = []
    for raw in _TERMINAL_ESCAPE.sub("", output).replace("\r\n", "\n").split("\n"):
        shown = [part for part in raw.split("\r") if part.strip()]
        line = shown[-1].rstrip() if shown else ""
        if line.strip() not in _PAGER_PROMPTS:
            lines.append(line)
    return "\n".join(lines)


def _redacted(record: dict[str, object]) -> dict[str, object]:
    clean = redact_record(record)
    lines = clean.get(_UNKNOWN_LINES)
    if isinstance(lines, list):
        clean[_UNKNOWN_LINES] = [_mask_line(str(line)) for line in lines]
    return clean


def _mask_line(line: str) -> str:
    """A line the template did not read, safe to show: key material masked by its
    label (``redact_text``) and, since the label may be what was not understood, any
    run of 12+ hex digits too (keys are 32+; SPIs and cookie groups are 8)."""
    return _KEY_LIKE.sub(MASK, redact_text(line))


def _find_template(command: str, platform: str) -> Path:
    directory = templates_dir()
    if not (directory / INDEX_FILE).is_file():
        raise ParseError(f"no TextFSM template index at {directory / INDEX_FILE}")
    stamp = (directory / INDEX_FILE).stat().st_mtime_ns
    template = _template_name(str(directory), stamp, command, platform)
    if template is None:
        raise ParseError(
            f"no TextFSM template for {command!r} on platform {platform!r} "
            f"in {directory / INDEX_FILE}"
        )
    return directory / template


@functools.lru_cache(maxsize=64)
def _template_name(directory: str, stamp: int, command: str, platform: str) -> str | None:
    """The index's template for ``command``, looked up once per index version (``stamp``)."""
    cli_table = clitable.CliTable(INDEX_FILE, directory)
    row = cli_table.index.GetRowMatch({"Command": command, "Platform": platform})
    return str(cli_table.index.index[row]["Template"]) if row else None


#: compiled state machines not in use, per template file and version.  Building one
#: costs more than a parse; a fleet command's worker threads are new for each command,
#: so compiled ones are shared by every thread, one thread at a time (a parse changes
#: the machine's state).  There are never more than the threads that parsed at once.
_IDLE_FSMS: dict[tuple[Path, int], list[textfsm.TextFSM]] = {}
_IDLE_FSMS_LOCK = threading.Lock()


def _free_lock_in_child() -> None:
    """A forked child has only the thread that forked: if another thread held the lock at
    that moment, nothing in the child would ever release it."""
    global _IDLE_FSMS_LOCK
    _IDLE_FSMS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_free_lock_in_child)


@contextmanager
def _fsm(template: Path) -> Iterator[textfsm.TextFSM]:
    """A reset state machine for ``template``, this thread's until the block ends."""
    key = (template, template.stat().st_mtime_ns)
    with _IDLE_FSMS_LOCK:
        idle = _IDLE_FSMS.setdefault(key, [])
        fsm = idle.pop() if idle else None
    if fsm is None:
        with template.open(encoding="utf-8") as handle:
            fsm = textfsm.TextFSM(handle)
    fsm.Reset()
    try:
        yield fsm
    finally:
        with _IDLE_FSMS_LOCK:
            idle.append(fsm)


def compile_template(command: str, *, platform: str = DEFAULT_PLATFORM) -> None:
    """Compile ``command``'s state machine now, for the parses to come: ``fitelctl
    daemon`` does this once so that the commands it forks do not."""
    with _fsm(_find_template(command, platform)):
        pass


def _convert(row: dict[str, str | list[str]], numbers: set[str]) -> dict[str, object]:
    record: dict[str, object] = {}
    for name, text in row.items():
        value: object = text or None
        if isinstance(text, list):
            value = list(text)
        elif text and name in numbers:
            value = int(text)
        record[name.lower()] = value
    return record


def tie_sas(records: list[dict[str, object]]) -> list[dict[str, object]]:
    """``show crypto sa`` records, each with ``ike_sa_index``: which IKE SA it belongs to.

    The index counts the ``IKE_SA`` blocks of the output from 0. An IKE record gets
    its own; a CHILD_SA/IPSEC SA record gets the IKE SA whose remote address is the
    child's peer address (the nearest preceding such IKE SA if several match, else the
    first one), failing that the nearest preceding IKE SA of any peer, failing that
    ``None`` (old firmware prints no IKE SA). The device prints nothing that ties
    them; the address is what an IKE SA and the SAs it negotiated share.
    """
    ike_positions: list[tuple[int, object]] = []  # (record position, remote address)
    for position, record in enumerate(records):
        if _sa_type(record) == _IKE_SA:
            ike_positions.append((position, record.get("remote_ip")))
    tied = []
    for position, record in enumerate(records):
        index: int | None = None
        if _sa_type(record) == _IKE_SA:
            index = [p for p, _ in ike_positions].index(position)
        elif _sa_type(record):
            index = _ike_for(position, record.get("peer_ip"), ike_positions)
        tied.append({**record, "ike_sa_index": index})
    return tied


def _ike_for(position: int, peer: object, ikes: list[tuple[int, object]]) -> int | None:
    same_peer = [i for i, (_, remote) in enumerate(ikes) if peer is not None and remote == peer]
    before = [i for i, (p, _) in enumerate(ikes) if p < position]
    preceding_same = [i for i in same_peer if i in before]
    if preceding_same:
        return preceding_same[-1]
    if same_peer:
        return same_peer[0]
    return before[-1] if before else None


def _sa_type(record: dict[str, object]) -> str | None:
    value = record.get("sa_type")
    return " ".join(value.upper().split()) if isinstance(value, str) else None


def unknown_line_warnings(command: str, records: list[dict[str, object]]) -> list[str]:
    """One message per line a template kept aside (``unknown_lines``), naming its block."""
    warnings: list[str] = []
    for number, record in enumerate(records, start=1):
        lines = record.get(_UNKNOWN_LINES)
        if not isinstance(lines, list):
            continue
        where = f"{record.get('sa_type') or 'record'} block {number}"
        warnings.extend(
            f"{command!r}: {where} has a line fitelctl does not know (kept aside, the rest "
            f"of the block was read): {_mask_line(str(line))!r}"
            for line in lines
        )
    return warnings


@dataclass(frozen=True)
class IkeSa:
    """An ``IKE_SA`` block (firmware V01.11 and later only).

    Only the remote address is required (it ties the child SAs); a line the block
    lacks leaves its field ``None`` and a warning in ``CryptoSaTable.warnings``.
    ``initiator_cookie``/``responder_cookie`` are printed as two 8-hex groups by
    V01.11 and kept as printed; ``dh_group_size`` is the text in parentheses after
    the group (``2048 bits``), when printed.
    """

    remote_ip: str
    direction_tag: str | None = None
    local_ip: str | None = None
    local_port: int | None = None
    remote_port: int | None = None
    local_id: str | None = None
    local_id_type: str | None = None
    remote_id: str | None = None
    remote_id_type: str | None = None
    local_auth: str | None = None
    remote_auth: str | None = None
    encryption: str | None = None
    hash: str | None = None
    dh_group: int | None = None
    dh_group_size: str | None = None
    initiator_cookie: str | None = None
    responder_cookie: str | None = None
    lifetime_remaining: int | None = None
    lifetime_total: int | None = None
    dpd: str | None = None
    unknown_lines: tuple[str, ...] = ()


#: IKE_SA fields every published V01.11 block prints; a block without one is reported.
_IKE_EXPECTED = (
    "direction_tag", "local_ip", "remote_port", "local_id", "remote_id", "local_auth",
    "remote_auth", "encryption", "hash", "dh_group", "initiator_cookie", "responder_cookie",
    "lifetime_remaining", "dpd",
)  # fmt: skip


@dataclass(frozen=True)
class IpsecSa:
    """An ``IPSEC SA`` (old firmware) or ``CHILD_SA`` (V01.11+) block.

    ``ike_sa_index`` is the position in ``CryptoSaTable.ike_sas`` of the IKE SA this
    SA belongs to (``tie_sas``), ``None`` on old firmware. The four keys are printed
    by old firmware only, and kept only when the caller asked for secrets; they never
    appear in ``repr``.
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
    ike_sa_index: int | None = None
    unknown_lines: tuple[str, ...] = ()
    in_cipher_key: str | None = field(default=None, repr=False)
    in_auth_key: str | None = field(default=None, repr=False)
    out_cipher_key: str | None = field(default=None, repr=False)
    out_auth_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CryptoSaTable:
    """``show crypto sa`` as a whole: the device's totals, every SA block, and what
    was printed but not understood (``warnings``: lines kept aside, IKE lines missing)."""

    isakmp_sa_count: int
    ipsec_sa_count: int
    ike_sas: list[IkeSa]
    ipsec_sas: list[IpsecSa]
    warnings: list[str] = field(default_factory=list)


def parse_crypto_sa(output: str, *, show_secrets: bool = False) -> CryptoSaTable:
    """Typed ``show crypto sa``, either firmware layout.

    The totals come from the template too: every record carries them, and an
    output with no SA block gives one record holding only the totals.
    """
    records = parse_output(_CRYPTO_SA, output, show_secrets=show_secrets)
    blocks = [record for record in records if _sa_type(record) is not None]
    ike_sas = [_ike_sa(block) for block in blocks if _sa_type(block) == _IKE_SA]
    warnings = unknown_line_warnings(_CRYPTO_SA, records)
    for number, ike in enumerate(ike_sas, start=1):
        warnings.extend(
            f"{_CRYPTO_SA!r}: IKE_SA block {number} (remote {ike.remote_ip}) printed no "
            f"{name.replace('_', ' ')} line"
            for name in _IKE_EXPECTED
            if getattr(ike, name) is None
        )
    return CryptoSaTable(
        isakmp_sa_count=_int(records[0], "isakmp_sa_count"),
        ipsec_sa_count=_int(records[0], "ipsec_sa_count"),
        ike_sas=ike_sas,
        ipsec_sas=[_ipsec_sa(block) for block in blocks if _sa_type(block) != _IKE_SA],
        warnings=warnings,
    )


def _ike_sa(record: dict[str, object]) -> IkeSa:
    return IkeSa(
        remote_ip=_str(record, "remote_ip"),
        direction_tag=_optional_str(record, "direction_tag"),
        local_ip=_optional_str(record, "local_ip"),
        local_port=_optional_int(record, "local_port"),
        remote_port=_optional_int(record, "remote_port"),
        local_id=_optional_str(record, "local_id"),
        local_id_type=_optional_str(record, "local_id_type"),
        remote_id=_optional_str(record, "remote_id"),
        remote_id_type=_optional_str(record, "remote_id_type"),
        local_auth=_optional_str(record, "local_auth"),
        remote_auth=_optional_str(record, "remote_auth"),
        encryption=_optional_str(record, "encryption"),
        hash=_optional_str(record, "hash"),
        dh_group=_optional_int(record, "dh_group"),
        dh_group_size=_optional_str(record, "dh_group_size"),
        initiator_cookie=_optional_str(record, "initiator_cookie"),
        responder_cookie=_optional_str(record, "responder_cookie"),
        lifetime_remaining=_optional_int(record, "lifetime_remaining"),
        lifetime_total=_optional_int(record, "lifetime_total"),
        dpd=_optional_str(record, "dpd"),
        unknown_lines=_lines(record),
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
        ike_sa_index=_optional_int(record, "ike_sa_index"),
        unknown_lines=_lines(record),
        in_cipher_key=_optional_str(record, "in_cipher_key"),
        in_auth_key=_optional_str(record, "in_auth_key"),
        out_cipher_key=_optional_str(record, "out_cipher_key"),
        out_auth_key=_optional_str(record, "out_auth_key"),
    )


@dataclass(frozen=True)
class FirmwareVersion:
    """One side of ``show version``: ``present-side`` runs, ``other-side`` is the spare."""

    side: str
    model: str
    version: str
    date: str

    @property
    def line(self) -> str:
        """The line as the device prints it (spacing normalised), for messages."""
        return f"{self.model}   Version {self.version} [{self.date}]"

    @property
    def release(self) -> tuple[int, int] | None:
        return firmware_release(self.version)


#: The first firmware printing `show crypto sa` as IKE_SA + CHILD_SA blocks (the F220
#: V01.11 capture published by Cloudflare); earlier ones print IPSEC SA blocks.
IKE_CHILD_LAYOUT_FROM = (1, 11)


def firmware_release(version: str) -> tuple[int, int] | None:
    """``01.11(00)[0]00.00.0`` or ``V01.11`` → ``(1, 11)``; ``None`` for a test build
    (``T10.02…``, as on the F220 EX) or anything else not of that shape."""
    major, dot, rest = version.removeprefix("V").removeprefix("v").partition(".")
    minor = rest.partition("(")[0]
    if dot and major.isdigit() and minor.isdigit():
        return int(major), int(minor)
    return None


def parse_version(output: str) -> list[FirmwareVersion]:
    """Typed ``show version``: every side the device prints, present-side first."""
    versions = [
        FirmwareVersion(
            side=_version_str(record, "side"),
            model=_version_str(record, "model"),
            version=_version_str(record, "version"),
            date=_version_str(record, "date"),
        )
        for record in parse_output(_VERSION, output)
    ]
    return sorted(versions, key=lambda version: version.side != "present-side")


def _version_str(record: dict[str, object], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise ParseError(f"{_VERSION!r} output has a firmware line without its {key}")
    return value


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


def _lines(record: dict[str, object]) -> tuple[str, ...]:
    value = record.get(_UNKNOWN_LINES)
    return tuple(str(line) for line in value) if isinstance(value, list) else ()
