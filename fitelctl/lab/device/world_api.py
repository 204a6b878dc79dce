"""What a simulated device asks of the shared lab world (implemented by the lab).

The device knows its configs; the world knows the tunnels: which SAs exist
depends on both ends, so ``show crypto sa`` and ``clear crypto sa`` are answered
by the world, and the world is told whenever the device's running config changes.
"""

from __future__ import annotations

from typing import Protocol


class CryptoWorld(Protocol):
    def show_crypto_sa(self, site: str) -> str:
        """Full body text of `show crypto sa` (without command echo/prompt), "\\n" line ends."""
        ...

    def clear_crypto_sa(self, site: str) -> None: ...

    def current_config_changed(self, site: str) -> None:
        """Called after every successful commit/refresh."""
        ...
