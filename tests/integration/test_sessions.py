"""`fitelctl sessions` and apply's stop on another session's edits, against the lab.

The other session is the upstream netmiko driver, unmodified: an operator's idle
login, or one that typed a configuration line and left it uncommitted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import RunCli, StartLab
from helpers import lab_inventory_path, sessions_ended, settles
from operator_session import configure_terminal, operator_session

from fitelctl.lab.device import texts
from fitelctl.lab.runner import BackgroundLab, Lab, LabOptions

OTHER_LINE = "ip route 10.9.9.0/24 172.30.128.1"


@contextmanager
def other_session(lab: Lab, *config_lines: str) -> Iterator[Any]:
    """An operator's SSH session (upstream netmiko), left in config mode after its lines;
    on leaving, it has logged out and the device no longer lists it."""
    device = json.loads((lab.options.state_dir / "lab.json").read_text())["devices"][0]
    with operator_session(device) as conn:
        if config_lines:
            configure_terminal(conn)
            for line in config_lines:
                conn.send_command(line, expect_string=r"\)#")
        yield conn
    sessions_ended(lab)


def fitelctl(cli: RunCli, lab: Lab, *args: str) -> Any:
    result = cli("-i", str(lab_inventory_path(lab)), *args)
    assert "Traceback" not in result.stderr
    return result


def listed(cli: RunCli, lab: Lab) -> list[dict[str, Any]]:
    result = fitelctl(cli, lab, "sessions", "tokyo", "--json")
    assert result.returncode == 0, result.stderr
    sessions: list[dict[str, Any]] = json.loads(result.stdout)["sessions"]
    return sessions


# --- sessions ---------------------------------------------------------------------------


def test_sessions_lists_an_idle_session_and_marks_only_our_own(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    with other_session(lab):
        sessions = listed(cli, lab)
    assert len(sessions) == 2, sessions  # the operator's and ours; the probe session is gone
    theirs = next(s for s in sessions if not s["ours"])
    ours = next(s for s in sessions if s["ours"])
    assert theirs["line"].startswith("/dev/pts/") and ours["line"] != theirs["line"]
    for session in sessions:
        assert session["version"] == "2.0" and session["state"] == "Session started"
        assert session["username"] == "admin" and session["encryption"]
        assert set(session) == {"id", "version", "encryption", "state", "username", "line", "ours"}


def test_sessions_disconnect_ends_the_other_session(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    with other_session(lab):
        theirs = next(s for s in listed(cli, lab) if not s["ours"])
        result = fitelctl(
            cli, lab, "sessions", "tokyo", "--disconnect", str(theirs["id"]), "--yes", "--json"
        )
        assert result.returncode == 0, result.stderr
        left = json.loads(result.stdout)["sessions"]
    assert [s["ours"] for s in left] == [True]
    assert theirs["id"] not in lab.sites["tokyo"].device.ssh_sessions


def test_sessions_refuses_to_end_its_own_session(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    with other_session(lab):
        sessions = listed(cli, lab)
        # fitelctl's next session takes the lowest free number: the one it had just now
        ours = next(s for s in sessions if s["ours"])
        result = fitelctl(cli, lab, "sessions", "tokyo", "--disconnect", str(ours["id"]), "--yes")
        assert result.returncode != 0
        assert "refusing to end SSH session" in result.stderr
        assert "the session fitelctl itself is using" in result.stderr
        # the operator's is untouched; ours ends a moment after the command
        assert settles(lambda: len(lab.sites["tokyo"].device.ssh_sessions) == 1)


def test_weak_lab_credentials_show_their_warnings_and_change_nothing(
    tmp_path: Path, cli: RunCli
) -> None:
    # A lab device's credentials are the secrets in its state directory: short ones
    # make the device print both weak-password warnings, as a real one would.
    (tmp_path / "secrets").mkdir(mode=0o700)
    for name, value in (("tokyo.password", "pw"), ("tokyo.enable", "1234")):
        (tmp_path / "secrets" / name).write_text(value + "\n")
        (tmp_path / "secrets" / name).chmod(0o600)
    with BackgroundLab(LabOptions(state_dir=tmp_path, scenario="seed-v2-pending")) as lab:
        shown = shell_transcript(lab, "pw", "enable\r1234\r")
        sessions = listed(cli, lab)
        diff = cli("-i", str(tmp_path / "inventory.yaml"), "diff", "tokyo")
    assert shown.startswith(texts.WEAK_LOGIN + "\r\n\r\ntokyo>")
    assert texts.WEAK_ENABLE + "\r\n" in shown and shown.endswith("tokyo#")
    assert [s["ours"] for s in sessions] == [True]
    assert diff.returncode == 1 and "Traceback" not in diff.stderr


def shell_transcript(lab: Lab, password: str, typed: str) -> str:
    """What a plain SSH shell shows for ``typed``, until the privileged prompt."""
    import paramiko

    device = json.loads((lab.options.state_dir / "lab.json").read_text())["devices"][0]
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        "127.0.0.1",
        device["port"],
        device["username"],
        password,
        look_for_keys=False,
        allow_agent=False,
    )
    try:
        channel = client.invoke_shell()
        channel.settimeout(10)
        channel.sendall(typed.encode())
        shown = ""
        while not shown.endswith("tokyo#"):
            shown += channel.recv(4096).decode()
        return shown
    finally:
        client.close()
        sessions_ended(lab)


def test_sessions_bad_input_is_one_clear_line(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    no_such = fitelctl(cli, lab, "sessions", "tokyo", "--disconnect", "7", "--yes")
    assert no_such.returncode != 0
    assert (
        no_such.stderr.strip().splitlines() == [no_such.stderr.strip()]
        and "no SSH session 7 on the device" in no_such.stderr
    )
    unknown = fitelctl(cli, lab, "sessions", "nowhere")
    assert unknown.returncode != 0 and len(unknown.stderr.strip().splitlines()) == 1
    assert "nowhere" in unknown.stderr
    with other_session(lab):
        unconfirmed = fitelctl(cli, lab, "sessions", "tokyo", "--disconnect", "0")
        assert settles(lambda: len(lab.sites["tokyo"].device.ssh_sessions) == 1)  # not ended
    assert unconfirmed.returncode == 1 and "--yes" in unconfirmed.stderr


# --- apply and another session's uncommitted edits ----------------------------------------


def test_apply_stops_on_a_live_sessions_edits_and_names_it(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    device = lab.sites["tokyo"].device
    current_before = device.current_config()
    with other_session(lab, OTHER_LINE):
        result = fitelctl(cli, lab, "apply", "tokyo", "--yes", "--json")
        site = json.loads(result.stdout)["sites"][0]
        holder = next(s for s in device.ssh_sessions.values())
        assert device.working_config() != current_before  # their edit is still there
    assert result.returncode == 1 and site["result"] == "failed"
    [problem] = site["problems"]
    assert "working.cfg holds edits another session did not commit" in problem
    assert f"open sessions: {holder.number} (admin {holder.line})" in problem
    assert "fitelctl sessions tokyo --disconnect N" in problem and "--force" in problem
    assert device.current_config() == current_before


def test_apply_stops_on_edits_left_by_a_session_that_ended(
    start_lab: StartLab, cli: RunCli
) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    with other_session(lab, OTHER_LINE):
        pass
    result = fitelctl(cli, lab, "apply", "tokyo", "--yes", "--json")
    [problem] = json.loads(result.stdout)["sites"][0]["problems"]
    assert result.returncode == 1
    assert "no other SSH session is open now" in problem
    assert "Discard them on the device with `restore`" in problem and "--force" in problem


def test_apply_force_takes_the_edits_along_and_audits_it(start_lab: StartLab, cli: RunCli) -> None:
    lab = start_lab(scenario="seed-v2-pending")
    device = lab.sites["tokyo"].device
    with other_session(lab, OTHER_LINE):
        result = fitelctl(cli, lab, "apply", "tokyo", "--yes", "--json", "--force")
    site = json.loads(result.stdout)["sites"][0]
    assert result.returncode == 0 and site["result"] == "applied", site
    assert "ip route 10.9.9.0/24 172.30.128.1" in device.current_config()
    assert any("--force: committed 1 uncommitted line(s)" in p for p in site["problems"])
    audit = (lab.options.state_dir / "audit.jsonl").read_text().splitlines()
    record = json.loads(audit[-1])
    assert record["forced_over_other_edits"] == [OTHER_LINE]
