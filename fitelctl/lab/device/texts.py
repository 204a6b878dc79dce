"""Every fixed string the simulated F220 prints, in one place.

Strings marked OBSERVED come from a real F220 V01.12 session (copied into
``tests/unit/test_lab_cli.py``), the
FX201/F220 transcripts published in takamitsu-iida/pyats-fitelnet (README.md,
unicon.plugins/README.md and its ``patterns.py``/``settings.py``) or the upstream
netmiko driver written against real F220s; the rest are the lab's own
choice (INFERRED) and are kept short and free of the words "error"/"failed" where
they report success, because netmiko's ``commit()`` treats those words as failure.
"""

from __future__ import annotations

# OBSERVED (netmiko driver, pyats-fitelnet; docs/domain.md#errors-warnings-and-questions).
UNRECOGNIZED = "<ERROR> Unrecognized command"
#: The form that names the word (pyats-fitelnet's error patterns); which situation
#: prints which form is INFERRED: the named form for a first word the mode does not
#: know, the plain one for a command of privileged mode typed in user mode.
UNRECOGNIZED_WORD = "<ERROR> '{word}' is Unrecognized command"
INCOMPLETE = "<ERROR> Incomplete command"
INVALID = "<ERROR> Invalid input detected at '^' marker."
#: The other spelling of the invalid-input error, used by models that reject
#: ``commit`` (they only know ``refresh``).
INVALID_PERCENT = " % Invalid input detected at '^' marker."
AUTH_FAILED = "<ERROR> Authentication failed"
COMMAND_FAILED = "% Command failed."
BUSY = "Another processing is executing. This command can not be executed."
NOT_SAVED = "WARNING: You have NOT saved after editing working.cfg."
OTHER_EDITOR = (
    "WARNING: Another users has already edited working.cfg.\n         Please check working.cfg."
)
#: Printed after an accepted enable password: empty (OBSERVED on an FX201) / shorter
#: than 8 characters (the wording OBSERVED for the login password, applied to enable).
WEAK_ENABLE_UNSET = "<WARNING> weak enable password: set the password"
WEAK_ENABLE = "<WARNING> weak enable password: contain at least 8 characters"
#: After login with a short password (OBSERVED, FX201 telnet login in pyats-fitelnet);
#: the lab prints it before the first prompt of an SSH shell.  Unset: netmiko's text.
WEAK_LOGIN = "<WARNING> weak login password: contain at least 8 characters"
WEAK_LOGIN_UNSET = "<WARNING> weak login password: set the password"
PASSWORD_PROMPT = "password:"
MORE_OFF = "more : off"
DISCONNECT_PROMPT = "Disconnect OK?[y/N]:"
#: The default pager is less: its prompt is a ``:`` on a line of its own, which the
#: next page overwrites (takamitsu-iida/pyats-fitelnet unicon plugin: ``less_prompt``
#: ``\r\n:``, and its output clean-up of ``\r\n:\r``).
PAGER = ":"
#: What less sends before the next page: back to the column 0, clear to end of line.
PAGER_ERASE = "\r\x1b[K"

# INFERRED: the lab's choices where no capture exists.
AMBIGUOUS = "<ERROR> Ambiguous command"
MORE_ON = "more : on"

#: Passwords shorter than this draw the weak-password warnings (OBSERVED text).
WEAK_PASSWORD_LENGTH = 8

#: Model name printed by ``show version`` (the lab only simulates the F220).
MODEL = "F220"


def confirmation(verb: str) -> str:
    """``save ok?[y/N]:`` and friends (OBSERVED for save, load, refresh, restore)."""
    return f"{verb} ok?[y/N]:"


#: ``show ssh`` header (OBSERVED layout, FX201 in pyats-fitelnet's README).
SSH_HEADER = "Connection  Version  Encryption   State              Username         Line"


def show_ssh(rows: list[tuple[int, str, str, str]]) -> str:
    """``show ssh`` body for (number, encryption, username, line) of SSH 2 sessions.

    Every lab session is past authentication, so its state is ``Session started``
    (the real list also shows half-open ``1.5  none  Session initiating`` rows).
    """
    lines = ["", SSH_HEADER]
    for number, encryption, username, line in rows:
        row = f"{number:<12}{'2.0':<9}{encryption:<13}{'Session started':<19}{username:<17}{line}"
        lines.append(row.rstrip())
    return "\n".join(lines) + "\n"


def config_headers(history: dict[str, str]) -> str:
    """``!  LAST EDIT    14:15:43 2023/01/08 by user`` lines and a ``!`` (OBSERVED layout,
    running configs in pyats-fitelnet's examples); only events that happened are listed."""
    lines = [
        f"!  {'LAST ' + what:<12} {history[what]}"
        for what in ("EDIT", "REFRESH", "SAVE")
        if what in history
    ]
    return "\n".join([*lines, "!"]) + "\n" if lines else ""


def show_version(firmware: str) -> str:
    """``show version`` body in the exact layout of ``show_version_f220_v01.12.txt``."""
    line = f"{MODEL}   Version {firmware}"
    return (
        "  --------------------- present-side --------------------- \n"
        f"{line}\n"
        "\n"
        "  ---------------------- other-side ---------------------- \n"
        f"{line}\n"
        "\n"
        "\n"
    )


def show_boot(boot_file: str) -> str:
    """``show boot`` body (INFERRED layout: which file the next boot reads)."""
    return f" Boot configuration file : {boot_file}\n"


#: ``show crypto sa`` when the device has no crypto world attached.
EMPTY_CRYPTO_SA = "\n  Total number of ISAKMP SA 0\n  Total number of IPSEC SA 0\n"
