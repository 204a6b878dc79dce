"""How configuration lines change a config tree, as the F220 edits working.cfg.

Rules (docs/domain.md#configs-and-commit, and the lab's choices):
* a line whose key (its leading words, see ``Command.key_len``) already exists in
  the same place REPLACES that line in place (``group 14`` replaces ``group 5``);
  a new line is appended;
* a block header enters the existing block with that key, or appends a new empty
  block and enters it;
* ``no LINE`` (or ``no KEY``) removes the matching line or block; removing
  something that is not there is silently accepted (lab's choice: idempotent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fitelctl.fitelnet.config_tree import ConfigTree, Entry
from fitelctl.lab.device.grammar import Command, Failure, FailureKind
from fitelctl.lab.device.syntax import CONFIG_LINES


@dataclass(frozen=True)
class OpenBlock:
    """The block a configuration session is inside (a sub-mode)."""

    mode: str
    header: str


class ConfigTextError(ValueError):
    """A config file holds a line the device would reject.

    The message names the line number and the problem, never the line itself
    (it may hold a pre-shared key).
    """

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


def clone(tree: ConfigTree) -> ConfigTree:
    return ConfigTree([Entry(e.header, list(e.children), e.is_block) for e in tree.entries])


def _matches(text: str, key: Sequence[str], exact: bool) -> bool:
    words = text.split()
    return words == list(key) if exact else words[: len(key)] == list(key)


def _key(command: Command, words: Sequence[str]) -> tuple[tuple[str, ...], bool]:
    """The words identifying a line's setting, and whether they must match exactly."""
    if command.key_len:
        return tuple(words[: command.key_len]), False
    return tuple(words), True


class ConfigEditor:
    """Applies parsed configuration lines for one session (tracks its sub-mode)."""

    def __init__(self) -> None:
        self.block: OpenBlock | None = None

    @property
    def mode(self) -> str:
        return self.block.mode if self.block else "config"

    def set(self, tree: ConfigTree, command: Command, words: Sequence[str]) -> bool:
        """Apply one configuration line; True when the tree changed."""
        if command.opens is not None:
            return self._open(tree, command, words)
        key, exact = _key(command, words)
        line = " ".join(words)
        if self.block is None:
            for entry in tree.entries:
                if not entry.is_block and _matches(entry.header, key, exact):
                    changed = entry.header != line
                    entry.header = line
                    return changed
            tree.entries.append(Entry(line))
            return True
        block, changed = self._current(tree)
        for n, child in enumerate(block.children):
            if _matches(child, key, exact):
                block.children[n] = line
                return changed or child != line
        block.children.append(line)
        return True

    def remove(self, tree: ConfigTree, command: Command, words: Sequence[str]) -> bool:
        """Apply ``no WORDS`` (WORDS: the full line or at least its key)."""
        key, exact = _key(command, words)
        if self.block is None:
            kept = [
                e
                for e in tree.entries
                if e.is_block != (command.opens is not None) or not _matches(e.header, key, exact)
            ]
            changed = len(kept) != len(tree.entries)
            tree.entries[:] = kept
            return changed
        block, _ = self._current(tree)
        kept_children = [c for c in block.children if not _matches(c, key, exact)]
        changed = len(kept_children) != len(block.children)
        block.children[:] = kept_children
        return changed

    def _open(self, tree: ConfigTree, command: Command, words: Sequence[str]) -> bool:
        assert command.opens is not None
        key, exact = _key(command, words)
        for entry in tree.entries:
            if entry.is_block and _matches(entry.header, key, exact):
                self.block = OpenBlock(command.opens, entry.header)
                return False
        entry = Entry(" ".join(words), is_block=True)
        tree.entries.append(entry)
        self.block = OpenBlock(command.opens, entry.header)
        return True

    def _current(self, tree: ConfigTree) -> tuple[Entry, bool]:
        """The open block's entry; re-created if another session removed it meanwhile."""
        assert self.block is not None
        entry = tree.find(self.block.header)
        if entry is not None and entry.is_block:
            return entry, False
        entry = Entry(self.block.header, is_block=True)
        tree.entries.append(entry)
        return entry, True


def replay_config(text: str) -> ConfigTree:
    """Build a tree from config text in the device's own layout, checking every line.

    Blocks are closed by ``exit`` (or by the next unindented line); ``!`` lines, blank
    lines and a closing ``end`` are skipped.  Raises ``ConfigTextError`` on a line the
    CLI would reject.
    """
    tree = ConfigTree()
    editor = ConfigEditor()
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("!"):
            continue
        if not raw[0].isspace():
            editor.block = None
            if stripped in ("exit", "end"):  # running configs end with ``end``
                continue
        elif editor.block is None:
            raise ConfigTextError(number, "indented line outside a block")
        result = CONFIG_LINES[editor.mode].parse(raw)
        if isinstance(result, Failure):
            raise ConfigTextError(number, _describe(result))
        if result.command.verbatim and editor.block is not None:
            block, _ = editor._current(tree)
            block.children.append(raw[1:].rstrip())  # deeper indents are nested sections
            continue
        editor.set(tree, result.command, result.words)
    return tree


def _describe(failure: Failure) -> str:
    if failure.kind is FailureKind.INVALID:
        return f"invalid input at column {failure.position + 1}"
    return f"{failure.kind.value} command"
