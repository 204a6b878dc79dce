"""Errors that end a command with one clear line (never a traceback)."""


class FitelctlError(Exception):
    """An error the user can act on; str(err) is the one line shown."""

    exit_code = 2
