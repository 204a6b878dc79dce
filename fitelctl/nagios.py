"""Monitoring-plugin output for ``fitelctl status SITE --nagios``: one line, one exit code.

What a Nagios/Icinga check must look like, from the Monitoring Plugins Development
Guidelines (monitoring-plugins/monitoring-plugins, ``doc/developer-guidelines.sgml``)
and the library the core plugins share (``lib/utils_base.c``):

* exit code 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; UNKNOWN for invalid command line
  arguments and for failures that keep the plugin from checking at all;
* the status on stdout, first line only (it is what a pager gets); performance data
  after a ``|``: ``'label'=value[UOM];[warn];[crit];[min];[max]``, pairs separated by
  spaces, the label quoted when it holds a space, ``=`` or ``'`` (a quote doubled),
  values of the characters ``-0-9.``, trailing empty fields dropped, UOM one of
  none, ``s``/``ms``/``us``, ``%``, ``B``/``KB``/``MB``/``TB``, ``c`` (a counter);
* a range is ``[@]start:end``: ``start:`` may be left out when it is 0, an empty end is
  +infinity, ``~`` as start is -infinity; it alerts when the value is outside
  start..end, endpoints included, or inside it when it starts with ``@``
  (``10`` alerts under 0 or over 10, ``10:`` under 10, ``~:10`` over 10, ``10:20``
  outside 10..20, ``@10:20`` inside); a start above the end is an error
  (``parse_range_string``); critical is judged before warning (``get_status``).

Two facts from Icinga: Icinga 2 runs a plugin with stderr on the pipe of stdout
(``lib/base/process.cpp`` dup2s both), so a plugin's stray stderr lines end up in its
output; and Icinga's developer guidelines ask a plugin that runs out of its own time to
say so and end UNKNOWN.  The tests read the line with pynag's perfdata parser.

The rest is fitelctl's choice (docs/output-contract.md#status---nagios says why):

* the verdict keeps ``status``'s meaning: ``up`` OK, ``degraded`` WARNING, ``down``
  CRITICAL, ``unknown`` UNKNOWN, except that a device that answered without the
  tunnel's SA makes it CRITICAL even when the VPC router could not be read (the tunnel
  is known to be down).  Unlike check_by_ssh and check_nrpe, whose connection failures
  are CRITICAL unless ``-U``, an unreachable device, an API error or the deadline is
  UNKNOWN: what failed is the management path, not the tunnel, and an API outage must
  not page every site as a tunnel failure;
* thresholds judge two figures: the tunnel's SA lifetime remaining (no default: it
  runs down to the rekey on every SA, so only the operator knows what is too low) and
  its inbound errors (default warning range ``0``: any error warns, as ``status`` calls
  that ``degraded``; given thresholds replace that rule);
* a tunnel with several SAs (a rekey under way) is summed for packets and errors and
  judged by its newest SA's lifetime (the largest remaining).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fitelctl.errors import FitelctlError

if TYPE_CHECKING:
    from fitelctl.ops.status import SaSummary, SiteStatus

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
#: the service name that opens the line, as the core plugins print theirs ("DISK OK - …")
SERVICE = "FITELCTL"


class RangeError(FitelctlError):
    """A threshold that is not a range; UNKNOWN, as for any bad argument."""

    exit_code = UNKNOWN


_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_RANGE = re.compile(rf"(?P<inside>@)?(?:(?P<start>~|{_NUMBER})?:)?(?P<end>{_NUMBER})?")
RANGE_HELP = "[@]START:END, e.g. 300: (under 300), ~:10 (over 10), 10 (outside 0..10)"


@dataclass(frozen=True)
class Range:
    """A threshold range; ``alerts(value)`` says whether the value raises the alert."""

    start: float = 0.0
    end: float = math.inf
    inside: bool = False

    @classmethod
    def parse(cls, text: str, option: str) -> Range:
        """``text`` as the guidelines define it; errors name ``option`` and the value."""
        spec = text.strip()
        found = _RANGE.fullmatch(spec)
        if found is None or spec in ("", "@"):
            raise RangeError(f"{option} {text!r}: not a threshold range ({RANGE_HELP})")
        start_text, end_text = found["start"], found["end"]
        start = -math.inf if start_text == "~" else float(start_text or 0)
        end = float(end_text) if end_text else math.inf
        if start > end:
            raise RangeError(
                f"{option} {text!r}: the start ({_number(start)}) is above the end "
                f"({_number(end)}) ({RANGE_HELP})"
            )
        return cls(start, end, inside=bool(found["inside"]))

    def alerts(self, value: float) -> bool:
        within = self.start <= value <= self.end
        return within if self.inside else not within

    def __str__(self) -> str:
        text = "@" if self.inside else ""
        if self.start == -math.inf:
            text += "~:"
        elif self.start != 0 or self.end == math.inf:
            text += f"{_number(self.start)}:"
        return text + ("" if self.end == math.inf else _number(self.end))


@dataclass(frozen=True)
class Thresholds:
    warning: Range | None = None
    critical: Range | None = None

    def state(self, value: float) -> int:
        if self.critical is not None and self.critical.alerts(value):
            return CRITICAL
        if self.warning is not None and self.warning.alerts(value):
            return WARNING
        return OK

    @classmethod
    def parse(cls, warning: tuple[str, str | None], critical: tuple[str, str | None]) -> Thresholds:
        """From ``(option, text)`` pairs; a text of None is no threshold."""
        (w_option, w_text), (c_option, c_text) = warning, critical
        return cls(
            Range.parse(w_text, w_option) if w_text is not None else None,
            Range.parse(c_text, c_option) if c_text is not None else None,
        )


#: errors warn from the first one unless the operator says otherwise (as ``status`` does)
DEFAULT_ERROR_WARNING = Range(0, 0)


@dataclass(frozen=True)
class Metric:
    """One performance data pair."""

    label: str
    value: float
    uom: str = ""
    thresholds: Thresholds = field(default_factory=Thresholds)
    minimum: float | None = None
    maximum: float | None = None

    def __str__(self) -> str:
        fields = [
            f"{perf_label(self.label)}={_number(self.value)}{self.uom}",
            _optional(self.thresholds.warning),
            _optional(self.thresholds.critical),
            _optional(self.minimum),
            _optional(self.maximum),
        ]
        while fields[-1] == "":
            fields.pop()
        return ";".join(fields)


def perf_label(label: str) -> str:
    """The label, quoted when it holds a space, ``=`` or ``'`` (a quote doubled)."""
    if re.search(r"[\s=']", label):
        return "'" + label.replace("'", "''") + "'"
    return label


@dataclass(frozen=True)
class Check:
    """The check's verdict: its exit code and its one line."""

    code: int
    line: str


def check(
    status: SiteStatus,
    *,
    peer: str,
    interface: str,
    lifetime: Thresholds,
    errors: Thresholds,
    poll_time: float,
    timeout: float,
) -> Check:
    """The plugin's verdict on one site's ``status``, and its line with performance data.

    ``peer`` and ``interface`` pick the tunnel's SAs as ``status`` does (the site's
    ``cloud.global_address`` on its tunnel interface).
    """
    if errors.warning is None and errors.critical is None:
        errors = Thresholds(warning=DEFAULT_ERROR_WARNING)
    ours = [
        sa for sa in status.device.ipsec_sas if sa.peer_ip == peer and sa.interface == interface
    ]
    # judge() lists one problem per SA with inbound errors first, then the cloud's
    erring = sum(1 for sa in ours if sa.in_errors)
    other_problems = status.problems[erring:] if status.state in ("up", "degraded") else []
    # the tunnel's figures whenever the device answered (zeros when it has no SA)
    metrics = _tunnel_metrics(ours, lifetime, errors) if status.device.reachable else []
    metrics.append(Metric("poll_time", round(poll_time, 3), "s", minimum=0, maximum=timeout))
    if status.state == "unknown" and (ours or not status.device.reachable):
        return Check(UNKNOWN, _line(UNKNOWN, status.site, "unknown", status.problems, metrics))
    if not ours:  # down, or the device answered without the SA while the router did not
        reasons = status.problems
        if status.state == "unknown":
            reasons = [f"no IPsec SA with {peer} on {interface}", *reasons]
        return Check(CRITICAL, _line(CRITICAL, status.site, "down", reasons, metrics))
    newest = max(ours, key=lambda sa: sa.lifetime_remaining)
    remaining, error_count = newest.lifetime_remaining, sum(sa.in_errors for sa in ours)
    reasons = list(other_problems)
    code = WARNING if other_problems else OK
    for what, value, unit, judged in (
        ("SA lifetime remaining", remaining, " s", lifetime),
        ("inbound errors", error_count, "", errors),
    ):
        state = judged.state(value)
        if state != OK:
            alert = judged.critical if state == CRITICAL else judged.warning
            reasons.append(f"{what} {value}{unit} ({STATE_NAMES[state].lower()} range {alert})")
            code = max(code, state)
    summary = "degraded" if other_problems else "up"
    summary += f" {_algorithms(newest)}, SA lifetime {remaining}/{newest.lifetime_total} s"
    return Check(code, _line(code, status.site, summary, reasons, metrics))


def unknown_line(message: str) -> str:
    """A failure before any verdict (bad arguments, inventory, …) as the plugin's line."""
    return f"{SERVICE} UNKNOWN - {_text(message)}"


def _tunnel_metrics(
    ours: list[SaSummary], lifetime: Thresholds, errors: Thresholds
) -> list[Metric]:
    newest = max(ours, key=lambda sa: sa.lifetime_remaining, default=None)
    total = newest.lifetime_total if newest else None
    return [
        Metric(
            "lifetime_remaining",
            newest.lifetime_remaining if newest else 0,
            "s",
            lifetime,
            minimum=0,
            maximum=total,
        ),
        Metric("in_packets", sum(sa.in_packets for sa in ours), "c", minimum=0),
        Metric("out_packets", sum(sa.out_packets for sa in ours), "c", minimum=0),
        Metric("in_errors", sum(sa.in_errors for sa in ours), "c", errors, minimum=0),
    ]


def _algorithms(sa: SaSummary) -> str:
    pfs = f"PFS group {sa.pfs_group}" if sa.pfs_group is not None else "no PFS"
    return f"{sa.encryption} {sa.authentication} {pfs}"


def _line(code: int, site: str, summary: str, reasons: Iterable[str], metrics: list[Metric]) -> str:
    text = f"site {site}: {summary}"
    reasons = list(reasons)
    if reasons:
        text += ": " + "; ".join(reasons)
    perfdata = " ".join(str(metric) for metric in metrics)
    return f"{SERVICE} {STATE_NAMES[code]} - {_text(text)} | {perfdata}"


def _text(text: str) -> str:
    """One line, without the ``|`` that would start the performance data."""
    return " ".join(text.replace("|", "/").split())


def _number(value: float) -> str:
    """A value in the guidelines' class ``[-0-9.]``: no exponent, no trailing zeros."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _optional(value: Range | float | None) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, Range) else _number(value)
