"""Process-wide state under many threads and asyncio tasks (issue 11, item 2).

A fleet command resolves secrets, reserves API slots and advances the progress bar
from dozens of worker threads (and asyncio tasks on the scrapli/asyncssh paths) at
once.  Each test here hammers one piece of shared state for a bounded time and
checks what a user would notice: no crash, no registered secret printed unmasked,
no two API requests started closer together than the account's rate allows, no
site missing from the progress count.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from fitelctl.redact import MASK, SECRETS, SecretRegistry

THREADS = 64
SECONDS = 2.0


def _hammer(worker: Callable[[float], int], threads: int = THREADS) -> int:
    """Run ``worker(stop_at)`` on ``threads`` threads started together; total of their counts.

    Any exception in a worker fails the test (``result()`` re-raises it).
    """
    start = threading.Barrier(threads)
    stop_at = time.monotonic() + SECONDS + 1.0

    def run() -> int:
        start.wait()
        return worker(stop_at - 1.0)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(run) for _ in range(threads)]
        return sum(f.result(timeout=SECONDS + 30) for f in futures)


def _new_secret() -> str:
    # hex only: never a substring of the mask or of another secret
    return "psk-" + uuid.uuid4().hex


def test_registry_under_64_threads_registering_and_redacting() -> None:
    registry = SecretRegistry()
    registered: list[str] = []  # appends are atomic; readers take a slice

    def worker(stop_at: float) -> int:
        checked = 0
        while time.monotonic() < stop_at:
            mine = registry.add(_new_secret())
            registered.append(mine)
            known = registered[-20:]  # every one of these was added before the redact below
            line = json.dumps({"psk": mine, "others": " ".join(known), "note": "ok"})
            out = registry.redact(line)
            leaked = [value for value in [mine, *known] if value in out]
            assert not leaked, f"unmasked after registration: {leaked}"
            assert json.loads(out)["psk"] == MASK and json.loads(out)["note"] == "ok"
            checked += 1
        return checked

    assert _hammer(worker) > THREADS  # every thread went round more than once
    assert len(registered) > 500  # a registry large enough for iteration to take a while


def test_registry_under_asyncio_tasks_on_several_loops() -> None:
    registry = SecretRegistry()
    leaks: list[str] = []

    async def task() -> int:
        rounds = 0
        for _ in range(5):
            value = registry.add(_new_secret())
            await asyncio.sleep(0)  # let every other task register in between
            if value in registry.redact(f"Pre-shared key is {value}."):
                leaks.append(value)
            rounds += 1
        return rounds

    async def many() -> int:
        return sum(await asyncio.gather(*(task() for _ in range(100))))

    def loop_in_thread(_: float) -> int:
        return asyncio.run(many())

    assert _hammer(loop_in_thread, threads=4) == 4 * 100 * 5
    assert leaks == []


def test_process_registry_is_the_thread_safe_one() -> None:
    value = SECRETS.add(_new_secret())
    assert SECRETS.redact(f"key {value}") == f"key {MASK}"
