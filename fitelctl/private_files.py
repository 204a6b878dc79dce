"""Files that hold secrets at rest: mode 0600, in directories only their owner can change.

Some files must hold a secret in clear: a config backup (a rollback must restore
exactly, PSK included), a router settings export (an import must restore exactly),
a generated PSK, the ``file:`` a site's ``tunnel.psk`` points to.  Every one of them
is written here, so the rules live in one place:

- files are created 0600, complete or not at all (a private temporary file beside
  the target, then a rename or a link: never a partial or world-readable file);
- missing directories are created 0700;
- a file is refused, with one line naming the directory and the fix, when its
  directory, or a directory between it and the inventory's directory, is writable
  by group or others: anyone who can write there can swap the file for their own
  (a backup a rollback then restores) or replace the directory.  The inventory's
  own directory is not judged: it is the operator's checkout, often group-writable
  under a ``umask 002``, and fitelctl creates its own directories 0700 inside it.
  A world-writable parent with the sticky bit (``/tmp``) is accepted: others cannot
  rename or delete what is ours in it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from fitelctl.errors import FitelctlError


class UnsafeDirectory(FitelctlError):
    """A directory others can write to must not receive a file holding a secret."""


def private_directory(directory: Path, *, root: Path | None = None) -> Path:
    """``directory``, created 0700 where missing; UnsafeDirectory if others can write there.

    ``root`` (the inventory's directory) bounds the check upwards: ``directory``
    itself and every directory strictly inside ``root`` on the way up are judged.
    """
    for candidate in _judged(directory, root):
        if not candidate.is_dir():
            continue  # made below, 0700
        mode = candidate.stat().st_mode
        writable = mode & (stat.S_IWGRP | stat.S_IWOTH)
        sticky_parent = candidate != directory and mode & stat.S_ISVTX
        if writable and not sticky_parent:
            who = (
                "group and others"
                if mode & stat.S_IWOTH and mode & stat.S_IWGRP
                else ("others" if mode & stat.S_IWOTH else "its group")
            )
            raise UnsafeDirectory(
                f"{candidate} is writable by {who} (mode {stat.S_IMODE(mode):04o}), so the "
                f"secrets fitelctl keeps under it could be replaced: run `chmod 700 {candidate}` "
                "(or `chmod go-w`) and try again; nothing was written"
            )
    _make_directories(directory)
    return directory


def write_private_file(
    path: Path,
    text: str,
    *,
    overwrite: bool = True,
    root: Path | None = None,
    guard: bool = True,
    durable: bool = True,
) -> None:
    """Write ``text`` to ``path`` atomically, mode 0600.

    The content goes to a private temporary file beside ``path`` first; it then
    replaces ``path`` (``overwrite``) or is linked to it, which fails with
    FileExistsError when ``path`` exists.  A symbolic link at ``path`` is
    followed, so a key kept on a mounted secret store stays there.

    ``guard=False`` skips the directory check, for the lab's own throwaway secrets
    in a state directory the user chose (a lab must start under ``umask 002`` too).
    ``durable=False`` skips the two fsyncs: still whole or not at all when the process
    is killed (the page cache keeps what was written), not across a crash of the
    machine.  For the lab's state, which it saves while answering a request: on a
    busy disk an fsync there held the lab's every device and its API for over a second.
    """
    target = path.resolve() if path.is_symlink() else path
    if guard:
        private_directory(target.parent, root=root)
    else:
        _make_directories(target.parent)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if overwrite:
            os.replace(temporary, target)
        else:
            os.link(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    if durable:
        _sync_directory(target.parent)


def append_private_line(
    path: Path, line: str, *, root: Path | None = None, guard: bool = True
) -> None:
    """Append one line to ``path`` (created 0600): run records, the audit log.

    ``guard=False`` skips the directory check, for redacted lines that live in the
    operator's own directory (the audit log next to the inventory).
    """
    if guard:
        private_directory(path.parent, root=root)
    else:
        _make_directories(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def _make_directories(directory: Path) -> None:
    missing: list[Path] = []
    current = directory
    while not current.is_dir():
        if current.exists() or current.is_symlink():
            if current.is_dir():  # another thread made it between the two looks
                break
            # a file where a directory should be
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(current))
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for new in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another thread made it meanwhile
            new.mkdir(mode=0o700)


def _judged(directory: Path, root: Path | None) -> list[Path]:
    judged = [directory]
    if root is None:
        return judged
    top = root.resolve()
    current = directory.resolve()
    while current.parent != current and current.parent != top and top in current.parents:
        current = current.parent
        judged.append(current)
    return judged


def _sync_directory(directory: Path) -> None:
    """Make the rename durable; best effort (not every platform opens directories)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
