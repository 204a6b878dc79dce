"""The simulated F220 over real SSH on 127.0.0.1, driven by unmodified clients.

netmiko's upstream ``furukawa_fitelnet`` driver (written against real F220s) is
the referee: if it works here the way it works on the device, the lab is right.
OpenSSH's ``ssh`` checks exec requests and an interactive PTY session.
"""

from __future__ import annotations

import asyncio
import os
import re
import select
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import paramiko
import pytest
from helpers import REAL_SHOW_VERSION, required_tool
from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException
from operator_session import configure_terminal, end, log_out

from fitelctl.lab.device.editing import replay_config
from fitelctl.lab.device.model import DeviceFaults, DeviceSpec, LabDevice
from fitelctl.lab.ssh_server import DeviceServer, load_or_create_host_key, start_device_server

DATA = Path(__file__).resolve().parents[1] / "data"
V1_CONFIG = (DATA / "config_v1_sakura_tokyo.cfg").read_text()
EXPECTED_V1 = replay_config(V1_CONFIG).render()
USERNAME, PASSWORD, ENABLE = "admin", "pw", "1234"  # weak on purpose: both warnings show


T = TypeVar("T")


class LoopThread:
    """An event loop in a background thread: the servers run there, clients block here."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("keys")
    client = asyncssh.generate_private_key("ssh-ed25519")
    client_path = folder / "client_ed25519"
    client.write_private_key(client_path)
    client_path.chmod(0o600)
    return {
        "host": load_or_create_host_key(folder / "host_ed25519"),
        "client_path": client_path,
        "client_public": client.export_public_key().decode().strip(),
    }


def start_server(loop_thread: LoopThread, keys: dict[str, Any], **spec: Any) -> DeviceServer:
    faults = spec.pop("faults", DeviceFaults())
    values: dict[str, Any] = {
        "site": "tokyo",
        "hostname": "tokyo",
        "username": USERNAME,
        "password": PASSWORD,
        "enable_password": ENABLE,
        "authorized_keys": (keys["client_public"],),
    }
    values.update(spec)
    device = LabDevice(DeviceSpec(**values), faults)
    return loop_thread.run(start_device_server(device, host_key=keys["host"]))


@pytest.fixture
def serve(loop_thread: LoopThread, keys: dict[str, Any]) -> Iterator[Any]:
    servers: list[DeviceServer] = []

    def start(**spec: Any) -> DeviceServer:
        servers.append(start_server(loop_thread, keys, **spec))
        return servers[-1]

    yield start
    for server in servers:
        loop_thread.run(server.close())


def netmiko(server: DeviceServer, **overrides: Any) -> Any:
    params: dict[str, Any] = {
        "device_type": "furukawa_fitelnet",
        "host": "127.0.0.1",
        "port": server.port,
        "username": USERNAME,
        "password": PASSWORD,
        "secret": ENABLE,
        "ssh_strict": False,
        "system_host_keys": False,
        "alt_host_keys": False,
        "allow_agent": False,
        "conn_timeout": 10,
    }
    params.update(overrides)
    return ConnectHandler(**params)


# --- netmiko -----------------------------------------------------------------------------


def v1_flow(server: DeviceServer, key_file: Path) -> dict[str, Any]:
    """The main job through netmiko's public API; returns what was seen at each step."""
    device = server.device
    seen: dict[str, Any] = {}
    # Public-key login here; the other netmiko tests use the password.
    connection = netmiko(server, password=None, use_keys=True, key_file=str(key_file))
    try:
        seen["base_prompt"] = connection.base_prompt
        seen["show version"] = connection.send_command("show version")
        seen["config output"] = connection.send_config_set(V1_CONFIG.splitlines())
        seen["working after config"] = device.working_config()
        seen["current before commit"] = device.current_config()
        seen["commit output"] = connection.commit()
        seen["current after commit"] = device.current_config()
        seen["boot before save"] = device.boot_config()
        seen["save output"] = connection.save_config()
        seen["boot after save"] = device.boot_config()
        seen["show current.cfg"] = connection.send_command("show current.cfg")
    finally:
        connection.disconnect()
    return seen


def test_netmiko_raises_on_a_wrong_enable_password(serve: Any) -> None:
    with pytest.raises(ValueError, match="enable password"):
        netmiko(serve(), secret="wrong")


def test_netmiko_raises_on_a_wrong_login_password(serve: Any) -> None:
    with pytest.raises(NetmikoAuthenticationException):
        netmiko(serve(), password="wrong")


def test_netmikos_commit_sees_the_busy_device(serve: Any, loop_thread: LoopThread) -> None:
    server = serve()
    connection = netmiko(server)
    lock = server.device.processing_lock
    try:
        assert connection.find_prompt() == "tokyo#"
        loop_thread.run(lock.acquire())
        with pytest.raises(ValueError, match="another process"):
            connection.commit()
    finally:
        loop_thread.loop.call_soon_threadsafe(lock.release)
        log_out(connection)


# --- published texts, as the referee meets them -------------------------------------------


def test_netmiko_logs_in_past_the_unset_enable_password_warning(serve: Any) -> None:
    # pyats-fitelnet (FX201): an unset enable password is still asked for, then
    # "<WARNING> weak enable password: set the password"
    connection = netmiko(serve(enable_password=""), secret="")
    try:
        assert connection.find_prompt() == "tokyo#"
    finally:
        log_out(connection)


def test_netmiko_sees_rejected_config_lines_as_errors(serve: Any) -> None:
    from netmiko.exceptions import ConfigInvalidException

    server = serve()
    connection = netmiko(server)
    try:
        # config_mode() and exit_config_mode() wait 2 s per check (see operator_session);
        # v1_flow calls both, the other-editor test config_mode(): here the lines matter
        configure_terminal(connection)
        for bad in ("frobnicate now", "ip route 10.0.0.0/33 10.0.0.1"):
            with pytest.raises(ConfigInvalidException) as caught:
                connection.send_config_set(
                    [bad], error_pattern=r"<ERROR>", enter_config_mode=False, exit_config_mode=False
                )
            assert "<ERROR>" in str(caught.value)
        end(connection)
        output = connection.send_command("sh ssh ssh")
        assert "sh ssh ssh\n       ^^^\n<ERROR> Invalid input detected at '^' marker." in output
    finally:
        log_out(connection)


def test_netmiko_meets_the_other_editor_warning_and_show_ssh(serve: Any) -> None:
    server = serve()
    alice, bob = netmiko(server), netmiko(server)
    try:
        configure_terminal(alice)
        alice.send_command("hostname edited", expect_string=r"\)#")
        entered = bob.config_mode()
        assert "WARNING: Another users has already edited working.cfg.\n" in entered
        assert "         Please check working.cfg." in entered
        end(bob)
        listing = bob.send_command("show ssh")
        assert listing.splitlines()[1] == (
            "Connection  Version  Encryption   State              Username         Line"
        )
        rows = [line.split() for line in listing.splitlines()[2:] if line.strip()]
        assert [row[0] for row in rows] == ["0", "1"]
        assert [row[3:5] for row in rows] == [["Session", "started"]] * 2
        assert {row[6] for row in rows} == {"/dev/pts/0", "/dev/pts/1"}
        asked = bob.send_command("disconnect ssh 0", expect_string=r"\[y/N\]:")
        assert asked.strip().endswith("Disconnect OK?[y/N]:")
        bob.send_command("y", expect_string=r"#", cmd_verify=False)
        assert [line.split()[0] for line in bob.send_command("show ssh").splitlines()[2:]] == ["1"]
    finally:
        log_out(bob)
        log_out(alice)


# --- the drop fault and server shutdown -------------------------------------------------------


def paramiko_shell(server: DeviceServer) -> tuple[paramiko.SSHClient, paramiko.Channel]:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        "127.0.0.1", server.port, USERNAME, PASSWORD, look_for_keys=False, allow_agent=False
    )
    channel = client.invoke_shell()
    channel.settimeout(10)
    return client, channel


def read_to_end(channel: paramiko.Channel) -> str:
    chunks = []
    while chunk := channel.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_the_drop_fault_cuts_the_connection_without_an_exit_status(serve: Any) -> None:
    server = serve(faults=DeviceFaults(drop_after_lines=2))
    client, channel = paramiko_shell(server)
    try:
        channel.sendall(f"enable\n{ENABLE}\nconfigure terminal\n".encode())
        channel.sendall(b"crypto isakmp policy P\ngroup 14\nhash sha-256\nend\n")
        output = read_to_end(channel)
        # The line over the limit is echoed as typed, then the connection dies.
        assert output.endswith("#group 14\r\ntokyo(config-isakmp-policy)#hash sha-256\r\n")
        assert channel.recv_exit_status() == -1  # no exit-status: the connection just died
        assert "group 14" in server.device.working_config()
        assert "hash" not in server.device.working_config()
    finally:
        client.close()


def test_closing_the_server_closes_open_sessions(serve: Any, loop_thread: LoopThread) -> None:
    server = serve()
    client, channel = paramiko_shell(server)
    try:
        loop_thread.run(server.close())
        assert read_to_end(channel).endswith("tokyo>")
    finally:
        client.close()


def test_host_keys_persist_between_runs(tmp_path: Path) -> None:
    path = tmp_path / "hostkeys" / "tokyo_ed25519"
    first = load_or_create_host_key(path)
    again = load_or_create_host_key(path)
    assert first.public_data == again.public_data
    assert first.get_algorithm() == "ssh-ed25519"
    assert path.stat().st_mode & 0o777 == 0o600


# --- OpenSSH ---------------------------------------------------------------------------------


OPENSSH_INSTALL = "install OpenSSH's client (Debian: apt-get install -y openssh-client)"


def ssh_command(
    server: DeviceServer, keys: dict[str, Any], known_hosts: Path, *options: str
) -> list[str]:
    return [
        required_tool("ssh", OPENSSH_INSTALL),
        *options,
        "-F", "/dev/null",
        "-o", f"UserKnownHostsFile={known_hosts}",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=accept-new",
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-i", str(keys["client_path"]),
        "-p", str(server.port),
        f"{USERNAME}@127.0.0.1",
    ]  # fmt: skip


def test_openssh_exec_runs_one_command_as_privileged(
    serve: Any, keys: dict[str, Any], tmp_path: Path
) -> None:
    server = serve()
    known_hosts = tmp_path / "known_hosts"
    base = ssh_command(server, keys, known_hosts)
    result = subprocess.run([*base, "show version"], capture_output=True, text=True, timeout=20)
    assert (result.returncode, result.stdout) == (0, REAL_SHOW_VERSION)
    assert known_hosts.read_text().split()[1:3] == server.host_key_line.split()

    result = subprocess.run([*base, "show nothing"], capture_output=True, text=True, timeout=20)
    assert result.returncode == 1
    assert "<ERROR> Invalid input detected at '^' marker." in result.stdout

    result = subprocess.run(
        [*base, "save copy.cfg"], input="y\n", capture_output=True, text=True, timeout=20
    )
    assert (result.returncode, result.stdout) == (0, "save ok?[y/N]:")
    assert "/drive/copy.cfg" in server.device.files


class Interactive:
    """Drives ``ssh -tt`` through pipes: write keystrokes, wait for patterns."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.transcript = ""

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()

    def expect(self, pattern: str, timeout: float = 10) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        start = len(self.transcript)
        while not re.search(pattern, self.transcript[start:]):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(remaining, 0))
            if not ready:
                raise AssertionError(f"{pattern!r} not seen in {self.transcript[start:]!r}")
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"EOF before {pattern!r}: {self.transcript[start:]!r}")
            self.transcript += chunk.decode()
        return self.transcript[start:]


def test_openssh_interactive_pty_session(serve: Any, keys: dict[str, Any], tmp_path: Path) -> None:
    server = serve(boot_config=V1_CONFIG)
    session = Interactive(ssh_command(server, keys, tmp_path / "known_hosts", "-tt"))
    try:
        session.expect(r"tokyo>$")
        session.send("enable\r")
        session.expect(r"password:$")
        session.send(f"{ENABLE}\r")
        session.expect(r"tokyo#$")
        session.send("show current.cfg\r")
        assert session.expect(r"\r\n:$").startswith("show current.cfg\r\ncrypto ipsec")
        session.send("q")
        session.expect(r"\r\x1b\[Ktokyo#$")
        session.send("no more\r")
        session.expect(r"more : off\r\n\r\ntokyo#$")
        session.send("show current.cfg\r")
        shown = session.expect(r"!\r\n\r\ntokyo#$")
        assert shown == "show current.cfg\r\n" + EXPECTED_V1.replace("\n", "\r\n") + "\r\ntokyo#"
        session.send("exit\r")
        assert session.process.wait(timeout=10) == 0
        assert ENABLE + "\r" not in session.transcript
    finally:
        session.process.kill()
        session.process.wait()


def test_netmiko_configures_commits_and_saves_the_articles_v1_config(
    serve: Any, keys: dict[str, Any]
) -> None:
    # ~16 s, nearly all netmiko's own timing reads (2 s of silence per config-mode check,
    # per save step and on disconnect), as against a real F220; the steps take ~0.5 s
    seen = v1_flow(serve(), keys["client_path"])
    assert seen["base_prompt"] == "tokyo"
    assert seen["show version"].rstrip() == REAL_SHOW_VERSION.rstrip()
    assert "<ERROR>" not in seen["config output"]
    assert seen["working after config"] == EXPECTED_V1
    assert seen["current before commit"] == ""
    assert seen["current after commit"] == EXPECTED_V1
    assert seen["boot before save"] == ""
    assert "save ok?[y/N]:" in seen["save output"]
    assert seen["boot after save"] == EXPECTED_V1
    # the real header lines (pyats-fitelnet examples/*/final_config), then the config
    headers = (
        r"!  LAST EDIT    .+ by admin\n!  LAST REFRESH .+ by admin\n"
        r"!  LAST SAVE    .+ by admin\n!\n"
    )
    shown = seen["show current.cfg"]
    assert re.match(headers, shown), shown
    assert re.sub(headers, "", shown).rstrip() == EXPECTED_V1.rstrip()
