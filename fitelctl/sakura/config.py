"""Where the API client's settings come from, and in which order they win.

Lowest to highest precedence: built-in defaults → the usacloud profile, where
one is present → values the inventory gives → the ``SAKURACLOUD_*`` environment
(docs/domain.md#connection-and-credentials: the environment overrides the inventory,
as for usacloud and terraform).  The profile only fills what the inventory leaves unset: an
operator's personal usacloud profile must not redirect an inventory that names
its own API (the lab's, for one).  Empty values count as unset at every level:
usacloud writes ``""`` and ``0`` for what it was never told.

The usacloud profile layout is that of ``sacloud/api-client-go``'s profile
package: ``<base>/.usacloud/<name>/config.json`` with ``AccessToken``,
``AccessTokenSecret``, ``Zone``, ``APIRootURL``, ``RetryMax`` and
``HTTPRequestTimeout``; ``<base>`` is ``$SAKURACLOUD_PROFILE_DIR`` or
``$USACLOUD_PROFILE_DIR`` or the home directory; the name is ``$USACLOUD_PROFILE``,
else the content of ``<base>/.usacloud/current``, else ``default``.  A named
profile that does not exist is an error; a missing ``default`` is not.

Defaults follow the SDK family (terraform-provider-sakura: 10 retries, 300 s
request timeout, 10 requests/s).  The VPC router version migration call is
UNKNOWN in public sources (docs/domain.md#unknowns-and-what-fitelctl-assumes), so it is
a setting: see ``MigrationCall``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fitelctl.redact import SECRETS
from fitelctl.sakura.errors import ConfigError

ZONES = ("is1a", "is1b", "is1c", "tk1a", "tk1b", "tk1v")
DEFAULT_ROOT_URL = "https://secure.sakura.ad.jp/cloud/zone"
DEFAULT_ZONE = "is1a"
DEFAULT_RETRY_MAX = 10
DEFAULT_TIMEOUT = 300.0
#: requests per second per account (the SDK family's self-throttle)
DEFAULT_RATE_LIMIT = 10.0

ENV_TOKEN = "SAKURACLOUD_ACCESS_TOKEN"
ENV_SECRET = "SAKURACLOUD_ACCESS_TOKEN_SECRET"
ENV_ZONE = "SAKURACLOUD_ZONE"
ENV_ROOT_URL = "SAKURACLOUD_API_ROOT_URL"
ENV_RETRY_MAX = "SAKURACLOUD_RETRY_MAX"
ENV_TIMEOUT = "SAKURACLOUD_API_REQUEST_TIMEOUT"
ENV_RATE_LIMIT = "SAKURACLOUD_API_REQUEST_RATE_LIMIT"
ENV_PROFILE = "USACLOUD_PROFILE"
ENV_PROFILE_DIRS = ("SAKURACLOUD_PROFILE_DIR", "USACLOUD_PROFILE_DIR")

_METHODS = ("GET", "PUT", "POST", "DELETE")


@dataclass(frozen=True)
class MigrationCall:
    """The HTTP call that migrates a VPC router to another version: UNKNOWN publicly.

    The control panel cannot do it and no SDK exposes it
    (docs/domain.md#unknowns-and-what-fitelctl-assumes), so method,
    path and body field are configurable.  The default is what the embedded lab
    serves: ``PUT appliance/{id}/vpcrouter/version`` with ``{"Version": N}``.
    ``path`` is relative to the zone's API base and may use ``{id}`` and
    ``{version}``; an empty ``version_field`` sends no body.
    """

    method: str = "PUT"
    path: str = "appliance/{id}/vpcrouter/version"
    version_field: str = "Version"

    @classmethod
    def parse(cls, text: str, *, source: str) -> MigrationCall:
        """``"PUT /appliance/{id}/vpcrouter/version"`` (optionally ``Version`` after it)."""
        parts = text.split()
        if len(parts) not in (2, 3) or parts[0].upper() not in _METHODS:
            raise ConfigError(
                f"{source}={text!r}: expected 'METHOD PATH [BODY_FIELD]', "
                "e.g. 'PUT /appliance/{id}/vpcrouter/version Version'"
            )
        field_name = parts[2] if len(parts) == 3 else ""
        return cls(parts[0].upper(), parts[1].lstrip("/"), field_name)

    def render(self, appliance_id: int, version: int) -> tuple[str, str, dict[str, Any] | None]:
        path = self.path.replace("{id}", str(appliance_id)).replace("{version}", str(version))
        body = {self.version_field: version} if self.version_field else None
        return self.method, path, body


@dataclass(frozen=True)
class ApiSettings:
    """Everything the client needs; ``token`` and ``secret`` never appear in its repr."""

    token: str = field(repr=False)
    secret: str = field(repr=False)
    zone: str = DEFAULT_ZONE
    root_url: str = DEFAULT_ROOT_URL
    retry_max: int = DEFAULT_RETRY_MAX
    timeout: float = DEFAULT_TIMEOUT
    #: exponential backoff bounds between retries, seconds (jitter is applied on top)
    retry_wait_min: float = 1.0
    retry_wait_max: float = 64.0
    #: self-throttle, requests per second per account (token) across this process
    rate_limit: float = DEFAULT_RATE_LIMIT
    migration_call: MigrationCall = MigrationCall()

    @property
    def api_url(self) -> str:
        """``{root}/{zone}/api/cloud/1.1/``: every path of the client is relative to it."""
        return f"{self.root_url.rstrip('/')}/{self.zone}/api/cloud/1.1/"


_T = TypeVar("_T")


def resolve_api_settings(
    *,
    token: str | None = None,
    secret: str | None = None,
    zone: str | None = None,
    root_url: str | None = None,
    retry_max: int | None = None,
    timeout: float | None = None,
    rate_limit: float | None = None,
    migration_call: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    inventory_label: str = "inventory api",
) -> ApiSettings:
    """Merge defaults, inventory values (the keyword arguments), profile and environment."""
    env = os.environ if environ is None else environ
    given = {
        "token": token,
        "secret": secret,
        "zone": zone,
        "root_url": root_url,
        "retry_max": retry_max,
        "timeout": timeout,
        "rate_limit": rate_limit,
    }
    values: dict[str, tuple[str, str]] = dict(_profile_values(env, home))
    values.update(  # setting -> (where it came from, raw value)
        (name, (f"{inventory_label}.{name}", str(value)))
        for name, value in given.items()
        if value not in (None, "")
    )
    values.update(
        (name, (key, env[key])) for key, name in _ENV_TO_SETTING.items() if env.get(key, "").strip()
    )

    def get(name: str, parse: Callable[[str, str], _T], default: _T) -> _T:
        if name not in values:
            return default
        where, raw = values[name]
        return parse(where, raw.strip())

    settings = ApiSettings(
        token=get("token", _text, ""),
        secret=get("secret", _text, ""),
        zone=get("zone", _zone, DEFAULT_ZONE),
        root_url=get("root_url", _url, DEFAULT_ROOT_URL),
        retry_max=get("retry_max", _count, DEFAULT_RETRY_MAX),
        timeout=get("timeout", _seconds, DEFAULT_TIMEOUT),
        rate_limit=get("rate_limit", _rate, DEFAULT_RATE_LIMIT),
    )
    if migration_call:
        call = MigrationCall.parse(migration_call, source=f"{inventory_label} migration_call")
        settings = replace(settings, migration_call=call)
    SECRETS.add(settings.secret)
    SECRETS.add(settings.token)
    if not settings.token or not settings.secret:
        raise ConfigError(
            f"no Sakura Cloud API key: set {ENV_TOKEN} and {ENV_SECRET}, or give them in "
            "the inventory or a usacloud profile"
        )
    return settings


_ENV_TO_SETTING = {
    ENV_TOKEN: "token",
    ENV_SECRET: "secret",
    ENV_ZONE: "zone",
    ENV_ROOT_URL: "root_url",
    ENV_RETRY_MAX: "retry_max",
    ENV_TIMEOUT: "timeout",
    ENV_RATE_LIMIT: "rate_limit",
}

_PROFILE_KEYS = {
    "AccessToken": "token",
    "AccessTokenSecret": "secret",
    "Zone": "zone",
    "APIRootURL": "root_url",
    "RetryMax": "retry_max",
    "HTTPRequestTimeout": "timeout",
    "HTTPRequestRateLimit": "rate_limit",
}


def _profile_values(env: Mapping[str, str], home: Path | None) -> dict[str, tuple[str, str]]:
    base = next((Path(env[k]) for k in ENV_PROFILE_DIRS if env.get(k)), None)
    if base is None:
        base = home if home is not None else Path.home()
    config_dir = base / ".usacloud"
    name = env.get(ENV_PROFILE, "").strip()
    if not name:
        current = config_dir / "current"
        name = current.read_text(encoding="utf-8").strip() if current.is_file() else ""
    name = name or "default"
    if "/" in name or "\\" in name or name in (".", ".."):
        raise ConfigError(f"usacloud profile name {name!r} is not a plain name")
    path = config_dir / name / "config.json"
    if not path.is_file():
        if name == "default":
            return {}
        raise ConfigError(f"usacloud profile '{name}' not found: no {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: not a readable usacloud profile ({err})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a usacloud profile (expected a JSON object)")
    return {
        setting: (f"{path} {key}", str(data[key]))
        for key, setting in _PROFILE_KEYS.items()
        if data.get(key) not in (None, "", 0)
    }


def _text(_where: str, raw: str) -> str:
    return raw


def _zone(where: str, raw: str) -> str:
    if raw not in ZONES:
        raise ConfigError(f"{where}={raw!r}: unknown zone (known: {', '.join(ZONES)})")
    return raw


def _url(where: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}={raw!r}: expected an http(s) URL")
    if parts.username or parts.password:
        raise ConfigError(f"{where}: the URL must not carry credentials")
    return raw


def _count(where: str, raw: str) -> int:
    if not raw.isdigit():
        raise ConfigError(f"{where}={raw!r}: expected a whole number of retries (0 or more)")
    return int(raw)


def _rate(where: str, raw: str) -> float:
    return _positive(where, raw, "a number of requests per second")


def _seconds(where: str, raw: str) -> float:
    return _positive(where, raw, "a number of seconds")


def _positive(where: str, raw: str, expected: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{where}={raw!r}: expected {expected} greater than 0")
    return value
