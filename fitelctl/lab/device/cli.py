"""One CLI session of the simulated F220, without any I/O (the SSH layer drives it).

The transport feeds whole lines (``handle_line``) or, while the pager waits, single
keystrokes (``handle_key``); every call returns exactly what the device prints in
response, including the next prompt, with ``\\n`` line ends.  Echo of typed input
is the transport's job (``input_mode`` says whether to echo).

Behaviour follows the real captures (docs/domain.md#fitelnet-f220-cli): prompts ``HOST>``,
``HOST#``, ``HOST(config)#``, ``HOST(config-xxx)#``; ``enable`` → blank line, ``password:``,
the weak-password warning and three blank lines; ``no more`` → ``more : off``. From the
FX201/F220 transcripts of takamitsu-iida/pyats-fitelnet: a wrong enable password prints
``<ERROR> Authentication failed`` and asks ``password:`` again (the lab asks again for ever:
no limit is known, and a client must give up by itself); an empty enable password is still
asked for (an empty answer is right) and draws ``weak enable password: set the password``;
an invalid word is answered by a blank line, the typed line again, carets under the whole
offending word, the error line and the prompt with no blank line before it; ``configure
terminal`` while another live session holds uncommitted edits warns in two lines; ``show
ssh`` lists the SSH connections and ``disconnect ssh N`` asks ``Disconnect OK?[y/N]:``.
Lab choices (INFERRED: no public capture shows them):

* keywords may be abbreviated to a unique prefix in any case (``conf t``, ``sh ver``);
  an abbreviation matching several keywords answers ``<ERROR> Ambiguous command``;
* user mode (``>``) knows ``enable``, ``show version``, ``no more``/``more``,
  ``exit``/``logout``; everything else needs privileged mode;
* ``show ...`` also works inside configuration modes;
* lines starting with ``!`` are comments in configuration modes;
* every non-blank line typed in a configuration mode (``exit`` and ``end``
  included) counts toward the ``drop_after_lines`` fault;
* commit/refresh/save/restore/load print nothing on success; a missing file for
  ``load``/``show config`` answers ``% Command failed.``;
* ``show config FILE`` prints a file of the drive (how rollback checks read
  ``/drive/boot.cfg`` back); ``boot configuration FILE`` chooses the boot file;
* exec requests (``SessionKind.EXEC``) run as privileged, print no prompts and
  never page; shells without a PTY never page either.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from enum import Enum

from fitelctl.lab.device import texts
from fitelctl.lab.device.editing import ConfigEditor
from fitelctl.lab.device.grammar import Failure, FailureKind, Parsed
from fitelctl.lab.device.model import LabDevice, SshSession, drive_path
from fitelctl.lab.device.pager import Pager
from fitelctl.lab.device.syntax import MODES, sub_mode_prompt

DEFAULT_PAGE_HEIGHT = 24


class InputMode(Enum):
    LINE = "line"  # a normal line, echoed
    SECRET = "secret"  # a password: not echoed
    KEY = "key"  # one keystroke for the pager, not echoed


class SessionKind(Enum):
    TERMINAL = "terminal"  # interactive shell with a PTY: prompts and pager
    SHELL = "shell"  # interactive shell without a PTY: prompts, never pages
    EXEC = "exec"  # one SSH exec request: privileged, no prompts, never pages


class DropConnection(Exception):
    """The drop fault fired: the transport must close the connection abruptly."""


class _Mode(Enum):
    USER = "user"
    PRIVILEGED = "privileged"
    CONFIG = "config"


Operation = Callable[[], str]


class CliSession:
    def __init__(
        self,
        device: LabDevice,
        kind: SessionKind = SessionKind.TERMINAL,
        *,
        page_height: int = DEFAULT_PAGE_HEIGHT,
        ssh: SshSession | None = None,
    ) -> None:
        self.device = device
        self.kind = kind
        self.ssh = ssh
        self._id = device.new_session_id()
        self._mode = _Mode.PRIVILEGED if kind is SessionKind.EXEC else _Mode.USER
        self._editor = ConfigEditor()
        self._paging = kind is SessionKind.TERMINAL
        self._page_height = page_height or DEFAULT_PAGE_HEIGHT
        self._asking_enable = False
        self._confirm: Operation | None = None  # what a "y" answer runs
        self._confirm_locks = True  # whether it holds the processing lock
        self._pager: Pager | None = None
        self._config_lines = 0
        self._config_index = 0  # this session's place among the device's configuring ones
        self._closed = False
        self._failed = False
        self._tight = False  # no blank line before the next prompt (invalid input)
        self._dying = False  # the kill-after command was received: die once it is answered

    # --- what the transport asks ---------------------------------------------------

    @property
    def prompt(self) -> str:
        host = self.device.hostname
        if self._mode is _Mode.USER:
            return f"{host}>"
        if self._mode is _Mode.PRIVILEGED:
            return f"{host}#"
        block = self._editor.block
        sub = "config" if block is None else sub_mode_prompt(block.mode, block.header)
        return f"{host}({sub})#"

    @property
    def input_mode(self) -> InputMode:
        if self._pager is not None:
            return InputMode.KEY
        if self._asking_enable:
            return InputMode.SECRET
        return InputMode.LINE

    @property
    def awaiting_answer(self) -> bool:
        """The device asked a question (enable password, ``[y/N]``) and waits for a line."""
        return self._asking_enable or self._confirm is not None

    @property
    def _user(self) -> str:
        return self.ssh.username if self.ssh is not None else ""

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def failed(self) -> bool:
        """The last command ended in an error (the exit status of an exec request)."""
        return self._failed

    @property
    def answered_last_words(self) -> bool:
        """The ``kill-after`` command is fully answered (no question, no pager pending):
        the transport writes what it has, then calls ``LabDevice.die``."""
        return self._dying and not self.awaiting_answer and self._pager is None

    def set_page_height(self, rows: int) -> None:
        self._page_height = rows or DEFAULT_PAGE_HEIGHT

    def end(self) -> None:
        """The transport is gone: release this session's claim on working.cfg."""
        self._closed = True
        self.device.session_ended(self._id)

    def greeting(self) -> str:
        """What a shell prints first: the weak login password warning, the prompt.

        The warnings follow the configured password: none set → "set the password",
        shorter than 8 characters → "contain at least 8 characters" (so a lab whose
        credentials are short shows them; the lab's own defaults are long).
        """
        if self.kind is SessionKind.EXEC:
            return ""
        password = self.device.spec.password
        warning = ""
        if not password:
            warning = texts.WEAK_LOGIN_UNSET + "\n\n"
        elif len(password) < texts.WEAK_PASSWORD_LENGTH:
            warning = texts.WEAK_LOGIN + "\n\n"
        return warning + self.prompt

    async def handle_line(self, line: str) -> str:
        if self._closed:
            return ""
        self._failed = False
        self._tight = False
        if self._asking_enable:
            return self._enable_password(line)
        if self._confirm is not None:
            return await self._answer(line)
        if line.strip():
            self._note_command(line)
        if self._mode is _Mode.CONFIG and line.strip():
            self._count_config_line()
        return self._finish(await self._execute(line))

    def handle_key(self, key: str) -> str:
        """One keystroke while the pager waits (space, Enter, ``q``)."""
        if self._pager is None:
            return ""
        output = self._pager.key(key)
        if self._pager.done:
            self._pager = None
        return output

    def interrupt(self) -> str:
        """Ctrl-C: leave the pager or a pending question, show a fresh prompt."""
        if self._pager is not None:
            return self.handle_key("\x03")
        self._asking_enable = False
        self._confirm = None
        return "^C\n" + ("" if self.kind is SessionKind.EXEC else self.prompt)

    # --- commands ----------------------------------------------------------------

    async def _execute(self, line: str) -> str:
        stripped = line.strip()
        if not stripped or (self._mode is _Mode.CONFIG and stripped.startswith("!")):
            return ""
        grammar = MODES[self._editor.mode if self._mode is _Mode.CONFIG else self._mode.value]
        result = grammar.parse(line)
        if isinstance(result, Failure):
            removed = self._negation_by_key(result)
            return self._error(result, line) if removed is None else removed
        return await self._run(result)

    async def _run(self, parsed: Parsed) -> str:
        action, words = parsed.command.action, parsed.words
        device = self.device
        if action == "config":
            return self._configure(parsed)
        if action in ("exit", "end"):  # exit leaves a sub-mode, else config mode
            leaves_block = action == "exit" and self._editor.block is not None
            self._editor.block = None
            if not leaves_block:
                self._mode = _Mode.PRIVILEGED
            return ""
        if action.startswith("show."):
            return self._show(action, words)
        if action == "enable":
            return self._enable()
        if action == "noop":  # enable while already privileged
            return ""
        if action == "disable":
            self._mode = _Mode.USER
            return ""
        if action == "logout":
            self._closed = True
            unsaved = self._mode is _Mode.PRIVILEGED and device.unsaved()
            return texts.NOT_SAVED + "\n" if unsaved else ""
        if action == "configure":
            self._mode = _Mode.CONFIG
            self._editor.block = None
            return texts.OTHER_EDITOR + "\n" if device.edited_by_another(self._id) else ""
        if action in ("more.off", "more.on"):
            self._paging = action == "more.on" and self.kind is SessionKind.TERMINAL
            return (texts.MORE_ON if action == "more.on" else texts.MORE_OFF) + "\n"
        if action == "disconnect.ssh":
            return self._disconnect(int(words[2]))
        if action == "clear.crypto_sa":
            device.clear_crypto_sa()
            return ""
        if action == "boot.configuration":
            device.boot_file = drive_path(words[2])
            device.boot_changed()
            return ""
        return await self._file_operation(parsed)

    async def _file_operation(self, parsed: Parsed) -> str:
        action, words = parsed.command.action, parsed.words
        moff = len(words) > 1 and words[-1] == "moff"
        device = self.device
        if action == "commit":
            if device.spec.commit_command == "refresh":
                self._failed = True
                caret = " " * (self._prompt_width() + parsed.starts[0]) + "^\n"
                return caret + texts.INVALID_PERCENT + "\n"
            return await self._process(self._commit)
        if action == "refresh":
            return await self._ask("refresh", moff, self._commit)
        if action == "save":
            target = words[1] if len(words) > 1 and words[1] != "moff" else device.boot_file

            def save() -> str:
                device.save(target, self._user)
                return ""

            return await self._ask("save", moff, save)
        if action == "restore":

            def restore() -> str:
                device.restore()
                return ""

            return await self._ask("restore", moff, restore)
        if action == "load":
            source = words[1]

            def load() -> str:
                return "" if device.load(source, self._id) else self._fail(texts.COMMAND_FAILED)

            return await self._ask("load", moff, load)
        raise AssertionError(f"no handler for {action}")

    def _configure(self, parsed: Parsed) -> str:
        words = parsed.words
        tree = self.device.working
        if words[0] == "no":
            changed = self._editor.remove(tree, parsed.command, words[1:])
        else:
            changed = self._editor.set(tree, parsed.command, words)
        if changed:
            self.device.note_edit(self._id, self._user)
        return ""

    def _negation_by_key(self, failure: Failure) -> str | None:
        """``no KEY`` without the value (``no hash``, ``no crypto map NAME``)."""
        if (
            failure.kind is not FailureKind.INCOMPLETE
            or failure.node is None
            or failure.words[:1] != ("no",)
        ):
            return None
        given = len(failure.words) - 1
        commands = failure.node.commands_below()
        if not commands or not all(0 < c.key_len <= given for c in commands):
            return None
        if self._editor.remove(self.device.working, commands[0], failure.words[1:]):
            self.device.note_edit(self._id, self._user)
        return ""

    def _show(self, action: str, words: tuple[str, ...]) -> str:
        device = self.device
        if action == "show.version":
            return texts.show_version(device.spec.firmware)
        if action == "show.current":
            return texts.config_headers(device.history) + device.current_config()
        if action == "show.working":
            return device.working_config()
        if action == "show.boot":
            return texts.show_boot(device.boot_file)
        if action == "show.crypto_sa":
            body = device.show_crypto_sa()
            return texts.EMPTY_CRYPTO_SA if body is None else body
        if action == "show.ssh":
            sessions = sorted(device.ssh_sessions.values(), key=lambda s: s.number)
            return texts.show_ssh([(s.number, s.encryption, s.username, s.line) for s in sessions])
        text = device.files.get(drive_path(words[2]))
        return self._fail(texts.COMMAND_FAILED) if text is None else text

    # --- enable ------------------------------------------------------------------

    def _enable(self) -> str:
        self._asking_enable = True
        return "\n" + texts.PASSWORD_PROMPT

    def _enable_password(self, secret: str) -> str:
        expected = self.device.spec.enable_password
        if not hmac.compare_digest(secret.encode(), expected.encode()):
            self._failed = True
            return texts.AUTH_FAILED + "\n\n" + texts.PASSWORD_PROMPT
        self._asking_enable = False
        self._mode = _Mode.PRIVILEGED
        warning = ""
        if not expected:
            warning = texts.WEAK_ENABLE_UNSET + "\n"
        elif len(expected) < texts.WEAK_PASSWORD_LENGTH:
            warning = texts.WEAK_ENABLE + "\n"
        return self._finish(warning + "\n\n")

    # --- show ssh / disconnect ssh -------------------------------------------------

    def _disconnect(self, number: int) -> str:
        if number not in self.device.ssh_sessions:
            return self._fail(texts.COMMAND_FAILED)

        def disconnect() -> str:
            return "" if self.device.disconnect_ssh(number) else self._fail(texts.COMMAND_FAILED)

        self._confirm, self._confirm_locks = disconnect, False
        return texts.DISCONNECT_PROMPT

    # --- the processing lock and confirmations ------------------------------------

    def _commit(self) -> str:
        faults = self.device.faults
        if faults.commit_fails:
            faults.commit_fails = False
            return self._fail(texts.COMMAND_FAILED)
        self.device.commit(self._user)
        return ""

    async def _ask(self, verb: str, moff: bool, operation: Operation) -> str:
        if moff:
            return await self._process(operation)
        if self.device.processing_lock.locked():
            return self._fail(texts.BUSY)
        self._confirm, self._confirm_locks = operation, True
        return texts.confirmation(verb)

    async def _answer(self, answer: str) -> str:
        operation, self._confirm = self._confirm, None
        assert operation is not None
        if answer.strip().lower() not in ("y", "yes"):
            return self._finish("")
        return self._finish(await self._process(operation) if self._confirm_locks else operation())

    async def _process(self, operation: Operation) -> str:
        lock = self.device.processing_lock
        if lock.locked():
            return self._fail(texts.BUSY)
        async with lock:
            await asyncio.sleep(self.device.spec.commit_seconds)
            return operation()

    # --- output ------------------------------------------------------------------

    def _note_command(self, line: str) -> None:
        device = self.device
        command = " ".join(line.split())
        device.commands.append(command)
        device.command_counts[command] += 1
        if device.faults.kill_after == (command, device.command_counts[command]):
            self._dying = True

    def _count_config_line(self) -> None:
        device, faults = self.device, self.device.faults
        if not self._config_lines:
            device.config_lines.append(0)
            self._config_index = len(device.config_lines)
        self._config_lines += 1
        device.config_lines[self._config_index - 1] = self._config_lines
        limit = faults.drop_after_lines
        chosen = faults.drop_session in (None, self._config_index)
        if limit is not None and chosen and self._config_lines > limit:
            faults.drop_after_lines = None
            self._closed = True
            raise DropConnection(f"{self.device.spec.site}: dropped after {limit} config lines")

    def _fail(self, message: str) -> str:
        self._failed = True
        return message + "\n"

    def _prompt_width(self) -> int:
        return 0 if self.kind is SessionKind.EXEC else len(self.prompt)

    def _error(self, failure: Failure, line: str) -> str:
        if failure.kind is FailureKind.INVALID:
            # blank line, the line again, carets under the whole word, no blank line after
            start = end = failure.position
            while start > 0 and not line[start - 1].isspace():
                start -= 1
            while end < len(line) and not line[end].isspace():
                end += 1
            self._tight = True
            carets = " " * start + "^" * max(end - start, 1)
            return f"\n{line.rstrip()}\n{carets}\n" + self._fail(texts.INVALID)
        if failure.kind is FailureKind.UNRECOGNIZED:
            return self._fail(self._unrecognized(line))
        message = {
            FailureKind.INCOMPLETE: texts.INCOMPLETE,
            FailureKind.AMBIGUOUS: texts.AMBIGUOUS,
        }[failure.kind]
        return self._fail(message)

    def _unrecognized(self, line: str) -> str:
        """The plain form for a privileged command typed in user mode, else the named one."""
        if self._mode is _Mode.USER and not isinstance(MODES["privileged"].parse(line), Failure):
            return texts.UNRECOGNIZED
        return texts.UNRECOGNIZED_WORD.format(word=line.split()[0])

    def _finish(self, body: str) -> str:
        """Append the blank line and the next prompt (or start the pager)."""
        if self.awaiting_answer or self._closed or self.kind is SessionKind.EXEC:
            return body
        tail = ("\n" if body and not self._tight else "") + self.prompt
        lines = body.split("\n")[:-1] if body.endswith("\n") else body.split("\n")
        page_lines = self._page_height - 1
        if self._paging and len(lines) > page_lines:
            self._pager = Pager(lines, tail, page_lines)
            return self._pager.start()
        return body + tail
