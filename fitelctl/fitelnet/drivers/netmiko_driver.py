"""DeviceDriver over netmiko's upstream ``furukawa_fitelnet`` device type (unmodified).

Netmiko handles login, the weak-password warnings, ``enable`` (including a refused
enable password), ``no more`` and prompt stripping, as written against real F220s.
This module adds what the contract needs on top:

* host keys enforced by paramiko itself (``ssh_strict`` + ``alt_key_file`` = what the
  inventory's known_hosts trusts for this device, ``hostkeys.trusted_file``; no system
  files); only a refusal goes to ``hostkeys``
  to say why and, when asked, trust a new key;
* pattern-driven reads with explicit timeouts.  Upstream ``save_config`` uses
  timing reads (about 2 s of silence per step) and upstream ``commit`` reports
  errors as ``ValueError`` text; the shared ``_confirmed`` dialogue is faster and
  judges output with the same rules as the scrapli driver;
* config lines are sent one at a time so a refusal names its line
  (``send_config_set(error_pattern=...)`` only says so inside a message string);
* netmiko/paramiko exceptions mapped to the driver errors, everything redacted.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import paramiko
from netmiko.exceptions import (
    NetmikoAuthenticationException,
    NetmikoTimeoutException,
    ReadException,
    ReadTimeout,
)
from netmiko.furukawa.furukawa_fitelnet import FurukawaFitelnetSSH
from netmiko.session_log import SessionLog

from fitelctl.fitelnet.drivers import hostkeys
from fitelctl.fitelnet.drivers.base import (
    CONFIRM_PATTERN,
    PROMPT_PATTERN,
    AuthenticationFailed,
    CommandTimeout,
    DeviceTarget,
    DeviceUnreachable,
    DriverBase,
    EnablePasswordRejected,
    SessionDropped,
    SessionRefused,
    TranscriptLog,
    UnexpectedPrompt,
    after_confirmation,
    check_output,
    guard_logger,
    tidy_output,
)

DEVICE_TYPE = "furukawa_fitelnet"
_PROMPT = PROMPT_PATTERN
_CONFIRM_OR_PROMPT = rf"(?m)(?:{CONFIRM_PATTERN}|{PROMPT_PATTERN.removeprefix('(?m)')})"

guard_logger(logging.getLogger("netmiko"))
# paramiko's transport thread logs a traceback at ERROR when a device resets the
# connection before its SSH banner (a device crashing or rebooting as we connect); the
# driver reports that failure in one line itself.
guard_logger(logging.getLogger("paramiko"))


class FitelnetSSH(FurukawaFitelnetSSH):
    """Upstream ``furukawa_fitelnet`` with two proven defects fixed, nothing else.

    1. ``check_config_mode`` has no pattern (neither ``FurukawaFitelnetBase`` nor
       ``CiscoBaseConnection`` gives one), so netmiko falls back to
       ``read_channel_timing`` and waits for 2 s of silence each time;
       ``config_mode()`` and ``exit_config_mode()`` call it twice each and
       ``disconnect()`` once.  Measured against the lab device with upstream:
       ``configure`` of 4 lines 8.97 s, ``close`` 2.20 s; with this fix 0.2 s and
       0.01 s.  The fix is the one netmiko's ``cisco_ios`` uses (read until the prompt
       character), anchored at the end of the line as upstream FITELnet's
       ``check_enable_mode`` is, because FITELnet messages (``<WARNING>``) contain
       ``>``.  The enable ``password:`` prompt ends the read too: after a refused
       enable password netmiko's cleanup calls this while the device still asks for
       it, and would otherwise wait out the whole read timeout.
    2. A session the device closes is not noticed: paramiko's ``recv_ready()`` stays
       False on a closed channel, so every read waits out its read timeout (the lab's
       drop fault: SessionDropped after 10.4 s, the command timeout).  ``read_channel``
       now raises netmiko's own ``ReadException`` once the channel is closed and
       drained, as netmiko already does when ``recv`` returns no bytes.
    """

    def check_config_mode(
        self,
        check_string: str = ")#",
        pattern: str = r"(?:[>#]|password:)\s*$",
        force_regex: bool = False,
    ) -> bool:
        return super().check_config_mode(
            check_string=check_string, pattern=pattern, force_regex=force_regex
        )

    def read_channel(self) -> str:
        data: str = super().read_channel()
        channel = self.remote_conn
        if not data and isinstance(channel, paramiko.Channel) and channel.closed:
            raise ReadException("the device closed the SSH channel")
        return data


class _UnknownHostKey(Exception):
    """paramiko's RejectPolicy refused a host missing from known_hosts (key not kept)."""


class NetmikoDriver(DriverBase):
    """FITELnet over netmiko (paramiko SSH)."""

    def __init__(self, target: DeviceTarget) -> None:
        super().__init__(target)
        self._conn: Any = None
        self._transcript: TranscriptLog | None = None

    # --- session ---------------------------------------------------------------------

    def connect(self) -> None:
        if self._conn is not None:
            return
        try:
            try:
                self._conn = self._login()
            except _UnknownHostKey:
                refusal = hostkeys.refused_host_key(self.target, presented=None)
                if refusal is not None:
                    raise refusal from None
                self._conn = self._login(retry=True)  # the key was unknown, now trusted
        except BaseException:
            self.close()
            raise

    def logout(self) -> None:
        conn = self._conn
        if conn is not None:
            with suppress(Exception):  # the session is being closed either way
                conn.write_channel("exit" + conn.RETURN)
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(Exception):  # closing must not raise: the session is gone anyway
                conn.disconnect()
        if self._transcript is not None:
            self._transcript.close()
            self._transcript = None

    def _login(self, *, retry: bool = False) -> Any:
        t = self.target
        known_hosts = str(hostkeys.trusted_file(t.known_hosts, t.host, t.port))
        session_log = None
        if t.session_log is not None:
            self._transcript = self._transcript or TranscriptLog(t.session_log, t, "netmiko")
            session_log = SessionLog(buffered_io=self._transcript)
        try:
            return FitelnetSSH(
                device_type=DEVICE_TYPE,
                host=t.host,
                port=t.port,
                username=t.username,
                password=t.password or "",
                secret=t.enable_password or "",
                key_file=str(t.private_key_path) if t.private_key_path else None,
                use_keys=t.private_key_path is not None,
                allow_agent=False,
                ssh_strict=True,
                system_host_keys=False,
                alt_host_keys=True,
                alt_key_file=known_hosts,
                conn_timeout=t.connect_timeout,
                banner_timeout=t.connect_timeout,
                auth_timeout=t.connect_timeout,
                read_timeout_override=t.command_timeout,
                keepalive=t.keepalive,
                session_log=session_log,
            )
        except Exception as exc:
            error = self._login_error(exc)
            if retry and isinstance(error, _UnknownHostKey):
                error = hostkeys.refused_host_key(t, presented=None, may_trust=False) or error
            raise error from None

    def _login_error(self, exc: Exception) -> Exception:
        t = self.target
        if isinstance(exc, NetmikoAuthenticationException):
            return AuthenticationFailed(t)
        if isinstance(exc, ValueError) and "enable mode" in str(exc):
            return EnablePasswordRejected(t)
        if isinstance(exc, NetmikoTimeoutException):
            return self._connection_error(exc)
        if isinstance(exc, ReadTimeout):
            return UnexpectedPrompt(t, "a FITELnet prompt after login", "no prompt in time")
        if isinstance(exc, (OSError, EOFError, ReadException)):
            return SessionDropped(t, "login")
        if isinstance(exc, paramiko.ChannelException):
            return SessionRefused(t, exc.text or f"code {exc.code}")
        return DeviceUnreachable(t, f"{type(exc).__name__}: {exc}")

    def _connection_error(self, exc: NetmikoTimeoutException) -> Exception:
        """netmiko folds every transport failure into one type; the cause tells them apart."""
        t = self.target
        cause = exc.__context__
        if isinstance(cause, paramiko.BadHostKeyException):
            presented = hostkeys.HostKey(cause.key.get_name(), cause.key.asbytes())
            refusal = hostkeys.refused_host_key(t, presented=presented)
            return refusal or _UnknownHostKey()
        if isinstance(cause, paramiko.SSHException) and "not found in known_hosts" in str(cause):
            return _UnknownHostKey()
        if isinstance(cause, paramiko.ssh_exception.NoValidConnectionsError):
            refused = all(isinstance(e, ConnectionRefusedError) for e in cause.errors.values())
            return DeviceUnreachable(t, "connection refused" if refused else str(cause))
        if isinstance(cause, ConnectionRefusedError):
            return DeviceUnreachable(t, "connection refused")
        if isinstance(cause, (socket.timeout, TimeoutError)):
            return DeviceUnreachable(t, f"no TCP answer within {t.connect_timeout:g}s")
        if isinstance(cause, paramiko.SSHException) and "banner" in str(cause):
            return DeviceUnreachable(t, f"no SSH banner within {t.connect_timeout:g}s")
        reason = str(cause or exc).strip().splitlines()
        return DeviceUnreachable(t, reason[0] if reason else type(exc).__name__)

    # --- commands --------------------------------------------------------------------

    @contextmanager
    def _io(self, during: str) -> Iterator[Any]:
        """The live connection, with netmiko's read/socket failures mapped."""
        if self._conn is None:
            self.connect()
        conn = self._conn
        conn.read_timeout_override = self.target.command_timeout  # may be cut to a deadline
        try:
            yield conn
        except ReadTimeout:
            if not _alive(conn):
                raise SessionDropped(self.target, during) from None
            raise CommandTimeout(self.target, during, self.target.command_timeout) from None
        except (OSError, EOFError, ReadException):
            raise SessionDropped(self.target, during) from None

    def _send(self, command: str, expect: str, *, verify: bool = True) -> str:
        with self._io(command) as conn:
            output: str = conn.send_command(
                command,
                expect_string=expect,
                read_timeout=self.target.command_timeout,
                cmd_verify=verify,
            )
        return tidy_output(output)

    def show(self, command: str) -> str:
        return check_output(self.target, command, self._send(command, _PROMPT))

    def _enter_configuration(self) -> str:
        with self._io("configure terminal") as conn:
            try:
                entered: str = conn.config_mode()
            except ValueError:
                raise UnexpectedPrompt(
                    self.target, "a (config)# prompt", "no configuration mode"
                ) from None
        return entered

    def _config_line(self, line: str) -> str:
        return check_output(self.target, line, self._send(line, _PROMPT))

    def _end(self) -> None:
        with self._io("end") as conn:
            try:
                conn.exit_config_mode()
            except ValueError:
                raise UnexpectedPrompt(
                    self.target, "the # prompt after end", "a configuration prompt"
                ) from None

    def _confirmed(self, command: str) -> str:
        output = self._send(command, _CONFIRM_OR_PROMPT)
        if re.search(CONFIRM_PATTERN, output, re.M):
            output += "\n" + self._send("y", _PROMPT, verify=False)
        return after_confirmation(check_output(self.target, command, output))


def _alive(conn: Any) -> bool:
    try:
        return bool(conn.is_alive())
    except Exception:  # a dead transport may fail in many ways
        return False
