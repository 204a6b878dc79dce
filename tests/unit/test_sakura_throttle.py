"""The API self-throttle: evenly spaced requests, with the SDK's burst after an idle
spell (a fresh process counts as idle), never more than one second's worth at once."""

from __future__ import annotations

import pytest
from helpers import SteppedClock

from fitelctl.sakura import client


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SteppedClock:
    """``time`` for the client module, moved by hand."""
    stepped = SteppedClock()
    monkeypatch.setattr(client, "time", stepped)
    return stepped


def test_a_fresh_process_sends_its_first_ten_requests_at_once_then_ten_a_second(
    clock: SteppedClock,
) -> None:
    throttle = client._Throttle(rate=10.0)
    waits = [round(throttle.reserve(), 6) for _ in range(13)]
    assert waits == [0.0] * 10 + [0.1, 0.2, 0.3]


def test_an_idle_second_saves_up_the_burst_again(clock: SteppedClock) -> None:
    throttle = client._Throttle(rate=10.0)
    for _ in range(20):
        throttle.reserve()
    clock.now += 1.0  # the last slot handed out was 1.0 s ahead: nothing saved yet
    assert round(throttle.reserve(), 6) == 0.1
    clock.now += 10.0
    assert [round(throttle.reserve(), 6) for _ in range(11)] == [0.0] * 10 + [0.1]


def test_a_busy_spell_saves_nothing(clock: SteppedClock) -> None:
    """Requests that came one interval apart used every slot: the next one waits its turn
    instead of drawing on a burst."""
    throttle = client._Throttle(rate=10.0)
    for _ in range(10):
        throttle.reserve()
    for _ in range(30):
        clock.now += 0.1
        throttle.reserve()
    assert round(throttle.reserve(), 6) == 0.1


@pytest.mark.parametrize(("rate", "burst"), [(2.0, 2), (0.5, 1), (4.5, 4), (50.0, 10)])
def test_the_burst_is_at_most_one_seconds_worth(
    clock: SteppedClock, rate: float, burst: int
) -> None:
    throttle = client._Throttle(rate=rate)
    waits = [round(throttle.reserve(), 6) for _ in range(burst + 1)]
    assert waits == [0.0] * burst + [round(1 / rate, 6)]
