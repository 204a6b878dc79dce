"""The line discipline between an SSH channel and a ``CliSession``.

Input is consumed one character at a time, *after* the previous command's output
was written, so type-ahead is echoed where a real device echoes it (after the
output of the line before), which is what clients that wait for the echo of each
command (netmiko's ``cmd_verify``) rely on.

Lab choices: ``\\r``, ``\\n`` and ``\\r\\n`` each end one line; backspace/DEL erase
the last character, Ctrl-U the whole line, Ctrl-C abandons it; other control
characters and ANSI escape sequences (arrow keys) are ignored.  Shells echo what is
typed (never passwords); a PTY shell gets ``\\r\\n`` line ends, a shell without a
PTY and an exec request get ``\\n``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from fitelctl.lab.device.cli import CliSession, InputMode, SessionKind

_LINE_ENDS = ("\r", "\n")
_ERASE_CHAR = ("\x7f", "\x08")
_CTRL_C = "\x03"
_CTRL_U = "\x15"
_ESC = "\x1b"


class Terminal:
    def __init__(self, session: CliSession, write: Callable[[str], None]) -> None:
        self._session = session
        self._write = write
        self._crlf = session.kind is SessionKind.TERMINAL
        self._pending: deque[str] = deque()
        self._arrived = asyncio.Event()
        self._eof = False
        self._line: list[str] = []
        self._after_cr = False
        self._escape = 0  # 0: none, 1: after ESC, 2: inside a sequence
        #: Output waits here until input runs dry: one channel write per burst of input,
        #: not one per echoed character (a client that types "exit" and hangs up at once
        #: would otherwise meet a write for every character on a dead socket).
        self._unsent: list[str] = []

    def feed(self, data: str) -> None:
        self._pending.extend(data)
        self._arrived.set()

    def feed_eof(self) -> None:
        self._eof = True
        self._arrived.set()

    async def run_shell(self) -> None:
        """Greeting, then line after line until the session closes or input ends."""
        self._out(self._session.greeting())
        try:
            while not self._session.closed:
                char = await self._next_char()
                if char is None:
                    if self._line:
                        await self._submit()
                    return
                await self._handle(char)
        finally:
            self.flush()

    async def run_exec(self, command: str) -> int:
        """Run one command; answer its questions from stdin.  Returns the exit status."""
        session = self._session
        try:
            self._answer(await session.handle_line(command))
            while session.awaiting_answer:
                self.flush()
                self._answer(await session.handle_line(await self._read_line()))
        finally:
            self.flush()
        return 1 if session.failed else 0

    # --- input ---------------------------------------------------------------------

    async def _next_char(self) -> str | None:
        while not self._pending:
            self.flush()
            if self._eof:
                return None
            self._arrived.clear()
            await self._arrived.wait()
        return self._pending.popleft()

    async def _read_line(self) -> str:
        chars: list[str] = []
        while (char := await self._next_char()) is not None and char not in _LINE_ENDS:
            chars.append(char)
        return "".join(chars)

    async def _handle(self, char: str) -> None:
        if char == "\n" and self._after_cr:
            self._after_cr = False
            return
        self._after_cr = char == "\r"
        session = self._session
        if session.input_mode is InputMode.KEY:
            self._answer(session.handle_key(char))
        elif char in _LINE_ENDS:
            await self._submit()
        elif self._escape or char == _ESC:
            self._skip_escape(char)
        elif char == _CTRL_C:
            self._line.clear()
            self._out(session.interrupt())
        elif char in _ERASE_CHAR:
            if self._line:
                self._line.pop()
                self._echo("\b \b")
        elif char == _CTRL_U:
            self._echo("\b \b" * len(self._line))
            self._line.clear()
        elif char >= " ":
            typed = [char, *self._typed_after()]
            self._line.extend(typed)
            self._echo("".join(typed))

    def _typed_after(self) -> list[str]:
        """The plain characters already waiting behind one just typed, taken at once: a
        client sends a whole line in one packet, and one character at a time through
        ``_handle`` cost the lab more CPU than the SSH layer under it."""
        typed: list[str] = []
        pending = self._pending
        while pending and pending[0] >= " " and pending[0] not in _ERASE_CHAR:
            typed.append(pending.popleft())
        return typed

    def _skip_escape(self, char: str) -> None:
        if self._escape == 0:
            self._escape = 1
        elif self._escape == 1:
            self._escape = 2 if char in "[O" else 0
        elif "@" <= char <= "~":
            self._escape = 0

    async def _submit(self) -> None:
        line = "".join(self._line)
        self._line.clear()
        self._out("\n")
        self.flush()
        self._answer(await self._session.handle_line(line))

    # --- output --------------------------------------------------------------------

    def _answer(self, text: str) -> None:
        """The session's answer; after the ``kill-after`` command's, the lab dies."""
        self._out(text)
        session = self._session
        if session.answered_last_words and session.device.die is not None:
            self.flush()
            session.device.die()

    def _echo(self, text: str) -> None:
        if self._session.input_mode is InputMode.LINE:
            self._out(text)

    def _out(self, text: str) -> None:
        if text:
            self._unsent.append(text.replace("\n", "\r\n") if self._crlf else text)

    def flush(self) -> None:
        """Send what is waiting, in one write."""
        if self._unsent:
            text = "".join(self._unsent)
            self._unsent.clear()
            self._write(text)
