"""The router's one log from its per-office charons (``router_log_merge``).

The lines are real charon-systemd 5.9 filelog lines from a three-site strongSwan lab,
shortened to what each test needs.
"""

from __future__ import annotations

from fitelctl.lab.strongswan.router_log_merge import RouterLogMerge

TOKYO = "peer-126.169.118.242-tunnel-vti"
SITE2 = "peer-198.18.0.2-tunnel-vti"

STARTED = [
    "Dec  7 03:09:50 00[LIB] loaded plugins: charon-systemd random nonce openssl",
    "Dec  7 03:09:50 00[JOB] spawning 16 worker threads",
]


def tunnel(name: str, second: int) -> list[str]:
    """One charon's responder lines for its first IKE_SA and CHILD_SA."""
    at = f"Dec  7 03:09:{second:02}"
    return [
        f"{at} 14[IKE] <1> 198.19.1.100 is initiating a Main Mode IKE_SA",
        f"{at} 09[IKE] <{name}|1> IKE_SA {name}[1] established between 198.19.0.1",
        f"{at} 12[IKE] <{name}|1> CHILD_SA {name}{{1}} established with SPIs c81c_i",
    ]


def test_each_charons_ids_become_unique_in_the_one_log() -> None:
    merged = RouterLogMerge().new_lines([tunnel(TOKYO, 50), tunnel(SITE2, 50)])
    assert merged[3:] == [
        "Dec  7 03:09:50 14[IKE] <2> 198.19.1.100 is initiating a Main Mode IKE_SA",
        f"Dec  7 03:09:50 09[IKE] <{SITE2}|2> IKE_SA {SITE2}[2] established between 198.19.0.1",
        f"Dec  7 03:09:50 12[IKE] <{SITE2}|2> CHILD_SA {SITE2}{{2}} established with SPIs c81c_i",
    ]
    assert merged[:3] == tunnel(TOKYO, 50)  # the first charon's ids are taken first


def test_lines_are_merged_in_time_order_and_ids_last_across_calls() -> None:
    merge = RouterLogMerge()
    tokyo, site2 = tunnel(TOKYO, 52), tunnel(SITE2, 51)
    first = merge.new_lines([tokyo[:1], site2])
    assert [line[:16] for line in first] == ["Dec  7 03:09:51 "] * 3 + ["Dec  7 03:09:52 "]
    # tokyo's IKE_SA keeps the id it got first; site2's CHILD_SA had taken {1}
    assert merge.new_lines([tokyo[1:], []]) == [tokyo[1], tokyo[2].replace("{1}", "{2}")]
    assert merge.new_lines([[], []]) == []


def test_the_daemons_own_lines_come_from_the_first_charon_only() -> None:
    stopping = "Dec  7 03:10:20 00[DMN] SIGTERM received, shutting down"
    abandoned = "Dec  7 03:10:20 00[IKE] <1> destroying IKE_SA in state CONNECTING"
    merged = RouterLogMerge().new_lines([[*STARTED, stopping], [*STARTED, stopping, abandoned]])
    assert merged == [*STARTED, stopping, abandoned]


def test_a_charon_started_again_numbers_afresh() -> None:
    merge = RouterLogMerge()
    merge.new_lines([tunnel(TOKYO, 50), [*STARTED, *tunnel(SITE2, 50)]])
    again = merge.new_lines([[], [*STARTED, *tunnel(SITE2, 59)]])
    assert again[0].endswith("<3> 198.19.1.100 is initiating a Main Mode IKE_SA")
    assert f"CHILD_SA {SITE2}{{3}} established" in again[-1]
