"""Progress on stderr for commands over many sites; rich is imported only to show it.

``status --json`` in a monitoring loop shows no progress, so it should not pay for
importing rich (tens of milliseconds of its start-up).
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    import rich.progress


class Progress(Protocol):
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...
    def advance(self, site: str) -> None: ...


class _Silent:
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        return None

    def advance(self, site: str) -> None:
        return None


def shows_bar(enabled: bool) -> bool:
    """Whether ``site_progress(..., enabled=enabled)`` draws a bar (and runs its thread)."""
    return enabled and sys.stderr.isatty()


def site_progress(description: str, *, total: int, enabled: bool) -> Progress:
    """A progress bar on stderr while sites finish; silent for --json or when not a TTY."""
    if not shows_bar(enabled):
        return _Silent()
    return SiteProgress(description, total=total)


class SiteProgress:
    """A rich progress bar on stderr, advanced as sites finish (on any worker thread)."""

    def __init__(self, description: str, *, total: int) -> None:
        from rich.progress import Progress as Bar

        from fitelctl.cli.console import console

        self._progress: rich.progress.Progress = Bar(console=console(stderr=True), transient=True)
        self._description = description
        self._task = self._progress.add_task(description, total=total)

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        self._progress.stop()

    def advance(self, site: str) -> None:
        """One more site done; the bar names the latest, so a stuck run shows who answered."""
        self._progress.update(
            self._task, advance=1, description=f"{self._description} (last: {site})"
        )
