"""The simulated F220's CLI, driven without any network: modes, errors, configs, faults."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers import REAL_SHOW_VERSION

from fitelctl.lab.device import model, texts
from fitelctl.lab.device.cli import CliSession, DropConnection, InputMode, SessionKind
from fitelctl.lab.device.editing import ConfigTextError, replay_config
from fitelctl.lab.device.model import DeviceFaults, DeviceSpec, LabDevice
from fitelctl.lab.device.terminal import Terminal

DATA = Path(__file__).resolve().parents[1] / "data"
V1_CONFIG = (DATA / "config_v1_sakura_tokyo.cfg").read_text()
V2_CHANGES = (DATA / "config_v2_changes_sakura_tokyo.cfg").read_text()

# A real F220 (V01.12) session: `enable` with a weak password, then `no more`
# (docs/domain.md#prompts-and-modes), copied here as data.
REAL_ENABLE_SESSION = (
    "TEST-HOST>\r\n"
    "TEST-HOST>enable\r\n"
    "\r\n"
    "password:\r\n"
    "<WARNING> weak enable password: contain at least 8 characters\r\n"
    "\r\n"
    "\r\n"
    "\r\n"
    "TEST-HOST#\r\n"
    "TEST-HOST#no more\r\n"
    "more : off\r\n"
    "\r\n"
    "TEST-HOST#\r\n"
)


class FakeWorld:
    def __init__(self) -> None:
        self.changed: list[str] = []
        self.cleared: list[str] = []

    def show_crypto_sa(self, site: str) -> str:
        return f"\n  SA of {site}\n"

    def clear_crypto_sa(self, site: str) -> None:
        self.cleared.append(site)

    def current_config_changed(self, site: str) -> None:
        self.changed.append(site)


def make_device(**spec: object) -> LabDevice:
    values: dict[str, object] = {
        "site": "tokyo",
        "hostname": "tokyo",
        "username": "admin",
        "password": "login-password",
        "enable_password": "enable-secret",
        "commit_seconds": 0,
    }
    values.update(spec)
    return LabDevice(DeviceSpec(**values))  # type: ignore[arg-type]


class Console:
    """One session, typed into line by line (each line in its own event loop run)."""

    def __init__(self, device: LabDevice, kind: SessionKind = SessionKind.TERMINAL) -> None:
        self.device = device
        self.session = CliSession(device, kind)

    def type(self, line: str) -> str:
        return asyncio.run(self.session.handle_line(line))

    def enable(self) -> Console:
        self.type("enable")
        assert self.type(self.device.spec.enable_password).endswith("tokyo#")
        return self

    def configure(self, *lines: str) -> str:
        return "".join(self.type(line) for line in lines)


def privileged(device: LabDevice | None = None) -> Console:
    console = Console(device or make_device()).enable()
    console.type("no more")
    return console


# --- prompts, enable, paging switch ---------------------------------------------------


def test_a_terminal_session_replays_the_real_enable_capture() -> None:
    device = make_device(hostname="TEST-HOST", enable_password="1234")
    written: list[str] = []
    terminal = Terminal(CliSession(device), written.append)
    terminal.feed("\renable\r1234\r\rno more\r\r")
    terminal.feed_eof()
    asyncio.run(terminal.run_shell())
    assert "".join(written) == REAL_ENABLE_SESSION + "TEST-HOST#"


def test_prompts_follow_the_mode_and_sub_mode() -> None:
    console = Console(make_device())
    assert console.session.greeting() == "tokyo>"
    console.enable()
    assert console.type("configure terminal") == "tokyo(config)#"
    for header, prompt in [
        ("crypto ipsec policy P", "config-ipsec-policy"),
        ("crypto ipsec selector P", "config-ipsec-selector"),
        ("crypto isakmp policy P", "config-isakmp-policy"),
        ("crypto isakmp profile P", "config-isakmp-profile"),
        ("crypto map P ipsec-isakmp", "config-crypto-map"),
        ("interface Tunnel 1", "config-if-tunnel 1"),
        ("interface ge 1/1", "config-if-ge 1/1"),
    ]:
        assert console.type(header) == f"tokyo({prompt})#"
        assert console.type("exit") == "tokyo(config)#"
    console.type("crypto ipsec policy P")
    assert console.type("end") == "tokyo#"
    assert console.type("disable") == "tokyo>"


def test_no_hostname_gives_bare_prompts() -> None:
    console = Console(make_device(hostname=""))
    assert console.session.greeting() == ">"
    console.type("enable")
    assert console.type("enable-secret").endswith("\n#")
    assert console.type("configure terminal").endswith("(config)#")


def test_the_prompt_follows_a_committed_hostname() -> None:
    console = privileged()
    console.configure("configure terminal", "hostname osaka", "end")
    assert console.type("show version").endswith("tokyo#")
    assert console.type("commit") == "osaka#"


def test_a_short_login_password_draws_a_warning_before_the_first_prompt() -> None:
    session = CliSession(make_device(password="pw"))
    assert session.greeting() == texts.WEAK_LOGIN + "\n\ntokyo>"


def test_enable_with_a_strong_password_has_no_warning() -> None:
    console = Console(make_device())
    assert console.type("enable") == "\npassword:"
    assert console.session.input_mode is InputMode.SECRET
    assert console.type("enable-secret") == "\n\n\ntokyo#"


def test_a_wrong_enable_password_is_asked_again_and_never_drops_back() -> None:
    # pyats-fitelnet (FX201): "<ERROR> Authentication failed", blank line, "password:"
    console = Console(make_device())
    console.type("enable")
    again = texts.AUTH_FAILED + "\n\npassword:"
    for _ in range(5):
        assert console.type("nope") == again
        assert console.session.input_mode is InputMode.SECRET
    assert console.type("enable-secret").endswith("tokyo#")


def test_an_empty_enable_password_is_still_asked_and_warned_about() -> None:
    console = Console(make_device(enable_password=""))
    assert console.type("enable") == "\npassword:"
    assert console.type("wrong").startswith(texts.AUTH_FAILED)
    assert console.type("") == ("<WARNING> weak enable password: set the password\n\n\n\ntokyo#")


def test_user_mode_only_knows_a_few_commands() -> None:
    console = Console(make_device())
    assert console.type("show version") == REAL_SHOW_VERSION + "\ntokyo>"
    assert console.type("show current.cfg") == (
        "\nshow current.cfg\n     ^^^^^^^^^^^\n" + texts.INVALID + "\ntokyo>"
    )
    assert console.type("configure terminal") == texts.UNRECOGNIZED + "\n\ntokyo>"
    assert console.type("frobnicate now") == (
        "<ERROR> 'frobnicate' is Unrecognized command\n\ntokyo>"
    )


# --- errors ---------------------------------------------------------------------------


def isakmp_policy_console() -> Console:
    console = privileged()
    console.configure("configure terminal", "crypto isakmp policy P")
    return console


@pytest.mark.parametrize(
    ("line", "carets"),
    [
        ("hash sha-265", "     ^^^^^^^"),
        ("group 17", "      ^^"),
        ("group 5 5", "        ^"),  # an extra word
        ("encryption-keysize aes 256 128 192", "                           ^^^"),
        ("encryption-keysize aes 128 256 100", "                               ^^^"),
        ("lifetime 28x00", "         ^^^^^"),
        ("  hash md6", "       ^^^"),  # leading blanks count
    ],
)
def test_a_bad_word_is_echoed_with_carets_under_the_whole_word(line: str, carets: str) -> None:
    # pyats-fitelnet (FX201): blank line, "exit", "^^^^", the error, the prompt at once
    console = isakmp_policy_console()
    prompt = "tokyo(config-isakmp-policy)#"
    assert console.type(line) == f"\n{line}\n{carets}\n{texts.INVALID}\n{prompt}"


def test_unknown_missing_and_ambiguous_input() -> None:
    console = isakmp_policy_console()
    prompt = "\n\ntokyo(config-isakmp-policy)#"
    assert console.type("hahs sha") == "<ERROR> 'hahs' is Unrecognized command" + prompt
    assert console.type("set peer 1.2.3.4") == "<ERROR> 'set' is Unrecognized command" + prompt
    assert console.type("hash") == texts.INCOMPLETE + prompt
    assert console.type("e aes") == texts.AMBIGUOUS + prompt


@pytest.mark.parametrize(
    ("mode", "line"),
    [
        ("crypto ipsec policy P", "set pfs group17"),
        ("crypto ipsec policy P", "set security-association transform esp-aes esp-aes"),
        ("crypto ipsec policy P", "set security-association lifetime seconds 10"),
        ("crypto ipsec policy P", "set ip fragment middle"),
        ("crypto isakmp profile P", "set peer 27.133.132.300"),
        ("crypto isakmp profile P", "ike-version 3"),
        ("crypto isakmp profile P", "self-identity fqdn bad_name!"),
        ("crypto ipsec selector P", "src 1 ipv4 10.0.0.0/33"),
        ("interface ge 1/1", "ip address 10.0.0.1 255.0.255.0"),
    ],
)
def test_typos_in_crypto_values_are_rejected(mode: str, line: str) -> None:
    console = privileged()
    console.configure("configure terminal", mode)
    before = console.device.working_config()
    assert texts.INVALID in console.type(line)
    assert console.device.working_config() == before


def test_abbreviated_keywords_are_stored_in_full() -> None:
    console = privileged()
    assert console.type("conf t") == "tokyo(config)#"
    console.configure("cry isa pol P", "hash sha-2", "h sha-256", "exit", "int ge 1/1", "end")
    assert "crypto isakmp policy P\n hash sha-256\nexit" in console.device.working_config()
    assert "interface GigaEthernet 1/1\nexit" in console.device.working_config()


# --- editing working.cfg ----------------------------------------------------------------


def v1_device(**spec: object) -> LabDevice:
    return make_device(boot_config=V1_CONFIG, **spec)


def test_the_articles_v2_changes_replace_lines_in_place() -> None:
    console = privileged(v1_device())
    console.configure("configure terminal", *V2_CHANGES.splitlines(), "end")
    policy = console.device.working.find("crypto ipsec policy sakuratokyo")
    assert policy is not None and policy.children == [
        "set pfs group14",
        "set security-association always-up",
        "set security-association lifetime seconds 180",
        "set security-association transform esp-sha256-hmac esp-aes",
        "set ip df-bit 0",
        "set ip fragment post",
    ]
    isakmp = console.device.working.find("crypto isakmp policy sakuratokyo")
    assert isakmp is not None and isakmp.children == [
        "authentication pre-share",
        "encryption aes",
        "group 14",
        "lifetime 28800",
        "hash sha-256",
    ]
    assert console.device.current_config() == replay_config(V1_CONFIG).render()


def test_new_lines_and_blocks_are_appended() -> None:
    console = privileged(v1_device())
    console.configure(
        "configure terminal",
        "crypto isakmp policy sakuratokyo",
        "encryption-keysize aes 256 256 256",
        "exit",
        "interface Tunnel 1",
        "tunnel mode ipsec map sakuratokyo",
        "end",
    )
    tree = console.device.working
    isakmp = tree.find("crypto isakmp policy sakuratokyo")
    assert isakmp is not None and isakmp.children[-1] == "encryption-keysize aes 256 256 256"
    assert tree.entries[-1].render() == [
        "interface Tunnel 1",
        " tunnel mode ipsec map sakuratokyo",
        "exit",
    ]


def test_no_removes_lines_and_blocks_and_ignores_what_is_absent() -> None:
    console = privileged(v1_device())
    console.configure(
        "configure terminal",
        "no crypto ipsec security-association lifetime seconds 1800",
        "crypto isakmp policy sakuratokyo",
        "no hash",
        "no group 5",
        "no lifetime 99999",
        "exit",
        "no crypto map sakuratokyo",
        "no crypto ipsec selector nothing-here",
        "end",
    )
    tree = console.device.working
    isakmp = tree.find("crypto isakmp policy sakuratokyo")
    assert isakmp is not None
    assert isakmp.children == ["authentication pre-share", "encryption aes"]
    assert tree.find("crypto map sakuratokyo ipsec-isakmp") is None
    assert tree.find("crypto ipsec security-association lifetime seconds 1800") is None
    assert console.type("no") == texts.INCOMPLETE + "\n\ntokyo#"


def test_no_without_enough_words_to_name_a_setting_is_incomplete() -> None:
    console = privileged(v1_device())
    console.configure("configure terminal", "crypto ipsec policy sakuratokyo")
    assert console.type("no set").startswith(texts.INCOMPLETE)
    assert console.type("no set pfs") == "tokyo(config-ipsec-policy)#"
    assert "set pfs" not in console.device.working_config()


def test_comment_lines_are_ignored_in_config_mode() -> None:
    console = privileged()
    console.type("configure terminal")
    assert console.type("!") == "tokyo(config)#"
    assert console.device.working_config() == ""


def test_show_works_inside_config_modes() -> None:
    console = privileged(v1_device())
    console.configure("configure terminal", "crypto ipsec policy sakuratokyo")
    assert console.type("show working.cfg").startswith("crypto ipsec security-association")


def test_a_bad_boot_config_is_refused_without_quoting_the_line() -> None:
    with pytest.raises(ConfigTextError, match="line 2") as raised:
        replay_config("crypto isakmp profile P\n local-kee SECRET-PSK\nexit\n")
    assert "SECRET-PSK" not in str(raised.value)


# --- commit, refresh, save, restore, load ---------------------------------------------


def edited(console: Console) -> Console:
    console.configure("configure terminal", "crypto isakmp policy sakuratokyo", "group 14", "end")
    return console


def test_commit_applies_working_to_current_and_tells_the_world() -> None:
    world = FakeWorld()
    device = v1_device()
    device.world = world
    console = edited(privileged(device))
    assert "group 14" not in device.current_config()
    output = console.type("commit")
    assert output == "tokyo#"
    assert "group 14" in device.current_config()
    assert device.current_config() == device.working_config()
    assert world.changed == ["tokyo"]


def test_a_refresh_model_rejects_commit_and_asks_before_refresh() -> None:
    device = v1_device(commit_command="refresh")
    console = edited(privileged(device))
    assert console.type("commit") == (
        " " * len("tokyo#") + "^\n" + texts.INVALID_PERCENT + "\n\ntokyo#"
    )
    assert console.type("refresh") == "refresh ok?[y/N]:"
    assert console.type("") == "tokyo#"
    assert "group 14" not in device.current_config()
    console.type("refresh")
    assert console.type("y") == "tokyo#"
    assert "group 14" in device.current_config()


def test_refresh_moff_does_not_ask() -> None:
    device = v1_device()
    console = edited(privileged(device))
    assert console.type("refresh moff") == "tokyo#"
    assert device.current_config() == device.working_config()


def test_save_asks_then_writes_working_to_the_boot_file() -> None:
    device = v1_device()
    console = edited(privileged(device))
    assert console.type("save") == "save ok?[y/N]:"
    assert console.type("n") == "tokyo#"
    assert "group 14" not in device.boot_config()
    console.type("save")
    assert console.type("y") == "tokyo#"
    assert device.files["/drive/boot.cfg"] == device.working_config()
    assert "group 14" not in device.current_config()  # save does not commit
    assert console.type("show config /drive/boot.cfg") == device.working_config() + "\ntokyo#"


def test_save_to_another_file_and_load_it_back() -> None:
    device = v1_device()
    console = edited(privileged(device))
    assert console.type("save backup.cfg moff") == "tokyo#"
    assert device.files["/drive/backup.cfg"] == device.working_config()
    console.type("restore moff")
    assert "group 14" not in device.working_config()
    assert console.type("load /drive/backup.cfg") == "load ok?[y/N]:"
    assert console.type("yes") == "tokyo#"
    assert "group 14" in device.working_config()
    assert console.type("load missing.cfg moff") == texts.COMMAND_FAILED + "\n\ntokyo#"


def test_restore_throws_working_edits_away() -> None:
    device = v1_device()
    console = edited(privileged(device))
    assert console.type("restore") == "restore ok?[y/N]:"
    assert console.type("y") == "tokyo#"
    assert device.working_config() == device.current_config()


def test_boot_configuration_chooses_the_file_save_writes() -> None:
    device = v1_device()
    console = privileged(device)
    console.type("boot configuration other.cfg")
    assert console.type("show boot") == texts.show_boot("/drive/other.cfg") + "\ntokyo#"
    console.type("save moff")
    assert device.files["/drive/other.cfg"] == device.working_config()


def test_commit_output_never_looks_like_a_netmiko_failure() -> None:
    console = edited(privileged(v1_device()))
    for line in ("commit", "save moff", "restore moff", "refresh moff"):
        output = console.type(line).lower()
        assert "error" not in output and "failed" not in output


def test_processing_commands_are_refused_while_another_holds_the_lock() -> None:
    async def scenario() -> None:
        device = v1_device(commit_seconds=3600)
        first, second = CliSession(device), CliSession(device)
        for session in (first, second):
            await session.handle_line("enable")
            await session.handle_line("enable-secret")
        commit = asyncio.create_task(first.handle_line("commit"))
        while not device.processing_lock.locked():
            await asyncio.sleep(0)  # let the first session reach its lock (no timing involved)
        busy = texts.BUSY + "\n\ntokyo#"
        for line in ("commit", "refresh", "save", "restore moff", "load x.cfg"):
            assert await second.handle_line(line) == busy
            assert second.failed
        commit.cancel()

    asyncio.run(scenario())


def test_a_confirmed_save_is_refused_when_the_lock_was_taken_meanwhile() -> None:
    async def scenario() -> None:
        device = v1_device()
        console = CliSession(device)
        await console.handle_line("enable")
        await console.handle_line("enable-secret")
        assert await console.handle_line("save") == "save ok?[y/N]:"
        async with device.processing_lock:
            assert await console.handle_line("y") == texts.BUSY + "\n\ntokyo#"

    asyncio.run(scenario())


# --- warnings between sessions -------------------------------------------------------------


def test_another_sessions_uncommitted_edits_are_announced() -> None:
    device = v1_device()
    alice = edited(privileged(device))
    bob = privileged(device)
    assert bob.type("configure terminal") == texts.OTHER_EDITOR + "\n\ntokyo(config)#"
    bob.type("end")
    assert alice.type("configure terminal") == "tokyo(config)#"  # her own edits
    alice.type("end")
    alice.type("commit")
    assert bob.type("configure terminal") == "tokyo(config)#"


def test_leaving_with_unsaved_edits_warns() -> None:
    device = v1_device()
    console = edited(privileged(device))
    console.type("commit")
    assert console.type("exit") == texts.NOT_SAVED + "\n"
    assert console.session.closed

    saved = edited(privileged(device))
    saved.type("save moff")
    assert saved.type("logout") == ""
    assert saved.session.closed


# --- show commands and the world ------------------------------------------------------------


def test_show_commands() -> None:
    world = FakeWorld()
    device = v1_device(firmware="01.12(00)[0]00.00.0 [2023/07/26 15:00]")
    device.world = world
    console = privileged(device)
    assert console.type("show version") == REAL_SHOW_VERSION + "\ntokyo#"
    assert console.type("show running-config") == device.current_config() + "\ntokyo#"
    assert console.type("show current.cfg") == replay_config(V1_CONFIG).render() + "\ntokyo#"
    assert console.type("show boot") == " Boot configuration file : /drive/boot.cfg\n\ntokyo#"
    assert console.type("show crypto sa") == "\n  SA of tokyo\n\ntokyo#"
    assert console.type("clear crypto sa") == "tokyo#"
    assert world.cleared == ["tokyo"]


def test_show_crypto_sa_without_a_world_has_no_sas() -> None:
    console = privileged()
    assert console.type("show crypto sa") == texts.EMPTY_CRYPTO_SA + "\ntokyo#"


# --- pager ------------------------------------------------------------------------------------


def paged_session(device: LabDevice, height: int) -> CliSession:
    session = CliSession(device, page_height=height)
    asyncio.run(session.handle_line("enable"))
    asyncio.run(session.handle_line("enable-secret"))
    return session


def test_long_output_pages_until_no_more() -> None:
    device = v1_device()
    lines = device.current_config().splitlines()
    session = paged_session(device, height=10)
    first = asyncio.run(session.handle_line("show current.cfg"))
    assert first == "\n".join(lines[:9]) + "\n" + texts.PAGER
    modes = [session.input_mode]
    erase = texts.PAGER_ERASE
    assert session.handle_key("x") == ""
    assert session.handle_key(" ") == erase + "\n".join(lines[9:18]) + "\n" + texts.PAGER
    assert session.handle_key("\r") == erase + lines[18] + "\n" + texts.PAGER
    assert session.handle_key("q") == erase + "tokyo#"
    # Collected, not asserted one by one: mypy would keep the first narrowing of the property.
    modes.append(session.input_mode)
    assert modes == [InputMode.KEY, InputMode.LINE]
    assert asyncio.run(session.handle_line("no more")) == "more : off\n\ntokyo#"
    assert asyncio.run(session.handle_line("show current.cfg")).endswith("!\n\ntokyo#")


def test_paging_to_the_end_shows_the_prompt() -> None:
    device = v1_device()
    session = paged_session(device, height=30)
    output = asyncio.run(session.handle_line("show current.cfg"))
    rest = session.handle_key(" ")
    assert (output + rest).replace(texts.PAGER + texts.PAGER_ERASE, "") == (
        device.current_config() + "\ntokyo#"
    )


def test_shells_without_a_terminal_and_exec_requests_never_page() -> None:
    device = v1_device()
    shell = Console(device, SessionKind.SHELL).enable()
    shell.session.set_page_height(5)
    assert shell.type("show current.cfg") == device.current_config() + "\ntokyo#"
    exec_session = CliSession(device, SessionKind.EXEC, page_height=5)
    assert asyncio.run(exec_session.handle_line("show current.cfg")) == device.current_config()


# --- exec requests ----------------------------------------------------------------------------


def test_exec_sessions_are_privileged_without_prompts() -> None:
    device = v1_device()
    session = CliSession(device, SessionKind.EXEC)
    assert session.greeting() == ""
    assert asyncio.run(session.handle_line("show version")) == REAL_SHOW_VERSION
    assert not session.failed
    assert (
        asyncio.run(session.handle_line("show nothing"))
        == "\nshow nothing\n     ^^^^^^^\n" + texts.INVALID + "\n"
    )
    assert session.failed


# --- faults -----------------------------------------------------------------------------------


def test_commit_fails_once() -> None:
    device = v1_device()
    device.faults = DeviceFaults(commit_fails=True)
    console = edited(privileged(device))
    assert console.type("commit") == texts.COMMAND_FAILED + "\n\ntokyo#"
    assert console.session.failed
    assert "group 14" not in device.current_config()
    assert "group 14" in device.working_config()
    assert console.type("commit") == "tokyo#"
    assert "group 14" in device.current_config()


def test_a_device_keeps_its_last_commands_but_kill_after_counts_them_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lab polled for days stays bounded; ``kill-after:COMMAND@N`` counts from the first."""
    monkeypatch.setattr(model, "COMMANDS_KEPT", 3)
    console = privileged()  # enable, no more
    device, session = console.device, console.session
    device.faults = DeviceFaults(kill_after=("no more", 5))
    for _ in range(3):
        console.type("no more")
    assert list(device.commands) == ["no more"] * 3  # enable is forgotten
    assert device.command_counts == {"enable": 1, "no more": 4}
    assert not session.answered_last_words
    console.type("no more")
    assert session.answered_last_words


def test_the_first_session_over_the_line_limit_is_dropped_once() -> None:
    device = v1_device()
    device.faults = DeviceFaults(drop_after_lines=3)
    console = privileged(device)
    console.configure("configure terminal", "crypto isakmp policy sakuratokyo", "group 14")
    assert console.type("") == "tokyo(config-isakmp-policy)#"  # blank lines do not count
    console.type("hash sha-256")
    with pytest.raises(DropConnection):
        console.type("lifetime 3600")
    assert console.session.closed
    assert "lifetime 3600" not in device.working_config()
    assert "hash sha-256" in device.working_config()
    assert device.faults.drop_after_lines is None
    other = privileged(device)
    other.configure("configure terminal", "crypto isakmp policy sakuratokyo", "lifetime 3600")
    assert "lifetime 3600" in device.working_config()


# --- the terminal line discipline ---------------------------------------------------------------


def run_terminal(device: LabDevice, data: str, kind: SessionKind = SessionKind.TERMINAL) -> str:
    written: list[str] = []
    terminal = Terminal(CliSession(device, kind), written.append)
    terminal.feed(data)
    terminal.feed_eof()
    asyncio.run(terminal.run_shell())
    return "".join(written)


def test_every_line_end_style_ends_exactly_one_line() -> None:
    output = run_terminal(make_device(), "show version\r\nshow version\nshow version\r")
    assert output.count("tokyo>") == 4
    assert output.count("\r\n\r\ntokyo>") == 3


def test_backspace_ctrl_c_and_escape_sequences_edit_the_line() -> None:
    output = run_terminal(make_device(), "shox\x7fw version\r" + "junk\x03" + "\x1b[Aexit\r")
    assert "shox\b \bw version\r\n" in output
    assert "junk^C\r\ntokyo>exit\r\n" in output
    assert output.count("F220   Version") == 2


def test_ctrl_u_erases_a_line_typed_in_one_burst() -> None:
    output = run_terminal(make_device(), "show junk\x15show version\r")
    assert "tokyo>show junk" + "\b \b" * 9 + "show version\r\n" in output
    assert output.count("F220   Version") == 2  # one show version (its table names it twice)


def test_passwords_are_not_echoed_and_type_ahead_follows_the_output() -> None:
    output = run_terminal(make_device(), "enable\renable-secret\rshow boot\r")
    assert "enable-secret" not in output
    assert output.endswith(
        "tokyo#show boot\r\n Boot configuration file : /drive/boot.cfg\r\n\r\ntokyo#"
    )


def test_a_shell_without_a_pty_uses_plain_line_feeds() -> None:
    output = run_terminal(make_device(), "show version\n", SessionKind.SHELL)
    assert "\r" not in output
    assert output == "tokyo>show version\n" + REAL_SHOW_VERSION + "\ntokyo>"


def test_an_exec_request_reads_confirmations_from_stdin() -> None:
    device = v1_device()
    written: list[str] = []
    terminal = Terminal(CliSession(device, SessionKind.EXEC), written.append)
    terminal.feed("y\n")
    assert asyncio.run(terminal.run_exec("save other.cfg")) == 0
    assert "".join(written) == "save ok?[y/N]:"
    assert "/drive/other.cfg" in device.files

    terminal = Terminal(CliSession(device, SessionKind.EXEC), written.append)
    terminal.feed_eof()
    assert asyncio.run(terminal.run_exec("save third.cfg")) == 0
    assert "/drive/third.cfg" not in device.files
    assert asyncio.run(terminal.run_exec("show nothing")) == 1
