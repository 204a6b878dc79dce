"""A charon that cannot start says why in its own words."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import require_strongswan

from fitelctl.lab.strongswan.charon import Charon, CharonError
from fitelctl.lab.strongswan.netns import Namespaces

pytestmark = pytest.mark.interop


@pytest.fixture
def namespace() -> Iterator[str]:
    require_strongswan()
    namespaces = Namespaces()
    try:
        yield namespaces.create("start")
    finally:
        namespaces.close()


def test_a_charon_without_its_vici_socket_fails_at_once_with_its_last_log_lines(
    namespace: str, tmp_path: Path
) -> None:
    charon = Charon(namespace, tmp_path / "charon")
    charon.vici_socket = tmp_path / "no-such-folder" / "charon.vici"
    started = time.monotonic()
    with pytest.raises(CharonError) as failed:
        charon.start()
    took = time.monotonic() - started
    message = str(failed.value)
    assert message.startswith(
        f"charon in {namespace} could not create its vici socket; its last log lines:\n"
    )
    # charon's own lines: what it could not bind, and that vici gave up
    assert f"binding socket 'unix://{charon.vici_socket}' failed" in message
    assert "[CFG] creating vici socket failed" in message
    assert not charon.running
    assert took < 5, took  # not the 10 s wait for a socket that will never answer
