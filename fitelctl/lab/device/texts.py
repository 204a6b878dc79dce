"""Every fixed string the simulated F220 prints, in one place.

Strings marked OBSERVED come from real captures (`fixtures/fitelnet/`) or the
upstream netmiko driver written against real F220s; the rest are the lab's own
choice (INFERRED) and are kept short and free of the words "error"/"failed" where
they report success, because netmiko's ``commit()`` treats those words as failure.
"""

from __future__ import annotations

# OBSERVED (brief §3, netmiko driver).
UNRECOGNIZED = "<ERROR> Unrecognized command"
INCOMPLETE = "<ERROR> Incomplete command"
INVALID = "<ERROR> Invalid input detected at '^' marker."
#: The other spelling of the invalid-input error, used by models that reject
#: ``commit`` (they only know ``refresh``).
INVALID_PERCENT = " % Invalid input detected at '^' marker."
AUTH_FAILED = "<ERROR> Authentication failed"
COMMAND_FAILED = "% Command failed."
BUSY = "Another processing is executing. This command can not be executed."
NOT_SAVED = "WARNING: You have NOT saved after editing working.cfg."
OTHER_EDITOR = "WARNING: Another users has already edited working.cfg."
WEAK_ENABLE = "<WARNING> weak enable password: contain at least 8 characters"
PASSWORD_PROMPT = "password:"
MORE_OFF = "more : off"

# INFERRED: the lab's choices where no capture exists.
AMBIGUOUS = "<ERROR> Ambiguous command"
WEAK_LOGIN = "<WARNING> weak login password: contain at least 8 characters"
NO_ENABLE_PASSWORD = "<WARNING> weak enable password: set the password"
MORE_ON = "more : on"
PAGER = " --More-- "

#: Passwords shorter than this draw the weak-password warnings (OBSERVED text).
WEAK_PASSWORD_LENGTH = 8

#: Model name printed by ``show version`` (the lab only simulates the F220).
MODEL = "F220"


def confirmation(verb: str) -> str:
    """``save ok?[y/N]:`` and friends (OBSERVED for save, refresh, restore)."""
    return f"{verb} ok?[y/N]:"


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
