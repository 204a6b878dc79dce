"""The asyncssh driver's shared event loop: what no caller waits for stays off stderr."""

from __future__ import annotations

import asyncio
import logging

import pytest

from fitelctl.fitelnet.drivers.asyncssh_driver import LOOP


def test_an_unclaimed_failure_is_one_debug_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def fail_unheard() -> None:
        # what asyncio reports when a session's late failure is never awaited
        asyncio.get_running_loop().call_exception_handler(
            {"message": "Future exception was never retrieved", "exception": EOFError("gone")}
        )

    LOOP.run(fail_unheard())
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert (
        "fitelctl.driver",
        logging.DEBUG,
        "SSH session loop: Future exception was never retrieved: EOFError: gone",
    ) in records
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
