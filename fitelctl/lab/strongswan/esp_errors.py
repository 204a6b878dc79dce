"""The inbound error counters of `show crypto sa`, counted from a charon's own log.

vici reports no error counters and kernel-libipsec keeps none, but libipsec logs every
inbound ESP packet it refuses (strongSwan 5.9, ``esp_packet.c`` and
``ipsec_processor.c``), one message per packet, at level 1 of the ``esp`` group:

==============================================================  ==================
message                                                         F220 counter
==============================================================  ==================
``ESP sequence number verification failed:`` (then SPI, seq)    ``Replay error``
``ESP decryption or ICV verification failed``                   ``Auth error``
``parsing ESP payload failed: invalid padding``                 ``Padding error``
``discarding inbound IP packet … due to policy``                ``Rule error``
==============================================================  ==================

Only the first names its SA.  At level 2 libipsec also logs ``parsed ESP header with
SPI %.8x [seq %u]`` for every inbound packet, just before it checks it, in the one
thread that processes inbound ESP: so an error line is the packet whose header that
thread parsed last.  The device charons log ``esp`` at level 2 (``charon.Charon``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_LINE = re.compile(r"^\S+ [ \d]\d \S+ (?P<thread>\d+)\[ESP\] (?P<message>.*)$")
_PARSED = re.compile(r"^parsed ESP header with SPI (?P<spi>[0-9a-f]{8}) ")
_KINDS = (
    ("ESP sequence number verification failed", "replay"),
    ("ESP decryption or ICV verification failed", "auth"),
    ("parsing ESP payload failed: invalid padding", "padding"),
    ("discarding inbound IP packet ", "rule"),
)


@dataclass(frozen=True)
class EspErrors:
    """One inbound SA's error counts."""

    replay: int = 0
    auth: int = 0
    padding: int = 0
    rule: int = 0


class EspErrorCount:
    """Counts, per inbound SPI, the errors in a charon log fed to it line by line."""

    def __init__(self) -> None:
        self._counts: dict[str, Counter[str]] = {}
        self._last_spi: dict[str, str] = {}  # thread → SPI of the header it parsed last

    def add(self, lines: Iterable[str]) -> None:
        for line in lines:
            match = _LINE.match(line)
            if match is None:
                continue
            thread, message = match["thread"], match["message"]
            parsed = _PARSED.match(message)
            if parsed:
                self._last_spi[thread] = parsed["spi"]
                continue
            kind = next((kind for needle, kind in _KINDS if message.startswith(needle)), None)
            spi = self._last_spi.get(thread)
            if kind is not None and spi is not None:
                self._counts.setdefault(spi, Counter())[kind] += 1

    def of(self, spi: str) -> EspErrors:
        """The errors of the inbound SA ``spi`` (8 hex digits, as vici's ``spi-in``)."""
        counts = self._counts.get(spi, Counter())
        return EspErrors(counts["replay"], counts["auth"], counts["padding"], counts["rule"])
