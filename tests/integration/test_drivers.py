"""Both device drivers, the same tests, against the lab F220 over real SSH on 127.0.0.1.

The lab runs in-process: an asyncio loop in a background thread serves one SSH
listener per test device on a free port.  ``start_device_server`` returns once the
listener is bound, so nothing here sleeps or polls.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import operator_session
import pytest
import yaml
from helpers import DRIVERS, closed_port, settles

from fitelctl.fitelnet.drivers import (
    AuthenticationFailed,
    CommandRejected,
    DeviceBusy,
    DeviceError,
    DeviceTarget,
    DeviceUnreachable,
    DriverKind,
    EnablePasswordRejected,
    HostKeyChanged,
    HostKeyUnknown,
    OtherSessionEdits,
    SessionDropped,
    open_driver,
)
from fitelctl.fitelnet.drivers.base import BUSY_MARKER, ERROR_MARKERS
from fitelctl.lab.device.model import DeviceFaults, DeviceSpec, LabDevice
from fitelctl.lab.ssh_server import DeviceServer, start_device_server

PASSWORD = "Lg1n-pw"  # short on purpose: the device prints its weak-password warnings
ENABLE = "En4-pw"
PSK = "Psk-Vz81-secret"
CIPHER_KEY = "5f2b9a0c11d3e4f5a6b7c8d9e0f1a2b3"
AUTH_KEY = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
POLICY_LINES = [
    "crypto isakmp policy sakuratokyo",
    " authentication pre-share",
    " encryption aes",
    " group 5",
    " hash sha",
    "exit",
]

T = TypeVar("T")


class LabLoop:
    """An asyncio loop in a daemon thread, for the lab's servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="lab", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 15) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class FakeCryptoWorld:
    """Just enough world for ``show crypto sa`` to print key material."""

    def show_crypto_sa(self, site: str) -> str:
        return (
            "IPSEC SA <I>\n"
            f"  Cipher Key : {CIPHER_KEY}\n"
            f"  Auth Key   : {AUTH_KEY}\n"
            "  Total number of ISAKMP SA 1\n  Total number of IPSEC SA 1\n"
        )

    def clear_crypto_sa(self, site: str) -> None:
        pass

    def current_config_changed(self, site: str) -> None:
        pass


@dataclass
class Lab:
    device: LabDevice
    port: int
    host_key: asyncssh.SSHKey
    known_hosts: Path

    def target(self, **changes: Any) -> DeviceTarget:
        base = DeviceTarget(
            site="tokyo",
            host="127.0.0.1",
            port=self.port,
            username="admin",
            password=PASSWORD,
            enable_password=ENABLE,
            known_hosts=self.known_hosts,
            connect_timeout=10.0,
            command_timeout=10.0,
        )
        return replace(base, **changes)

    def known_hosts_line(self, key: asyncssh.SSHKey | None = None) -> str:
        public = (key or self.host_key).export_public_key().decode().split()
        return f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n"


@pytest.fixture(scope="module")
def lab_loop() -> Iterator[LabLoop]:
    loop = LabLoop()
    yield loop
    loop.stop()


@pytest.fixture(scope="module")
def host_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")


@pytest.fixture
def start_device(
    lab_loop: LabLoop, host_key: asyncssh.SSHKey, tmp_path: Path
) -> Iterator[Callable[..., Lab]]:
    servers: list[DeviceServer] = []

    def start(faults: DeviceFaults | None = None, **spec_changes: Any) -> Lab:
        spec = DeviceSpec(
            **{
                "site": "tokyo",
                "hostname": "tokyo",
                "username": "admin",
                "password": PASSWORD,
                "enable_password": ENABLE,
                **spec_changes,
            }
        )

        async def serve() -> tuple[LabDevice, DeviceServer]:
            device = LabDevice(spec, faults=faults or DeviceFaults(), world=FakeCryptoWorld())
            return device, await start_device_server(device, host_key=host_key)

        device, server = lab_loop.run(serve())
        servers.append(server)
        lab = Lab(device, server.port, host_key, tmp_path / f"known_hosts-{server.port}")
        lab.known_hosts.write_text(lab.known_hosts_line())
        return lab

    yield start
    for server in servers:
        lab_loop.run(server.close())


@pytest.fixture
def lab(start_device: Callable[..., Lab]) -> Lab:
    return start_device()


@pytest.fixture(params=DRIVERS)
def kind(request: pytest.FixtureRequest) -> DriverKind:
    driver: DriverKind = request.param  # one of DRIVERS
    return driver


def lab_read(lab_loop: LabLoop, read: Callable[[], T]) -> T:
    """Read lab device state on its own loop thread."""

    async def call() -> T:
        return read()

    return lab_loop.run(call())


def assert_no_secrets(text: str) -> None:
    for secret in (PASSWORD, ENABLE, PSK, CIPHER_KEY, AUTH_KEY):
        assert secret not in text


# --- sessions and commands -------------------------------------------------------------


def test_connect_and_show_version(lab: Lab, kind: DriverKind) -> None:
    with open_driver(lab.target(), kind) as dev:
        output = dev.show("show version")
    assert output.startswith("  --------------------- present-side")
    assert "F220   Version 01.12(00)" in output
    assert "tokyo#" not in output and "show version" not in output


def test_bare_prompts_without_hostname(start_device: Callable[..., Lab], kind: DriverKind) -> None:
    lab = start_device(hostname="")
    with open_driver(lab.target(), kind) as dev:
        dev.configure(["interface ge 1/1", "shutdown", "exit"])
        assert "F220" in dev.show("show version")


def test_configure_valid_lines(lab: Lab, kind: DriverKind, lab_loop: LabLoop) -> None:
    with open_driver(lab.target(), kind) as dev:
        dev.configure([*POLICY_LINES, "interface ge 1/1", " shutdown", "exit"])
        working = dev.show("show working.cfg")
    assert "crypto isakmp policy sakuratokyo\n authentication pre-share" in working
    assert " hash sha" in working and "interface GigaEthernet 1/1\n shutdown" in working
    assert "sakuratokyo" not in lab_read(lab_loop, lab.device.current_config)


def test_configure_invalid_line_is_rejected_by_name(lab: Lab, kind: DriverKind) -> None:
    bad = " hash sha-999"
    with open_driver(lab.target(), kind) as dev:
        with pytest.raises(CommandRejected) as caught:
            dev.configure(["crypto isakmp policy p1", bad, " group 5"])
        assert caught.value.command == bad
        assert "<ERROR>" in caught.value.device_text
        assert repr(bad) in str(caught.value) and "tokyo (127.0.0.1:" in str(caught.value)
        # the session is back in privileged mode and the lines after the bad one were not sent
        working = dev.show("show working.cfg")
    assert "crypto isakmp policy p1" in working and "group 5" not in working


def test_commit_applies_working_to_current(lab: Lab, kind: DriverKind, lab_loop: LabLoop) -> None:
    with open_driver(lab.target(), kind) as dev:
        dev.configure(POLICY_LINES)
        assert dev.commit() == ""
        current = dev.show("show current.cfg")
    assert "crypto isakmp policy sakuratokyo" in current
    assert "crypto isakmp policy sakuratokyo" in lab_read(lab_loop, lab.device.current_config)


def test_commit_falls_back_to_refresh(
    start_device: Callable[..., Lab], kind: DriverKind, lab_loop: LabLoop
) -> None:
    lab = start_device(commit_command="refresh")
    with open_driver(lab.target(), kind) as dev:
        dev.configure(POLICY_LINES)
        dev.commit()
    assert "crypto isakmp policy sakuratokyo" in lab_read(lab_loop, lab.device.current_config)


def test_commit_refused_by_the_device(start_device: Callable[..., Lab], kind: DriverKind) -> None:
    lab = start_device(faults=DeviceFaults(commit_fails=True))
    with open_driver(lab.target(), kind) as dev:
        dev.configure(POLICY_LINES)
        with pytest.raises(CommandRejected) as caught:
            dev.commit()
    assert caught.value.command == "commit"
    assert "% Command failed." in caught.value.device_text


def test_save_writes_the_boot_file(lab: Lab, kind: DriverKind, lab_loop: LabLoop) -> None:
    with open_driver(lab.target(), kind) as dev:
        dev.configure(POLICY_LINES)
        dev.commit()
        assert dev.save() == ""
    assert "crypto isakmp policy sakuratokyo" in lab_read(lab_loop, lab.device.boot_config)


def test_restore_drops_working_edits(lab: Lab, kind: DriverKind, lab_loop: LabLoop) -> None:
    with open_driver(lab.target(), kind) as dev:
        dev.configure(POLICY_LINES)
        assert dev.restore() == ""
        working = dev.show("show working.cfg")
    assert "sakuratokyo" not in working
    assert lab_read(lab_loop, lab.device.working_config) == lab_read(
        lab_loop, lab.device.current_config
    )


def test_save_while_device_busy(
    start_device: Callable[..., Lab], kind: DriverKind, lab_loop: LabLoop
) -> None:
    lab = start_device()

    async def hold_lock() -> None:
        await lab.device.processing_lock.acquire()

    lab_loop.run(hold_lock())
    try:
        with open_driver(lab.target(), kind) as dev:
            with pytest.raises(DeviceBusy) as caught:
                dev.save()
            assert BUSY_MARKER.split()[0].lower() in str(caught.value).lower()
            assert "F220" in dev.show("show version")  # the session is still in step
    finally:
        lab_loop.loop.call_soon_threadsafe(lab.device.processing_lock.release)


def test_session_dropped_mid_configure(start_device: Callable[..., Lab], kind: DriverKind) -> None:
    lab = start_device(faults=DeviceFaults(drop_after_lines=2))
    with open_driver(lab.target(), kind) as dev, pytest.raises(SessionDropped) as caught:
        dev.configure(POLICY_LINES)
    assert POLICY_LINES[2].strip() in str(caught.value)


# --- login failures --------------------------------------------------------------------


def test_wrong_ssh_password(lab: Lab, kind: DriverKind) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        open_driver(lab.target(password="not-the-password"), kind).connect()
    message = str(caught.value)
    assert "tokyo (127.0.0.1:" in message and "admin" in message
    assert "not-the-password" not in message


def test_wrong_enable_password(lab: Lab, kind: DriverKind) -> None:
    # The device answers "<ERROR> Authentication failed" and asks "password:" again,
    # for ever: the driver must give up at once, not wait for a "#".
    target = lab.target(enable_password="wrong-enable")
    started = time.monotonic()
    with pytest.raises(EnablePasswordRejected) as caught:
        open_driver(target, kind).connect()
    elapsed = time.monotonic() - started
    print(f"{kind}: wrong enable password refused in {elapsed:.2f}s")
    assert elapsed < 3.0  # login included; the connect timeout is 10 s
    assert "wrong-enable" not in str(caught.value)
    assert "refused the enable password" in str(caught.value)


def test_no_enable_password_in_the_inventory_fails_at_once(lab: Lab, kind: DriverKind) -> None:
    started = time.monotonic()
    with pytest.raises(EnablePasswordRejected, match="none is configured"):
        open_driver(lab.target(enable_password=None), kind).connect()
    assert time.monotonic() - started < 3.0


def test_unset_enable_password_and_its_weak_warning(
    start_device: Callable[..., Lab], kind: DriverKind
) -> None:
    # asked anyway; an empty answer draws "<WARNING> weak enable password: set the password"
    lab = start_device(enable_password="")
    with open_driver(lab.target(enable_password=""), kind) as dev:
        assert "F220" in dev.show("show version")


# --- texts of the real CLI -------------------------------------------------------------


def upstream_session(lab: Lab) -> Any:
    """An operator's session: the upstream netmiko driver, unmodified."""
    return operator_session.connect(lab.port, "admin", PASSWORD, ENABLE)


@pytest.mark.parametrize(
    ("line", "device_text"),
    [
        ("frobnicate now", "<ERROR> 'frobnicate' is Unrecognized command"),
        (
            "ip route 10.0.0.0/33 10.0.0.1",
            "<ERROR> Invalid input detected at '^' marker. (at '10.0.0.0/33')",
        ),
    ],
)
def test_error_lines_reject_the_line_and_name_the_word(
    lab: Lab, kind: DriverKind, line: str, device_text: str
) -> None:
    with open_driver(lab.target(), kind) as dev:
        with pytest.raises(CommandRejected) as caught:
            dev.configure([line])
        assert caught.value.command == line and caught.value.device_text == device_text
        assert "tokyo#" not in caught.value.device_text


def test_another_sessions_edits_stop_configure_before_any_line(
    lab: Lab, kind: DriverKind, lab_loop: LabLoop
) -> None:
    other = upstream_session(lab)
    try:
        operator_session.configure_terminal(other)
        other.send_command("hostname edited-by-other", expect_string=r"\)#")
        with open_driver(lab.target(), kind) as dev:
            with pytest.raises(OtherSessionEdits) as caught:
                dev.configure(["interface ge 1/1", " shutdown", "exit"])
            assert "fitelctl sessions tokyo" in str(caught.value)
            assert "shutdown" not in lab_read(lab_loop, lab.device.working_config)
            # back in privileged mode, and taking the edits along knowingly works
            assert "F220" in dev.show("show version")
            dev.configure(["interface ge 1/1", " shutdown", "exit"], other_edits_ok=True)
        working = lab_read(lab_loop, lab.device.working_config)
        assert "shutdown" in working and "edited-by-other" in working
    finally:
        operator_session.log_out(other)


def test_disconnect_ssh_is_confirmed_and_ends_that_session(
    lab: Lab, kind: DriverKind, lab_loop: LabLoop
) -> None:
    other = upstream_session(lab)
    try:
        with open_driver(lab.target(), kind) as dev:
            assert dev.disconnect_ssh(0) == ""
            rows = dev.show("show ssh").splitlines()[1:]
        assert [row.split()[0] for row in rows] == ["1"]
        # paramiko's transport thread notices the closed connection a moment later
        assert settles(lambda: not other.is_alive(), 5)
    finally:
        other.disconnect()


# --- host keys -------------------------------------------------------------------------


def test_unknown_host_key_is_refused_with_its_fingerprint(lab: Lab, kind: DriverKind) -> None:
    lab.known_hosts.write_text("")
    with pytest.raises(HostKeyUnknown) as caught:
        open_driver(lab.target(), kind).connect()
    fingerprint = lab.host_key.get_fingerprint("sha256")
    assert caught.value.fingerprint == fingerprint
    assert f"ED25519 key fingerprint is {fingerprint}" in str(caught.value)
    assert "--trust-new-host-key" in str(caught.value)
    assert lab.known_hosts.read_text() == ""


def test_no_known_hosts_file_refuses(lab: Lab, kind: DriverKind) -> None:
    with pytest.raises(HostKeyUnknown) as caught:
        open_driver(lab.target(known_hosts=None), kind).connect()
    assert "no known_hosts file" in str(caught.value)


def test_changed_host_key_is_refused(lab: Lab, kind: DriverKind) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519")
    lab.known_hosts.write_text("# lab\n" + lab.known_hosts_line(other))
    with pytest.raises(HostKeyChanged) as caught:
        open_driver(lab.target(trust_new_host_key=True), kind).connect()
    message = str(caught.value)
    assert lab.host_key.get_fingerprint("sha256") in message
    assert f"{lab.known_hosts}:2" in message
    assert caught.value.line == 2
    assert lab.known_hosts.read_text() == "# lab\n" + lab.known_hosts_line(other)


def test_trust_new_host_key_records_it(lab: Lab, kind: DriverKind) -> None:
    lab.known_hosts.write_text("")
    with open_driver(lab.target(trust_new_host_key=True), kind) as dev:
        assert "F220" in dev.show("show version")
    assert lab.known_hosts.read_text() == lab.known_hosts_line()
    with open_driver(lab.target(), kind) as dev:
        assert "F220" in dev.show("show version")


# --- unreachable -----------------------------------------------------------------------


def test_closed_port_is_unreachable(lab: Lab, kind: DriverKind) -> None:
    target = lab.target(port=closed_port(), connect_timeout=2.0)
    started = time.monotonic()
    with pytest.raises(DeviceUnreachable) as caught:
        open_driver(target, kind).connect()
    assert time.monotonic() - started < target.connect_timeout + 3
    assert "refused" in str(caught.value)


def test_silent_listener_times_out_within_connect_timeout(lab: Lab, kind: DriverKind) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepts (the kernel does) but never sends an SSH banner
        target = lab.target(port=listener.getsockname()[1], connect_timeout=1.5)
        started = time.monotonic()
        with pytest.raises(DeviceUnreachable):
            open_driver(target, kind).connect()
        elapsed = time.monotonic() - started
    assert target.connect_timeout * 0.5 < elapsed < target.connect_timeout + 3


# --- session log -----------------------------------------------------------------------


def test_session_log_is_written_redacted(lab: Lab, kind: DriverKind, tmp_path: Path) -> None:
    log = tmp_path / "session.log"
    with open_driver(lab.target(session_log=log), kind) as dev:
        dev.configure(
            ["crypto isakmp profile p1", f" local-key ascii {PSK}", " ike-version 1", "exit"]
        )
        assert "Cipher Key" in dev.show("show crypto sa")
    text = log.read_text()
    assert "show crypto sa" in text and "local-key ascii <redacted>" in text
    assert re.search(r"Cipher Key\s*:\s*<redacted>", text)
    assert_no_secrets(text)


def test_library_debug_logs_are_redacted(
    lab: Lab, kind: DriverKind, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with open_driver(lab.target(), kind) as dev:
        dev.configure(["crypto isakmp profile p1", f" local-key ascii {PSK}", "exit"])
        dev.show("show working.cfg")
        dev.show("show crypto sa")
    assert len(caplog.records) > 20  # the libraries did log the session
    assert_no_secrets("\n".join(record.getMessage() for record in caplog.records))


def test_errors_never_show_secrets(lab: Lab, kind: DriverKind) -> None:
    with open_driver(lab.target(), kind) as dev, pytest.raises(DeviceError) as caught:
        dev.configure(["crypto isakmp profile p1", f" local-key ascii {PSK} extra-word"])
    assert_no_secrets(str(caught.value))


# --- scrapli specifics -----------------------------------------------------------------


def test_scrapli_refuses_paths_libscrapli_would_split(lab: Lab, tmp_path: Path) -> None:
    spaced = tmp_path / "my lab" / "known_hosts"
    with pytest.raises(DeviceError) as caught:
        open_driver(lab.target(known_hosts=spaced), "scrapli").connect()
    assert "spaces" in str(caught.value) and str(spaced) in str(caught.value)


def test_scrapli_without_an_ssh_client(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(DeviceUnreachable) as caught:
        open_driver(lab.target(), "scrapli").connect()
    assert "'ssh'" in str(caught.value)


def test_scrapli_definition_agrees_with_the_shared_rules() -> None:
    from fitelctl.fitelnet.drivers.scrapli_driver import load_definition

    definition = yaml.safe_load(load_definition().definition)
    assert set(definition["failure_indicators"]) == {*ERROR_MARKERS, BUSY_MARKER}
    modes = {mode["name"]: re.compile(mode["prompt_pattern"]) for mode in definition["modes"]}
    expected = {
        "exec": ["tokyo>", ">", "F220-1>"],
        "privileged_exec": ["tokyo#", "#", "TEST-HOST#"],
        "configuration": [
            "tokyo(config)#",
            "tokyo(config-isakmp-policy)#",
            "tokyo(config-if-ge 1/1)#",
            "(config)#",
        ],
    }
    for name, prompts in expected.items():
        for prompt in prompts:
            matching = [m for m, pattern in modes.items() if pattern.fullmatch(prompt)]
            assert matching == [name], prompt
    never = ["<WARNING> weak enable password: set the password", "password:", "save ok?[y/N]:"]
    for text in never:
        assert not re.compile(definition["prompt_pattern"]).fullmatch(text)
