"""DeviceDriver over asyncssh: every session of the process on one event loop.

Why a third driver: fleet reads are bound by the client's CPU per session.  netmiko
runs paramiko's transport thread and a polling reader per session; scrapli forks an
OpenSSH client per session.  asyncssh does the SSH protocol on an event loop with the
crypto in ``cryptography``; one loop in a background thread carries every session of
the process, and the callers' threads only wait on it (benchmarks/c_drivers.py has
the figures).

The FITELnet dialogue is written here, against the shared rules of ``base``, in the
way the upstream netmiko ``furukawa_fitelnet`` driver holds it: wait for the first
prompt, ``enable`` (its ``password:`` answered with the enable password, or an empty
line when none is configured, as the device asks anyway), ``no more``, then for each
command its echo line, its output, the next prompt.  Every read waits for the last,
unfinished line to be a prompt (``HOST>``, ``HOST#``, ``HOST(config...)#``), a
``password:`` question or a ``[y/N]:`` question: nothing is timed by silence.

Host keys: asyncssh is given an empty trust list, so every key the device presents
goes to ``validate_host_public_key``, which checks it with ``hostkeys`` against the
inventory's known_hosts file (the same OpenSSH semantics the other drivers' refusal
path uses).  A refused key is kept, so the error names it without a second key
exchange.  The password is sent only after the key was accepted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import suppress
from functools import partial
from typing import Any, TypeVar

import asyncssh

from fitelctl.fitelnet.drivers import hostkeys
from fitelctl.fitelnet.drivers.base import (
    CONFIRM_PATTERN,
    ENABLE_REFUSED,
    PROMPT_BODY,
    AuthenticationFailed,
    CommandTimeout,
    DeviceError,
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

_R = TypeVar("_R")
guard_logger(logging.getLogger("asyncssh"))
log = logging.getLogger("fitelctl.driver")
guard_logger(log)

_PROMPT = re.compile(PROMPT_BODY + r"[ \t]*")
_PRIVILEGED = re.compile(r"[\w.\-@/:]{0,63}#[ \t]*")
_CONFIG = re.compile(r"[\w.\-@/:]{0,63}\([^)\n]{1,40}\)#[ \t]*")
_PASSWORD = re.compile(r".*password:[ \t]*", re.I)
_CONFIRM = re.compile(r".*" + CONFIRM_PATTERN.removesuffix("$"))
#: what ends a read: one pattern, or any of several
_Ends = re.Pattern[str] | tuple[re.Pattern[str], ...]
#: a PTY wide enough that the device never wraps a line of ``show`` output
_TERM_SIZE = (511, 24)


class _Loop:
    """The process's one event loop for device sessions, in a daemon thread.

    Created on first use and again in a forked child (a fork copies no threads).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def run(self, coro: Coroutine[Any, Any, _R]) -> _R:
        return asyncio.run_coroutine_threadsafe(coro, self._running()).result()

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop, self._pid = asyncio.new_event_loop(), os.getpid()
                self._loop.set_exception_handler(_unclaimed)
                threading.Thread(
                    target=self._loop.run_forever, name="fitelctl-ssh", daemon=True
                ).start()
            return self._loop


def _unclaimed(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A failure no caller waits for any more (asyncssh's late "connection lost" after a
    timeout gave up on the session): one debug line, not asyncio's traceback on stderr."""
    error = context.get("exception")
    detail = f": {type(error).__name__}: {error}" if error else ""
    log.debug("SSH session loop: %s%s", context.get("message", "unclaimed failure"), detail)


LOOP = _Loop()


class _Client(asyncssh.SSHClient):
    """Records how far a login got, and checks the host key against known_hosts."""

    def __init__(self, target: DeviceTarget) -> None:
        self.target = target
        self.tcp_connected = False
        self.key_exchanged = False
        self.refused_key: hostkeys.HostKey | None = None

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self.tcp_connected = True

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        self.key_exchanged = True
        t = self.target
        presented = hostkeys.HostKey(key.get_algorithm(), key.public_data)
        entries = hostkeys.entries_for(t.known_hosts, t.host, t.port)
        check = hostkeys.check_host_key(entries, t.host, t.port, presented)
        if check.verdict is hostkeys.Verdict.TRUSTED:
            return True
        self.refused_key = presented
        return False


class _HostKeyRefused(Exception):
    def __init__(self, key: hostkeys.HostKey | None) -> None:
        self.key = key


class AsyncsshDriver(DriverBase):
    """FITELnet over asyncssh, all sessions of the process on one event loop."""

    def __init__(self, target: DeviceTarget) -> None:
        super().__init__(target)
        self._conn: asyncssh.SSHClientConnection | None = None
        self._process: asyncssh.SSHClientProcess[str] | None = None
        self._buffer = ""
        self._transcript: TranscriptLog | None = None

    # --- session ---------------------------------------------------------------------

    def connect(self) -> None:
        if self._conn is not None:
            return
        t = self.target
        if t.session_log is not None and self._transcript is None:
            self._transcript = TranscriptLog(t.session_log, t, "asyncssh")
        try:
            try:
                LOOP.run(self._open())
            except _HostKeyRefused as refused:
                error = hostkeys.refused_host_key(t, presented=refused.key)
                if error is not None:
                    raise error from None
                try:
                    LOOP.run(self._open())  # the key was unknown and is now trusted
                except _HostKeyRefused as again:
                    raise hostkeys.refused_host_key(
                        t, presented=again.key, may_trust=False
                    ) or DeviceUnreachable(t, "host key refused") from None
        except BaseException:
            self.close()
            raise

    def logout(self) -> None:
        if self._process is not None:
            LOOP.run(self._say_exit())
        self.close()

    def close(self) -> None:
        conn, self._conn, self._process = self._conn, None, None
        if conn is not None:
            LOOP.run(_close(conn))
        if self._transcript is not None:
            self._transcript.close()
            self._transcript = None

    async def _say_exit(self) -> None:
        if self._process is not None:
            with suppress(asyncssh.Error, OSError):  # already ended: closing follows anyway
                self._process.stdin.write("exit\n")
            # the device ends the session; a short wait lets "exit" reach it first
            await _quietly(self._process.wait_closed(), 1.0)

    async def _open(self) -> None:
        t = self.target
        client = _Client(t)
        self._buffer = ""
        try:
            async with asyncio.timeout(t.connect_timeout):
                conn, _ = await asyncssh.create_connection(
                    lambda: client, t.host, t.port, **self._ssh_options()
                )
                self._conn = conn
                self._process = await conn.create_process(
                    term_type="vt100", term_size=_TERM_SIZE, encoding="utf-8", errors="replace"
                )
                await self._prepare()
        except TimeoutError:
            raise self._login_timeout(client) from None
        except asyncssh.HostKeyNotVerifiable:
            raise _HostKeyRefused(client.refused_key) from None
        except asyncssh.PermissionDenied:
            raise AuthenticationFailed(t) from None
        except asyncssh.ChannelOpenError as exc:
            raise SessionRefused(t, exc.reason or f"code {exc.code}") from None
        except ConnectionRefusedError:
            raise DeviceUnreachable(t, "connection refused") from None
        except (asyncssh.Error, OSError, EOFError) as exc:
            if not client.key_exchanged:
                reason = str(exc).strip() or type(exc).__name__
                raise DeviceUnreachable(t, reason.splitlines()[0]) from None
            raise SessionDropped(t, "login") from None

    def _ssh_options(self) -> dict[str, Any]:
        t = self.target
        key = str(t.private_key_path) if t.private_key_path else None
        return {
            "username": t.username,
            "password": t.password,
            "client_keys": [key] if key else None,
            "preferred_auth": "publickey" if key else "password,keyboard-interactive",
            # nothing implicit: no ~/.ssh/config, agent or default keys
            "config": None,
            "agent_path": None,
            # no trusted keys: every key goes to _Client.validate_host_public_key
            "known_hosts": ([], [], []),
            "server_host_key_algs": self._key_algorithms(),
            # Cheapest first, every default kept after them: asyncssh's default first
            # choices (a post-quantum hybrid key exchange, chacha20-poly1305) run partly
            # in Python (chacha20-poly1305 alone: ~11% of a 200-site read's CPU samples).
            "kex_algs": "^curve25519-sha256",
            "encryption_algs": "^aes128-gcm@openssh.com",
            "login_timeout": t.connect_timeout,
            "keepalive_interval": t.keepalive,
            "keepalive_count_max": 3,
        }

    def _key_algorithms(self) -> Sequence[str] | str:
        """The key types known_hosts holds for the device first, as OpenSSH asks."""
        t = self.target
        if t.known_hosts is None:
            return "default"
        entries = hostkeys.entries_for(t.known_hosts, t.host, t.port)
        known = hostkeys.known_key_types(entries, t.host, t.port)
        if not known:
            return "default"
        return "^" + ",".join(known)

    def _login_timeout(self, client: _Client) -> DeviceError:
        t, seconds = self.target, f"{self.target.connect_timeout:g}s"
        if not client.tcp_connected:
            return DeviceUnreachable(t, f"no TCP answer within {seconds}")
        if not client.key_exchanged:
            return DeviceUnreachable(t, f"no SSH banner within {seconds}")
        if self._process is None:
            return DeviceUnreachable(t, f"no SSH login within {seconds}")
        return UnexpectedPrompt(t, "a FITELnet prompt after login", _last_line(self._buffer))

    async def _prepare(self) -> None:
        """First prompt, ``enable``, ``no more``: the state every command starts from."""
        t = self.target
        prompt = await self._read_to(_PROMPT, "login", need_line=False)
        if not _PRIVILEGED.fullmatch(_last_line(prompt)):
            await self._write("enable", "enable")
            await self._read_to(_PASSWORD, "enable")
            await self._write(t.enable_password or "", "enable")  # not echoed
            answer = await self._read_to((_PROMPT, _PASSWORD), "enable", need_line=False)
            if ENABLE_REFUSED in answer or not _PRIVILEGED.fullmatch(_last_line(answer)):
                raise EnablePasswordRejected(t)
        await self._command("no more", _PROMPT)

    # --- reading and writing ----------------------------------------------------------

    async def _write(self, text: str, during: str) -> None:
        assert self._process is not None
        try:
            self._process.stdin.write(text + "\n")
        except (asyncssh.Error, OSError) as exc:
            raise SessionDropped(self.target, during) from exc

    async def _read_to(
        self,
        ends: _Ends,
        during: str,
        *,
        need_line: bool = True,
    ) -> str:
        """Everything up to a last, unfinished line that fully matches one of ``ends``.

        ``need_line``: the text must also hold a finished line (the echo of what was
        sent), so that the prompt a command was typed at never ends its own read.
        """
        assert self._process is not None
        patterns = ends if isinstance(ends, tuple) else (ends,)
        while True:
            last = _last_line(self._buffer)
            done = (not need_line or "\n" in self._buffer) and any(
                p.fullmatch(last) for p in patterns
            )
            if done:
                text, self._buffer = self._buffer, ""
                return text
            try:
                data = await self._process.stdout.read(65536)
            except (asyncssh.Error, OSError) as exc:
                raise SessionDropped(self.target, during) from exc
            if not data:
                raise SessionDropped(self.target, during)
            self._record(data)
            self._buffer += data

    def _record(self, data: str) -> None:
        if self._transcript is not None:
            self._transcript.feed(data)

    async def _command(
        self, command: str, ends: re.Pattern[str] | tuple[re.Pattern[str], ...]
    ) -> str:
        await self._write(command, command)
        return await self._read_to(ends, command)

    def _op(self, during: str, work: Callable[[], Awaitable[_R]]) -> _R:
        """Run ``work`` on the loop, bounded by the command timeout, failures mapped."""
        if self._process is None:
            self.connect()
        t = self.target

        async def bounded() -> _R:
            try:
                async with asyncio.timeout(t.command_timeout):
                    return await work()
            except TimeoutError:
                if self._conn is None or self._process is None or self._process.is_closing():
                    raise SessionDropped(t, during) from None
                raise CommandTimeout(t, during, t.command_timeout) from None

        return LOOP.run(bounded())

    # --- commands --------------------------------------------------------------------

    def show(self, command: str) -> str:
        text = self._op(command, partial(self._command, command, _PROMPT))
        return check_output(self.target, command, _output(text))

    def _enter_configuration(self) -> str:
        entered = self._op(
            "configure terminal", partial(self._command, "configure terminal", _PROMPT)
        )
        if not _CONFIG.fullmatch(_last_line(entered)):
            raise UnexpectedPrompt(self.target, "a (config)# prompt", _last_line(entered))
        return entered

    def _config_line(self, line: str) -> str:
        text = self._op(line, partial(self._command, line, _PROMPT))
        return check_output(self.target, line, _output(text))

    def _end(self) -> None:
        text = self._op("end", partial(self._command, "end", _PROMPT))
        if not _PRIVILEGED.fullmatch(_last_line(text)):
            raise UnexpectedPrompt(self.target, "the # prompt after end", _last_line(text))

    def _confirmed(self, command: str) -> str:
        async def dialogue() -> str:
            text = await self._command(command, (_CONFIRM, _PROMPT))
            if _CONFIRM.fullmatch(_last_line(text)):
                await self._write("y", command)
                text += await self._read_to(_PROMPT, command)  # "y" ends the question line
            return text

        output = tidy_output(_without_echo(self._op(command, dialogue)))
        return after_confirmation(check_output(self.target, command, output))


def _last_line(text: str) -> str:
    return text.rpartition("\n")[2].rstrip("\r")


def _without_echo(text: str) -> str:
    """The reply to a command: its first line (the echo) and last (the prompt) dropped."""
    return text.partition("\n")[2].rpartition("\n")[0]


def _output(text: str) -> str:
    return tidy_output(_without_echo(text))


async def _quietly(awaitable: Awaitable[Any], timeout: float) -> None:
    try:
        async with asyncio.timeout(timeout):
            await awaitable
    except (TimeoutError, asyncssh.Error, OSError):
        pass  # the session is being closed either way


async def _close(conn: asyncssh.SSHClientConnection) -> None:
    conn.close()
    await _quietly(conn.wait_closed(), 2.0)
