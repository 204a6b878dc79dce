"""SSH access to a simulated F220 (asyncssh), one listener per device on 127.0.0.1.

Each connection costs one ``asyncssh`` connection, one session object and one task
for its channel; nothing runs while it is idle, so hundreds of devices can listen
at once.  Authentication: password, and public key when the device spec lists
authorized keys; keyboard-interactive, GSSAPI, host-based auth, forwarding, SFTP
and SCP are off.  A wrong password is refused like any SSH server refuses it (the
client may retry).  Shells with or without a PTY get the interactive CLI; an exec
request (``ssh host "show crypto sa"``) runs one command as privileged (INFERRED:
FITELnet's exec behaviour is not documented) with exit status 0, or 1 after an
error.  The drop fault aborts the whole connection without an SSH goodbye.
Each authenticated connection is registered with the device for ``show ssh``
(username, negotiated cipher upper-cased without its ``@openssh.com`` suffix as
the device prints ``AES128-CTR``) and ``disconnect ssh N`` closes it.

Host keys are ed25519: paramiko (netmiko), OpenSSH and libssh2 (libscrapli)
all accept it.  Nothing here logs a password, a key or the CLI traffic.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
from asyncssh.constants import MSG_GLOBAL_REQUEST
from asyncssh.packet import SSHPacket

from fitelctl.lab.device.cli import CliSession, DropConnection, SessionKind
from fitelctl.lab.device.model import LabDevice, SshSession
from fitelctl.lab.device.terminal import Terminal
from fitelctl.private_files import write_private_file

HOST_KEY_ALGORITHM = "ssh-ed25519"


def load_or_create_host_key(path: Path) -> asyncssh.SSHKey:
    """The host key stored at ``path``, created (ed25519, mode 0600) on first use."""
    if path.exists():
        return asyncssh.read_private_key(path)
    key = asyncssh.generate_private_key(HOST_KEY_ALGORITHM)
    write_private_file(path, key.export_private_key().decode("ascii"), guard=False)
    return key


@dataclass(eq=False)
class DeviceServer:
    """A listening SSH server for one device."""

    device: LabDevice
    port: int
    #: The public host key as an OpenSSH line (``ssh-ed25519 AAAA...``), for known_hosts.
    host_key_line: str
    _acceptor: asyncssh.SSHAcceptor
    _connections: set[asyncssh.SSHServerConnection] = field(default_factory=set)

    async def close(self) -> None:
        """Stop listening and close every open connection."""
        self._acceptor.close()
        for connection in list(self._connections):
            connection.close()
        await self._acceptor.wait_closed()
        await asyncio.gather(
            *(connection.wait_closed() for connection in list(self._connections)),
            return_exceptions=True,
        )


async def start_device_server(
    device: LabDevice,
    *,
    host_key: asyncssh.SSHKey | Path,
    host: str = "127.0.0.1",
    port: int = 0,
) -> DeviceServer:
    key = host_key if isinstance(host_key, asyncssh.SSHKey) else load_or_create_host_key(host_key)
    authorized = frozenset(
        asyncssh.import_public_key(line).public_data for line in device.spec.authorized_keys
    )
    connections: set[asyncssh.SSHServerConnection] = set()
    acceptor = await asyncssh.create_server(
        lambda: _DeviceSSHServer(device, authorized, connections),
        host,
        port,
        config=None,
        server_host_keys=[key],
        kbdint_auth=False,
        host_based_auth=False,
        gss_host=None,
        allow_pty=True,
        line_editor=False,
        agent_forwarding=False,
        x11_forwarding=False,
        allow_scp=False,
        login_timeout=30,
    )
    public = " ".join(key.export_public_key().decode().split()[:2])
    return DeviceServer(device, acceptor.get_port(), public, acceptor, connections)


def _record_global_requests(
    conn: asyncssh.SSHServerConnection, record: Callable[[str], None]
) -> None:
    """Tell ``record`` the name of every global request ``conn`` receives (keepalives:
    ``keepalive@openssh.com`` from OpenSSH, ``keepalive@lag.net`` from paramiko), then
    let asyncssh answer it as usual.  asyncssh has no public hook for this: the
    connection's packet handler table is replaced for this connection only."""
    handlers: dict[int, Any] = dict(conn._packet_handlers)
    original = handlers[MSG_GLOBAL_REQUEST]

    def process(self: Any, pkttype: int, pktid: int, packet: SSHPacket) -> Any:
        with suppress(Exception):  # a malformed request is asyncssh's to refuse
            record(SSHPacket(packet.get_remaining_payload()).get_string().decode("ascii"))
        return original(self, pkttype, pktid, packet)

    handlers[MSG_GLOBAL_REQUEST] = process
    conn._packet_handlers = handlers


class _DeviceSSHServer(asyncssh.SSHServer):
    """Authentication and session setup for one incoming connection."""

    def __init__(
        self,
        device: LabDevice,
        authorized: frozenset[bytes],
        connections: set[asyncssh.SSHServerConnection],
    ) -> None:
        self._device = device
        self._authorized = authorized
        self._connections = connections
        self._connection: asyncssh.SSHServerConnection | None = None
        self._username = ""
        self._ssh: SshSession | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._connection = conn
        self._connections.add(conn)
        _record_global_requests(conn, self._global_request)

    def _global_request(self, name: str) -> None:
        if self._ssh is not None:
            self._ssh.global_requests.append(name)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._connection is not None:
            self._connections.discard(self._connection)
        if self._ssh is not None:
            self._device.close_ssh(self._ssh)

    def begin_auth(self, username: str) -> bool:
        self._username = username
        return True

    def auth_completed(self) -> None:
        conn = self._connection
        assert conn is not None
        cap = self._device.faults.max_sessions
        if cap is not None and len(self._device.ssh_sessions) >= cap:
            return  # no session left: session_requested refuses the channel
        cipher = str(conn.get_extra_info("send_cipher", "none")).split("@")[0].upper()
        self._ssh = self._device.open_ssh(self._username, cipher, conn.close)

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        spec = self._device.spec
        user_ok = hmac.compare_digest(username.encode(), spec.username.encode())
        password_ok = hmac.compare_digest(password.encode(), spec.password.encode())
        return user_ok and password_ok

    def public_key_auth_supported(self) -> bool:
        return bool(self._authorized)

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self._device.spec.username and key.public_data in self._authorized

    def kbdint_auth_supported(self) -> bool:
        return False

    def session_requested(self) -> _DeviceSession:
        assert self._connection is not None
        if self._ssh is None:  # INFERRED: how an F220 with no session left refuses
            self._device.sessions_refused += 1
            raise asyncssh.ChannelOpenError(
                asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "Too many sessions"
            )
        return _DeviceSession(self._device, self._connection, self._ssh)


class _DeviceSession(asyncssh.SSHServerSession[str]):
    """One session channel: a shell (with or without PTY) or an exec request."""

    def __init__(
        self,
        device: LabDevice,
        connection: asyncssh.SSHServerConnection,
        ssh: SshSession | None,
    ) -> None:
        self._device = device
        self._connection = connection
        self._ssh = ssh
        self._channel: asyncssh.SSHServerChannel[str] | None = None
        self._rows: int | None = None
        self._command: str | None = None
        self._session: CliSession | None = None
        self._terminal: Terminal | None = None
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, chan: asyncssh.SSHServerChannel[str]) -> None:
        self._channel = chan

    def pty_requested(
        self, term_type: str, term_size: tuple[int, int, int, int], term_modes: Mapping[int, int]
    ) -> bool:
        self._rows = term_size[1]
        return True

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        self._rows = height
        if self._session is not None:
            self._session.set_page_height(height)

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        self._command = command
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        return False

    def session_started(self) -> None:
        if self._command is not None:
            kind = SessionKind.EXEC
        else:
            kind = SessionKind.TERMINAL if self._rows is not None else SessionKind.SHELL
        if kind is SessionKind.TERMINAL and self._ssh is not None:
            self._device.assign_line(self._ssh)
        self._session = CliSession(self._device, kind, page_height=self._rows or 0, ssh=self._ssh)
        self._terminal = Terminal(self._session, self._write)
        self._task = asyncio.create_task(self._serve())

    def data_received(self, data: str, datatype: Any) -> None:
        if self._terminal is not None:
            self._terminal.feed(data)

    def eof_received(self) -> bool:
        if self._terminal is not None:
            self._terminal.feed_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _serve(self) -> None:
        assert self._terminal is not None and self._channel is not None
        try:
            if self._command is None:
                await self._terminal.run_shell()
                status = 0
            else:
                status = await self._terminal.run_exec(self._command)
        except DropConnection:
            self._connection.abort()
            return
        finally:
            assert self._session is not None
            self._session.end()
        self._channel.exit(status)

    def _write(self, text: str) -> None:
        if self._channel is not None and not self._channel.is_closing():
            self._channel.write(text)
