"""FITELnet configuration text as a list of top-level entries.

A saved FITELnet config (``show current.cfg``) is a sequence of top-level
lines and blocks; a block is a header line, its children indented by one space,
and a closing ``exit``; ``!`` lines separate entries.  That is all the
structure there is (no nesting deeper than one level in the IPsec sections), so
a small parser here is clearer than a general tree library.

What real running configs add (published F220/F221/FX201 configs, see
``tests/data/real_configs/``): ``!  LAST EDIT …`` / ``!  LAST REFRESH …`` /
``!  LAST SAVE …`` header lines, ``!`` comment lines inside blocks (`` ! if there is a
NAT router …``), a closing ``end``, and deeper blocks outside IPsec (``router bgp``
holds `` address-family …`` sections closed by an indented `` exit``).  Comments and
``end`` carry no setting and are dropped; a child keeps any indentation beyond the
block's one space, so a nested section renders back as it was read.
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
        """Entries of a config text; a line followed by indented lines or ``exit`` is a block."""
        tree = cls()
        current: Entry | None = None  # the entry indented lines belong to
        for raw in text.splitlines():
            line = raw.rstrip()
            if not line.strip() or line.lstrip().startswith("!"):
                continue
            if line.startswith(" ") and current is not None:
                current.is_block = True
                current.children.append(_child_text(line))
                continue
            if line == "exit":
                if current is not None:
                    current.is_block = True
                current = None
                continue
            if line == "end" and current is None:
                continue
            current = Entry(header=line.strip(), is_block=_opens_block(line.strip()))
            tree.entries.append(current)
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


def _child_text(line: str) -> str:
    """A child line without the block's one-space indent (deeper indents are kept)."""
    text = line[1:]
    return text if text.startswith(" ") and text.strip() else text.strip()


def _opens_block(header: str) -> bool:
    return header.startswith(BLOCK_HEADERS)
