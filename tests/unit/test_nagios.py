"""``status --nagios`` as a monitoring plugin: ranges, verdicts and the one line.

Ranges are checked against the Monitoring Plugins Development Guidelines' own example
tables (monitoring-plugins/monitoring-plugins, doc/developer-guidelines.sgml) and against
pynag's implementation of the same syntax; the line is read back with pynag's perfdata
parser (``pynag.Utils.metrics.PerfData``), the one Python tools such as Adagios used.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from helpers import ROOT
from hypothesis import given
from hypothesis import strategies as st
from pynag.Plugins import classic_threshold_syntax  # type: ignore[import-untyped]
from pynag.Utils.metrics import PerfData  # type: ignore[import-untyped]

from fitelctl.inventory import load_inventory
from fitelctl.nagios import (
    CRITICAL,
    OK,
    UNKNOWN,
    WARNING,
    Check,
    Range,
    RangeError,
    Thresholds,
    check,
    perf_label,
    unknown_line,
)
from fitelctl.ops.cloud import RouterRead
from fitelctl.ops.status import DeviceStatus, SaSummary, SiteStatus, judge
from fitelctl.sakura.models import Appliance, RouterStatus

# -- ranges ---------------------------------------------------------------------------------

#: the guidelines' "Example ranges": range -> the values of -5..25 that raise the alert
GUIDELINE_RANGES = {
    "10": lambda x: x < 0 or x > 10,
    "10:": lambda x: x < 10,
    "~:10": lambda x: x > 10,
    "10:20": lambda x: x < 10 or x > 20,
    "@10:20": lambda x: 10 <= x <= 20,
}


@pytest.mark.parametrize("spec", GUIDELINE_RANGES)
def test_the_guidelines_example_ranges(spec: str) -> None:
    rng = Range.parse(spec, "-w")
    for value in range(-5, 26):
        assert rng.alerts(value) == GUIDELINE_RANGES[spec](value), (spec, value)
    assert str(rng) == spec


@pytest.mark.parametrize(
    ("warning", "critical", "expected"),
    [  # the guidelines' "Command line examples": value -> state
        ("10", "20", {-1: CRITICAL, 0: OK, 10: OK, 11: WARNING, 20: WARNING, 21: CRITICAL}),
        ("~:10", "~:20", {-1: OK, 10: OK, 11: WARNING, 21: CRITICAL}),
        ("10:", "20", {-1: CRITICAL, 5: WARNING, 10: OK, 20: OK, 21: CRITICAL}),
        (None, "1:", {0: CRITICAL, 1: OK, 99: OK}),
        ("~:0", "10", {-1: CRITICAL, 0: OK, 1: WARNING, 11: CRITICAL}),
        (None, "5:6", {4: CRITICAL, 5: OK, 6: OK, 7: CRITICAL}),
        (None, "@10:20", {9: OK, 10: CRITICAL, 20: CRITICAL, 21: OK}),
    ],
)
def test_the_guidelines_command_line_examples(
    warning: str | None, critical: str | None, expected: dict[int, int]
) -> None:
    thresholds = Thresholds.parse(("-w", warning), ("-c", critical))
    assert {value: thresholds.state(value) for value in expected} == expected


SPECS = st.builds(
    lambda inside, start, end, form: (
        ("@" if inside else "")
        + {"start:end": f"{start}:{end}", "start:": f"{start}:", "~:end": f"~:{end}"}.get(
            form, str(end)
        )
    ),
    st.booleans(),
    st.integers(-50, 50),
    st.integers(0, 100),
    st.sampled_from(["start:end", "start:", "~:end", "end"]),
)


@given(spec=SPECS, value=st.integers(-200, 200) | st.floats(-200, 200, allow_nan=False))
def test_ranges_alert_as_pynag_says(spec: str, value: float) -> None:
    try:
        rng = Range.parse(spec, "-c")
    except RangeError:  # start above end: the guidelines' "start <= end"
        return
    assert rng.alerts(value) == (not classic_threshold_syntax.check_range(value, spec))


@pytest.mark.parametrize("bad", ["abc", "10:5", "", " ", "@", "~", "1e3", "10::20", "5:~", "--3"])
def test_a_bad_range_names_the_option_and_the_value(bad: str) -> None:
    with pytest.raises(RangeError) as raised:
        Range.parse(bad, "--critical-errors")
    message = str(raised.value)
    assert message.startswith(f"--critical-errors {bad!r}: ")
    assert "\n" not in message and raised.value.exit_code == UNKNOWN


def test_a_reversed_range_says_which_end_is_wrong() -> None:
    with pytest.raises(RangeError, match=r"the start \(10\) is above the end \(5\)"):
        Range.parse("10:5", "-w")


@pytest.mark.parametrize(
    ("spec", "normal"),
    [("0:10", "10"), (":10", "10"), ("1.50:", "1.5:"), ("~:", "~:"), ("0:", "0:")],
)
def test_ranges_are_written_back_in_their_shortest_form(spec: str, normal: str) -> None:
    assert str(Range.parse(spec, "-w")) == normal


# -- the line -------------------------------------------------------------------------------

PEER, INTERFACE = "27.133.132.134", "tunnel 1"


def sa(**changes: object) -> SaSummary:
    base = SaSummary(
        peer_ip=PEER,
        local_ip="172.30.128.254",
        interface=INTERFACE,
        encryption="AES-CBC/256",
        authentication="HMAC-SHA2-256-128/256",
        pfs_group=14,
        lifetime_remaining=120,
        lifetime_total=180,
        in_spi="93c1ab67",
        out_spi="cb5be797",
        in_packets=6,
        out_packets=821,
        in_errors=0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def site(state: str, *sas: SaSummary, problems: list[str] | None = None) -> SiteStatus:
    device = DeviceStatus(reachable=state != "unreachable", ipsec_sas=list(sas))
    verdict = "unknown" if state == "unreachable" else state
    return SiteStatus("tokyo", verdict, device, problems=problems or [])  # type: ignore[arg-type]


def run(
    status: SiteStatus, lifetime: Thresholds | None = None, errors: Thresholds | None = None
) -> Check:
    return check(
        status,
        peer=PEER,
        interface=INTERFACE,
        lifetime=lifetime or Thresholds(),
        errors=errors or Thresholds(),
        poll_time=0.8349,
        timeout=30,
    )


def perfdata(line: str) -> dict[str, dict[str, str]]:
    """The line's performance data as pynag reads it, every metric valid."""
    text, _, perf = line.partition("|")
    assert "\n" not in line and text.strip() and perf.strip()
    parsed = PerfData(perf.strip())
    assert parsed.is_valid() and not parsed.invalid_metrics, perf
    return {
        m.label: {k: m.get_dict()[k] for k in ("value", "uom", "warn", "crit", "min", "max")}
        for m in parsed.metrics
    }


def test_a_tunnel_up_is_ok_with_its_figures() -> None:
    result = run(site("up", sa()))
    assert result.code == OK
    assert result.line.startswith(
        "FITELCTL OK - site tokyo: up AES-CBC/256 HMAC-SHA2-256-128/256 PFS group 14, "
        "SA lifetime 120/180 s | "
    )
    assert perfdata(result.line) == {
        "lifetime_remaining": {
            "value": "120",
            "uom": "s",
            "warn": "",
            "crit": "",
            "min": "0",
            "max": "180",
        },
        "in_packets": {"value": "6", "uom": "c", "warn": "", "crit": "", "min": "0", "max": ""},
        "out_packets": {"value": "821", "uom": "c", "warn": "", "crit": "", "min": "0", "max": ""},
        "in_errors": {"value": "0", "uom": "c", "warn": "0", "crit": "", "min": "0", "max": ""},
        "poll_time": {
            "value": "0.835",
            "uom": "s",
            "warn": "",
            "crit": "",
            "min": "0",
            "max": "30",
        },
    }


def test_lifetime_thresholds_judge_the_newest_sa_and_go_into_the_perfdata() -> None:
    rekeying = site("up", sa(lifetime_remaining=4, in_packets=10), sa(lifetime_remaining=170))
    lifetime = Thresholds.parse(("-w", "60:"), ("-c", "10:"))
    assert run(rekeying, lifetime).code == OK  # the new SA carries the tunnel
    figures = perfdata(run(rekeying, lifetime).line)
    assert figures["lifetime_remaining"]["value"] == "170"
    assert (figures["lifetime_remaining"]["warn"], figures["lifetime_remaining"]["crit"]) == (
        "60:",
        "10:",
    )
    assert figures["in_packets"]["value"] == "16"  # both SAs' packets
    warning = run(site("up", sa(lifetime_remaining=30)), lifetime)
    assert warning.code == WARNING
    assert "SA lifetime remaining 30 s (warning range 60:)" in warning.line
    critical = run(site("up", sa(lifetime_remaining=9)), lifetime)
    assert critical.code == CRITICAL and "(critical range 10:)" in critical.line


def test_another_tunnels_sas_are_not_this_ones() -> None:
    other = sa(peer_ip="203.0.113.9", interface="tunnel 2", lifetime_remaining=1, in_errors=50)
    result = run(site("up", sa(), other), Thresholds.parse(("-w", "60:"), ("-c", None)))
    assert result.code == OK and perfdata(result.line)["in_errors"]["value"] == "0"


def test_inbound_errors_warn_from_the_first_unless_thresholds_say_otherwise() -> None:
    erring = sa(in_errors=3)
    degraded = site("degraded", erring, problems=["tunnel 1: 3 inbound errors on SPI 93c1ab67"])
    default = run(degraded)
    assert default.code == WARNING and "inbound errors 3 (warning range 0)" in default.line
    tolerant = run(degraded, errors=Thresholds.parse(("-W", "10"), ("-C", "20")))
    assert tolerant.code == OK and tolerant.line.startswith("FITELCTL OK - site tokyo: up ")
    assert perfdata(tolerant.line)["in_errors"] == {
        "value": "3",
        "uom": "c",
        "warn": "10",
        "crit": "20",
        "min": "0",
        "max": "",
    }
    strict = run(degraded, errors=Thresholds.parse(("-W", None), ("-C", "2")))
    assert strict.code == CRITICAL and "inbound errors 3 (critical range 2)" in strict.line


INVENTORY = ROOT / "inventory" / "examples" / "article-v2.yaml"


def router(peer_status: str) -> RouterRead:
    appliance = Appliance.model_validate(
        {
            "ID": 113000000001,
            "Class": "vpcrouter",
            "Availability": "available",
            "Instance": {"Status": "up"},
            "Remark": {"Router": {"VPCRouterVersion": 2}},
        }
    )
    status = RouterStatus.model_validate(
        {"SiteToSiteIPsecVPNPeers": [{"Peer": "126.169.118.242", "Status": peer_status}]}
    )
    return RouterRead(appliance, status)


@pytest.mark.parametrize("peer_status", ["UP", "DOWN"])
def test_error_thresholds_replace_only_the_error_rule_of_status_verdict(peer_status: str) -> None:
    """With status's own judge: tolerated errors leave a router that says DOWN a warning."""
    inventory = load_inventory(Path(INVENTORY))
    device = DeviceStatus(reachable=True, ipsec_sa_count=1, ipsec_sas=[sa(in_errors=3)])
    status = judge(inventory, "tokyo", device, None, router(peer_status))
    assert status.state == "degraded"
    tolerant = run(status, errors=Thresholds.parse(("-W", "10"), ("-C", None)))
    if peer_status == "UP":
        assert tolerant.code == OK
    else:
        assert tolerant.code == WARNING
        assert "degraded" in tolerant.line and "reports peer 126.169.118.242 DOWN" in tolerant.line
        assert "inbound errors" not in tolerant.line.partition("|")[0]


def test_a_router_problem_is_a_warning() -> None:
    result = run(
        site("degraded", sa(), problems=["the VPC router reports peer 126.169.118.242 DOWN"])
    )
    assert result.code == WARNING
    assert result.line.startswith("FITELCTL WARNING - site tokyo: degraded AES-CBC/256 ")
    assert "the VPC router reports peer 126.169.118.242 DOWN |" in result.line


def test_down_is_critical_with_zero_figures() -> None:
    problems = ["no IPsec SA with 27.133.132.134 on tunnel 1", "the VPC router reports peer x DOWN"]
    result = run(site("down", problems=problems))
    assert result.code == CRITICAL
    assert result.line.startswith(
        "FITELCTL CRITICAL - site tokyo: down: no IPsec SA with 27.133.132.134 on tunnel 1; "
    )
    figures = perfdata(result.line)
    assert figures["lifetime_remaining"]["value"] == "0" and figures["in_packets"]["value"] == "0"


def test_a_device_without_the_sa_is_critical_even_when_the_router_cannot_be_read() -> None:
    result = run(site("unknown", problems=["cloud side: cannot reach 127.0.0.1:9"]))
    assert result.code == CRITICAL
    assert (
        "down: no IPsec SA with 27.133.132.134 on tunnel 1; cloud side: cannot reach" in result.line
    )


def test_an_unreadable_device_is_unknown_with_the_poll_time_only() -> None:
    result = run(site("unreachable", problems=["tokyo: cannot connect to 127.0.0.1:2222"]))
    assert result.code == UNKNOWN
    assert result.line.startswith(
        "FITELCTL UNKNOWN - site tokyo: unknown: tokyo: cannot connect to 127.0.0.1:2222 | "
    )
    assert list(perfdata(result.line)) == ["poll_time"]


def test_an_unreadable_router_with_the_tunnel_up_is_unknown_with_the_device_figures() -> None:
    result = run(site("unknown", sa(), problems=["cloud side: the API did not answer"]))
    assert result.code == UNKNOWN
    assert perfdata(result.line)["lifetime_remaining"]["value"] == "120"


def test_the_line_stays_one_line_and_keeps_its_bar_for_the_perfdata() -> None:
    result = run(site("unreachable", problems=["tokyo: said 'a | b'\nand more"]))
    text, bar, _ = result.line.partition("|")
    assert bar and "'a / b' and more" in text and "\n" not in result.line


def test_errors_before_a_verdict_are_one_unknown_line() -> None:
    assert unknown_line("bad thing\n  on two lines | here") == (
        "FITELCTL UNKNOWN - bad thing on two lines / here"
    )


@pytest.mark.parametrize(
    ("label", "written"),
    [
        ("poll_time", "poll_time"),
        ("lifetime left", "'lifetime left'"),
        ("it's", "'it''s'"),
        ("a=b", "'a=b'"),
    ],
)
def test_labels_are_quoted_when_the_guidelines_ask(label: str, written: str) -> None:
    assert perf_label(label) == written


def test_a_quoted_label_reads_back_with_pynag() -> None:
    from fitelctl.nagios import Metric

    (metric,) = PerfData(str(Metric("lifetime left", 5, "s", minimum=0))).metrics
    assert (metric.label, metric.value, metric.uom, metric.min) == ("lifetime left", "5", "s", "0")
