"""Pre-shared keys for a rotation: make a new one, store it where the inventory points.

The inventory holds references, never keys (``file:``, ``keyring:``, ``env:``), so a
rotation updates what the site's ``tunnel.psk`` reference points at:

- ``file:`` — the file is replaced atomically (a crash leaves the old or the new
  key, never half of one), mode 0600, and the key it held is kept in
  ``<file>.previous`` (0600), so it can still be put back;
- ``keyring:`` — set with the ``keyring`` package; the old value is kept under
  ``USER.previous`` in the same service for the same reason;
- ``env:`` — a process cannot change its caller's environment, so nothing is
  stored: the operator gets a line naming the variable to set.

No message, return value or exception text here ever carries a key: every key is
registered with ``SECRETS`` before anything can print it, and messages name
references and files only.
"""

from __future__ import annotations

import importlib
import secrets
import string
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from fitelctl.errors import FitelctlError
from fitelctl.inventory import Inventory
from fitelctl.ops.check import PSK_ALLOWED_CHARACTERS, PSK_MAX_LENGTH, psk_findings
from fitelctl.private_files import write_private_file
from fitelctl.redact import SECRETS

#: A generated key uses letters and digits only (a subset of what ``check`` allows):
#: nothing to quote in the F220 CLI, a shell, YAML or the control panel, and 32 of
#: these are ~190 bits.
GENERATED_ALPHABET = "".join(
    sorted(c for c in string.ascii_letters + string.digits if c in PSK_ALLOWED_CHARACTERS)
)
MIN_GENERATED_LENGTH = 16
PREVIOUS_SUFFIX = ".previous"

T = TypeVar("T")


class PskError(FitelctlError):
    """A key cannot be made or stored; ``str()`` is one redacted line."""

    def __init__(self, message: str) -> None:
        super().__init__(SECRETS.redact(" ".join(message.split())))


def generate_psk(length: int = 32) -> str:
    """A cryptographically random key that ``check`` accepts, registered for redaction."""
    if not MIN_GENERATED_LENGTH <= length <= PSK_MAX_LENGTH:
        raise PskError(
            f"a generated pre-shared key has {MIN_GENERATED_LENGTH} to {PSK_MAX_LENGTH} "
            f"characters (the VPC router's limit), not {length}"
        )
    psk = "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(length))
    return SECRETS.add(psk)


def _reference(inventory: Inventory, site: str) -> tuple[str, str, str]:
    """(scheme, target, reference) of the site's ``tunnel.psk``."""
    ref = inventory.site(site).tunnel.psk
    scheme, _, target = ref.partition(":")
    return scheme, target, ref


def _refuse_bad_key(site: str, psk: str) -> None:
    problems = [message for severity, _rule, message in psk_findings(psk) if severity == "error"]
    if problems:
        raise PskError(f"{site}: not storing the new pre-shared key: {problems[0]}")


def store_psk(inventory: Inventory, site: str, new_psk: str) -> str:
    """Store ``new_psk`` where the site's ``tunnel.psk`` points; one line says what was done.

    ``env:`` references cannot be updated: the message is then the instruction
    for the operator (no exception), naming the variable and never the key.
    """
    SECRETS.add(new_psk)
    _refuse_bad_key(site, new_psk)
    scheme, target, ref = _reference(inventory, site)
    if scheme == "file":
        return _store_file(inventory.path(Path(target)), site, ref, new_psk)
    if scheme == "keyring":
        return _store_keyring(target, site, new_psk)
    return (
        f"{site}: tunnel.psk is {ref}, which fitelctl cannot change: set the environment "
        f"variable {target} to the new pre-shared key wherever it is defined (shell profile, "
        "CI secret, service unit) before fitelctl configures the device"
    )


# -- file: ----------------------------------------------------------------------------------


def _previous_path(path: Path) -> Path:
    return path.with_name(path.name + PREVIOUS_SUFFIX)


def _write_key(path: Path, site: str, text: str) -> None:
    try:
        write_private_file(path, text)
    except OSError as err:
        raise PskError(f"{site}: cannot write {path}: {err.strerror}") from None


def _store_file(path: Path, site: str, ref: str, new_psk: str) -> str:
    try:
        current: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    except OSError as err:
        raise PskError(f"{site}: cannot read {path} ({ref}): {err.strerror}") from None
    if current is not None and current.strip() == new_psk:
        return f"{site}: {path} already holds the new pre-shared key; nothing changed"
    kept = ""
    if current is not None and current.strip():
        SECRETS.add(current.strip())
        _write_key(_previous_path(path), site, current)
        kept = f", previous key kept in {_previous_path(path)}"
    _write_key(path, site, new_psk + "\n")
    return f"{site}: stored the new pre-shared key in {path} (mode 0600){kept}"


# -- keyring: -----------------------------------------------------------------------------------


def _keyring_names(target: str) -> tuple[str, str]:
    service, _, user = target.partition("/")
    return service, user


def _keyring_module(site: str, target: str) -> ModuleType:
    service, user = _keyring_names(target)
    try:
        return importlib.import_module("keyring")
    except ImportError:
        raise PskError(
            f"{site}: tunnel.psk is keyring:{target} but the 'keyring' package is not "
            "installed: install it (pip install keyring) and run again, or store the key "
            f"yourself with: keyring set {service} {user}"
        ) from None


def _keyring_call(site: str, target: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except Exception as err:  # keyring backends raise their own types
        raise PskError(
            f"{site}: the keyring refused keyring:{target} ({type(err).__name__}); check that "
            "a keyring backend is available (python -m keyring diagnose)"
        ) from None


def _store_keyring(target: str, site: str, new_psk: str) -> str:
    service, user = _keyring_names(target)
    keyring = _keyring_module(site, target)
    current = _keyring_call(site, target, lambda: keyring.get_password(service, user))
    if current == new_psk:
        return f"{site}: keyring:{target} already holds the new pre-shared key; nothing changed"
    kept = ""
    if current:
        SECRETS.add(str(current))
        previous_user = user + PREVIOUS_SUFFIX
        _keyring_call(
            site, target, lambda: keyring.set_password(service, previous_user, str(current))
        )
        kept = f", previous key kept as keyring:{service}/{previous_user}"
    _keyring_call(site, target, lambda: keyring.set_password(service, user, new_psk))
    return f"{site}: stored the new pre-shared key in keyring:{target}{kept}"
