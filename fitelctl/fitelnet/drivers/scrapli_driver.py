"""DeviceDriver over scrapli 2.x (libscrapli) with the shipped FITELnet definition.

Transport: ``bin``, i.e. the system OpenSSH client (``ssh`` on PATH) in a pty.  Both
transports of libscrapli 0.0.6 connect to the lab (asyncssh) and open in about
0.05-0.15 s on loopback; ``bin`` is the one whose failures we can act on:

* OpenSSH does the host-key check itself with full known_hosts semantics (hashed
  entries, wildcards, markers); we only point it at the inventory's file and turn
  off everything implicit (``-F /dev/null``, no global known_hosts, no agent or
  default keys unless a key is configured);
* its failures are distinguishable: "connection refused", "permission denied" or a
  repeated password prompt, "host key verification failed".  The ssh2 (libssh2)
  transport reports a wrong password as an empty ``"Transport: "`` message and a
  closed port as "unable to resolve host", ignores wildcard known_hosts entries,
  and its ``close()`` raises after the device dropped the session.

Costs of ``bin``: it needs the ``ssh`` binary, and libscrapli joins and re-splits
ssh's arguments at spaces, so a known_hosts or key path with a space is refused up
front (``_preflight``) instead of failing as a baffling host-key refusal.

OpenSSH's refusal does not say whether the key was unknown or changed, nor show the
fingerprint: ``hostkeys.refused_host_key`` answers that on the failure path only.

libscrapli's prompted input has no failure pattern: after a wrong enable password
the device asks ``password:`` again and scrapli would wait out the whole timeout;
a refused ``save`` (device busy) never asks ``[y/N]`` and would hang the same way.
The recorder callback (which also feeds the redacted transcript) watches for those
texts and cancels the operation, so both fail at once with the right error.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from importlib import resources
from typing import TypeVar

from scrapli.auth import LookupKeyValue
from scrapli.auth import Options as AuthOptions
from scrapli.cli import Cli, LoadedDefinition
from scrapli.exceptions import CancelledException, ScrapliException
from scrapli.ffi_types import Cancel
from scrapli.session import Options as SessionOptions
from scrapli.transport import BinOptions

from fitelctl import deadline
from fitelctl.fitelnet.drivers import hostkeys
from fitelctl.fitelnet.drivers.base import (
    BUSY_MARKER,
    ENABLE_REFUSED,
    AuthenticationFailed,
    CommandTimeout,
    DeviceBusy,
    DeviceError,
    DeviceTarget,
    DeviceUnreachable,
    DriverBase,
    EnablePasswordRejected,
    SessionDropped,
    TranscriptLog,
    UnexpectedPrompt,
    after_confirmation,
    check_output,
    guard_logger,
    tidy_output,
)

PLATFORM = "furukawa_fitelnet"
#: Commands that ask ``[y/N]`` (their first word).
_CONFIRMED = {"save", "restore", "refresh", "load", "disconnect"}
_R = TypeVar("_R")


#: logins in progress at once in one process (``_login_slot``)
LOGINS_AT_ONCE = 4 * (
    len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
)
_login_slots = threading.BoundedSemaphore(LOGINS_AT_ONCE)


@contextmanager
def _login_slot() -> Iterator[None]:
    """One of the process's ``LOGINS_AT_ONCE`` login slots, for one ``open``.

    A login is CPU work on this machine (an ``ssh`` process: key exchange, host key
    check, password, then the FITELnet prompts), about 30 ms of it.  Logins started all
    at once share the CPU, so each takes about as long as the whole batch: with a
    fleet's 64 workers in each of two processes, 200 lab sites' logins took a median
    2.5-4 s and up to 6.5 s on 2 cores, and now and then one crossed the 10 s connect
    timeout ("no SSH login within 10s", once in about 2,000 logins).  With 8 at once
    the same 200 logins took a median 0.4 s, at most 0.7 s, in the same total time.
    Waiting for a slot is not the device's time, so it does not count against the
    connect timeout; it is bounded by the command's deadline (``--timeout``).
    """
    if not _login_slots.acquire(timeout=deadline.current().wait_timeout()):
        raise deadline.current().exceeded("waiting for a login slot")
    try:
        yield
    finally:
        _login_slots.release()


def load_definition() -> LoadedDefinition:
    """The FITELnet platform definition shipped inside this package."""
    text = (resources.files(__package__) / "definitions" / f"{PLATFORM}.yaml").read_text("utf-8")
    return LoadedDefinition(platform_name=PLATFORM, definition=text)


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


class _Watch:
    """Cancels the running operation when the device prints one of ``markers``.

    ``seen`` keeps the last 512 characters the armed operation received, for texts
    that must be noticed but are no failure (the other-editor warning).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tail = ""
        self._markers: tuple[str, ...] = ()
        self._cancel: Cancel | None = None
        self.hit: str | None = None

    def arm(self, *markers: str) -> Cancel:
        """A fresh cancellation handle for the next operation, watching ``markers``."""
        with self._lock:
            self._tail, self._markers, self.hit = "", markers, None
            self._cancel = Cancel()
            return self._cancel

    def disarm(self) -> None:
        with self._lock:
            self._markers, self._cancel = (), None

    @property
    def seen(self) -> str:
        with self._lock:
            return self._tail

    def feed(self, text: str) -> None:
        with self._lock:
            if self._cancel is None:
                return
            self._tail = (self._tail + text)[-512:]
            for marker in self._markers:
                if marker in self._tail:
                    self.hit = marker
                    self._cancel.cancel()
                    return


class ScrapliDriver(DriverBase):
    """FITELnet over scrapli 2.x, bin (OpenSSH) transport."""

    def __init__(self, target: DeviceTarget) -> None:
        super().__init__(target)
        self._cli: Cli | None = None
        self._transcript: TranscriptLog | None = None
        self._watch = _Watch()

    # --- session ---------------------------------------------------------------------

    def connect(self) -> None:
        if self._cli is not None:
            return
        t = self.target
        _preflight(t)
        if t.session_log is not None and self._transcript is None:
            self._transcript = TranscriptLog(t.session_log, t, "scrapli")
        try:
            try:
                self._cli = self._open()
            except _HostKeyRefused:
                refusal = hostkeys.refused_host_key(t, presented=None)
                if refusal is not None:
                    raise refusal from None
                try:
                    self._cli = self._open()  # the key was unknown and is now trusted
                except _HostKeyRefused:
                    raise hostkeys.refused_host_key(
                        t, presented=None, may_trust=False
                    ) or DeviceUnreachable(t, "host key refused") from None
        except BaseException:
            self.close()
            raise

    def logout(self) -> None:
        """Closing already says ``exit`` (the definition's on_close_instructions)."""
        self.close()

    def close(self) -> None:
        cli, self._cli = self._cli, None
        if cli is not None:
            with suppress(ScrapliException):
                cli.close()
        if self._transcript is not None:
            self._transcript.close()
            self._transcript = None

    def _new_cli(self) -> Cli:
        t = self.target
        auth_args = ["-o", "PubkeyAuthentication=no"]
        if t.private_key_path is not None:
            auth_args = ["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"]
        cli = Cli(
            t.host,
            port=t.port,
            definition_file_or_name=load_definition(),
            auth_options=AuthOptions(
                username=t.username,
                password=t.password,
                private_key_path=str(t.private_key_path) if t.private_key_path else None,
                # libscrapli sends nothing for an empty lookup value and would wait out
                # the timeout at "password:", which FITELnet asks even when no enable
                # password is set; "\n" answers it with an empty line (one extra prompt
                # follows, which scrapli skips).
                lookups=[LookupKeyValue(key="enable", value=t.enable_password or "\n")],
            ),
            # The session default bounds open (and close); every command passes
            # command_timeout itself.  (open() cannot take a per-call timeout: the
            # override needs the handle that open creates.)
            session_options=SessionOptions(
                operation_timeout_ns=_ns(t.connect_timeout), recorder_callback=self._record
            ),
            transport_options=BinOptions(
                known_hosts_path=str(t.known_hosts) if t.known_hosts else "/dev/null",
                enable_strict_key=True,
                ssh_config_path="/dev/null",
                extra_open_args=["-o", "GlobalKnownHostsFile=/dev/null", *auth_args],
            ),
        )
        guard_logger(cli.logger)
        return cli

    def _record(self, text: str) -> None:
        if self._transcript is not None:
            self._transcript.feed(text)
        self._watch.feed(text)

    def _open(self) -> Cli:
        t = self.target
        cli = self._new_cli()
        cancel = self._watch.arm(ENABLE_REFUSED)
        try:
            with _login_slot():
                cli.open(cancel=cancel)
        except CancelledException:
            _discard(cli)
            raise EnablePasswordRejected(t) from None
        except ScrapliException as exc:
            _discard(cli)
            raise self._open_error(str(exc)) from None
        finally:
            self._watch.disarm()
        return cli

    def _open_error(self, message: str) -> Exception:
        """libscrapli reports open failures as text only (bin transport wording)."""
        t = self.target
        text = message.lower()
        if "host key verification failed" in text:
            return _HostKeyRefused()
        if "connection refused" in text:
            return DeviceUnreachable(t, "connection refused")
        if "authenticate: operation timeout" in text:
            # no SSH banner, or no password prompt, within the open budget
            return DeviceUnreachable(t, f"no SSH login within {t.connect_timeout:g}s")
        if "timeout" in text:
            return CommandTimeout(t, "login (enable, no more)", t.connect_timeout)
        if "password prompt" in text or "permission denied" in text:
            return AuthenticationFailed(t)
        if text.startswith("eof"):
            return DeviceUnreachable(t, "the connection was closed during login")
        first = message.strip().splitlines()
        return DeviceUnreachable(t, first[0] if first else "the SSH client failed")

    # --- commands --------------------------------------------------------------------

    def _op(self, during: str, call: Callable[[Cli, int, Cancel], _R], *markers: str) -> _R:
        """Run one scrapli operation with its failures mapped; cancel it on ``markers``."""
        if self._cli is None:
            self.connect()
        assert self._cli is not None
        cli = self._cli
        cancel = self._watch.arm(*markers)
        try:
            return call(cli, _ns(self.target.command_timeout), cancel)
        except CancelledException:
            if self._watch.hit != BUSY_MARKER:
                raise
            with suppress(ScrapliException):
                cli.get_prompt()  # resynchronise on the prompt that follows the refusal
            raise DeviceBusy(self.target, during) from None
        except ScrapliException as exc:
            raise self._op_error(during, str(exc)) from None
        finally:
            self._watch.disarm()

    def _op_error(self, during: str, message: str) -> DeviceError:
        if message.startswith(("EOF", "Transport")) or "write failed" in message:
            return SessionDropped(self.target, during)
        if "timeout" in message.lower():
            return CommandTimeout(self.target, during, self.target.command_timeout)
        return UnexpectedPrompt(self.target, f"a prompt after {during!r}", message)

    def _send(self, command: str, mode: str) -> str:
        result = self._op(
            command,
            lambda cli, ns, cancel: cli.send_input(
                command, requested_mode=mode, operation_timeout_ns=ns, cancel=cancel
            ),
        )
        return check_output(self.target, command, tidy_output(result.result))

    def show(self, command: str) -> str:
        return self._send(command, "privileged_exec")

    def _enter_configuration(self) -> str:
        self._op(
            "configure terminal",
            lambda cli, ns, cancel: cli.enter_mode(
                "configuration", operation_timeout_ns=ns, cancel=cancel
            ),
        )
        return self._watch.seen

    def _config_line(self, line: str) -> str:
        return self._send(line, "configuration")

    def _end(self) -> None:
        self._op(
            "end",
            lambda cli, ns, cancel: cli.enter_mode(
                "privileged_exec", operation_timeout_ns=ns, cancel=cancel
            ),
        )

    def _confirmed(self, command: str) -> str:
        if command.split()[0] not in _CONFIRMED:
            return self.show(command)
        result = self._op(
            command,
            lambda cli, ns, cancel: cli.send_prompted_input(
                command,
                prompt="",
                prompt_pattern=r"\[y/[nN]\]:\s*$",
                response="y",
                requested_mode="privileged_exec",
                operation_timeout_ns=ns,
                cancel=cancel,
            ),
            BUSY_MARKER,
        )
        return after_confirmation(check_output(self.target, command, result.result))


def _preflight(target: DeviceTarget) -> None:
    """Refuse, with a clear reason, what the bin transport would fail at obscurely."""
    if shutil.which("ssh") is None:
        raise DeviceUnreachable(
            target, "the scrapli driver runs the OpenSSH client 'ssh', which is not installed"
        )
    for path in (target.known_hosts, target.private_key_path):
        if path is not None and any(c.isspace() for c in str(path)):
            raise DeviceError(
                target,
                f"the scrapli driver cannot use {str(path)!r} (libscrapli splits ssh "
                "arguments at spaces)",
                "use a path without spaces, or the netmiko driver",
            )


class _HostKeyRefused(Exception):
    """OpenSSH refused the host key; ``hostkeys`` finds out why."""


def _discard(cli: Cli) -> None:
    """Release a Cli whose open failed (its ssh process and libscrapli handle)."""
    with suppress(ScrapliException):
        cli.close(force=True)
