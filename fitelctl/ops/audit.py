"""The audit trail: one JSON line per change attempt, secrets redacted.

Appended, never rewritten, so a later reader sees every apply in order: when,
who, which site, the exact commands (with the PSK masked), and how it ended.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime
from typing import Any

from fitelctl.errors import FitelctlError
from fitelctl.inventory import Inventory
from fitelctl.private_files import append_private_line
from fitelctl.redact import SECRETS


def append_audit(inventory: Inventory, record: dict[str, Any]) -> None:
    path = inventory.path(inventory.defaults.audit_log)
    entry = {"time": datetime.now(UTC).isoformat(), "user": _user(), **record}
    line = SECRETS.redact(json.dumps(entry, ensure_ascii=False))
    try:
        append_private_line(path, line, guard=False)  # redacted: no secret at rest
    except OSError as err:
        raise FitelctlError(f"cannot write the audit record to {path}: {err.strerror}") from None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"
