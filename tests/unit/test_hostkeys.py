"""known_hosts parsing, matching, fingerprints and trust decisions (no network)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from fitelctl.fitelnet.drivers import DeviceTarget, HostKeyChanged, HostKeyRejected, HostKeyUnknown
from fitelctl.fitelnet.drivers.hostkeys import (
    HostKey,
    KnownHostsEntry,
    Verdict,
    append_known_host,
    check_host_key,
    entries_for,
    host_token,
    known_key_types,
    load_known_hosts,
    parse_known_hosts,
    refused_host_key,
    sha256_fingerprint,
    trusted_file,
    type_label,
)

# An ed25519 key and what `ssh-keygen -lf` printed for it.
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINJHnitV0pZP8GcLFn7odv29Knf5RTcgfzkEHWa2M+HN"
ED25519_SHA256 = "SHA256:kggP1FMhTTb80u49XTClB6KKs+nUE1ivuJSv9F08/cA"
OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPiSxN8hL4Jf58NnqhOGQI/X2UB+1lcng5RJ9JGSKNjj"
# `ssh-keygen -H` of a "[127.0.0.1]:22221 <ED25519>" line.
HASHED_22221 = "|1|5fJWUwTRMpNltEvcZsKj22C1I6g=|WGf0SUAPwWvEct5jDXwJF+nhHPY="

KEY = HostKey.from_openssh(ED25519)
OTHER_KEY = HostKey.from_openssh(OTHER)
RSA_KEY = HostKey("ssh-rsa", b"\x00\x00\x00\x07ssh-rsa-not-a-real-key")


def entries(text: str) -> list[KnownHostsEntry]:
    return parse_known_hosts(text, Path("known_hosts"))


def test_fingerprint_is_printed_as_openssh_does() -> None:
    assert KEY.fingerprint == ED25519_SHA256
    assert sha256_fingerprint(b"") == "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
    assert "=" not in KEY.fingerprint


@pytest.mark.parametrize(
    ("key_type", "label"),
    [
        ("ssh-ed25519", "ED25519"),
        ("ssh-rsa", "RSA"),
        ("rsa-sha2-512", "RSA"),
        ("ecdsa-sha2-nistp256", "ECDSA"),
        ("sk-ssh-ed25519@openssh.com", "ED25519-SK"),
        ("unheard-of-type", "unheard-of-type"),
    ],
)
def test_type_labels(key_type: str, label: str) -> None:
    assert type_label(key_type) == label


def test_openssh_round_trip_and_bad_input() -> None:
    assert KEY.openssh() == ED25519
    assert HostKey.from_openssh(ED25519 + " comment@host") == KEY
    with pytest.raises(ValueError):
        HostKey.from_openssh("ssh-ed25519")
    with pytest.raises(ValueError):
        HostKey.from_openssh("ssh-ed25519 not*base64")


def test_host_token_brackets_non_default_ports() -> None:
    assert host_token("192.0.2.1", 22) == "192.0.2.1"
    assert host_token("127.0.0.1", 2222) == "[127.0.0.1]:2222"


def test_parse_skips_comments_blank_and_malformed_lines_keeping_line_numbers() -> None:
    parsed = entries(
        "# comment\n\n"
        f"[127.0.0.1]:2222 {ED25519}\n"
        "garbage-line\n"
        "host ssh-ed25519 !!!notbase64\n"
        f"@revoked revoked.example {OTHER}\n"
        f"  indented.example,10.0.0.1 {ED25519} trailing comment\n"
    )
    assert [(e.line_no, e.hosts, e.marker) for e in parsed] == [
        (3, "[127.0.0.1]:2222", None),
        (6, "revoked.example", "@revoked"),
        (7, "indented.example,10.0.0.1", None),
    ]
    assert parsed[0].key == KEY and parsed[1].key == OTHER_KEY


@pytest.mark.parametrize(
    ("hosts", "token", "expected"),
    [
        ("[127.0.0.1]:2222", "[127.0.0.1]:2222", True),
        ("[127.0.0.1]:2222", "[127.0.0.1]:2223", False),
        ("[127.0.0.1]:2222", "127.0.0.1", False),  # brackets are not a character class
        ("127.0.0.1", "[127.0.0.1]:2222", False),
        ("router.example,192.0.2.1", "192.0.2.1", True),
        ("*.example", "tokyo.example", True),
        ("192.0.2.?", "192.0.2.7", True),
        ("192.0.2.?", "192.0.2.17", False),
        ("*.example,!bad.example", "bad.example", False),
        ("ROUTER.example", "router.EXAMPLE", True),
        (HASHED_22221, "[127.0.0.1]:22221", True),
        (HASHED_22221, "[127.0.0.1]:22222", False),
        ("|1|not|valid", "x", False),
    ],
)
def test_host_matching(hosts: str, token: str, expected: bool) -> None:
    (entry,) = entries(f"{hosts} {ED25519}\n")
    assert entry.matches(token) is expected


def test_check_trusted_unknown_changed() -> None:
    known = entries(f"# lab\n[127.0.0.1]:2222 {ED25519}\n[127.0.0.1]:3333 {OTHER}\n")
    assert check_host_key(known, "127.0.0.1", 2222, KEY).verdict is Verdict.TRUSTED
    assert check_host_key(known, "127.0.0.1", 4444, KEY).verdict is Verdict.UNKNOWN
    changed = check_host_key(known, "127.0.0.1", 3333, KEY)
    assert changed.verdict is Verdict.CHANGED
    assert changed.entry is not None and changed.entry.line_no == 3


def test_a_host_known_under_another_key_type_counts_as_changed() -> None:
    known = entries(f"[127.0.0.1]:2222 {ED25519}\n")
    result = check_host_key(known, "127.0.0.1", 2222, RSA_KEY)
    assert result.verdict is Verdict.CHANGED
    assert result.entry is not None and result.entry.line_no == 1


def test_hashed_entries_are_checked() -> None:
    known = entries(f"{HASHED_22221} {ED25519}\n")
    assert check_host_key(known, "127.0.0.1", 22221, KEY).verdict is Verdict.TRUSTED
    assert check_host_key(known, "127.0.0.1", 22221, OTHER_KEY).verdict is Verdict.CHANGED


def test_markers() -> None:
    known = entries(
        f"@cert-authority [127.0.0.1]:2222 {OTHER}\n"
        f"@revoked [127.0.0.1]:2222 {OTHER}\n"
        f"[127.0.0.1]:2222 {ED25519}\n"
    )
    assert check_host_key(known, "127.0.0.1", 2222, KEY).verdict is Verdict.TRUSTED
    revoked = check_host_key(known, "127.0.0.1", 2222, OTHER_KEY)
    assert revoked.verdict is Verdict.REVOKED
    assert revoked.entry is not None and revoked.entry.line_no == 2
    only_ca = entries(f"@cert-authority [127.0.0.1]:2222 {OTHER}\n")
    assert check_host_key(only_ca, "127.0.0.1", 2222, OTHER_KEY).verdict is Verdict.UNKNOWN


def test_known_key_types_in_file_order() -> None:
    rsa = "ssh-rsa " + base64.b64encode(RSA_KEY.blob).decode()
    known = entries(f"[h]:2 {rsa}\n[h]:2 {ED25519}\n[h]:2 {OTHER}\n[x]:2 {ED25519}\n")
    assert known_key_types(known, "h", 2) == ["ssh-rsa", "ssh-ed25519"]
    assert known_key_types(known, "nobody", 2) == []


def test_entries_for_a_host_are_those_that_match_it_in_file_order(tmp_path: Path) -> None:
    """The indexed lookup a fleet uses finds exactly what matching every line finds."""
    path = tmp_path / "known_hosts"
    path.write_text(
        f"[127.0.0.1]:22221 {OTHER}\n"
        f"{HASHED_22221} {ED25519}\n"
        f"[127.0.0.1]:*,!192.0.2.9 {OTHER}\n"
        f"192.0.2.1,[127.0.0.1]:22221,[127.0.0.1]:22221 {ED25519}\n"
        f"@revoked [127.0.0.1]:22221 {OTHER}\n"
        f"192.0.2.? {ED25519}\n"
        f"HOST.example {ED25519}\n"
    )
    everything = load_known_hosts(path)
    for host, port in [("127.0.0.1", 22221), ("192.0.2.1", 22), ("host.EXAMPLE", 22), ("x", 1)]:
        token = host_token(host, port)
        expected = [entry for entry in everything if entry.matches(token)]
        assert entries_for(path, host, port) == expected
    assert [e.line_no for e in entries_for(path, "127.0.0.1", 22221)] == [1, 2, 3, 4, 5]
    path.write_text(f"[127.0.0.1]:22221 {OTHER}\n")  # a changed file is read again
    assert [e.key for e in entries_for(path, "127.0.0.1", 22221)] == [OTHER_KEY]
    assert entries_for(tmp_path / "missing", "127.0.0.1", 22221) == []
    assert entries_for(None, "127.0.0.1", 22221) == []


def test_the_file_paramiko_gets_holds_only_what_is_trusted_for_the_host(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(
        f"{HASHED_22221} {ED25519}\n"  # hashed: written under the plain name
        f"[127.0.0.1]:* {OTHER}\n"  # a wildcard naming the host
        "@revoked [127.0.0.1]:22221 " + OTHER + "\n"  # ... but revoked for it
        f"192.0.2.1 {OTHER}\n"  # another host
    )
    mine = trusted_file(path, "127.0.0.1", 22221)
    assert mine.read_text() == f"[127.0.0.1]:22221 {ED25519}\n"
    assert oct(mine.parent.stat().st_mode)[-3:] == "700"
    assert trusted_file(path, "192.0.2.1", 22).read_text() == f"192.0.2.1 {OTHER}\n"
    assert trusted_file(path, "nobody", 22).read_text() == ""
    assert trusted_file(None, "127.0.0.1", 22221).read_text() == ""
    path.write_text(f"[127.0.0.1]:22221 {OTHER}\n")  # a changed file gives a new one
    assert trusted_file(path, "127.0.0.1", 22221).read_text() == f"[127.0.0.1]:22221 {OTHER}\n"


def test_append_creates_the_file_and_completes_a_last_line(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "known_hosts"
    assert load_known_hosts(path) == []
    assert append_known_host(path, "127.0.0.1", 2222, KEY) == 1
    path.write_text(path.read_text() + "# no newline at the end")
    assert append_known_host(path, "192.0.2.1", 22, OTHER_KEY) == 3
    assert path.read_text().splitlines() == [
        f"[127.0.0.1]:2222 {ED25519}",
        "# no newline at the end",
        f"192.0.2.1 {OTHER}",
    ]
    known = load_known_hosts(path)
    assert check_host_key(known, "192.0.2.1", 22, OTHER_KEY).verdict is Verdict.TRUSTED


def target(known_hosts: Path | None, *, trust: bool = False) -> DeviceTarget:
    return DeviceTarget(
        site="tokyo",
        host="127.0.0.1",
        port=2222,
        username="admin",
        password="Pw-unit-1",
        enable_password=None,
        known_hosts=known_hosts,
        trust_new_host_key=trust,
    )


def test_refused_unknown_key_names_type_fingerprint_and_how_to_trust(tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    error = refused_host_key(target(known_hosts), presented=KEY)
    assert isinstance(error, HostKeyUnknown)
    message = str(error)
    assert message.startswith("tokyo (127.0.0.1:2222): ")
    assert f"ED25519 key fingerprint is {ED25519_SHA256}" in message
    assert str(known_hosts) in message and "--trust-new-host-key" in message
    assert "\n" not in message
    assert not known_hosts.exists()


def test_trusting_appends_only_unknown_keys(tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    assert refused_host_key(target(known_hosts, trust=True), presented=KEY) is None
    assert known_hosts.read_text() == f"[127.0.0.1]:2222 {ED25519}\n"
    assert isinstance(
        refused_host_key(target(known_hosts, trust=True), presented=KEY, may_trust=False),
        HostKeyRejected,
    )
    changed = refused_host_key(target(known_hosts, trust=True), presented=OTHER_KEY)
    assert isinstance(changed, HostKeyChanged)
    assert changed.line == 1 and changed.fingerprint == OTHER_KEY.fingerprint
    assert f"{known_hosts}:1" in str(changed) and OTHER_KEY.fingerprint in str(changed)
    assert known_hosts.read_text() == f"[127.0.0.1]:2222 {ED25519}\n"


def test_no_known_hosts_file_refuses_even_when_trusting() -> None:
    error = refused_host_key(target(None, trust=True), presented=KEY)
    assert isinstance(error, HostKeyUnknown)
    assert "no known_hosts file" in str(error)
