"""A site's tunnel as the inventory describes it: device side, cloud side, crypto.

Crypto comes from a named preset (the sets known to link up with each VPC router
version, docs/domain.md#vpc-router-versions-1-and-2) plus explicit overrides, so an
inventory says what differs from a known-good set rather than repeating it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from fitelctl.fitelnet import vocabulary as vocab
from fitelctl.inventory.strict import StrictModel
from fitelctl.secret_refs import SecretRef


def _ipv4(value: str) -> str:
    ipaddress.IPv4Address(value)
    return value


def _prefix(value: str) -> str:
    ipaddress.IPv4Network(value)
    return value


def _selector(value: str) -> str:
    return value if value == "any" else _prefix(value)


def _dh_group(value: int) -> int:
    if value not in vocab.DH_GROUPS:
        raise ValueError(f"DH group {value} is not one the F220 knows {vocab.DH_GROUPS}")
    return value


def _key_size(value: list[int]) -> list[int]:
    """``[MIN, MAX, DEFAULT]`` as in ``encryption-keysize aes MIN MAX DEFAULT``."""
    if len(value) != 3 or any(v not in vocab.AES_KEY_BITS for v in value):
        raise ValueError(f"expected [MIN, MAX, DEFAULT] from {vocab.AES_KEY_BITS}")
    low, high, default = value
    if not low <= default <= high:
        raise ValueError("expected MIN <= DEFAULT <= MAX")
    return value


IPv4 = Annotated[str, AfterValidator(_ipv4)]
Prefix = Annotated[str, AfterValidator(_prefix)]
DhGroup = Annotated[int, AfterValidator(_dh_group)]
KeySize = Annotated[list[int], AfterValidator(_key_size)]
Lifetime = Annotated[int, Field(ge=60, le=604800)]


class Selector(StrictModel):
    src: Annotated[str, AfterValidator(_selector)] = "any"
    dst: Annotated[str, AfterValidator(_selector)] = "any"


class CryptoOverrides(StrictModel):
    """Any crypto setting; what is left out comes from the preset."""

    ike_version: Literal[1, 2] | None = None
    ike_encryption: Literal["aes", "3des", "des"] | None = None
    ike_key_size: KeySize | None = None
    ike_hash: Literal["sha", "sha-256", "sha-512", "md5"] | None = None
    dh_group: DhGroup | None = None
    ike_lifetime: Lifetime | None = None
    esp_transform: list[str] | None = Field(
        default=None, description="as typed on the device, e.g. [esp-aes, esp-sha-hmac]"
    )
    esp_key_size: KeySize | None = None
    pfs_group: DhGroup | None = None
    ipsec_lifetime: Lifetime | None = None
    global_ipsec_lifetime: Lifetime | None = None
    keepalive_interval: int | None = Field(default=None, ge=1, le=3600)

    @model_validator(mode="after")
    def _transform_has_one_of_each(self) -> CryptoOverrides:
        if self.esp_transform is not None:
            enc = [t for t in self.esp_transform if t in vocab.ESP_ENCRYPTIONS]
            auth = [t for t in self.esp_transform if t in vocab.ESP_AUTHS]
            if len(enc) != 1 or len(auth) != 1 or len(self.esp_transform) != 2:
                raise ValueError(
                    "esp_transform needs one encryption "
                    f"{vocab.ESP_ENCRYPTIONS} and one integrity {vocab.ESP_AUTHS}"
                )
        return self


@dataclass(frozen=True)
class Crypto:
    """Every crypto setting of a tunnel, resolved (preset + overrides)."""

    ike_version: int
    ike_encryption: str
    ike_key_size: tuple[int, int, int] | None
    ike_hash: str
    dh_group: int
    ike_lifetime: int
    esp_transform: tuple[str, str]
    esp_key_size: tuple[int, int, int] | None
    pfs_group: int | None
    ipsec_lifetime: int
    global_ipsec_lifetime: int
    keepalive_interval: int

    @property
    def esp_auth(self) -> str:
        return next(t for t in self.esp_transform if t in vocab.ESP_AUTHS)

    @property
    def esp_encryption(self) -> str:
        return next(t for t in self.esp_transform if t in vocab.ESP_ENCRYPTIONS)


_V1 = Crypto(
    ike_version=1,
    ike_encryption="aes",
    ike_key_size=None,
    ike_hash="sha",
    dh_group=5,
    ike_lifetime=28800,
    esp_transform=("esp-aes", "esp-sha-hmac"),
    esp_key_size=None,
    pfs_group=5,
    ipsec_lifetime=1800,
    global_ipsec_lifetime=1800,
    keepalive_interval=15,
)

#: Named crypto sets.  ``sakura-v1``: the only set observed to link with a
#: version-1 VPC router (the article's v1 config).  ``sakura-v2``: what linked
#: with a version-2 router set to aes256/sha256/modp2048 (the article's v2
#: change, with the Sakura-default 1800 s IPsec SA lifetime; the article itself
#: then chose 180 s).
PRESETS: dict[str, Crypto] = {
    "sakura-v1": _V1,
    "sakura-v2": Crypto(
        **{
            **_V1.__dict__,
            "ike_hash": "sha-256",
            "dh_group": 14,
            "esp_transform": ("esp-sha256-hmac", "esp-aes"),
            "pfs_group": 14,
        }
    ),
}


class Cloud(StrictModel):
    """The VPC router this site's tunnel ends on, and its peer entry for the site."""

    version: Literal[1, 2]
    global_address: IPv4
    vpc_router_id: int | None = Field(default=None, description="appliance ID for the API")
    zone: str | None = None
    peer: IPv4 | None = Field(default=None, description="the router's Peer (default: public)")
    remote_id: str | None = Field(default=None, description="RemoteID (default: self identity)")
    encryption_algo: Literal["aes128", "aes256"] = "aes128"
    hash_algo: Literal["sha1", "sha256"] = "sha1"
    dh_group: Literal["modp1024", "modp2048", "modp3072", "modp4096"] = "modp2048"
    ike_lifetime: Lifetime = 28800
    esp_lifetime: Lifetime = 1800
    dpd_interval: int = Field(default=15, ge=1)
    dpd_timeout: int = Field(default=30, ge=1)


class Tunnel(StrictModel):
    """The office side: the F220's tunnel to the VPC router."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="FITELnet object name for the policies, selector, profile and map",
    )
    interface: int = Field(default=1, ge=1, le=255, description="interface Tunnel N")
    wan_address: IPv4
    public_address: IPv4 | None = Field(default=None, description="seen from outside (NAT)")
    self_identity: IPv4 | None = None
    selectors: list[Selector] = Field(default_factory=lambda: [Selector()])
    routes: list[Prefix] = Field(default_factory=list)
    preset: str = "sakura-v2"
    crypto: CryptoOverrides = CryptoOverrides()
    psk: SecretRef = Field(description="reference to the pre-shared key (never the key)")

    @model_validator(mode="after")
    def _known_preset(self) -> Tunnel:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset '{self.preset}' (known: {', '.join(PRESETS)})")
        return self

    @property
    def label(self) -> str:
        """How `show crypto sa` names the interface: ``tunnel 1``."""
        return f"tunnel {self.interface}"

    @property
    def identity(self) -> str:
        return self.self_identity or self.wan_address

    @property
    def outside_address(self) -> str:
        return self.public_address or self.wan_address

    def resolved_crypto(self) -> Crypto:
        base = PRESETS[self.preset]
        changes = self.crypto.model_dump(exclude_none=True)
        for key in ("ike_key_size", "esp_key_size", "esp_transform"):
            if key in changes:
                changes[key] = tuple(changes[key])
        return Crypto(**{**base.__dict__, **changes})

    def cloud_peer_address(self, cloud: Cloud) -> str:
        return cloud.peer or self.outside_address

    def cloud_remote_id(self, cloud: Cloud) -> str:
        return cloud.remote_id or self.identity
