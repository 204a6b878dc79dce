"""All state of one simulated FITELnet F220: its three configs, its files, its faults.

The F220 keeps three configs (docs/domain.md#configs-and-commit): ``working.cfg`` (what ``configure
terminal`` edits, shared by every session), ``current.cfg`` (what runs) and the
boot file (``/drive/boot.cfg`` unless ``boot configuration`` chose another).
Sessions (``cli.CliSession``) hold only their own mode; everything they change
lives here, so two SSH sessions on one device see each other's edits as on the
real box.

SSH sessions are registered here too (``show ssh`` lists them, ``disconnect ssh N``
ends one).  Lab choices (INFERRED, no capture shows them): a new connection takes
the lowest free connection number and a PTY shell the lowest free ``/dev/pts/N``;
a session without a PTY shows an empty Line.  Who edited working.cfg is tracked per
CLI session: ``configure terminal`` warns while *another live* session holds edits
that are not committed; when that session ends its claim ends, but its edits stay
in working.cfg (it is a file, as the logout warning "You have NOT saved after
editing working.cfg." shows) until a commit, ``restore`` or ``load`` replaces it.

``history`` keeps when and by whom working.cfg was last edited, refreshed (commit)
and saved, for the ``!  LAST EDIT …`` header lines of ``show current.cfg``
(the device clock is the lab host's local time).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from fitelctl.fitelnet.config_tree import ConfigTree
from fitelctl.lab.device.editing import clone, replay_config
from fitelctl.lab.device.world_api import CryptoWorld

BOOT_FILE = "/drive/boot.cfg"
DRIVE = "/drive/"
#: command lines a device remembers (``LabDevice.commands``): a fault sweep's run sends
#: about 100, an exporter polling it every 30 s about 3,000 a day
COMMANDS_KEPT = 10_000


@dataclass(frozen=True)
class DeviceSpec:
    site: str
    #: Prompt name when current.cfg has no ``hostname`` line ("" = bare ``>``/``#``).
    hostname: str
    username: str
    password: str
    enable_password: str
    #: OpenSSH public key lines accepted for publickey authentication.
    authorized_keys: tuple[str, ...] = ()
    firmware: str = "01.12(00)[0]00.00.0 [2023/07/26 15:00]"
    #: Only the world reads it (which `show crypto sa` layout this firmware prints).
    sa_format: Literal["ipsec", "ike_child"] = "ipsec"
    #: "refresh" models reject ``commit`` with the ``% Invalid input`` form.
    commit_command: Literal["commit", "refresh"] = "commit"
    #: Initial boot.cfg text; current.cfg and working.cfg start equal to it.
    boot_config: str = ""
    #: How long commit/refresh/save/restore/load hold the processing lock.
    commit_seconds: float = 0.05


@dataclass
class DeviceFaults:
    #: One-shot: the next commit/refresh answers ``% Command failed.``; working stays
    #: edited and current unchanged.
    commit_fails: bool = False
    #: One-shot: the first session sending more than N configuration-mode lines is
    #: dropped (connection closed abruptly); the line that exceeds is not applied.
    drop_after_lines: int | None = None
    #: With ``drop_after_lines``: only the K-th session (from 1) of this device that
    #: sends configuration-mode lines counts; None: the first that sends too many.
    drop_session: int | None = None
    #: (COMMAND, N): once the N-th COMMAND line (from 1) is answered, ``LabDevice.die``
    #: ends the lab (``kill-after:COMMAND@N``).
    kill_after: tuple[str, int] | None = None
    #: The device holds at most N SSH sessions: one more authenticates, and its session
    #: channel is refused (``max-sessions:N``; INFERRED, FITELnet's limit and refusal
    #: are not published).
    max_sessions: int | None = None


@dataclass
class SshSession:
    """One SSH connection as ``show ssh`` lists it."""

    number: int
    username: str
    #: Negotiated cipher as the device prints it (``AES128-CTR``).
    encryption: str
    #: Ends the connection (``disconnect ssh N``).
    close: Callable[[], None] = field(repr=False)
    #: ``/dev/pts/N`` once a PTY shell runs on it, else "".
    line: str = ""
    #: Names of the SSH global requests the client sent (keepalives among them).
    global_requests: list[str] = field(default_factory=list)


def drive_path(name: str) -> str:
    """``x.cfg`` and ``/drive/x.cfg`` name the same file."""
    return name if name.startswith(DRIVE) else DRIVE + name


@dataclass(eq=False)
class LabDevice:
    """One device's mutable state.  Raises ``ConfigTextError`` for a bad boot config."""

    spec: DeviceSpec
    faults: DeviceFaults = field(default_factory=DeviceFaults)
    world: CryptoWorld | None = None
    working: ConfigTree = field(init=False)
    current: ConfigTree = field(init=False)
    files: dict[str, str] = field(init=False)
    boot_file: str = field(init=False, default=BOOT_FILE)
    #: Held by commit/refresh/save/restore/load for ``spec.commit_seconds``.
    processing_lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    #: The CLI sessions whose edits to working.cfg are not committed yet.
    working_editors: set[int] = field(init=False, default_factory=set)
    #: Live SSH connections by connection number (``show ssh``).
    ssh_sessions: dict[int, SshSession] = field(init=False, default_factory=dict)
    #: Session channels refused because ``faults.max_sessions`` sessions were open.
    sessions_refused: int = field(init=False, default=0)
    #: "EDIT" / "REFRESH" / "SAVE" → "HH:MM:SS YYYY/MM/DD by USER" of the last one.
    history: dict[str, str] = field(init=False, default_factory=dict)
    _session_ids: itertools.count[int] = field(init=False, default_factory=itertools.count)
    #: Configuration-mode lines received, one count per session that sent any, in order.
    config_lines: list[int] = field(init=False, default_factory=list)
    #: Called when the boot file or the boot file's name changes (the lab persists it).
    on_boot_change: Callable[[LabDevice], None] | None = field(default=None, repr=False)
    #: The last ``COMMANDS_KEPT`` command lines received (answers to questions and
    #: passwords not included), words separated by single spaces, in order: bounded, as
    #: a lab polled by an exporter runs for days.
    commands: deque[str] = field(init=False, default_factory=lambda: deque(maxlen=COMMANDS_KEPT))
    #: Every command line received so far, counted: what the ``kill-after`` fault counts.
    command_counts: Counter[str] = field(init=False, default_factory=Counter)
    #: Ends the whole lab at once (SIGKILL of its process), for ``kill-after``.
    die: Callable[[], None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.current = replay_config(self.spec.boot_config)
        self.working = clone(self.current)
        self.files = {BOOT_FILE: self.current.render()}

    def current_config(self) -> str:
        return self.current.render()

    def working_config(self) -> str:
        return self.working.render()

    def boot_config(self) -> str:
        return self.files.get(self.boot_file, "")

    @property
    def hostname(self) -> str:
        """The prompt name: current.cfg's ``hostname`` line, else the spec's."""
        for entry in self.current.entries:
            if not entry.is_block and entry.header.startswith("hostname "):
                return entry.header.split(maxsplit=1)[1]
        return self.spec.hostname

    def new_session_id(self) -> int:
        return next(self._session_ids)

    def note_edit(self, session_id: int, user: str = "") -> None:
        self.working_editors.add(session_id)
        self._stamp("EDIT", user)

    def _stamp(self, what: str, user: str) -> None:
        self.history[what] = f"{datetime.now():%H:%M:%S %Y/%m/%d} by {user or self.spec.username}"

    def session_ended(self, session_id: int) -> None:
        """A CLI session closed: its claim on working.cfg ends (its edits stay)."""
        self.working_editors.discard(session_id)

    def edited_by_another(self, session_id: int) -> bool:
        """Another live session left working.cfg different from current.cfg."""
        return bool(self.working_editors - {session_id}) and (
            self.working_config() != self.current_config()
        )

    # --- SSH sessions (show ssh / disconnect ssh) -----------------------------------

    def open_ssh(self, username: str, encryption: str, close: Callable[[], None]) -> SshSession:
        number = _lowest_free(self.ssh_sessions)
        session = SshSession(number, username, encryption, close)
        self.ssh_sessions[number] = session
        return session

    def assign_line(self, session: SshSession) -> None:
        """A PTY shell starts on ``session``: give it the lowest free ``/dev/pts/N``."""
        if not session.line:
            used = {s.line for s in self.ssh_sessions.values()}
            pts = next(n for n in itertools.count() if f"/dev/pts/{n}" not in used)
            session.line = f"/dev/pts/{pts}"

    def close_ssh(self, session: SshSession) -> None:
        if self.ssh_sessions.get(session.number) is session:
            del self.ssh_sessions[session.number]

    def disconnect_ssh(self, number: int) -> bool:
        """End connection ``number``; False when there is none."""
        session = self.ssh_sessions.pop(number, None)
        if session is None:
            return False
        session.close()
        return True

    def unsaved(self) -> bool:
        """working.cfg differs from what the boot file holds."""
        return self.working_config() != ConfigTree.parse(self.boot_config()).render()

    def commit(self, user: str = "") -> None:
        """working.cfg → current.cfg."""
        self._stamp("REFRESH", user)
        self.current = clone(self.working)
        self.working_editors.clear()
        if self.world is not None:
            self.world.current_config_changed(self.spec.site)

    def save(self, path: str, user: str = "") -> None:
        """working.cfg → a file (the boot file by default)."""
        self._stamp("SAVE", user)
        self.files[drive_path(path)] = self.working_config()
        self.boot_changed()

    def boot_changed(self) -> None:
        if self.on_boot_change is not None:
            self.on_boot_change(self)

    def restore(self) -> None:
        """Throw working.cfg edits away: working.cfg ← current.cfg."""
        self.working = clone(self.current)
        self.working_editors.clear()

    def load(self, path: str, session_id: int) -> bool:
        """A file → working.cfg; False when the file is missing or holds a bad line."""
        text = self.files.get(drive_path(path))
        if text is None:
            return False
        try:
            self.working = replay_config(text)
        except ValueError:
            return False
        self.working_editors = {session_id}
        return True

    def show_crypto_sa(self) -> str | None:
        return None if self.world is None else self.world.show_crypto_sa(self.spec.site)

    def clear_crypto_sa(self) -> None:
        if self.world is not None:
            self.world.clear_crypto_sa(self.spec.site)


def _lowest_free(taken: dict[int, SshSession]) -> int:
    return next(n for n in itertools.count() if n not in taken)
