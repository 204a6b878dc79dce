"""The VPC router's ``Settings`` JSON: built from the world, validated, hashed.

The API hands settings around as JSON with a ``SettingsHash`` that changes
with them (a write carrying a stale hash is refused).  These helpers are the
JSON side only; ``vpc_router.LabVpcRouter`` decides when settings reach the
world's router.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from typing import Any

from fitelctl.lab.api_errors import bad_request
from fitelctl.lab.scenarios import CLOUD_LOCAL_PREFIX
from fitelctl.lab.world import VpcRouter

ENCRYPTION_ALGOS = ("aes128", "aes256")
HASH_ALGOS = ("sha1", "sha256")
DH_GROUPS = ("modp1024", "modp2048", "modp3072", "modp4096")
MAX_PSK = 40


def settings_hash(settings: dict[str, Any]) -> str:
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.md5(canonical.encode(), usedforsecurity=False).hexdigest()


def version2_fields(router: VpcRouter) -> dict[str, Any]:
    """The ``SiteToSiteIPsecVPN`` crypto settings only version 2 has."""
    return {
        "IKE": {"Lifetime": router.ike_lifetime, "DPD": {"Interval": 15, "Timeout": 30}},
        "ESP": {"Lifetime": router.esp_lifetime},
        "EncryptionAlgo": router.encryption_algo,
        "HashAlgo": router.hash_algo,
        "DHGroup": router.dh_group,
    }


def settings_from(router: VpcRouter) -> dict[str, Any]:
    """The settings that describe the world's router as the scenario built it."""
    local = ipaddress.ip_network(CLOUD_LOCAL_PREFIX)
    vpn: dict[str, Any] = {
        "Config": [
            {
                "Peer": p.peer,
                "PreSharedSecret": p.psk,
                "RemoteID": p.remote_id,
                "Routes": [],
                "LocalPrefix": [CLOUD_LOCAL_PREFIX],
            }
            for p in router.peers
        ],
        "Enabled": "True",
    }
    if router.version >= 2:
        vpn.update(version2_fields(router))
    return {
        "Router": {
            "Interfaces": [
                None,
                {"IPAddress": [str(local.network_address + 1)], "NetworkMaskLen": local.prefixlen},
            ],
            "SiteToSiteIPsecVPN": vpn,
        }
    }


def validate_settings(settings: dict[str, Any], version: int) -> None:
    """Refuse (400) settings the real router would refuse on ``version``."""
    router = settings.get("Router")
    if not isinstance(router, dict):
        raise bad_request("Settings.Router is required")
    vpn = router.get("SiteToSiteIPsecVPN")
    if vpn is None:
        return
    if not isinstance(vpn, dict) or not isinstance(vpn.get("Config", []), list):
        raise bad_request("SiteToSiteIPsecVPN.Config must be a list")
    for entry in vpn.get("Config", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("Peer"), str):
            raise bad_request("SiteToSiteIPsecVPN.Config[].Peer is required")
        if len(str(entry.get("PreSharedSecret", ""))) > MAX_PSK:
            raise bad_request(f"PreSharedSecret must be at most {MAX_PSK} characters")
    for section in ("IKE", "ESP"):
        lifetime = (vpn.get(section) or {}).get("Lifetime")
        if lifetime is not None and not str(lifetime).strip().isdigit():
            raise bad_request(f"SiteToSiteIPsecVPN.{section}.Lifetime must be a whole number")
    if str(vpn.get("Enabled", "True")) not in ("True", "False"):
        raise bad_request("SiteToSiteIPsecVPN.Enabled must be 'True' or 'False'")
    choices = {"EncryptionAlgo": ENCRYPTION_ALGOS, "HashAlgo": HASH_ALGOS, "DHGroup": DH_GROUPS}
    for key, allowed in choices.items():
        if key not in vpn:
            continue
        if version < 2:
            raise bad_request(f"{key} is only available on VPC router version 2")
        if vpn[key] not in allowed:
            raise bad_request(f"{key} must be one of {', '.join(allowed)}")
