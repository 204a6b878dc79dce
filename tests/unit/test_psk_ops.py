"""PSK generation and storage for a rotation: where the reference points, never the key shown."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from fitelctl.inventory import Inventory, resolve_secret
from fitelctl.ops.check import PSK_ALLOWED_CHARACTERS, psk_findings
from fitelctl.ops.psk import PskError, generate_psk, store_psk
from fitelctl.private_files import write_private_file
from fitelctl.redact import MASK, SECRETS

OLD = "old-Key-4711-abcdef"
NEW = "new-Key-0815-uvwxyz"


def inventory(tmp_path: Path, psk_ref: str) -> Inventory:
    return Inventory.model_validate(
        {
            "sites": {
                "tokyo": {
                    "device": {"host": "127.0.0.1", "username": "admin"},
                    "tunnel": {
                        "name": "sakuratokyo",
                        "wan_address": "172.30.128.254",
                        "psk": psk_ref,
                    },
                    "cloud": {"version": 2, "global_address": "27.133.132.134"},
                }
            },
            "base_dir": tmp_path,
        }
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def no_keys(text: str, *keys: str) -> bool:
    return "\n" not in text and not any(key in text for key in keys)


# -- generate -------------------------------------------------------------------------------


def test_generated_keys_pass_check_and_are_redacted() -> None:
    keys = {generate_psk() for _ in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert len(key) == 32 and set(key) <= PSK_ALLOWED_CHARACTERS
        assert psk_findings(key) == []
        assert SECRETS.redact(f"key={key}") == f"key={MASK}"
    assert len(generate_psk(40)) == 40 and psk_findings(generate_psk(16)) == []


@pytest.mark.parametrize("length", [0, 8, 41])
def test_generated_key_length_is_bounded(length: int) -> None:
    with pytest.raises(PskError, match=rf"16 to 40 characters .*not {length}"):
        generate_psk(length)


# -- file: ----------------------------------------------------------------------------------


def test_file_reference_is_replaced_and_the_previous_key_kept(tmp_path: Path) -> None:
    inv = inventory(tmp_path, "file:secrets/tokyo.psk")
    key_file = tmp_path / "secrets" / "tokyo.psk"
    key_file.parent.mkdir()
    key_file.write_text(OLD + "\n")
    key_file.chmod(0o644)

    message = store_psk(inv, "tokyo", NEW)
    previous = tmp_path / "secrets" / "tokyo.psk.previous"
    assert message == (
        f"tokyo: stored the new pre-shared key in {key_file} (mode 0600), previous key kept in "
        f"{previous}"
    )
    assert key_file.read_text() == NEW + "\n" and mode(key_file) == 0o600
    assert previous.read_text() == OLD + "\n" and mode(previous) == 0o600
    assert resolve_secret("file:secrets/tokyo.psk", inv, what="psk") == NEW
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["tokyo.psk", "tokyo.psk.previous"]

    # a resumed run stores the same key again: the previous key must survive
    assert "already holds the new pre-shared key" in store_psk(inv, "tokyo", NEW)
    assert previous.read_text() == OLD + "\n"
    assert no_keys(message, OLD, NEW)


def test_file_reference_without_a_file_yet(tmp_path: Path) -> None:
    inv = inventory(tmp_path, "file:keys/tokyo.psk")
    message = store_psk(inv, "tokyo", NEW)
    key_file = tmp_path / "keys" / "tokyo.psk"
    assert message == f"tokyo: stored the new pre-shared key in {key_file} (mode 0600)"
    assert key_file.read_text() == NEW + "\n" and mode(key_file) == 0o600
    assert mode(key_file.parent) == 0o700


def test_a_symlinked_key_file_is_written_through(tmp_path: Path) -> None:
    store = tmp_path / "mounted" / "tokyo.psk"
    store.parent.mkdir()
    store.write_text(OLD)
    (tmp_path / "tokyo.psk").symlink_to(store)
    store_psk(inventory(tmp_path, "file:tokyo.psk"), "tokyo", NEW)
    assert (tmp_path / "tokyo.psk").is_symlink() and store.read_text() == NEW + "\n"


def test_unwritable_key_file_says_where_not_what(tmp_path: Path) -> None:
    (tmp_path / "secrets").write_text("a file where a directory should be")
    with pytest.raises(PskError) as err:
        store_psk(inventory(tmp_path, "file:secrets/tokyo.psk"), "tokyo", NEW)
    message = str(err.value)
    assert message.startswith("tokyo: cannot ") and "secrets" in message
    assert no_keys(message, NEW)


@pytest.mark.parametrize(
    ("key", "rule_text"),
    [("with space-Kq2x", "character(s)"), ("x" * 41, "41 characters"), ("", "empty")],
)
def test_a_key_check_refuses_is_not_stored(tmp_path: Path, key: str, rule_text: str) -> None:
    (tmp_path / "tokyo.psk").write_text(OLD)
    with pytest.raises(PskError, match="not storing the new pre-shared key") as err:
        store_psk(inventory(tmp_path, "file:tokyo.psk"), "tokyo", key)
    assert rule_text in str(err.value)
    assert not key or key not in str(err.value)
    assert (tmp_path / "tokyo.psk").read_text() == OLD


def test_private_file_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    write_private_file(path, "one", overwrite=False)
    with pytest.raises(FileExistsError):
        write_private_file(path, "two", overwrite=False)
    assert path.read_text() == "one" and mode(path) == 0o600
    write_private_file(path, "three")
    assert path.read_text() == "three" and os.listdir(tmp_path) == ["export.json"]


# -- env: -----------------------------------------------------------------------------------


def test_env_reference_gets_an_instruction_not_a_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKYO_PSK", OLD)
    inv = inventory(tmp_path, "env:TOKYO_PSK")
    message = store_psk(inv, "tokyo", NEW)
    assert message.startswith("tokyo: tunnel.psk is env:TOKYO_PSK, which fitelctl cannot change")
    assert "set the environment variable TOKYO_PSK to the new pre-shared key" in message
    assert os.environ["TOKYO_PSK"] == OLD
    assert no_keys(message, OLD, NEW)


# -- keyring: --------------------------------------------------------------------------------


def test_keyring_reference_without_the_package_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # import keyring -> ImportError
    with pytest.raises(PskError) as err:
        store_psk(inventory(tmp_path, "keyring:fitelctl/tokyo"), "tokyo", NEW)
    message = str(err.value)
    assert "the 'keyring' package is not installed: install it (pip install keyring)" in message
    assert "keyring set fitelctl tokyo" in message and no_keys(message, NEW)


class FakeKeyring:
    def __init__(self, entries: dict[tuple[str, str], str], *, broken: bool = False) -> None:
        self.entries, self.broken = entries, broken

    def get_password(self, service: str, user: str) -> str | None:
        if self.broken:
            raise RuntimeError(f"backend exploded holding {NEW}")
        return self.entries.get((service, user))

    def set_password(self, service: str, user: str, value: str) -> None:
        self.entries[(service, user)] = value


def test_keyring_reference_is_set_with_the_previous_key_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeKeyring({("fitelctl", "tokyo"): OLD})
    monkeypatch.setitem(sys.modules, "keyring", SimpleNamespace(**_methods(fake)))
    inv = inventory(tmp_path, "keyring:fitelctl/tokyo")
    message = store_psk(inv, "tokyo", NEW)
    assert message == (
        "tokyo: stored the new pre-shared key in keyring:fitelctl/tokyo, previous key kept as "
        "keyring:fitelctl/tokyo.previous"
    )
    assert fake.entries == {("fitelctl", "tokyo"): NEW, ("fitelctl", "tokyo.previous"): OLD}


def test_keyring_failure_is_one_line_without_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeKeyring({}, broken=True)
    monkeypatch.setitem(sys.modules, "keyring", SimpleNamespace(**_methods(fake)))
    with pytest.raises(PskError) as err:
        store_psk(inventory(tmp_path, "keyring:fitelctl/tokyo"), "tokyo", NEW)
    message = str(err.value)
    assert "the keyring refused keyring:fitelctl/tokyo (RuntimeError)" in message
    assert no_keys(message, NEW)


def _methods(fake: FakeKeyring) -> dict[str, object]:
    return {"get_password": fake.get_password, "set_password": fake.set_password}
