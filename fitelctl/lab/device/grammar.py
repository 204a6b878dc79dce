"""A small Cisco-like command grammar: syntax strings → a token tree → parse results.

Why hand-written: the lab must reproduce the F220's *error behaviour* — which
token is wrong and where the ``^`` caret goes, "incomplete" versus
"unrecognized" — and that needs a parser that reports the first bad character,
which general CLI libraries (cmd, click, prompt_toolkit) do not model.

Syntax strings (one per command, see ``syntax.py``) are space-separated elements:

* ``word``          a keyword; input may abbreviate it to a unique prefix,
                    any letter case; the canonical spelling is stored.
* ``{a|b|c}``       one of several keywords.
* ``<kind>``        a value checked by ``VALUE_KINDS`` (``<int:LO-HI>`` for ranges).
* ``[element]``     an optional element (one element, no spaces inside).
* ``<...>``         the rest of the line, one word or more, unchecked: for lines
                    outside IPsec that the lab does not model (``aaa …``, ``router
                    bgp …``), so that real running configs load.

A grammar may also have a *fallback*: the command any line takes whose first word is
no keyword of the mode (interface sub-modes hold many settings the lab does not model:
``vlan-id``, ``channel-group``, ``isis …``).  A first word that IS a keyword is parsed
strictly, so ``ip address`` typos are still caught.

Every expansion of a syntax is inserted into a tree of ``Node``s; parsing walks
the tree and keeps the outcome that got furthest, so the caret lands under the
first character no command could accept.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

#: Returns the offset of the first bad character of a value, or None when valid.
ValueCheck = Callable[[str], int | None]
#: Returns the index (into the command's words) of the first bad word, or None.
WordsCheck = Callable[[Sequence[str]], int | None]


@dataclass(frozen=True)
class Command:
    """One command: its syntax and what the session does with it."""

    syntax: str
    action: str
    #: Configuration lines: how many leading words name the setting, so that a new
    #: line with the same key replaces the old one (0: the whole line is the key).
    key_len: int = 0
    #: Block headers: the sub-mode the command opens.
    opens: str | None = None
    #: A check across all the words of the line (e.g. key sizes MIN <= DEFAULT <= MAX);
    #: returns the index of the first bad word.
    check: WordsCheck | None = None
    #: A line the lab does not model: a config file's copy is kept as it is (repeats
    #: and nested indentation included), never merged by key.
    verbatim: bool = False


@dataclass(frozen=True)
class Token:
    text: str
    start: int


def tokenize(line: str) -> list[Token]:
    return [Token(m.group(), m.start()) for m in re.finditer(r"\S+", line)]


class FailureKind(Enum):
    UNRECOGNIZED = "unrecognized"
    INVALID = "invalid"
    INCOMPLETE = "incomplete"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Parsed:
    command: Command
    words: tuple[str, ...]
    starts: tuple[int, ...]


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    #: Offset in the line of the first bad character (INVALID, AMBIGUOUS).
    position: int = 0
    #: Canonical words accepted before the failure and the node reached
    #: (INCOMPLETE: lets ``no KEY`` accept a line cut short after its key).
    words: tuple[str, ...] = ()
    node: Node | None = field(default=None, repr=False)


ParseResult = Parsed | Failure


@dataclass(eq=False, repr=False)
class Node:
    keywords: dict[str, tuple[str, Node]] = field(default_factory=dict)
    values: list[tuple[str, ValueCheck, Node]] = field(default_factory=list)
    command: Command | None = None
    #: ``<...>``: the command that takes the rest of the line from here.
    rest: Command | None = None
    #: The command a word that is no keyword here starts (the whole rest of the line).
    fallback: Command | None = None

    def commands_below(self) -> list[Command]:
        """Every command whose syntax passes through this node."""
        seen: list[Command] = []
        stack: list[Node] = [self]
        visited: set[int] = set()
        while stack:
            node = stack.pop()
            if id(node) in visited:
                continue
            visited.add(id(node))
            for command in (node.command, node.rest):
                if command is not None and command not in seen:
                    seen.append(command)
            stack.extend(child for _, child in node.keywords.values())
            stack.extend(child for _, _, child in node.values)
        return seen


#: Alternative spellings accepted for a keyword (input ``ge`` means ``GigaEthernet``).
KEYWORD_ALIASES = {"ge": "gigaethernet"}


#: lines whose parse a grammar remembers: every device of a lab boots by replaying its
#: config through the grammar, and clients type the same lines again and again
PARSES_KEPT = 4096


class Grammar:
    """The commands of one CLI mode as a token tree.

    A line's parse depends only on the grammar (results are frozen, value checks are
    pure), so ``parse`` remembers up to ``PARSES_KEPT`` lines.  Grammars are built once,
    at import (``syntax.py``); ``add`` and ``mount`` forget what was remembered."""

    def __init__(
        self, commands: Sequence[Command] = (), *, fallback: Command | None = None
    ) -> None:
        self.root = Node(fallback=fallback)
        self._parsed: dict[str, ParseResult] = {}
        for command in commands:
            self.add(command)

    def add(self, command: Command) -> None:
        self._parsed.clear()
        for atoms in _expand(command.syntax):
            node = self.root
            if atoms and atoms[-1][0] == "rest":
                atoms = atoms[:-1]
                for kind, text, check in atoms:
                    node = _child(node, kind, text, check)
                node.rest = command
                continue
            for kind, text, check in atoms:
                node = _child(node, kind, text, check)
            node.command = command

    def mount(self, keyword: str, grammar: Grammar) -> None:
        """Make ``keyword`` lead into another grammar's tree (``no`` + config line)."""
        self._parsed.clear()
        self.root.keywords[keyword.lower()] = (keyword, grammar.root)

    def parse(self, line: str) -> ParseResult:
        result = self._parsed.get(line)
        if result is None:
            if len(self._parsed) >= PARSES_KEPT:
                self._parsed.clear()
            result = self._parsed[line] = self._parse(line)
        return result

    def _parse(self, line: str) -> ParseResult:
        tokens = tokenize(line)
        if not tokens:
            return Failure(FailureKind.INCOMPLETE, node=self.root)
        first = _match_keyword(self.root, tokens[0].text)
        if isinstance(first, int) and not self.root.values and self.root.fallback is None:
            return Failure(FailureKind.UNRECOGNIZED)
        return _walk(self.root, tokens, 0, ())


#: ("kw", word, None) | ("val", name, check) | ("rest", "...", None)
Atom = tuple[str, str, ValueCheck | None]


def _expand(syntax: str) -> list[list[Atom]]:
    choices: list[list[list[Atom]]] = []
    for element in syntax.split():
        optional = element.startswith("[") and element.endswith("]")
        if optional:
            element = element[1:-1]
        alternatives: list[list[Atom]] = [[atom] for atom in _atoms(element)]
        if optional:
            alternatives.append([])
        choices.append(alternatives)
    return [[atom for part in combo for atom in part] for combo in itertools.product(*choices)]


def _atoms(element: str) -> list[Atom]:
    if element.startswith("{") and element.endswith("}"):
        return [("kw", word, None) for word in element[1:-1].split("|")]
    if element == "<...>":
        return [("rest", "...", None)]
    if element.startswith("<") and element.endswith(">"):
        name = element[1:-1]
        return [("val", name, value_check(name))]
    return [("kw", element, None)]


def _child(node: Node, kind: str, text: str, check: ValueCheck | None) -> Node:
    if kind == "kw":
        if text.lower() not in node.keywords:
            node.keywords[text.lower()] = (text, Node())
        return node.keywords[text.lower()][1]
    for name, _, child in node.values:
        if name == text:
            return child
    assert check is not None
    child = Node()
    node.values.append((text, check, child))
    return child


def _match_keyword(node: Node, text: str) -> tuple[str, Node] | Failure | int:
    """The keyword child ``text`` selects, an AMBIGUOUS failure, or the bad-char offset."""
    low = text.lower()
    if low not in node.keywords and KEYWORD_ALIASES.get(low) in node.keywords:
        low = KEYWORD_ALIASES[low]
    if low in node.keywords:
        return node.keywords[low]
    matches = [key for key in node.keywords if key.startswith(low)]
    if len(matches) == 1:
        return node.keywords[matches[0]]
    if matches:
        return Failure(FailureKind.AMBIGUOUS)
    return max((_common_prefix(low, key) for key in node.keywords), default=0)


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _walk(node: Node, tokens: list[Token], i: int, words: tuple[str, ...]) -> ParseResult:
    if i == len(tokens):
        if node.command is None:
            return Failure(FailureKind.INCOMPLETE, words=words, node=node)
        bad_word = node.command.check(words) if node.command.check else None
        if bad_word is not None:
            return Failure(FailureKind.INVALID, position=tokens[bad_word].start)
        return Parsed(node.command, words, tuple(t.start for t in tokens))
    token = tokens[i]
    rest = (*words, *(t.text for t in tokens[i:]))
    starts = tuple(t.start for t in tokens)
    outcomes: list[ParseResult] = []
    bad_offsets: list[int] = []
    keyword = _match_keyword(node, token.text)
    if isinstance(keyword, int) and node.fallback is not None and not node.values:
        return Parsed(node.fallback, rest, starts)
    if isinstance(keyword, Failure):
        outcomes.append(Failure(FailureKind.AMBIGUOUS, position=token.start))
    elif isinstance(keyword, int):
        if node.keywords:
            bad_offsets.append(keyword)
    else:
        canonical, child = keyword
        outcomes.append(_walk(child, tokens, i + 1, (*words, canonical)))
    for _, check, child in node.values:
        bad = check(token.text)
        if bad is None:
            outcomes.append(_walk(child, tokens, i + 1, (*words, token.text)))
        else:
            bad_offsets.append(bad)
    if node.rest is not None:  # after the strict outcomes: max() keeps the first best
        outcomes.append(Parsed(node.rest, rest, starts))
    if bad_offsets or not outcomes:
        outcomes.append(
            Failure(FailureKind.INVALID, position=token.start + max(bad_offsets, default=0))
        )
    return max(outcomes, key=_rank)


def _rank(outcome: ParseResult) -> tuple[int, int]:
    if isinstance(outcome, Parsed):
        return (1, 0)
    if outcome.kind is FailureKind.INCOMPLETE:
        return (0, sys.maxsize)
    return (0, outcome.position)


# --- value kinds ----------------------------------------------------------------------

_NAME_CHARS = re.compile(r"[A-Za-z0-9_.\-]")
_NAME_MAX = 63
_KEY_MAX = 128


def _first_bad(text: str, allowed: re.Pattern[str], limit: int) -> int | None:
    for n, char in enumerate(text):
        if n >= limit or not allowed.fullmatch(char):
            return n
    return None


def check_name(text: str) -> int | None:
    """Policy, profile, map and selector names."""
    return _first_bad(text, _NAME_CHARS, _NAME_MAX)


def check_key(text: str) -> int | None:
    """A pre-shared key: printable ASCII without spaces."""
    return _first_bad(text, re.compile(r"[!-~]"), _KEY_MAX)


def check_fqdn(text: str) -> int | None:
    return _first_bad(text, re.compile(r"[A-Za-z0-9.\-]"), 255)


def check_user_fqdn(text: str) -> int | None:
    bad = _first_bad(text, re.compile(r"[A-Za-z0-9.\-_@+]"), 255)
    if bad is not None:
        return bad
    at = [n for n, char in enumerate(text) if char == "@"]
    if len(at) > 1:
        return at[1]
    return None if at else len(text)


def check_int(low: int, high: int) -> ValueCheck:
    def check(text: str) -> int | None:
        value = 0
        for n, char in enumerate(text):
            if not char.isdigit():
                return n
            value = value * 10 + int(char)
            if value > high:
                return n
        return None if value >= low else 0

    return check


def check_ipv4(text: str) -> int | None:
    octets, value, digits = 0, 0, 0
    for n, char in enumerate(text):
        if char == ".":
            if digits == 0 or octets == 3:
                return n
            octets, value, digits = octets + 1, 0, 0
        elif char.isdigit():
            value, digits = value * 10 + int(char), digits + 1
            if value > 255 or digits > 3:
                return n
        else:
            return n
    return None if octets == 3 and digits else len(text)


def check_prefix(text: str) -> int | None:
    """``A.B.C.D/LEN``."""
    address, slash, length = text.partition("/")
    bad = check_ipv4(address)
    if bad is not None:
        return bad
    if not slash or not length:
        return len(text)
    bad = check_int(0, 32)(length)
    return None if bad is None else len(address) + 1 + bad


def check_mask(text: str) -> int | None:
    bad = check_ipv4(text)
    if bad is not None:
        return bad
    bits = "".join(f"{int(octet):08b}" for octet in text.split("."))
    return None if "01" not in bits else 0


def check_port(text: str) -> int | None:
    """An interface number such as ``1/1`` or ``1/1.0``."""
    match = re.match(r"\d{1,2}(/\d{1,2}(\.\d{1,4})?)?", text)
    end = match.end() if match else 0
    if end < len(text):
        return end
    return None if "/" in text else len(text)


def check_file(text: str) -> int | None:
    """A file on the device's drive: ``/drive/NAME`` or ``NAME``."""
    name = text.removeprefix("/drive/")
    bad = _first_bad(name, _NAME_CHARS, _NAME_MAX)
    if bad is not None:
        return bad + len(text) - len(name)
    return None if name else len(text)


VALUE_KINDS: dict[str, ValueCheck] = {
    "name": check_name,
    "key": check_key,
    "fqdn": check_fqdn,
    "user-fqdn": check_user_fqdn,
    "ipv4": check_ipv4,
    "prefix": check_prefix,
    "mask": check_mask,
    "port": check_port,
    "file": check_file,
}


def value_check(kind: str) -> ValueCheck:
    if kind.startswith("int:"):
        low, _, high = kind[4:].partition("-")
        return check_int(int(low), int(high))
    return VALUE_KINDS[kind]
