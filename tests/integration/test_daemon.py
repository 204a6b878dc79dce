"""``fitelctl daemon``: ``status`` command lines run by a preloaded process, answering
exactly as a process of their own would; everything else untouched.

Every daemon here is a real ``python -m fitelctl daemon start`` process on a socket in
the test's own folder, and every client a real ``python -m fitelctl`` process.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import StartLab
from helpers import copy_lab_inventory, lab_inventory_path, settles

from fitelctl.daemon.client import SOCKET_ENV, USE_ENV
from fitelctl.daemon.server import ping

Completed = subprocess.CompletedProcess[str]
#: where the processes start unless a test says: not the repository root, where ``python
#: -m fitelctl`` would import the checkout while the suite may run an installed fitelctl
#: (CI installs it), and a daemon rightly refuses a client of another installation
ELSEWHERE = Path(tempfile.gettempdir())


@dataclass
class Daemon:
    path: Path
    env: dict[str, str]
    process: subprocess.Popen[str]

    def report(self) -> dict[str, Any]:
        report = ping(self.path)
        assert report is not None, f"no daemon answers on {self.path}"
        return report

    def run(self, *args: str, cwd: Path | None = None, **env: str) -> Completed:
        """``python -m fitelctl ARGS`` as a user runs it with this daemon about."""
        return fitelctl(*args, env={**self.env, **env}, cwd=cwd)

    def run_alone(self, *args: str, cwd: Path | None = None, **env: str) -> Completed:
        """The same with the daemon ignored (``FITELCTL_DAEMON=0``)."""
        return fitelctl(*args, env={**self.env, USE_ENV: "0", **env}, cwd=cwd)


def fitelctl(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> Completed:
    return subprocess.run(
        [sys.executable, "-m", "fitelctl", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or ELSEWHERE,
        timeout=timeout,
    )


def running(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``python -m fitelctl ARGS`` running, its stdout and stderr on pipes."""
    return subprocess.Popen(
        [sys.executable, "-m", "fitelctl", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ELSEWHERE,
    )


def hung_site(start_lab: StartLab, tmp_path: Path, port: int) -> Path:
    """An inventory whose device accepts the connection and never says a word."""
    lab = start_lab(scenario="seed-v1")
    return copy_lab_inventory(lab, tmp_path, port=port, connect_timeout=120, command_timeout=120)


def private_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    return folder


def daemon_env(path: Path) -> dict[str, str]:
    return {**os.environ, SOCKET_ENV: str(path)}


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    path = private_folder(tmp_path) / "daemon.sock"
    env = daemon_env(path)
    process = running("daemon", "start", "--foreground", env=env)
    try:
        assert settles(lambda: ping(path) is not None), process.stderr
        yield Daemon(path, env, process)
    finally:
        process.terminate()
        process.wait(10)
    assert not path.exists(), "the daemon left its socket behind"


def same_but_numbers(a: Completed, b: Completed) -> None:
    """Exit code, stdout and stderr alike; counters, lifetimes and poll times move."""
    numbers = re.compile(r"\d+(\.\d+)?")
    assert a.returncode == b.returncode, (a, b)
    assert numbers.sub("N", a.stdout) == numbers.sub("N", b.stdout)
    assert numbers.sub("N", a.stderr) == numbers.sub("N", b.stderr)


def test_status_on_the_daemon_answers_as_its_own_process(
    start_lab: StartLab, daemon: Daemon, tmp_path: Path
) -> None:
    lab = start_lab(scenario="seed-v1", sites=2)
    folder = lab.options.state_dir  # a relative inventory: the daemon works in our folder
    for args in (
        ("-i", "inventory.yaml", "status", "--json"),
        ("-i", "inventory.yaml", "status"),
        ("-i", "inventory.yaml", "status", "tokyo", "--nagios", "-w", "100:"),
        ("-i", "inventory.yaml", "status", "nosuch"),
        ("-i", "missing.yaml", "status"),
        ("-i", "inventory.yaml", "status", "--workers", "0"),
    ):
        served = daemon.report()["served"]
        on_daemon = daemon.run(*args, cwd=folder)
        assert daemon.report()["served"] == served + 1, args
        same_but_numbers(on_daemon, daemon.run_alone(*args, cwd=folder))
    answer = daemon.run("-i", "inventory.yaml", "status", "--json", cwd=folder)
    assert '"state": "up"' in answer.stdout
    # the caller's stdio encoding, not the daemon's: rich draws the table in ASCII
    ascii_only = {"PYTHONIOENCODING": "ascii:backslashreplace"}
    args = ("-i", "inventory.yaml", "status")
    table = daemon.run(*args, cwd=folder, **ascii_only)
    same_but_numbers(table, daemon.run_alone(*args, cwd=folder, **ascii_only))
    assert table.stdout.isascii() and "tokyo" in table.stdout


def test_other_commands_run_in_their_own_process(start_lab: StartLab, daemon: Daemon) -> None:
    inventory = str(lab_inventory_path(start_lab(scenario="seed-v1")))
    for args in (("--version",), ("-i", inventory, "render", "tokyo"), ("daemon", "status")):
        assert daemon.run(*args).returncode == 0, args
    assert daemon.report()["served"] == 0


def interrupted(env: dict[str, str], inventory: Path, daemon: Daemon) -> tuple[int, str]:
    """``status`` of a hung device, Ctrl-C once it is waiting: exit code and stderr."""
    served = daemon.report()["served"]
    client = running("-i", str(inventory), "status", "--timeout", "60", env=env)
    try:
        if env is daemon.env:
            assert settles(lambda: daemon.report()["served"] == served + 1)
        time.sleep(1.5)  # past the start (imports, on its own), waiting on the device
        started = time.monotonic()
        client.send_signal(signal.SIGINT)
        _, stderr = client.communicate(timeout=20)
    finally:
        client.kill()
    assert time.monotonic() - started < 10
    return client.returncode, stderr


def test_ctrl_c_reaches_the_command_on_the_daemon(
    start_lab: StartLab, daemon: Daemon, silent_port: int, tmp_path: Path
) -> None:
    """Ctrl-C ends the command on the daemon as it ends one in its own process."""
    inventory = hung_site(start_lab, tmp_path, silent_port)
    on_daemon = interrupted(daemon.env, inventory, daemon)
    alone = interrupted({**daemon.env, USE_ENV: "0"}, inventory, daemon)
    assert on_daemon == alone == (130, "")  # as a shell's Ctrl-C: 128 + SIGINT, no message


@pytest.mark.parametrize("nagios", [False, True], ids=["plain", "nagios"])
def test_a_command_whose_child_was_killed_fails_in_one_line(
    start_lab: StartLab, daemon: Daemon, silent_port: int, tmp_path: Path, nagios: bool
) -> None:
    inventory = hung_site(start_lab, tmp_path, silent_port)
    args = ["-i", str(inventory), "status", "tokyo", *(["--nagios"] if nagios else [])]
    client = running(*args, env=daemon.env)
    try:
        assert settles(lambda: bool(daemon.report()["running"]))
        (child,) = daemon.report()["running"]
        os.kill(child, signal.SIGKILL)
        stdout, stderr = client.communicate(timeout=20)
    finally:
        client.kill()
    message = f"the daemon's process {child} for this command ended without an exit status"
    assert client.returncode == 3
    if nagios:
        assert (stdout, stderr) == (f"FITELCTL UNKNOWN - {message} (killed?)\n", "")
    else:
        assert (stdout, stderr) == ("", f"fitelctl: error: {message} (killed?)\n")


def test_stop_status_and_a_second_start(daemon: Daemon) -> None:
    second = fitelctl("daemon", "start", "--foreground", env=daemon.env)
    assert second.returncode == 2
    assert second.stderr == f"fitelctl: error: a daemon already listens on {daemon.path}\n"
    report = fitelctl("daemon", "status", env=daemon.env)
    assert report.returncode == 0
    assert f"pid {daemon.process.pid} on {daemon.path}" in report.stdout
    stopped = fitelctl("daemon", "stop", env=daemon.env)
    assert stopped.stdout == f"fitelctl daemon: pid {daemon.process.pid} stopped\n"
    assert daemon.process.wait(10) == 0
    assert not daemon.path.exists()
    gone = fitelctl("daemon", "status", "--json", env=daemon.env)
    assert gone.returncode == 3
    assert '"running": false' in gone.stdout
    again = fitelctl("daemon", "stop", env=daemon.env)
    assert (again.returncode, again.stdout) == (
        0,
        f"fitelctl daemon: none listens on {daemon.path}\n",
    )


def test_in_the_background_until_idle(tmp_path: Path, start_lab: StartLab) -> None:
    """A command running keeps the daemon up; idle time counts from the last one's end."""
    path = private_folder(tmp_path) / "daemon.sock"
    env = daemon_env(path)
    started = fitelctl("daemon", "start", "--idle-timeout", "1", env=env)
    assert started.returncode == 0, started.stderr
    assert re.fullmatch(
        rf"fitelctl daemon: pid \d+ runs 'status' from {path}; stops after 1 s idle\n",
        started.stdout,
    )
    # each API answer 0.8 s late: the command runs for longer than the 1 s idle timeout
    inventory = str(lab_inventory_path(start_lab(scenario="seed-v1", faults=("api-slow:0.8",))))
    assert fitelctl("-i", inventory, "status", "--timeout", "20", env=env).returncode == 0
    report = ping(path)
    assert report is not None and report["served"] == 1
    assert settles(lambda: not path.exists(), timeout=15), "still there after 1 s idle"


def test_an_unsafe_folder_is_refused_and_ignored(tmp_path: Path, start_lab: StartLab) -> None:
    folder = tmp_path / "open"
    folder.mkdir()
    folder.chmod(0o755)
    env = daemon_env(folder / "daemon.sock")
    refused = fitelctl("daemon", "start", "--foreground", env=env)
    assert refused.returncode == 2
    assert refused.stderr == (
        f"fitelctl: error: will not listen in {folder}: {folder} is open to other users "
        "(mode 755)\n"
    )
    # a socket someone left there is not used: the command runs here, as usual
    (folder / "daemon.sock").write_text("")
    inventory = str(lab_inventory_path(start_lab(scenario="seed-v1")))
    assert fitelctl("-i", inventory, "status", env=env).returncode == 0


def test_a_stale_socket_is_ignored_then_replaced(tmp_path: Path, start_lab: StartLab) -> None:
    """A daemon killed with SIGKILL leaves its socket: commands run here meanwhile, and
    the next start takes the place."""
    path = private_folder(tmp_path) / "daemon.sock"
    env = daemon_env(path)
    process = subprocess.Popen(
        [sys.executable, "-m", "fitelctl", "daemon", "start", "--foreground"],
        env=env,
        stdout=subprocess.DEVNULL,
        cwd=ELSEWHERE,
    )
    assert settles(lambda: ping(path) is not None)
    process.kill()
    process.wait(10)
    assert path.exists()
    inventory = str(lab_inventory_path(start_lab(scenario="seed-v1")))
    assert fitelctl("-i", inventory, "status", env=env).returncode == 0
    started = fitelctl("daemon", "start", "--idle-timeout", "5", env=env)
    assert started.returncode == 0, started.stderr
    assert fitelctl("daemon", "stop", env=env).returncode == 0
