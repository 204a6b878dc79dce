"""The ``fitelctl`` program: a ``status`` command line goes to a running ``fitelctl
daemon`` when there is one (``fitelctl.daemon``), everything else runs here."""

from __future__ import annotations

import sys

from fitelctl.daemon.client import forward


def main() -> None:
    code = forward(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from fitelctl.cli import main as run_here

    run_here()
