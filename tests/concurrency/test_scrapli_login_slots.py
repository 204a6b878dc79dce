"""scrapli logins wait for one of the process's login slots (``_login_slot``): logins
started all at once shared the CPU until one crossed the connect timeout."""

from __future__ import annotations

import threading
import time

import pytest

from fitelctl.deadline import DeadlineExceeded, command_deadline
from fitelctl.fitelnet.drivers import scrapli_driver
from fitelctl.fitelnet.drivers.scrapli_driver import LOGINS_AT_ONCE, _login_slot


def test_no_more_logins_than_the_slots_run_at_once() -> None:
    lock = threading.Lock()
    running, most = 0, 0

    def login() -> None:
        nonlocal running, most
        with _login_slot():
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.02)
            with lock:
                running -= 1

    threads = [threading.Thread(target=login) for _ in range(LOGINS_AT_ONCE * 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == LOGINS_AT_ONCE


def test_waiting_for_a_slot_ends_at_the_commands_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scrapli_driver, "_login_slots", threading.BoundedSemaphore(1))
    with (
        _login_slot(),  # the only slot, held
        command_deadline(0.2),
        pytest.raises(DeadlineExceeded) as caught,
        _login_slot(),
    ):
        pass
    assert "waiting for a login slot" in str(caught.value)
    with _login_slot():  # every slot came back
        pass
