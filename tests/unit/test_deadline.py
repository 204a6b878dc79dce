"""``fitelctl.deadline``: what is left of a command's time, and the timeouts cut to it."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT
from helpers import SteppedClock

from fitelctl import deadline as deadline_module
from fitelctl.deadline import (
    MIN_ATTEMPT,
    NO_DEADLINE,
    Deadline,
    DeadlineExceeded,
    command_deadline,
    current,
)
from fitelctl.fitelnet.drivers import DeviceTarget
from fitelctl.inventory import Inventory
from fitelctl.ops import connect as connect_module
from fitelctl.ops.connect import connect_site

EXAMPLE = ROOT / "inventory" / "examples" / "article-v2.yaml"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SteppedClock:
    stepped = SteppedClock()
    monkeypatch.setattr(deadline_module, "time", stepped)
    return stepped


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


def test_sleep_ends_at_the_deadline(clock: SteppedClock) -> None:
    deadline = Deadline.after(0.2)
    deadline.sleep(5.0)
    assert clock.slept == [pytest.approx(0.2)] and deadline.expired
    deadline.sleep(5.0)  # nothing left: no wait at all
    assert clock.slept[1:] == [0.0]


def test_the_command_deadline_is_current_only_inside_its_block() -> None:
    assert current() is NO_DEADLINE
    with command_deadline(10.0) as outer:
        assert current() is outer and outer.seconds == 10.0
        with command_deadline(None) as inner:
            assert current() is inner and inner.seconds is None
        assert current() is outer
    assert current() is NO_DEADLINE


class RecordingDriver:
    """Stands in for a connected driver: records the command timeout each command got."""

    def __init__(self, target: DeviceTarget) -> None:
        self.target = target
        self.timeouts: list[float] = []
        self.closed = False

    def connect(self) -> None:
        pass

    def show(self, command: str) -> str:
        self.timeouts.append(self.target.command_timeout)
        return ""

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> RecordingDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_each_device_command_gets_only_what_is_left_of_the_deadline(
    monkeypatch: pytest.MonkeyPatch, clock: SteppedClock
) -> None:
    monkeypatch.setenv("TOKYO_PSK", "Grid-Test-Psk_0123")
    monkeypatch.setenv("TOKYO_F220_PASSWORD", "Grid-Test-Login_0123")
    monkeypatch.setenv("TOKYO_F220_ENABLE", "Grid-Test-Enable_0123")
    data = yaml.safe_load(EXAMPLE.read_text())
    data["sites"]["tokyo"]["device"].update(connect_timeout=100, command_timeout=100)
    inventory = Inventory.model_validate({**data, "base_dir": EXAMPLE.parent})
    opened: list[RecordingDriver] = []

    def open_driver(target: DeviceTarget, kind: str) -> RecordingDriver:
        opened.append(RecordingDriver(target))
        return opened[-1]

    monkeypatch.setattr(connect_module, "open_driver", open_driver)
    with command_deadline(1.0), connect_site(inventory, "tokyo") as device:
        assert opened[0].target.connect_timeout <= 1.0  # login cut to the deadline too
        device.show("show crypto sa")
        clock.now += 0.6
        device.show("show crypto sa")
    assert opened[0].timeouts == [pytest.approx(1.0), pytest.approx(0.4)]
    assert opened[0].closed
    with connect_site(inventory, "tokyo") as device:  # no deadline: the inventory's own
        device.show("show crypto sa")
    assert opened[1].timeouts == [100]
