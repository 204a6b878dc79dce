"""The inventory loader on damaged inventories: it loads, or says file, key and what is wrong.

The seeds are the shipped examples (``inventory/**/*.yaml``) and the inventory a
lab writes. Each is damaged the ways hand-edited YAML goes wrong: a key deleted
or misspelt, a value of the wrong type or out of range, a list where a mapping
belongs, unicode, a line lost or cut, a tab, broken YAML, an empty file, bytes
that are not UTF-8; and secret references that point nowhere.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzz_helpers import GARBAGE, fuzz, mutated_lines
from helpers import ROOT, lab_inventory_path, one_line_error, run_in_process
from hypothesis import event, given
from hypothesis import strategies as st

from fitelctl.inventory import (
    Inventory,
    InventoryError,
    SecretError,
    load_inventory,
    resolve_secret,
)
from fitelctl.lab.runner import BackgroundLab, LabOptions

EXAMPLES = sorted((ROOT / "inventory").rglob("*.yaml"))
#: the loader's own YAML reader, so a difference between PyYAML's two readers is not a finding
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Path_ = tuple[Any, ...]


#: every key the schema knows, set (the examples leave most optional ones out)
EVERY_KEY = """
version: 1
defaults: {driver: scrapli, known_hosts: kh, connect_timeout: 5.5, command_timeout: 20,
           workers: 8, backup_dir: b, audit_log: a.jsonl, verify_timeout: 90}
api: {root_url: "http://127.0.0.1:1/", zone: tk1v, token: "env:T", secret: "file:s",
      retry_max: 3, timeout: 12.5, migration_call: "PUT /x Y"}
sites:
  osaka:
    device: {host: 192.0.2.20, port: 2222, username: u, password: "env:P",
             enable_password: "keyring:f220/osaka", private_key: k, driver: netmiko,
             connect_timeout: 3, command_timeout: 9.5}
    tunnel:
      name: sakuraosaka
      interface: 2
      wan_address: 10.0.0.1
      public_address: 198.51.100.1
      self_identity: 10.0.0.1
      selectors: [{src: 10.0.0.0/24, dst: any}]
      routes: [192.168.0.0/24, 192.168.1.0/24]
      preset: sakura-v1
      crypto: {ike_version: 1, ike_encryption: aes, ike_key_size: [128, 256, 128],
               ike_hash: sha-256, dh_group: 14, ike_lifetime: 3600,
               esp_transform: [esp-aes, esp-sha256-hmac], esp_key_size: [128, 256, 256],
               pfs_group: 14, ipsec_lifetime: 600, global_ipsec_lifetime: 600,
               keepalive_interval: 10}
      psk: "file:secrets/osaka.psk"
    cloud: {version: 2, global_address: 203.0.113.1, vpc_router_id: 1, zone: is1a,
            peer: 198.51.100.1, remote_id: 10.0.0.1, encryption_algo: aes128,
            hash_algo: sha1, dh_group: modp1024, ike_lifetime: 28800, esp_lifetime: 1800,
            dpd_interval: 10, dpd_timeout: 20}
"""


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every example inventory and a lab's, parsed."""
    found = {str(p.relative_to(ROOT)): yaml.safe_load(p.read_text()) for p in EXAMPLES}
    found["every key"] = yaml.safe_load(EVERY_KEY)
    state = tmp_path_factory.mktemp("lab")
    with BackgroundLab(LabOptions(state_dir=state, sites=2)):
        found["lab inventory.yaml"] = yaml.safe_load(lab_inventory_path(state).read_text())
    return found


@pytest.fixture(scope="module")
def inventory_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each example writes its inventory (over the previous one)."""
    return tmp_path_factory.mktemp("inventory")


def test_every_seed_loads(seeds: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """Mutations start from valid inventories, so what breaks is what was mutated."""
    assert len(seeds) >= 4
    for name, data in seeds.items():
        path = tmp_path / "inventory.yaml"
        path.write_text(yaml.safe_dump(data))
        assert set(load_inventory(path).sites) == set(data["sites"]), name


# --- mutations of the parsed document ---------------------------------------------------


def nodes(data: Any, path: Path_ = ()) -> Iterator[Path_]:
    """The path of every value under ``data`` (mapping keys and list positions)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*path, key)
            yield from nodes(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield (*path, index)
            yield from nodes(value, (*path, index))


def get(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([-1, 0, 65536, 2**31, 2**64, -(2**70)]),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["aes512", "SHA256", "sakura-v3", "netmiko ", "modp2048\n", "\uff11", "\x00"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
KEY_NAMES = st.text(max_size=20) | st.sampled_from(
    ["prot", "hots", "psk ", "Version", "global-address", "wan_adress", "sites", "routes"]
)


INF, NAN = float("inf"), float("nan")


def _replace(data: Any, path: Path_, value: Any) -> None:
    get(data, path[:-1])[path[-1]] = value


@st.composite
def structural_change(draw: st.DrawFn, data: dict[str, Any]) -> list[Path_]:
    """Change ``data`` in place at one place; return where (both names of a renamed key)."""
    kind = draw(st.sampled_from(["delete", "value", "unknown key", "wrap", "number", "rename"]))
    paths = list(nodes(data))
    if kind == "number":
        paths = [p for p in paths if _is_number(get(data, p))] or paths
    path = draw(st.sampled_from(paths))
    parent = get(data, path[:-1])
    old = parent[path[-1]]
    if kind == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif kind == "unknown key" and isinstance(old, dict):
        key = draw(KEY_NAMES.filter(lambda k: k not in old))
        old[key] = draw(VALUES)
        return [(*path, key)]
    elif kind == "rename" and isinstance(parent, dict):
        key = draw(KEY_NAMES.filter(lambda k: k not in parent))
        parent[key] = parent.pop(path[-1])
        return [path, (*path[:-1], key)]
    elif kind == "wrap":
        wrapped = draw(st.sampled_from(["list", "mapping", "key"]))
        if wrapped == "key" and not isinstance(old, list | dict):
            _replace(data, path, {old: old})
        else:
            _replace(data, path, [old] if wrapped == "list" else {"value": old})
    elif kind == "number" and _is_number(old):
        changed = [-old, old * 10**12, 0, old + 0.5, str(old), INF, -INF, NAN]
        _replace(data, path, draw(st.sampled_from(changed)))
    else:
        _replace(data, path, draw(VALUES))
    return [path]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def dotted(path: Path_) -> str:
    """A key path as the loader prints it: ``sites.tokyo.device.port``."""
    shown = [str(part) for part in path]
    return ".".join(p if p and p.isprintable() and p == p.strip() else repr(p) for p in shown)


def assert_names_file_key_and_problem(err: InventoryError, path: Path) -> str:
    """One line: ``FILE: KEY.PATH: what is wrong``; returns the key path."""
    message = str(err)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"{path}: "), message
    key, _, problem = message.removeprefix(f"{path}: ").partition(": ")
    assert key and problem.strip(), message
    return key


@fuzz(150)
@given(data=st.data())
def test_a_changed_key_or_value_loads_or_is_named(
    seeds: dict[str, dict[str, Any]], inventory_dir: Path, data: st.DataObject
) -> None:
    document = json.loads(json.dumps(data.draw(st.sampled_from(sorted(seeds.items())))[1]))
    changed = [dotted(where) for where in data.draw(structural_change(document), label="at")]
    path = inventory_dir / data.draw(st.sampled_from(["inventory.yaml", "my site ü.yml"]))
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    try:
        inventory = load_inventory(path)
    except InventoryError as err:
        key = assert_names_file_key_and_problem(err, path)
        event("refused")
        # the error is where the change is: at it, inside it, or at the block it belongs to
        assert any(key.startswith(c) or c.startswith(key) for c in changed), (key, changed)
        return
    event("loads")
    assert isinstance(inventory, Inventory)
    assert set(inventory.sites) == set(document["sites"])
    # every number is one a socket or a timer can take: no .inf or .nan timeout
    json.dumps(inventory.model_dump(mode="json"), allow_nan=False)
    assert inventory.base_dir == path.parent


#: ends of a file saved in another encoding, or cut inside a UTF-8 character
NOT_UTF8 = [b"\xff\xfe", "\u00fc".encode("latin-1"), b"\xe3\x81"]


@fuzz(150)
@given(data=st.data())
def test_damaged_yaml_text_loads_or_is_named(
    seeds: dict[str, dict[str, Any]], inventory_dir: Path, data: st.DataObject
) -> None:
    document = data.draw(st.sampled_from(sorted(seeds.items())))[1]
    lines = yaml.safe_dump(document, allow_unicode=True).splitlines()
    extra = st.sampled_from(["\t", "  ", "- ", ": ", "{", "[", "&a", "*a", "!!python/object "])
    lines = data.draw(mutated_lines(lines, max_mutations=3), label="lines")
    if data.draw(st.booleans()) and lines:  # YAML's own ways to break
        at = data.draw(st.integers(0, len(lines) - 1))
        lines[at] = data.draw(extra | GARBAGE) + lines[at]
    content = "\n".join(lines).encode("utf-8")
    if data.draw(st.integers(0, 4)) == 2:  # one in five
        content += data.draw(st.sampled_from(NOT_UTF8))
    path = inventory_dir / "inventory.yaml"
    path.write_bytes(content)
    try:
        inventory = load_inventory(path)
    except InventoryError as err:
        message = str(err)
        assert len(message.splitlines()) == 1 and message.startswith(f"{path}:"), message
        event(assert_says_what_is_wrong(message, content, path))
        return
    event("loads")
    expected = yaml.load(content.decode("utf-8"), Loader=_LOADER)
    assert set(inventory.sites) == set(expected["sites"])


def assert_says_what_is_wrong(message: str, content: bytes, path: Path) -> str:
    """The message matches what is really wrong with the file, found independently."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as err:
        line = content[: err.start].count(b"\n") + 1
        assert f"line {line} is not UTF-8 text" in message, message
        return "not UTF-8"
    try:
        document = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as err:
        assert "not valid YAML" in message, message
        mark = getattr(err, "problem_mark", None)
        if mark is not None:
            assert f"line {mark.line + 1}" in message, message
        return "not YAML"
    if not isinstance(document, dict):
        assert "expected a mapping with 'sites'" in message, message
        return "not a mapping"
    key = message.removeprefix(f"{path}: ").partition(": ")[0]
    top = key.split(".")[0]
    assert top in {dotted((k,)) for k in document} | {"sites"}, (key, list(document))
    return "invalid key or value"


def test_an_empty_file_is_named(tmp_path: Path) -> None:
    for content in ("", "\n\n", "# only a comment\n"):
        path = tmp_path / "inventory.yaml"
        path.write_text(content)
        with pytest.raises(InventoryError, match="expected a mapping with 'sites'"):
            load_inventory(path)


# --- regressions found by the fuzzing above ------------------------------------------------


def test_bytes_that_are_not_utf8_are_named(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_bytes(b"version: 1\nsites: {tokyo: \xff}\n")
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    assert str(err.value) == f"{path}: line 2 is not UTF-8 text"


def test_a_key_with_a_line_break_is_quoted(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text('version: 1\nsites:\n  "tok\\nyo": {}\n')
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    assert str(err.value) == f"{path}: sites.'tok\\nyo'.device: required key is missing"


def test_an_unreadable_character_gives_its_line(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text("version: 1\nsites:\n  tokyo: \x00\n")
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    assert str(err.value) == f"{path}: line 3 is not valid YAML"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("file:latin1.psk", "cannot read secret file {dir}/latin1.psk: not UTF-8 text"),
        ("file:a\x00b", "cannot read secret file '{dir}/a\\x00b': not a valid path"),
        ("env:TOKYO\nPSK", "environment variable 'TOKYO\\nPSK' is not set"),
    ],
)
def test_a_secret_that_cannot_be_read_is_named(tmp_path: Path, ref: str, expected: str) -> None:
    (tmp_path / "latin1.psk").write_bytes("schl\u00fcssel".encode("latin-1"))
    inventory = Inventory.model_validate({"sites": {}, "base_dir": tmp_path})
    with pytest.raises(SecretError) as err:
        resolve_secret(ref, inventory, what="sites.tokyo.tunnel.psk")
    assert str(err.value) == "sites.tokyo.tunnel.psk: " + expected.format(dir=tmp_path)


# --- secret references that point nowhere -------------------------------------------------

ENV_NAMES = st.text(min_size=1, max_size=20).filter(lambda n: n not in os.environ)
FILE_TARGETS = st.one_of(
    st.text(min_size=1, max_size=30),
    st.sampled_from(["secrets", "missing/tokyo.psk", "/dev/null", "empty.psk", "latin1.psk", ".."]),
)


@fuzz(100)
@given(data=st.data())
def test_a_secret_reference_resolves_or_is_named(inventory_dir: Path, data: st.DataObject) -> None:
    (inventory_dir / "secrets").mkdir(exist_ok=True)
    (inventory_dir / "empty.psk").write_text("\n")
    (inventory_dir / "latin1.psk").write_bytes("schlüssel".encode("latin-1"))
    (inventory_dir / "good.psk").write_text("a-good-psk-1\n")
    scheme = data.draw(st.sampled_from(["env", "file"]))
    target = data.draw(ENV_NAMES if scheme == "env" else FILE_TARGETS | st.just("good.psk"))
    ref = f"{scheme}:{target}"
    inventory = Inventory.model_validate(
        {
            "sites": {
                "tokyo": {
                    "device": {"host": "192.0.2.10", "username": "admin"},
                    "tunnel": {"name": "t", "wan_address": "192.0.2.1", "psk": ref},
                    "cloud": {"version": 2, "global_address": "192.0.2.2"},
                }
            },
            "base_dir": inventory_dir,
        }
    )
    what = "sites.tokyo.tunnel.psk"
    try:
        value = resolve_secret(ref, inventory, what=what)
    except SecretError as err:
        event("refused")
        message = str(err)
        assert len(message.splitlines()) == 1, message
        assert message.startswith(f"{what}: "), message
        assert "environment variable" in message if scheme == "env" else "secret" in message
        return
    assert scheme == "file" and value == "a-good-psk-1"


def test_a_missing_secret_through_the_command_line(tmp_path: Path) -> None:
    """`check` names the key and the variable, exits 1, and prints no traceback."""
    data = yaml.safe_load((ROOT / "inventory" / "examples" / "article-v2.yaml").read_text())
    data["sites"]["tokyo"]["tunnel"]["psk"] = "env:FITELCTL_FUZZ_NOT_SET"
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    result = run_in_process("-i", str(path), "check", "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "sites.tokyo.tunnel.psk: environment variable FITELCTL_FUZZ_NOT_SET is not set" in (
        result.stdout
    )


@fuzz(5)
@given(data=st.data())
def test_a_damaged_inventory_through_the_command_line(
    seeds: dict[str, dict[str, Any]], data: st.DataObject
) -> None:
    """The real command line: exit 2, one line naming the file, no traceback."""
    document = json.loads(json.dumps(data.draw(st.sampled_from(sorted(seeds.items())))[1]))
    data.draw(structural_change(document))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inventory.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        try:
            load_inventory(path)
        except InventoryError as err:
            result = run_in_process("-i", str(path), "check")
            line = one_line_error(result, str(path))
            assert result.returncode == 2 and line == f"fitelctl: error: {err}"


@pytest.mark.parametrize("value", [".inf", ".nan", "-.inf"])
def test_a_timeout_that_is_not_a_number_is_named(tmp_path: Path, value: str) -> None:
    """Found by the fuzzing above: `.inf` loaded, then a socket refused it with a traceback."""
    path = tmp_path / "inventory.yaml"
    path.write_text(EVERY_KEY.replace("connect_timeout: 3,", f"connect_timeout: {value},"))
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    assert str(err.value) == f"{path}: sites.osaka.device.connect_timeout: " + (
        "Input should be a finite number"
    )
