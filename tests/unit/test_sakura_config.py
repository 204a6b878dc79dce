"""API settings: defaults < inventory < usacloud profile < environment; bad values named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fitelctl.redact import SECRETS
from fitelctl.sakura.config import (
    DEFAULT_ROOT_URL,
    MigrationCall,
    resolve_api_settings,
)
from fitelctl.sakura.errors import ConfigError

ENV = {"SAKURACLOUD_ACCESS_TOKEN": "env-token", "SAKURACLOUD_ACCESS_TOKEN_SECRET": "env-secret"}


def write_profile(home: Path, name: str, values: dict[str, object]) -> Path:
    path = home / ".usacloud" / name / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(values))
    return path


def test_defaults(tmp_path: Path) -> None:
    settings = resolve_api_settings(environ=ENV, home=tmp_path)
    assert (settings.zone, settings.root_url) == ("is1a", DEFAULT_ROOT_URL)
    assert (settings.retry_max, settings.timeout, settings.rate_limit) == (10, 300.0, 10.0)
    assert settings.api_url == "https://secure.sakura.ad.jp/cloud/zone/is1a/api/cloud/1.1/"
    assert settings.migration_call == MigrationCall("PUT", "appliance/{id}/vpcrouter/version")


def test_inventory_values_apply_when_nothing_overrides_them(tmp_path: Path) -> None:
    settings = resolve_api_settings(
        token="inv-token",
        secret="inv-secret",
        zone="tk1v",
        root_url="http://127.0.0.1:9/",
        retry_max=2,
        timeout=7.5,
        environ={},
        home=tmp_path,
    )
    assert (settings.token, settings.secret, settings.zone) == ("inv-token", "inv-secret", "tk1v")
    assert (settings.retry_max, settings.timeout) == (2, 7.5)
    assert settings.api_url == "http://127.0.0.1:9/tk1v/api/cloud/1.1/"


def test_the_environment_overrides_the_inventory(tmp_path: Path) -> None:
    environ = {
        **ENV,
        "SAKURACLOUD_ZONE": "is1b",
        "SAKURACLOUD_API_ROOT_URL": "http://127.0.0.1:8/root",
        "SAKURACLOUD_RETRY_MAX": "0",
        "SAKURACLOUD_API_REQUEST_TIMEOUT": "12",
    }
    settings = resolve_api_settings(
        token="inv-token",
        secret="inv-secret",
        zone="tk1v",
        retry_max=5,
        environ=environ,
        home=tmp_path,
    )
    assert (settings.token, settings.secret, settings.zone) == ("env-token", "env-secret", "is1b")
    assert (settings.root_url, settings.retry_max, settings.timeout) == (
        "http://127.0.0.1:8/root",
        0,
        12.0,
    )


def test_empty_environment_values_are_unset(tmp_path: Path) -> None:
    environ = {**ENV, "SAKURACLOUD_ZONE": "", "SAKURACLOUD_RETRY_MAX": " "}
    settings = resolve_api_settings(zone="tk1a", environ=environ, home=tmp_path)
    assert (settings.zone, settings.retry_max) == ("tk1a", 10)


def test_the_default_usacloud_profile_only_fills_what_the_inventory_leaves_unset(
    tmp_path: Path,
) -> None:
    write_profile(
        tmp_path,
        "default",
        {"AccessToken": "p-token", "AccessTokenSecret": "p-secret", "Zone": "tk1b", "RetryMax": 0},
    )
    settings = resolve_api_settings(
        token="inv-token", zone="is1c", retry_max=4, environ={}, home=tmp_path
    )
    # the inventory wins over the profile; the profile fills the secret the inventory
    # left out; usacloud writes 0 and "" for what it was never told: those do not count
    assert (settings.token, settings.secret, settings.zone, settings.retry_max) == (
        "inv-token",
        "p-secret",
        "is1c",
        4,
    )
    environ = {"SAKURACLOUD_ZONE": "is1a"}
    assert resolve_api_settings(environ=environ, home=tmp_path).zone == "is1a"


def test_the_current_profile_and_usacloud_profile_choose_the_file(tmp_path: Path) -> None:
    for name in ("default", "work", "lab"):
        write_profile(
            tmp_path, name, {"AccessToken": f"{name}-token", "AccessTokenSecret": "sec-77"}
        )
    (tmp_path / ".usacloud" / "current").write_text("work\n")
    assert resolve_api_settings(environ={}, home=tmp_path).token == "work-token"
    chosen = resolve_api_settings(environ={"USACLOUD_PROFILE": "lab"}, home=tmp_path)
    assert chosen.token == "lab-token"


def test_the_profile_directory_can_be_moved(tmp_path: Path) -> None:
    elsewhere = tmp_path / "profiles"
    write_profile(
        elsewhere, "default", {"AccessToken": "moved-token", "AccessTokenSecret": "sec-78"}
    )
    environ = {"SAKURACLOUD_PROFILE_DIR": str(elsewhere)}
    assert resolve_api_settings(environ=environ, home=tmp_path / "home").token == "moved-token"


def test_a_named_profile_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="usacloud profile 'nope' not found"):
        resolve_api_settings(environ={**ENV, "USACLOUD_PROFILE": "nope"}, home=tmp_path)


def test_an_unreadable_profile_names_its_file(tmp_path: Path) -> None:
    path = write_profile(tmp_path, "default", {})
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"config\.json: not a readable usacloud profile"):
        resolve_api_settings(environ=ENV, home=tmp_path)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "SAKURACLOUD_RETRY_MAX",
            "three",
            "SAKURACLOUD_RETRY_MAX='three': expected a whole number",
        ),
        ("SAKURACLOUD_RETRY_MAX", "-1", "SAKURACLOUD_RETRY_MAX='-1': expected a whole number"),
        ("SAKURACLOUD_ZONE", "xx1a", "SAKURACLOUD_ZONE='xx1a': unknown zone (known: is1a, is1b"),
        ("SAKURACLOUD_API_REQUEST_TIMEOUT", "0", "SAKURACLOUD_API_REQUEST_TIMEOUT='0': expected"),
        ("SAKURACLOUD_API_REQUEST_TIMEOUT", "soon", "SAKURACLOUD_API_REQUEST_TIMEOUT='soon'"),
        ("SAKURACLOUD_API_ROOT_URL", "ftp://x", "SAKURACLOUD_API_ROOT_URL='ftp://x': expected an"),
        (
            "SAKURACLOUD_API_REQUEST_RATE_LIMIT",
            "0",
            "SAKURACLOUD_API_REQUEST_RATE_LIMIT='0': expected a number of requests per second",
        ),
    ],
)
def test_bad_values_name_the_variable(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        resolve_api_settings(environ={**ENV, variable: value}, home=tmp_path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_inventory_values_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"inventory api\.zone='tk9z': unknown zone"):
        resolve_api_settings(zone="tk9z", environ=ENV, home=tmp_path)


def test_credentials_in_the_root_url_are_refused_without_echoing_them(tmp_path: Path) -> None:
    environ = {**ENV, "SAKURACLOUD_API_ROOT_URL": "https://user:hunter2@example.invalid/"}
    with pytest.raises(ConfigError) as err:
        resolve_api_settings(environ=environ, home=tmp_path)
    assert "hunter2" not in str(err.value)


def test_missing_credentials_say_where_to_put_them(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="SAKURACLOUD_ACCESS_TOKEN and SAKURACLOUD_ACCESS_TOKEN_SECRET"
    ):
        resolve_api_settings(token="only-a-token", environ={}, home=tmp_path)


def test_the_secret_is_registered_and_never_in_the_repr(tmp_path: Path) -> None:
    environ = {
        "SAKURACLOUD_ACCESS_TOKEN": "tok-4f1d",
        "SAKURACLOUD_ACCESS_TOKEN_SECRET": "sec-9b2e",
    }
    settings = resolve_api_settings(environ=environ, home=tmp_path)
    assert "sec-9b2e" not in repr(settings) and "tok-4f1d" not in repr(settings)
    assert SECRETS.redact("token tok-4f1d secret sec-9b2e") == "token <redacted> secret <redacted>"


def test_the_migration_call_is_a_setting(tmp_path: Path) -> None:
    default = resolve_api_settings(environ=ENV, home=tmp_path).migration_call
    assert default.render(7, 2) == ("PUT", "appliance/7/vpcrouter/version", {"Version": 2})
    custom = resolve_api_settings(
        migration_call="post /appliance/{id}/migrate/{version}", environ=ENV, home=tmp_path
    ).migration_call
    assert custom.render(7, 2) == ("POST", "appliance/7/migrate/2", None)
    with pytest.raises(ConfigError, match="migration_call='upgrade it': expected 'METHOD PATH"):
        resolve_api_settings(migration_call="upgrade it", environ=ENV, home=tmp_path)


def test_the_rate_limit_comes_from_inventory_profile_or_environment_as_the_sdk_reads_it(
    tmp_path: Path,
) -> None:
    """The SDK's names: ``HTTPRequestRateLimit`` in a usacloud profile,
    ``SAKURACLOUD_API_REQUEST_RATE_LIMIT`` in the environment (sacloud/api-client-go
    ``options.go``: ``OptionsFromProfile``, ``OptionsFromEnv``)."""
    assert resolve_api_settings(rate_limit=50, environ=ENV, home=tmp_path).rate_limit == 50
    write_profile(tmp_path, "default", {"HTTPRequestRateLimit": 4})
    assert resolve_api_settings(environ=ENV, home=tmp_path).rate_limit == 4
    assert resolve_api_settings(rate_limit=2, environ=ENV, home=tmp_path).rate_limit == 2
    environ = {**ENV, "SAKURACLOUD_API_REQUEST_RATE_LIMIT": "25"}
    assert resolve_api_settings(rate_limit=2, environ=environ, home=tmp_path).rate_limit == 25
