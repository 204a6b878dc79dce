"""Which command lines go to a ``fitelctl daemon``, where its socket may live, and which
daemon may run them (the processes themselves: tests/integration/test_daemon.py)."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from pathlib import Path

import pytest

from fitelctl.daemon import client, server
from fitelctl.daemon.server import Daemon
from fitelctl.redact import MASK, SECRETS


@pytest.mark.parametrize(
    ("args", "served"),
    [
        (["status"], True),
        (["status", "tokyo", "--nagios"], True),
        (["-i", "inv.yaml", "status", "--json"], True),
        (["--inventory", "inv.yaml", "--debug", "status"], True),
        (["--inventory=inv.yaml", "status"], True),
        (["-i", "status", "render"], False),  # "status" is the inventory's file name here
        (["apply", "--all"], False),
        (["exporter"], False),
        (["daemon", "status"], False),
        (["--version"], False),
        (["-i", "inv.yaml"], False),
        ([], False),
    ],
)
def test_only_status_goes_to_a_daemon(args: list[str], served: bool) -> None:
    assert client.served(args) is served


def test_the_socket_is_where_the_environment_says() -> None:
    uid = os.getuid()
    assert client.socket_path({}) == f"/tmp/fitelctl-{uid}/daemon.sock"
    assert client.socket_path({"XDG_RUNTIME_DIR": "/run/user/7"}) == (
        "/run/user/7/fitelctl/daemon.sock"
    )
    explicit = {client.SOCKET_ENV: "/srv/d.sock", "XDG_RUNTIME_DIR": "/run/user/7"}
    assert client.socket_path(explicit) == "/srv/d.sock"


def test_a_socket_folder_must_be_private(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    assert client.unsafe_folder(str(folder)) is None
    folder.chmod(0o750)
    assert client.unsafe_folder(str(folder)) == f"{folder} is open to other users (mode 750)"
    folder.chmod(0o700)
    link = tmp_path / "link"
    link.symlink_to(folder)
    assert client.unsafe_folder(str(link)) == f"{link} is not a directory"
    assert client.unsafe_folder(str(tmp_path / "none")) == (
        f"{tmp_path / 'none'}: No such file or directory"
    )


def test_a_daemon_runs_only_its_own_installation(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "d.sock", idle_timeout=5)
    mine = {"run": ["status"], "client": client.identity()}
    assert daemon._refusal(mine) is None
    other = {**mine, "client": {**client.identity(), "package": "/elsewhere/fitelctl"}}
    refusal = daemon._refusal(other)
    assert refusal is not None and refusal.startswith("another fitelctl: ")
    assert daemon._refusal({"client": client.identity()}) == "not a request"


def test_a_daemon_whose_code_changed_refuses_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command then runs in its own process, with the code on disk."""
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv(client.SOCKET_ENV, str(folder / "d.sock"))
    daemon = Daemon(folder / "d.sock", idle_timeout=10)
    daemon.listen()
    daemon.sources = {**daemon.sources, "/some/fitelctl/module.py": 1}  # as if edited since
    answers: list[int | None] = []
    asking = threading.Thread(target=lambda: answers.append(client.forward(["status"])))
    asking.start()
    daemon.serve()  # returns once it has refused
    asking.join(10)
    assert answers == [None]
    assert not (folder / "d.sock").exists()


def test_a_child_that_cannot_become_the_callers_process_says_so_in_one_masked_line(
    tmp_path: Path,
) -> None:
    """Its working directory is gone (its name holds a secret): one line on the caller's
    stderr, the secret masked, exit 1 reported to the caller."""
    secret = SECRETS.add("psk-" + uuid.uuid4().hex)
    caller, child_end = socket.socketpair()
    stderr_read, stderr_write = os.pipe()
    fds = [os.open(os.devnull, os.O_RDONLY), os.open(os.devnull, os.O_WRONLY), stderr_write]
    request = {
        "run": ["status"],
        "program": ["fitelctl", None],
        "streams": [["utf-8", "strict"], ["utf-8", "strict"], ["utf-8", "backslashreplace"]],
        "cwd": str(tmp_path / secret),
        "env": {},
        "umask": 0o022,
    }
    pid = os.fork()
    if pid == 0:
        server._run_child(child_end, fds, request)
    for fd in fds:
        os.close(fd)
    child_end.close()
    with caller:
        answer = client.receive(caller)
    os.waitpid(pid, 0)
    with os.fdopen(stderr_read) as stderr:
        said = stderr.read()
    assert answer == {"exit": 1}
    assert said == (
        "fitelctl: error: the daemon could not run the command: [Errno 2] No such file or "
        f"directory: '{tmp_path / MASK}'\n"
    )
