"""``fitelctl.deadline``: what is left of a command's time, and the timeouts cut to it."""

from __future__ import annotations

import time

import pytest

from fitelctl.deadline import (
    MIN_ATTEMPT,
    NO_DEADLINE,
    Deadline,
    DeadlineExceeded,
    command_deadline,
    current,
)


def test_a_timeout_is_cut_to_what_is_left_and_never_to_nothing() -> None:
    deadline = Deadline.after(2.0)
    assert 1.9 < deadline.clamp(30.0) <= 2.0
    assert deadline.clamp(0.5) == 0.5
    assert Deadline.after(0.0).clamp(30.0) == MIN_ATTEMPT  # 0 means "no timeout" to some libs


def test_no_limit_cuts_nothing_and_waits_for_ever() -> None:
    assert NO_DEADLINE.clamp(300.0) == 300.0
    assert not NO_DEADLINE.expired
    assert NO_DEADLINE.wait_timeout(1.0) is None
    NO_DEADLINE.check("reading")  # never raises


def test_an_expired_deadline_says_what_it_stopped_and_exits_3() -> None:
    deadline = Deadline.after(0.0)
    assert deadline.expired and deadline.remaining() == 0.0
    with pytest.raises(DeadlineExceeded) as err:
        deadline.check("read appliance 1 in tk1v")
    assert str(err.value) == (
        "read appliance 1 in tk1v: the command's 0s deadline ran out (--timeout)"
    )
    assert err.value.exit_code == 3


def test_sleep_ends_at_the_deadline() -> None:
    deadline = Deadline.after(0.2)
    started = time.monotonic()
    deadline.sleep(5.0)
    assert time.monotonic() - started < 1.0


def test_the_command_deadline_is_current_only_inside_its_block() -> None:
    assert current() is NO_DEADLINE
    with command_deadline(10.0) as outer:
        assert current() is outer and outer.seconds == 10.0
        with command_deadline(None) as inner:
            assert current() is inner and inner.seconds is None
        assert current() is outer
    assert current() is NO_DEADLINE
