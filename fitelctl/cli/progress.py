"""Progress on stderr for commands over many sites; rich is imported only to show it.

``status --json`` in a monitoring loop shows no progress, so it should not pay for
importing rich (tens of milliseconds of its start-up).
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Protocol, Self


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


def site_progress(description: str, *, total: int, enabled: bool) -> Progress:
    """A progress bar on stderr while sites finish; silent for --json or when not a TTY."""
    if not (enabled and sys.stderr.isatty()):
        return _Silent()
    from fitelctl.cli.render import SiteProgress

    return SiteProgress(description, total=total)
