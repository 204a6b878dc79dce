"""The bench router's charon log in the VPC router's syslog form (lines copied from the bench)."""

from __future__ import annotations

import pytest

from fitelctl.lab.strongswan.router_syslog import RouterSyslogError, router_syslog

#: lab address → the config address it stands for (the article's, office behind NAT)
CONFIG_ADDRESS = {
    "198.19.0.1": "27.133.132.134",
    "198.19.0.2": "126.169.118.242",
    "198.19.1.2": "172.30.128.254",
}
BENCH_LINES = [
    "Dec  6 22:44:52 13[NET] <1> received packet: from 198.19.0.2[500] to 198.19.0.1[500]"
    " (252 bytes)",
    "Dec  6 22:44:52 16[CFG] <1> looking for pre-shared key peer configs matching"
    " 198.19.0.1...198.19.0.2[172.30.128.254]",
    "Dec 16 09:05:01 12[IKE] <peer-126.169.118.242-tunnel-vti|10> IKE_SA"
    " peer-126.169.118.242-tunnel-vti[10] established between"
    " 198.19.0.1[27.133.132.134]...198.19.0.2[172.30.128.254]",
    "Dec  6 22:45:15 02[NET] ignoring IKE_SA setup from 198.19.0.2, per-IP half-open IKE_SA"
    " limit of 5 reached",
]
ROUTER_LINES = [
    "Dec  6 22:44:52 rt-112700568505 charon: 13[NET] <1> received packet:"
    " from 126.169.118.242[500] to 27.133.132.134[500] (252 bytes)",
    "Dec  6 22:44:52 rt-112700568505 charon: 16[CFG] <1> looking for pre-shared key peer"
    " configs matching 27.133.132.134...126.169.118.242[172.30.128.254]",
    "Dec 16 09:05:01 rt-112700568505 charon: 12[IKE] <peer-126.169.118.242-tunnel-vti|10>"
    " IKE_SA peer-126.169.118.242-tunnel-vti[10] established between"
    " 27.133.132.134[27.133.132.134]...126.169.118.242[172.30.128.254]",
    "Dec  6 22:45:15 rt-112700568505 charon: 02[NET] ignoring IKE_SA setup from"
    " 126.169.118.242, per-IP half-open IKE_SA limit of 5 reached",
]


def test_bench_lines_become_the_routers_syslog_lines() -> None:
    assert router_syslog(BENCH_LINES, CONFIG_ADDRESS) == ROUTER_LINES


def test_the_host_name_is_the_routers() -> None:
    (line,) = router_syslog(BENCH_LINES[:1], CONFIG_ADDRESS, hostname="rt-000000000001")
    assert line.startswith("Dec  6 22:44:52 rt-000000000001 charon: 13[NET] <1> ")


def test_a_longer_lab_address_is_not_taken_for_a_shorter_one() -> None:
    line = "Dec  6 22:44:52 09[NET] <3> sending packet: from 198.19.0.1[500] to 198.19.0.10[500]"
    with pytest.raises(RouterSyslogError, match=r"198\.19\.0\.10 stands for no config address"):
        router_syslog([line], CONFIG_ADDRESS)


@pytest.mark.parametrize("address", ["198.19.255.254", "198.19.1.1"])
def test_a_lab_address_without_a_config_address_is_refused(address: str) -> None:
    line = f"Dec  6 22:44:52 12[IKE] <11> initiating Main Mode IKE_SA peer-x[11] to {address}"
    with pytest.raises(RouterSyslogError, match=address.replace(".", r"\.")):
        router_syslog([line], CONFIG_ADDRESS)
    assert router_syslog([line], {**CONFIG_ADDRESS, address: "203.0.113.77"})[0].endswith(
        " to 203.0.113.77"
    )


def test_config_addresses_in_the_benchmarking_range_stay() -> None:
    """The scenarios' ``site2``… are 198.18.x.y in the configs: in a multi-site lab the
    router's connection names carry them (the lab refused to start before)."""
    line = "Dec  7 03:04:54 14[CFG] added vici connection: peer-198.18.0.2-tunnel-vti"
    assert router_syslog([line], CONFIG_ADDRESS)[0].endswith(
        "connection: peer-198.18.0.2-tunnel-vti"
    )


def test_other_addresses_stay() -> None:
    line = (
        "Dec  6 22:44:52 15[IKE] <peer-1|1> CHILD_SA peer-1{1} established with SPIs"
        " 0056cb8c_i 833120aa_o and TS 0.0.0.0/0 === 0.0.0.0/0 via 10.198.19.1"
    )
    assert router_syslog([line], CONFIG_ADDRESS)[0].endswith("=== 0.0.0.0/0 via 10.198.19.1")


@pytest.mark.parametrize(
    "line",
    [
        "Jul 18 13:21:40 rt-112700568505 charon: 16[NET] <2> received packet",  # already syslog
        "13[NET] <1> received packet: from 198.19.0.2[500]",  # no time stamp
        "",
    ],
)
def test_a_line_of_another_shape_is_refused(line: str) -> None:
    with pytest.raises(RouterSyslogError, match="not a charon filelog line"):
        router_syslog([line], CONFIG_ADDRESS)
