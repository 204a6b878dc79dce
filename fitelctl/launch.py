"""The ``fitelctl`` program: a ``status`` command line goes to a running ``fitelctl
daemon`` when there is one (``fitelctl.daemon``), everything else runs here."""

from __future__ import annotations

import sys

from fitelctl.daemon.client import forward


def main() -> None:
    try:
        code = forward(sys.argv[1:])
    except KeyboardInterrupt:  # Ctrl-C before the daemon ran anything: as the CLI's own
        sys.exit(130)
    if code is not None:
        sys.exit(code)
    from fitelctl.cli import main as run_here

    run_here()
