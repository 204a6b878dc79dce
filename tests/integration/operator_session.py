"""An operator's SSH session on a lab device: the upstream netmiko driver, unmodified.

Tests use it as an independent client (what does the device run and boot?) or as
another operator (idle, or typing configuration lines and leaving them uncommitted).

netmiko's ``check_config_mode`` gets no pattern from ``furukawa_fitelnet`` (nor from
``CiscoBaseConnection``), so it reads until the device has been silent for 2 s;
``config_mode()`` and ``exit_config_mode()`` check twice each, ``disconnect()`` once
(three times in configuration mode).  A real F220 costs the same 2 s: netmiko waits by
design, not because the lab prints something else.  Where that waiting is not what a
test is about, the helpers here type the same lines through the same driver and wait
for the prompt (or, on logout, for the device to end the session) instead.  Where the
referee's own calls are the point they stay: ``test_lab_device.py``'s v1 flow goes
through ``send_config_set()`` (both mode calls), ``save_config()`` and ``disconnect()``,
its other-editor test through ``config_mode()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paramiko
from netmiko import ConnectHandler

PROMPT_END = r"[>#]\s*$"  # upstream's own check_enable_mode pattern: <WARNING> holds a '>'
LOGOUT_SECONDS = 10.0


def connect(port: int, username: str, password: str, secret: str, host: str = "127.0.0.1") -> Any:
    """A logged-in, privileged session (upstream ``session_preparation``: no timing reads)."""
    return ConnectHandler(
        device_type="furukawa_fitelnet",
        host=host,
        port=port,
        username=username,
        password=password,
        secret=secret,
        ssh_strict=False,
        system_host_keys=False,
        alt_host_keys=False,
        allow_agent=False,
    )


def configure_terminal(conn: Any) -> str:
    """``configure terminal``, read up to the ``(config)#`` prompt; returns what it printed."""
    output: str = conn.send_command("configure terminal", expect_string=r"\)#")
    return output


def end(conn: Any) -> str:
    """``end`` out of configuration mode, read up to the privileged prompt."""
    output: str = conn.send_command("end", expect_string=PROMPT_END)
    return output


def log_out(conn: Any) -> None:
    """``end`` when configuring, then ``exit``, as netmiko's ``disconnect()`` types them;
    waits for the device to end the session (its exit status), then lets netmiko close."""
    channel = conn.remote_conn
    if isinstance(channel, paramiko.Channel) and not channel.closed:
        try:
            if conn.check_config_mode(pattern=PROMPT_END):
                end(conn)
            conn.write_channel("exit" + conn.RETURN)
        except (EOFError, OSError):
            pass  # the device had just ended it (`disconnect ssh`): paramiko learns late
        else:
            ended = channel.status_event.wait(LOGOUT_SECONDS)
            assert ended, "the device did not end the session"
        # ended by the device: netmiko's cleanup then fails fast, unread (and the
        # transport itself may be gone already: `disconnect ssh` closes it)
        with contextlib.suppress(EOFError, OSError):
            channel.close()
    conn.disconnect()


@contextmanager
def operator_session(device: dict[str, Any]) -> Iterator[Any]:
    """A session with the credentials of a ``lab.json`` device entry; logged out at the end."""
    conn = connect(
        device["port"],
        device["username"],
        device["password"],
        device["enable_password"],
        host=device.get("host", "127.0.0.1"),
    )
    try:
        yield conn
    finally:
        log_out(conn)
