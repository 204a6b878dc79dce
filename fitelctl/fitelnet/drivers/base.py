"""The device driver contract: target, protocol, errors, and what both drivers share.

Two implementations (netmiko, scrapli) sit behind one ``DeviceDriver`` protocol so
that ops code never sees a library type or a library exception.  Everything that
decides *what the device said* (error lines, busy, confirmations) lives here, so
both drivers judge the same output the same way.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Literal, Protocol, Self

from fitelctl.errors import FitelctlError
from fitelctl.redact import SECRETS, redact_text

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

DriverKind = Literal["netmiko", "scrapli", "asyncssh"]


@dataclass(frozen=True, kw_only=True)
class DeviceTarget:
    """Everything needed to reach one device; secret values are resolved but never shown."""

    site: str
    host: str
    port: int = 22
    username: str
    password: str | None = field(repr=False)
    enable_password: str | None = field(repr=False)
    private_key_path: Path | None = None
    known_hosts: Path | None  # None: no file configured, every key is refused
    trust_new_host_key: bool = False  # an UNKNOWN key is appended; a CHANGED one never
    connect_timeout: float = 10.0
    command_timeout: float = 30.0
    session_log: Path | None = None  # a redacted transcript is appended here
    #: seconds between SSH keepalives while the session is idle, 0: none (asyncssh:
    #: ``keepalive@openssh.com``; netmiko: paramiko's ``keepalive@lag.net``).  Not
    #: scrapli's: libscrapli 0.0.6 gives ssh ``ServerAliveInterval`` = the connect
    #: timeout, first, and OpenSSH keeps that.
    keepalive: float = 0.0

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def register_secrets(self) -> None:
        """Make sure every output of this process masks this target's secrets."""
        for value in (self.password, self.enable_password):
            if value:
                SECRETS.add(value)


class DeviceDriver(Protocol):
    """One SSH CLI session to a FITELnet device."""

    def connect(self) -> None:
        """Log in, enter privileged mode, switch paging off."""

    def show(self, command: str) -> str:
        """Output of ``command`` without its echo and the trailing prompt."""

    def configure(self, lines: Sequence[str], *, other_edits_ok: bool = False) -> str:
        """``configure terminal``, the lines, ``end``; CommandRejected names a refused line.

        When ``configure terminal`` warns that another session edited working.cfg,
        OtherSessionEdits is raised before any line is sent, unless ``other_edits_ok``.
        """

    def commit(self) -> str:
        """working.cfg -> current.cfg (``refresh`` on models that reject ``commit``)."""

    def save(self) -> str:
        """working.cfg -> boot file (``save``, confirmed)."""

    def restore(self) -> str:
        """Throw away working.cfg edits (``restore``, confirmed)."""

    def disconnect_ssh(self, number: int) -> str:
        """End the device's SSH connection ``number`` (``disconnect ssh N``, confirmed)."""

    def close(self) -> None:
        """End the session; safe to call twice."""

    def logout(self) -> None:
        """End the session as an operator does, ``exit`` to the CLI, then close."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


# --- errors -----------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(SECRETS.redact(text).split())


class DeviceError(FitelctlError):
    """A device operation failed; ``str()`` is one redacted line: where, what, what to do."""

    def __init__(self, target: DeviceTarget, problem: str, action: str) -> None:
        self.site = target.site
        self.endpoint = target.endpoint
        super().__init__(_one_line(f"{target.site} ({target.endpoint}): {problem}; {action}"))


class AuthenticationFailed(DeviceError):
    def __init__(self, target: DeviceTarget) -> None:
        super().__init__(
            target,
            f"SSH login as {target.username!r} was refused",
            "check the username and password (or key) for this site in the inventory",
        )


class EnablePasswordRejected(DeviceError):
    def __init__(self, target: DeviceTarget) -> None:
        problem = (
            "the device refused the enable password"
            if target.enable_password
            else "the device asks for an enable password and none is configured"
        )
        super().__init__(target, problem, "set enable_password for this site in the inventory")


class HostKeyRejected(DeviceError):
    """The SSH host key was not accepted (base of the unknown/changed cases)."""


class HostKeyUnknown(HostKeyRejected):
    def __init__(self, target: DeviceTarget, key_type: str, fingerprint: str) -> None:
        self.key_type = key_type
        self.fingerprint = fingerprint
        where = (
            f"it is not in {target.known_hosts}"
            if target.known_hosts
            else "no known_hosts file is configured to check it against"
        )
        super().__init__(
            target,
            f"unknown SSH host key ({key_type} key fingerprint is {fingerprint}); {where}",
            "if that is the device's fingerprint (check on its console), trust it explicitly "
            "with --trust-new-host-key",
        )


class HostKeyChanged(HostKeyRejected):
    def __init__(
        self, target: DeviceTarget, key_type: str, fingerprint: str, known_hosts: Path, line: int
    ) -> None:
        self.key_type = key_type
        self.fingerprint = fingerprint
        self.known_hosts = known_hosts
        self.line = line
        super().__init__(
            target,
            f"SSH HOST KEY CHANGED: the device now presents {key_type} key {fingerprint}, "
            f"which contradicts {known_hosts}:{line} (possible man-in-the-middle)",
            f"only if the device was really replaced or re-keyed, delete line {line} of "
            f"{known_hosts} and connect again with --trust-new-host-key",
        )


class DeviceUnreachable(DeviceError):
    def __init__(self, target: DeviceTarget, reason: str) -> None:
        super().__init__(
            target,
            f"cannot open an SSH session: {reason}",
            "check the address and port in the inventory and that the device is up and "
            "reachable from here",
        )


class SessionRefused(DeviceError):
    """The login succeeded but the device refused the session channel."""

    def __init__(self, target: DeviceTarget, reason: str) -> None:
        super().__init__(
            target,
            f"the device accepted the login but refused an SSH session ({reason})",
            "it may allow no more sessions: end another one (show ssh lists them) or wait",
        )


class CommandTimeout(DeviceError):
    def __init__(self, target: DeviceTarget, command: str, timeout: float) -> None:
        self.command = command
        super().__init__(
            target,
            f"no prompt within {timeout:g}s after {command!r}",
            "the device may be slow or stuck; raise command_timeout or check it on its console",
        )


class UnexpectedPrompt(DeviceError):
    def __init__(self, target: DeviceTarget, expected: str, seen: str) -> None:
        super().__init__(
            target,
            f"expected {expected} but the device showed {seen!r}",
            "check that this is a FITELnet device in a normal CLI state",
        )


class CommandRejected(DeviceError):
    def __init__(self, target: DeviceTarget, command: str, device_text: str) -> None:
        self.command = SECRETS.redact(command)
        self.device_text = _one_line(device_text)
        super().__init__(
            target,
            f"the device rejected {command!r}: {device_text}",
            "fix that line (device working.cfg may hold the lines before it; restore drops them)",
        )


class OtherSessionEdits(DeviceError):
    def __init__(self, target: DeviceTarget) -> None:
        super().__init__(
            target,
            "another session holds uncommitted edits of working.cfg (the device warned on "
            "'configure terminal'); nothing was configured",
            f"see `fitelctl sessions {target.site}`, end a stale session with "
            f"`fitelctl sessions {target.site} --disconnect N`, or take the edits along "
            "with --force",
        )


class DeviceBusy(DeviceError):
    def __init__(self, target: DeviceTarget, command: str) -> None:
        self.command = command
        super().__init__(
            target,
            f"{command!r} refused: another processing is executing on the device",
            "wait for the other session or operation to finish, then retry",
        )


class SessionDropped(DeviceError):
    def __init__(self, target: DeviceTarget, during: str) -> None:
        super().__init__(
            target,
            f"the SSH session was lost during {during!r}",
            "reconnect and check the device state (show working.cfg) before retrying",
        )


# --- judging device output -----------------------------------------------------------------

#: Any FITELnet prompt: ``HOST>``, ``HOST#``, ``HOST(config...)#``, or bare ``>``/``#``.
PROMPT_BODY = r"[\w.\-@/:]{0,63}(?:\([^)\n]{1,40}\))?[>#]"
PROMPT_PATTERN = rf"(?m)^{PROMPT_BODY}[ \t\r]*$"
#: The ``[y/N]:`` question of save/refresh/restore (and of commit on some firmware).
CONFIRM_PATTERN = r"\[y/[nN]\]:?[ \t\r]*$"
ERROR_MARKERS = (
    "<ERROR>",
    "% Invalid input detected",
    "Incomplete command",
    "Unrecognized command",
    "% Command failed",
)
BUSY_MARKER = "Another processing is executing"
#: what the device prints on a wrong enable password, before it asks ``password:`` again
ENABLE_REFUSED = "Authentication failed"
INVALID_INPUT = "Invalid input detected"
#: ``configure terminal`` while another session holds uncommitted edits (OBSERVED,
#: pyats-fitelnet): "WARNING: Another users has already edited working.cfg."
OTHER_EDITS_MARKER = "Another users has already edited working.cfg"


_PROMPT_LINE = re.compile(PROMPT_BODY)
_QUESTION = re.compile(r"^.*\[y/[nN]\]:?[ \t]*y?[ \t]*$", re.M)


def tidy_output(text: str) -> str:
    """Output as both drivers return it: no prompt-only lines, no trailing blanks.

    netmiko keeps configuration-mode prompts and trailing spaces that scrapli
    removes; callers (parsers, diffs) get the same text whichever driver ran.
    """
    lines = [line.rstrip() for line in text.replace("\r", "").split("\n")]
    kept = [line for line in lines if not _PROMPT_LINE.fullmatch(line)]
    return "\n".join(kept).strip("\n")


def after_confirmation(text: str) -> str:
    """What the device printed after a ``[y/N]:`` question was answered."""
    parts = _QUESTION.split(text)
    return tidy_output(parts[-1])


def register_line_secrets(lines: Sequence[str]) -> None:
    """Register as secret values the words of ``lines`` that redaction masks by shape.

    A PSK on a ``local-key`` line is recognised only in that shape; libraries also
    log it in other shapes (netmiko's debug log prints regex-escaped echoes), so
    the value itself must be known to every later redaction.
    """
    for line in lines:
        kept = set(redact_text(line).split())
        for word in line.split():
            if word not in kept:
                SECRETS.add(word)


def device_error_line(output: str) -> str | None:
    """The first line of ``output`` that the device uses to refuse a command.

    For ``Invalid input detected at '^' marker.`` the word the device marked (the
    line above the error repeats the input, carets under the offending word) is
    added: ``... marker. (at 'sha-265')``.
    """
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if any(marker in line for marker in ERROR_MARKERS):
            word = _marked_word(lines[:index]) if INVALID_INPUT in line else None
            return line.strip() + (f" (at {word!r})" if word else "")
    return None


def _marked_word(before: Sequence[str]) -> str | None:
    """The input under the carets of the ``^^^^`` line just before an error line."""
    if len(before) < 2 or not re.fullmatch(r" *\^+ *", before[-1]):
        return None
    carets, echoed = before[-1].rstrip(), before[-2]
    start = len(carets) - len(carets.lstrip())
    return echoed[start : len(carets)].strip() or None


def check_output(target: DeviceTarget, command: str, output: str) -> str:
    """``output`` if the device accepted ``command``; DeviceBusy / CommandRejected if not."""
    if BUSY_MARKER in output:
        raise DeviceBusy(target, command)
    line = device_error_line(output)
    if line is not None:
        raise CommandRejected(target, command, line)
    return output


# --- shared behaviour ---------------------------------------------------------------------


class TranscriptLog(io.BufferedIOBase):
    """A session transcript file that only ever receives redacted, complete lines.

    Redaction is line-based (a ``Cipher Key : ...`` value or a password may arrive
    split over two reads), so a partial line waits until its newline or until close.
    A binary stream, so netmiko's ``SessionLog(buffered_io=...)`` accepts it; scrapli's
    recorder callback is ``feed``.
    """

    def __init__(self, path: Path, target: DeviceTarget, driver: str) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = path.open("a", encoding="utf-8")
        self._pending = ""
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        self._fh.write(f"--- {stamp} {target.site} {target.endpoint} ({driver}) ---\n")

    def feed(self, text: str) -> None:
        if self._fh is None:
            return
        lines = (self._pending + text.replace("\r\n", "\n").replace("\r", "")).split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._fh.write(SECRETS.redact(line) + "\n")
        self._fh.flush()

    def write(self, buffer: ReadableBuffer, /) -> int:
        data = bytes(buffer)
        self.feed(data.decode("utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        """Lines are flushed as they complete; a partial line must wait (see class doc)."""

    def close(self) -> None:
        if self._fh is not None:
            if self._pending:
                self._fh.write(SECRETS.redact(self._pending) + "\n")
                self._pending = ""
            self._fh.close()
            self._fh = None
        super().close()


class _RedactRecords(logging.Filter):
    """Library debug logs echo what was typed and read (enable password, keys)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = SECRETS.redact(record.getMessage())
        record.args = None
        return True


_REDACT_RECORDS = _RedactRecords()


def guard_logger(logger: logging.Logger) -> None:
    """Redact ``logger``'s records; without app logging set up, keep them off stderr."""
    if _REDACT_RECORDS not in logger.filters:
        logger.addFilter(_REDACT_RECORDS)
        logger.addHandler(logging.NullHandler())


class DriverBase:
    """Context-manager support and the FITELnet dialogue shared by both drivers.

    ``with open_driver(target, kind) as dev:`` connects on entry and closes on exit.
    Subclasses implement ``connect``/``close``, ``show`` and the primitives
    ``_confirmed`` (send a command, answer ``y`` if it asks ``[y/N]``),
    ``_enter_configuration``, ``_config_line`` and ``_end``.
    """

    def __init__(self, target: DeviceTarget) -> None:
        target.register_secrets()
        self.target = target

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _confirmed(self, command: str) -> str:
        raise NotImplementedError

    def _enter_configuration(self) -> str:
        """``configure terminal``; what the device printed (UnexpectedPrompt if no mode)."""
        raise NotImplementedError

    def _config_line(self, line: str) -> str:
        """One configuration line; its output, judged by ``check_output``."""
        raise NotImplementedError

    def _end(self) -> None:
        """``end``, back to the privileged prompt."""
        raise NotImplementedError

    def configure(self, lines: Sequence[str], *, other_edits_ok: bool = False) -> str:
        """``configure terminal``, the lines, ``end`` (see ``DeviceDriver.configure``)."""
        wanted = self._config_lines(lines)
        if not wanted:
            return ""
        entered = self._enter_configuration()
        if OTHER_EDITS_MARKER in entered and not other_edits_ok:
            self._end()
            raise OtherSessionEdits(self.target)
        outputs = []
        try:
            for line in wanted:
                outputs.append(self._config_line(line))
        except DeviceError:
            with suppress(DeviceError):
                self._end()
            raise
        self._end()
        return "\n".join(o for o in outputs if o)

    def _config_lines(self, lines: Sequence[str]) -> list[str]:
        """The non-blank lines to send, their secrets registered first."""
        wanted = [line for line in lines if line.strip()]
        register_line_secrets(wanted)
        return wanted

    def commit(self) -> str:
        """``commit``; models that reject it with "Invalid input" get ``refresh`` instead."""
        try:
            return self._confirmed("commit")
        except CommandRejected as exc:
            if INVALID_INPUT not in exc.device_text:
                raise
        return self._confirmed("refresh")

    def save(self) -> str:
        return self._confirmed("save")

    def restore(self) -> str:
        return self._confirmed("restore")

    def disconnect_ssh(self, number: int) -> str:
        return self._confirmed(f"disconnect ssh {number}")
