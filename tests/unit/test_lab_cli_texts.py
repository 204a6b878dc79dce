"""The published FITELnet texts the simulated device prints (no I/O).

Sources: takamitsu-iida/pyats-fitelnet README.md and unicon.plugins/README.md (FX201
transcripts: other-editor warning, ``show ssh``, ``disconnect ssh``), its
examples/*/final_config (``!  LAST EDIT …`` headers) and unicon patterns (the
``[y/N]`` questions, ``'xyz' is Unrecognized command``).
"""

from __future__ import annotations

import re

from test_lab_cli import Console, make_device, privileged

from fitelctl.lab.device import texts
from fitelctl.lab.device.cli import CliSession, InputMode
from fitelctl.lab.device.model import LabDevice, SshSession

# pyats-fitelnet, unicon.plugins/README.md ("configモード")
REAL_OTHER_EDITOR = (
    "WARNING: Another users has already edited working.cfg.\n         Please check working.cfg.\n"
)
# pyats-fitelnet, README.md ("disconnect"): header and a started session's row
REAL_SSH_HEADER = "Connection  Version  Encryption   State              Username         Line"
REAL_SSH_ROW = "2           2.0      AES128-CTR   Session started    user             /dev/pts/0"
# pyats-fitelnet, examples/config_flexalgo/final_config/f220-p_config.txt
REAL_HEADERS = re.compile(
    r"!  LAST EDIT    \d\d:\d\d:\d\d \d{4}/\d\d/\d\d by \S+\n"
    r"!  LAST REFRESH \d\d:\d\d:\d\d \d{4}/\d\d/\d\d by \S+\n"
    r"!  LAST SAVE    \d\d:\d\d:\d\d \d{4}/\d\d/\d\d by \S+\n"
    r"!\n"
)


def connect(device: LabDevice, username: str = "user", *, pty: bool = True) -> Console:
    """A privileged console on a registered SSH connection, as the SSH server makes it."""
    closed: list[bool] = []
    ssh = device.open_ssh(username, "AES128-CTR", lambda: closed.append(True))
    if pty:
        device.assign_line(ssh)
    console = Console(device)
    console.session = CliSession(device, ssh=ssh)
    console.enable()
    console.type("no more")
    return console


def test_show_ssh_prints_the_real_layout() -> None:
    device = make_device()
    connect(device)
    connect(device)
    admin = connect(device, "user")
    shown = admin.type("show ssh")
    lines = shown.split("\n")
    assert lines[:2] == ["", REAL_SSH_HEADER]
    assert REAL_SSH_ROW.replace("2  ", "0  ", 1) == lines[2]
    assert lines[4] == REAL_SSH_ROW.replace("/dev/pts/0", "/dev/pts/2")
    assert shown.endswith("\n\ntokyo#")


def test_a_session_without_pty_has_no_line_and_numbers_are_reused() -> None:
    device = make_device()
    first = device.open_ssh("user", "AES128-CTR", lambda: None)
    second = device.open_ssh("user", "AES128-CTR", lambda: None)
    device.close_ssh(first)
    third = device.open_ssh("user", "AES128-CTR", lambda: None)
    assert (second.number, third.number) == (1, 0)
    assert texts.show_ssh([(0, "AES128-CTR", "user", "")]).split("\n")[2] == (
        "0           2.0      AES128-CTR   Session started    user"
    )


def test_disconnect_ssh_asks_then_ends_that_connection() -> None:
    device = make_device()
    ended: list[int] = []
    other = device.open_ssh("user", "AES128-CTR", lambda: ended.append(0))
    console = connect(device)
    assert console.type(f"disconnect ssh {other.number}") == "Disconnect OK?[y/N]:"
    assert console.session.input_mode is InputMode.LINE
    assert console.type("yes") == "tokyo#"
    assert ended == [0] and other.number not in device.ssh_sessions
    assert console.type("disconnect ssh 9") == texts.COMMAND_FAILED + "\n\ntokyo#"


def test_disconnect_ssh_answered_no_ends_nothing() -> None:
    device = make_device()
    other: SshSession = device.open_ssh("user", "AES128-CTR", lambda: None)
    console = connect(device)
    console.type(f"disconnect ssh {other.number}")
    assert console.type("n") == "tokyo#"
    assert other.number in device.ssh_sessions


def test_the_other_editor_warning_is_the_real_two_lines_while_its_session_lives() -> None:
    device = make_device()
    alice, bob = connect(device), connect(device)
    alice.configure("configure terminal", "hostname edited")
    assert bob.type("configure terminal") == REAL_OTHER_EDITOR + "\ntokyo(config)#"
    bob.type("end")
    alice.session.end()  # her SSH connection went away: the claim ends, the edit stays
    assert bob.type("configure terminal") == "tokyo(config)#"
    assert "hostname edited" in device.working_config()


def test_running_config_headers_follow_edit_refresh_and_save() -> None:
    device = make_device()
    console = connect(device, "opuser")
    assert console.type("show current.cfg") == "tokyo#"  # nothing happened yet: no header
    console.configure("configure terminal", "hostname tokyo", "end", "commit")
    console.type("save")
    console.type("y")
    shown = console.type("show running-config")
    assert REAL_HEADERS.match(shown), shown
    assert shown.count("by opuser") == 3


def test_every_question_is_the_real_one() -> None:
    console = privileged(make_device(commit_seconds=0))
    console.type("save")  # a save makes a file that load can read
    console.type("y")
    for command, question in [
        ("save", "save ok?[y/N]:"),
        ("load boot.cfg", "load ok?[y/N]:"),
        ("restore", "restore ok?[y/N]:"),
        ("refresh", "refresh ok?[y/N]:"),
    ]:
        assert console.type(command) == question
        assert console.type("y").endswith("tokyo#")


def test_a_weak_enable_password_warns_with_the_length_rule() -> None:
    console = Console(make_device(enable_password="1234"))
    console.type("enable")
    assert console.type("1234").startswith(texts.WEAK_ENABLE + "\n")
