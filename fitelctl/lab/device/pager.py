"""The F220's default output pager, which ``no more`` turns off.

The pager is less (observed: ``texts.PAGER``). The lab's choices (INFERRED): a page
is the terminal height minus one line, space shows the next page, Enter the next
line, ``q`` or Ctrl-C quits back to the prompt, and the ``:`` line is overwritten
(``texts.PAGER_ERASE``) before going on.
"""

from __future__ import annotations

from fitelctl.lab.device import texts

_ERASE = texts.PAGER_ERASE
ENTER_KEYS = ("\r", "\n")
QUIT_KEYS = ("q", "Q", "\x03")


class Pager:
    """Pages ``lines``; ``tail`` (blank line + prompt) follows the last line."""

    def __init__(self, lines: list[str], tail: str, page_lines: int) -> None:
        self._lines = lines
        self._tail = tail
        self._page = max(page_lines, 1)
        self._shown = 0
        self.done = False

    def start(self) -> str:
        return self._show(self._page)

    def key(self, key: str) -> str:
        """Output for one keystroke; keys that mean nothing to the pager are ignored."""
        if key in QUIT_KEYS:
            self.done = True
            return _ERASE + self._tail.lstrip("\n")
        if key == " ":
            return _ERASE + self._show(self._page)
        if key in ENTER_KEYS:
            return _ERASE + self._show(1)
        return ""

    def _show(self, count: int) -> str:
        chunk = self._lines[self._shown : self._shown + count]
        self._shown += len(chunk)
        text = "".join(line + "\n" for line in chunk)
        if self._shown >= len(self._lines):
            self.done = True
            return text + self._tail
        return text + texts.PAGER
