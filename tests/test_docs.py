"""The repository documents itself: no pointer to files that do not ship, no dead link.

Comments and help texts once cited a design brief and a contract kept outside the
repository; a reader of the repository could not follow them.  The facts now live in
``docs/``, so this guards three things:

* no shipped file mentions those outside files again;
* every relative link in README.md and docs/*.md reaches a file that exists, and every
  ``docs/NAME.md#anchor`` cited in a shipped file names a heading of that page (the
  anchor GitHub makes of it);
* ``fitelctl lab --help`` sends the reader to docs/, not to a file that is not there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fitelctl.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: what ships: the package, its data, examples, tests, benchmarks and the top-level texts
SHIPPED_DIRS = ("fitelctl", "parsers", "playbooks", "inventory", "tests", "benchmarks", "docs")
SHIPPED_FILES = ("README.md", "CONTRIBUTING.md", "Makefile")
#: files outside the repository that earlier comments cited
UNSHIPPED = re.compile(r"(?<![\w-])(?:CONTRACT|BRIEF)\.md|brief §|\.\./shared", re.IGNORECASE)
#: ``docs/NAME.md`` or ``docs/NAME.md#anchor`` as code comments and texts cite it
DOC_CITATION = re.compile(r"docs/([\w.-]+\.md)(?:#([\w-]+))?")
#: a Markdown link's target: ``[text](target)``
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _shipped_files() -> Iterator[Path]:
    for name in SHIPPED_DIRS:
        for path in sorted((ROOT / name).rglob("*")):
            parts = path.relative_to(ROOT).parts
            # hidden folders are local (benchmarks/.venv-nornir), never shipped
            hidden = any(part.startswith(".") for part in parts)
            if path.is_file() and "__pycache__" not in parts and not hidden:
                yield path
    for name in SHIPPED_FILES:
        yield ROOT / name


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to ``-``."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a Markdown page (headings inside code fences do not count)."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in _text(page).splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if fenced or match is None:
            continue
        anchor = github_anchor(match.group(1))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def test_github_anchor_follows_githubs_rules() -> None:
    assert github_anchor("Data flow of `status`") == "data-flow-of-status"
    assert github_anchor("VPC router versions 1 and 2") == "vpc-router-versions-1-and-2"
    assert github_anchor("Errors, warnings and questions") == "errors-warnings-and-questions"


@pytest.mark.parametrize(
    "path",
    [path for path in _shipped_files() if path.name != Path(__file__).name],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_no_shipped_file_points_outside_the_repository(path: Path) -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for number, line in enumerate(_text(path).splitlines(), start=1)
        if UNSHIPPED.search(line)
    ]
    assert not hits, "cites a file that does not ship (point to docs/ instead):\n" + "\n".join(hits)


MARKDOWN_PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", MARKDOWN_PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_reach_existing_files_and_headings(page: Path) -> None:
    broken = []
    for target in MARKDOWN_LINK.findall(_text(page)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_docs_citations_name_existing_pages_and_headings() -> None:
    broken = []
    for path in _shipped_files():
        if path.name == Path(__file__).name:  # its own examples are not citations
            continue
        for number, line in enumerate(_text(path).splitlines(), start=1):
            for name, anchor in DOC_CITATION.findall(line):
                page = DOCS / name
                where = f"{path.relative_to(ROOT)}:{number}: docs/{name}"
                if not page.exists():
                    broken.append(f"{where}: no such page")
                elif anchor and anchor not in anchors(page):
                    broken.append(f"{where}#{anchor}: no such heading")
    assert not broken, "\n".join(broken)


def test_the_citations_test_sees_the_code_comments() -> None:
    """The check above must not pass by finding nothing: fitelctl cites docs/ pages."""
    cited = {
        name
        for path in (ROOT / "fitelctl").rglob("*.py")
        for name, _ in DOC_CITATION.findall(_text(path))
    }
    assert {"domain.md", "output-contract.md"} <= cited


@pytest.mark.parametrize("command", [["lab", "--help"], ["lab", "up", "--help"]])
def test_lab_help_points_to_docs(command: list[str]) -> None:
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    text = re.sub(r"-\n\s+", "-", result.output)  # help wraps long words after a hyphen
    assert "docs/output-contract.md" in text
    assert not UNSHIPPED.search(text)
