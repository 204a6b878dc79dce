"""FITELnet configuration text as a list of top-level entries.

A saved FITELnet config (``show current.cfg``) is a sequence of top-level
lines and blocks; a block is a header line, its children indented by one space,
and a closing ``exit``; ``!`` lines separate entries.  That is all the
structure there is (no nesting deeper than one level in the IPsec sections), so
a small parser here is clearer than a general tree library.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Entry:
    """One top-level line, or a block when it has (or may have) children."""

    header: str
    children: list[str] = field(default_factory=list)
    is_block: bool = False

    def render(self) -> list[str]:
        if not self.is_block:
            return [self.header]
        return [self.header, *(f" {child}" for child in self.children), "exit"]

    def child_value(self, prefix: str) -> str | None:
        """The rest of the first child line starting with ``prefix`` (word-aligned)."""
        for child in self.children:
            if child == prefix:
                return ""
            if child.startswith(prefix + " "):
                return child[len(prefix) + 1 :]
        return None


@dataclass
class ConfigTree:
    entries: list[Entry] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> ConfigTree:
        tree = cls()
        current: Entry | None = None
        for raw in text.splitlines():
            line = raw.rstrip()
            if not line.strip() or line.strip() == "!":
                continue
            if line.startswith(" ") and current is not None:
                current.children.append(line.strip())
                continue
            if line == "exit":
                current = None
                continue
            entry = Entry(header=line.strip())
            tree.entries.append(entry)
            current = entry
            entry.is_block = _opens_block(entry.header)
            if not entry.is_block:
                current = None
        return tree

    def render(self) -> str:
        """Text in the device's own layout: ``!`` between entries, blocks closed by ``exit``."""
        lines: list[str] = []
        for entry in self.entries:
            lines.extend(entry.render())
            lines.append("!")
        return "\n".join(lines) + ("\n" if lines else "")

    def find(self, header: str) -> Entry | None:
        for entry in self.entries:
            if entry.header == header:
                return entry
        return None

    def find_prefix(self, prefix: str) -> Entry | None:
        """The first entry whose header starts with ``prefix`` (word-aligned)."""
        for entry in self.entries:
            if entry.header == prefix or entry.header.startswith(prefix + " "):
                return entry
        return None

    def blocks(self, prefix: str) -> list[Entry]:
        """Blocks whose header starts with ``prefix`` followed by a space."""
        return [e for e in self.entries if e.is_block and e.header.startswith(prefix + " ")]


BLOCK_HEADERS = (
    "crypto ipsec policy ",
    "crypto ipsec selector ",
    "crypto isakmp policy ",
    "crypto isakmp profile ",
    "crypto map ",
    "interface ",
    "line ",
    "router ",
)


def _opens_block(header: str) -> bool:
    return header.startswith(BLOCK_HEADERS)
