"""The one place that knows what a secret looks like.

Everything that leaves the process (terminal, JSON, logs, audit records,
exception text, netmiko/scrapli session logs) goes through ``redact_text``
unless the operator explicitly asked for secrets.  Two kinds of secret exist:
values we hold (passwords, PSKs, the API secret), which are masked wherever they
appear, and values the device prints (the Cipher/Auth keys of ``show crypto
sa``, the ``local-key`` of a config), which are recognised by shape.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
from collections.abc import Iterable, Sequence

MASK = "<redacted>"

#: Shorter values are not masked by value (a one-character "secret" would mask that
#: character everywhere); they are still masked by shape where the device prints them.
MIN_SECRET_LENGTH = 4

#: Fields in parsed records (lower-case keys) that hold key material.
SECRET_FIELDS = frozenset(
    {"in_cipher_key", "in_auth_key", "out_cipher_key", "out_auth_key", "local_key", "psk"}
)

#: A printed secret value: stops at whitespace and at a JSON string's closing quote, so
#: redacting a JSON line keeps it JSON; an already masked value is left alone.
_VALUE = r'(?!<redacted>)[^\s"]+'

_DEVICE_SECRET_LINES = (
    # show crypto sa key material
    re.compile(r"(?P<lead>(?:Cipher|Auth) Key\s*:\s*)(?P<secret>" + _VALUE + ")"),
    # config lines carrying the PSK or passwords
    re.compile(r"(?P<lead>\blocal-key\s+(?:ascii\s+|hex\s+)?)(?P<secret>" + _VALUE + ")"),
    re.compile(
        r"(?m)(?P<lead>^\s*(?:username\s+\S+\s+)?(?:enable\s+)?(?:password|secret)\s+(?:\d\s+)?)"
        r"(?P<secret>" + _VALUE + ")"
    ),
    re.compile(r'(?P<lead>"PreSharedSecret"\s*:\s*")(?P<secret>[^"]*)'),
)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values and device-printed key material in ``text``."""
    return _mask_values(_mask_shapes(text), _longest_first(secrets))


def _mask_shapes(text: str) -> str:
    for pattern in _DEVICE_SECRET_LINES:
        text = pattern.sub(lambda m: m.group("lead") + MASK, text)
    return text


def _longest_first(values: Iterable[str]) -> tuple[str, ...]:
    """Longest first, so a secret that contains another is masked whole."""
    return tuple(sorted({v for v in values if v}, key=len, reverse=True))


def _mask_values(text: str, values: Sequence[str]) -> str:
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_record(record: dict[str, object]) -> dict[str, object]:
    """A copy of a parsed record without its key-material fields."""
    return {k: v for k, v in record.items() if k not in SECRET_FIELDS}


class SecretRegistry:
    """Secret values resolved during this process, so every output can mask them.

    Safe under any number of threads and asyncio tasks: fleet commands resolve
    secrets on worker threads while other threads print.  ``add`` changes state
    under a lock and publishes a new immutable tuple (longest value first, kept
    sorted by insertion, so no add re-sorts everything); ``redact`` reads that
    tuple in one atomic load and never iterates anything another thread changes.
    A value whose ``add`` has returned is masked by every later ``redact``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._ordered: tuple[str, ...] = ()

    def add(self, value: str) -> str:
        if len(value) >= MIN_SECRET_LENGTH:
            # also as it appears inside a JSON string (quotes and backslashes escaped)
            for form in (value, json.dumps(value)[1:-1]):
                self._insert(form)
        return value

    def _insert(self, value: str) -> None:
        with self._lock:
            if value in self._known:
                return
            self._known.add(value)
            ordered = self._ordered
            at = bisect.bisect_right(ordered, -len(value), key=lambda v: -len(v))
            self._ordered = (*ordered[:at], value, *ordered[at:])

    def redact(self, text: str) -> str:
        return _mask_values(_mask_shapes(text), self._ordered)


#: Process-wide registry: secret references add to it as they resolve.
SECRETS = SecretRegistry()
