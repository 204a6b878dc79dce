"""SSH host keys: the inventory's known_hosts file, fingerprints, trust-on-request.

Both SSH libraries enforce the known_hosts file themselves (paramiko through
netmiko's ``ssh_strict``/``alt_key_file``, OpenSSH through scrapli's bin
transport).  Neither tells us *why* a key was refused in a form we can show:
OpenSSH says only "host key verification failed", paramiko's refusal of an
unknown key carries no key at all.  This module answers the questions the error
messages need (is the key unknown or changed? which file line? what fingerprint?)
and appends a key when the operator explicitly trusts it.  It runs on the failure
path only: a connection whose key is already trusted never comes here.

Matching follows OpenSSH's known_hosts(5): comma-separated patterns with ``*``/``?``
wildcards and ``!`` negation, ``[host]:port`` for non-22 ports, hashed ``|1|`` entries,
``@revoked`` markers (``@cert-authority`` lines are ignored: no certificates here).
One deliberate difference: a host already known under *another* key type counts as
changed, not unknown (paramiko does the same), so trusting new keys can never
silently add a second identity for a known device.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from fitelctl.fitelnet.drivers.base import (
    DeviceTarget,
    HostKeyChanged,
    HostKeyRejected,
    HostKeyUnknown,
)


@dataclass(frozen=True)
class HostKey:
    """A public host key: its type name and its wire-format blob."""

    key_type: str
    blob: bytes

    @classmethod
    def from_openssh(cls, text: str) -> HostKey:
        """Parse ``"ssh-ed25519 AAAA..."`` (a trailing comment is ignored)."""
        fields = text.split()
        if len(fields) < 2:
            raise ValueError("expected '<key-type> <base64>'")
        try:
            blob = base64.b64decode(fields[1], validate=True)
        except binascii.Error as exc:
            raise ValueError(f"bad base64 in host key: {exc}") from None
        return cls(fields[0], blob)

    @property
    def fingerprint(self) -> str:
        """The SHA256 fingerprint exactly as OpenSSH prints it (no base64 padding)."""
        return sha256_fingerprint(self.blob)

    @property
    def type_label(self) -> str:
        """The short type name OpenSSH uses in messages (ED25519, ECDSA, RSA)."""
        return type_label(self.key_type)

    def openssh(self) -> str:
        return f"{self.key_type} {base64.b64encode(self.blob).decode('ascii')}"


def sha256_fingerprint(blob: bytes) -> str:
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")


_TYPE_LABELS = {
    "ssh-ed25519": "ED25519",
    "ssh-rsa": "RSA",
    "rsa-sha2-256": "RSA",
    "rsa-sha2-512": "RSA",
    "ssh-dss": "DSA",
    "sk-ssh-ed25519@openssh.com": "ED25519-SK",
    "sk-ecdsa-sha2-nistp256@openssh.com": "ECDSA-SK",
}


def type_label(key_type: str) -> str:
    if key_type.startswith("ecdsa-sha2-"):
        return "ECDSA"
    return _TYPE_LABELS.get(key_type, key_type)


def host_token(host: str, port: int) -> str:
    """How known_hosts names a host: ``host`` on port 22, ``[host]:port`` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


@dataclass(frozen=True)
class KnownHostsEntry:
    path: Path
    line_no: int
    hosts: str  # the raw host field: patterns or one hashed name
    key: HostKey
    marker: str | None = None  # "@revoked" / "@cert-authority"

    def matches(self, token: str) -> bool:
        if self.hosts.startswith("|1|"):
            return _hashed_matches(self.hosts, token)
        positive = False
        for pattern in self.hosts.split(","):
            negated = pattern.startswith("!")
            if _wildcard_match(pattern.removeprefix("!"), token):
                if negated:
                    return False
                positive = True
        return positive


def _wildcard_match(pattern: str, text: str) -> bool:
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == text.lower()
    return _wildcard_regex(pattern).fullmatch(text.lower()) is not None


@functools.lru_cache(maxsize=1024)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    # fnmatch would read "[127.0.0.1]" as a character class; OpenSSH knows only * and ?.
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower())
    )


def _hashed_matches(field: str, token: str) -> bool:
    try:
        _, _, salt_b64, hash_b64 = field.split("|")
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(hash_b64, validate=True)
    except (ValueError, binascii.Error):
        return False
    actual = hmac.new(salt, token.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(actual, expected)


def parse_known_hosts(text: str, path: Path) -> list[KnownHostsEntry]:
    """Entries of a known_hosts file; blank, comment and malformed lines are skipped."""
    entries = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        marker = None
        if line.startswith("@"):
            marker, _, line = line.partition(" ")
            line = line.strip()
        hosts, _, rest = line.partition(" ")
        try:
            key = HostKey.from_openssh(rest)
        except ValueError:
            continue
        entries.append(KnownHostsEntry(path, line_no, hosts, key, marker))
    return entries


def load_known_hosts(path: Path) -> list[KnownHostsEntry]:
    """Entries of ``path``; a missing file is simply empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return list(_KnownHosts.of(text, path).entries)


def entries_for(path: Path | None, host: str, port: int) -> list[KnownHostsEntry]:
    """The entries of ``path`` that name ``host:port``, in file order.

    A fleet's sessions all check their keys against one file: it is parsed and indexed
    once per content, so a check costs a lookup, not a pass over every line.  The file
    itself is read every time, so a change is never missed.
    """
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return _KnownHosts.of(text, path).naming(host_token(host, port))


def trusted_file(path: Path | None, host: str, port: int) -> Path:
    """A known_hosts file holding only the keys ``path`` trusts for ``host:port``.

    For paramiko (the netmiko driver), which reads the whole file at every login and
    compares each line with those before it: 0.17 s of CPU per login for 1,000 lines,
    behind one lock, so an exporter's 1,000 logins did not finish in 600 s
    (benchmarks/g_exporter.py).  The host's keys are written under its plain name, so
    wildcard and hashed entries count as they do for OpenSSH and the other drivers,
    and a key ``@revoked`` for the host is left out.  One file per content, in a
    private temporary folder removed at exit.
    """
    entries = entries_for(path, host, port)
    revoked = {entry.key for entry in entries if entry.marker == "@revoked"}
    token = host_token(host, port)
    lines = dict.fromkeys(
        f"{token} {entry.key.openssh()}\n"
        for entry in entries
        if entry.marker is None and entry.key not in revoked
    )
    text = "".join(lines)
    target = _trusted_files_dir() / hashlib.sha256(text.encode()).hexdigest()[:32]
    if not target.exists():
        partial = target.with_name(f".{target.name}.{threading.get_ident()}")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    return target


_TRUSTED_FILES_LOCK = threading.Lock()
_trusted_files: list[Path] = []


def _trusted_files_dir() -> Path:
    with _TRUSTED_FILES_LOCK:
        if not _trusted_files:
            folder = Path(tempfile.mkdtemp(prefix="fitelctl-hostkeys-"))  # mode 0700
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            _trusted_files.append(folder)
        return _trusted_files[0]


@dataclass(frozen=True)
class _KnownHosts:
    entries: tuple[KnownHostsEntry, ...]
    #: entries whose host field is plain names only, under each name (lower case)
    by_name: dict[str, tuple[KnownHostsEntry, ...]]
    #: the others (wildcards, negations, hashed names): matched one by one
    patterned: tuple[KnownHostsEntry, ...]

    @staticmethod
    @functools.lru_cache(maxsize=16)
    def of(text: str, path: Path) -> _KnownHosts:
        entries = tuple(parse_known_hosts(text, path))
        by_name: dict[str, list[KnownHostsEntry]] = {}
        patterned = []
        for entry in entries:
            names = entry.hosts.lower().split(",")
            if entry.hosts.startswith("|1|") or any(c in entry.hosts for c in "*?!"):
                patterned.append(entry)
                continue
            for name in dict.fromkeys(names):
                by_name.setdefault(name, []).append(entry)
        return _KnownHosts(entries, {k: tuple(v) for k, v in by_name.items()}, tuple(patterned))

    def naming(self, token: str) -> list[KnownHostsEntry]:
        found = [
            *self.by_name.get(token.lower(), ()),
            *(e for e in self.patterned if e.matches(token)),
        ]
        return sorted(found, key=lambda entry: entry.line_no)


class Verdict(Enum):
    TRUSTED = "trusted"
    UNKNOWN = "unknown"
    CHANGED = "changed"
    REVOKED = "revoked"


@dataclass(frozen=True)
class HostKeyCheck:
    verdict: Verdict
    entry: KnownHostsEntry | None = None  # the conflicting/revoking line, if any


def check_host_key(
    entries: Iterable[KnownHostsEntry], host: str, port: int, key: HostKey
) -> HostKeyCheck:
    """Is ``key`` the one known_hosts holds for ``host:port``?"""
    token = host_token(host, port)
    for_host = [e for e in entries if e.matches(token)]
    for entry in for_host:
        if entry.marker == "@revoked" and entry.key == key:
            return HostKeyCheck(Verdict.REVOKED, entry)
    plain = [e for e in for_host if e.marker is None]
    if any(e.key == key for e in plain):
        return HostKeyCheck(Verdict.TRUSTED)
    if not plain:
        return HostKeyCheck(Verdict.UNKNOWN)
    same_type = [e for e in plain if e.key.key_type == key.key_type]
    return HostKeyCheck(Verdict.CHANGED, (same_type or plain)[0])


def known_key_types(entries: Iterable[KnownHostsEntry], host: str, port: int) -> list[str]:
    """Key types known for the host, in file order (to prefer them when negotiating)."""
    token = host_token(host, port)
    types: list[str] = []
    for entry in entries:
        if entry.marker is None and entry.matches(token) and entry.key.key_type not in types:
            types.append(entry.key.key_type)
    return types


def append_known_host(path: Path, host: str, port: int, key: HostKey) -> int:
    """Append ``key`` for ``host:port`` to ``path`` (created if missing); its line number."""
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    prefix = "" if not existing or existing.endswith("\n") else "\n"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"{prefix}{host_token(host, port)} {key.openssh()}\n")
    return len((existing + prefix).splitlines()) + 1


_HOST_KEY_ALGS = {
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"),
}


def fetch_host_key(
    host: str, port: int, *, timeout: float, prefer: Sequence[str] = ()
) -> HostKey | None:
    """The key the server presents, by a key exchange only (no authentication).

    ``prefer`` lists key types to ask for first, as OpenSSH and paramiko do for a
    host they already know, so we look at the same key they refused.  Runs its own
    event loop in a worker thread: callers are synchronous and may or may not sit
    inside a running loop.  ``None`` when the server cannot be reached in time.
    """
    algs = [alg for t in prefer for alg in _HOST_KEY_ALGS.get(t, (t,))]
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _fetch(host, port, timeout, algs)).result()


async def _fetch(host: str, port: int, timeout: float, algs: list[str]) -> HostKey | None:
    import asyncssh  # only on the refusal and trust paths: it costs ~75 ms to import

    supported = {a.decode("ascii") for a in asyncssh.public_key.get_public_key_algs()}
    wanted = [a for a in algs if a in supported]
    try:
        key = await asyncio.wait_for(
            asyncssh.get_server_host_key(
                host,
                port,
                config=None,
                server_host_key_algs="^" + ",".join(wanted) if wanted else (),
            ),
            timeout,
        )
    except (OSError, asyncssh.Error, TimeoutError):
        return None
    if key is None:
        return None
    return HostKey(key.get_algorithm(), key.public_data)


def refused_host_key(
    target: DeviceTarget, *, presented: HostKey | None, may_trust: bool = True
) -> HostKeyRejected | None:
    """Why the SSH library refused the device's host key, as the error to raise.

    ``presented`` is the refused key when the library kept it (paramiko's changed-key
    error does); otherwise a short key exchange fetches it.  Returns ``None`` only when
    the key was unknown, ``target.trust_new_host_key`` is set (and ``may_trust``), and
    the key has just been appended: the caller connects again, strictly.
    """
    entries = entries_for(target.known_hosts, target.host, target.port)
    key = presented or fetch_host_key(
        target.host,
        target.port,
        timeout=target.connect_timeout,
        prefer=known_key_types(entries, target.host, target.port),
    )
    if key is None:
        return HostKeyRejected(
            target,
            "the SSH host key was refused and the device could not be reached again to show it",
            "retry; if it persists compare the device's key with the known_hosts file",
        )
    result = check_host_key(entries, target.host, target.port, key)
    if result.verdict is Verdict.UNKNOWN:
        if target.known_hosts is not None and target.trust_new_host_key and may_trust:
            append_known_host(target.known_hosts, target.host, target.port, key)
            return None
        return HostKeyUnknown(target, key.type_label, key.fingerprint)
    where = (
        f"{result.entry.path}:{result.entry.line_no}" if result.entry else str(target.known_hosts)
    )
    if result.verdict is Verdict.CHANGED and result.entry is not None:
        return HostKeyChanged(
            target, key.type_label, key.fingerprint, result.entry.path, result.entry.line_no
        )
    if result.verdict is Verdict.REVOKED:
        return HostKeyRejected(
            target,
            f"the device presents {key.type_label} key {key.fingerprint}, "
            f"marked @revoked at {where}",
            "do not connect until the device has a new key",
        )
    return HostKeyRejected(
        target,
        f"the SSH client refused {key.type_label} key {key.fingerprint} although {where} lists it",
        f"check the known_hosts file {target.known_hosts} (format, duplicate or marker lines)",
    )
