"""Random (F220 config, VPC router settings) pairs for the conformance test, seeded.

Each pair is drawn from the whole vocabulary: IKE encryption and key lengths, hash, DH
group, lifetimes, ESP transform and key lengths, PFS on/off and group, keepalive, IKE
version, the office behind NAT or not, the router's version and algorithms, the
router's Peer, the identity the F220 presents (address, fqdn, user-fqdn, none) and the
RemoteID the router wants, equal or different PSKs.  A parameter takes the value the
router would link with only with probability ``LINKING``, otherwise any value of the
vocabulary, so that every phase of the negotiation is reached often enough to be
compared (with independent uniform draws nearly every pair would stop at the first
proposal).  The F220 side is rendered by fitelctl's own generator from an inventory
site; identities the inventory cannot express (fqdn, user-fqdn, none) are edited into
the rendered text, and such pairs carry no inventory (``check`` cannot judge them).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from fitelctl.fitelnet import vocabulary as vocab
from fitelctl.fitelnet.algorithms import HASH_BY_WORD
from fitelctl.ike import CLOUD_AES_BITS, CLOUD_DH_GROUP, CLOUD_HASH_TO_DEVICE, CloudPeer
from fitelctl.inventory import Device, Inventory, Site
from fitelctl.inventory.fitelnet_config import render_text, render_tunnel
from fitelctl.inventory.tunnel import Cloud, Tunnel

SEED = 20261206
COUNT = 300
LINKING = 0.8

ROUTER_GLOBAL = "27.133.132.134"
OFFICE_PUBLIC = "126.169.118.242"
OFFICE_BEHIND_NAT = "172.30.128.254"
ELSEWHERE = "203.0.113.77"  # a Peer / set peer that is not the other side
PSK_ENV = "FITELCTL_CONFORMANCE_PSK"
DEVICE = Device(host="127.0.0.1", username="conformance")


@dataclass(frozen=True)
class Pair:
    number: int
    summary: str  # what was drawn, one line (no PSK)
    nat: bool
    config_text: str  # the F220's committed config
    settings: dict[str, Any]  # the router's Settings
    router_version: int
    cloud_peer: CloudPeer  # the model's view of the router's peer entry
    device_psk: str
    inventory: Inventory | None  # None: the F220 side is outside the inventory's vocabulary

    @property
    def office_public(self) -> str:
        return OFFICE_PUBLIC

    @property
    def device_wan(self) -> str:
        return OFFICE_BEHIND_NAT if self.nat else OFFICE_PUBLIC


def draw_pairs(count: int = COUNT, seed: int = SEED) -> list[Pair]:
    rng = random.Random(seed)
    return [_draw(rng, number) for number in range(count)]


def _draw(rng: random.Random, number: int) -> Pair:
    version = rng.choice((1, 2))
    cloud_fields: dict[str, Any] = {
        "encryption_algo": rng.choice(tuple(CLOUD_AES_BITS)),
        "hash_algo": rng.choice(tuple(CLOUD_HASH_TO_DEVICE)),
        "dh_group": rng.choice(("modp1024", "modp2048", "modp3072", "modp4096")),
        "ike_lifetime": rng.choice((3600, 28800, 86400)),
        "esp_lifetime": rng.choice((180, 1800, 3600)),
    }
    if version == 1:
        bits, hash_, group = 128, "sha", 5
    else:
        bits = CLOUD_AES_BITS[cloud_fields["encryption_algo"]]
        hash_ = CLOUD_HASH_TO_DEVICE[cloud_fields["hash_algo"]]
        group = CLOUD_DH_GROUP[cloud_fields["dh_group"]]

    def linking(value: Any, *others: Any) -> Any:
        return value if rng.random() < LINKING else rng.choice(others)

    crypto: dict[str, Any] = {
        "ike_version": 1 if rng.random() < 0.95 else 2,
        "ike_encryption": "aes" if rng.random() < 0.95 else rng.choice(("3des", "des")),
        "ike_key_size": _key_size(rng, bits),
        "ike_hash": linking(hash_, *vocab.ISAKMP_HASHES),
        "dh_group": linking(group, *vocab.DH_GROUPS),
        "ike_lifetime": rng.choice((3600, 28800, 86400)),
        "esp_transform": [
            "esp-aes" if rng.random() < 0.95 else rng.choice(vocab.ESP_ENCRYPTIONS),
            linking(HASH_BY_WORD[hash_].esp, *vocab.ESP_AUTHS),
        ],
        "esp_key_size": _key_size(rng, bits),
        "pfs_group": linking(group, None, *vocab.DH_GROUPS),
        "ipsec_lifetime": rng.choice((180, 600, 1800, 28800)),
        "keepalive_interval": rng.choice((10, 15, 30)),
    }
    crypto = {k: v for k, v in crypto.items() if v is not None}
    nat = rng.random() < 0.5
    wan = OFFICE_BEHIND_NAT if nat else OFFICE_PUBLIC
    kinds = ("address", "other-address", "fqdn", "user-fqdn", "none")
    kind = rng.choices(kinds, (5, 1, 2, 1, 1))[0]
    identity = {
        "address": wan,
        "other-address": rng.choice((OFFICE_PUBLIC, OFFICE_BEHIND_NAT, "10.20.30.40")),
        "fqdn": "tokyo.example.jp",
        "user-fqdn": "vpn@tokyo.example.jp",
        "none": wan,
    }[kind]
    presented = {"fqdn": "fqdn", "user-fqdn": "user-fqdn"}.get(kind, "address")
    remote_id = (
        identity
        if rng.random() < LINKING
        else rng.choice(
            (OFFICE_PUBLIC, OFFICE_BEHIND_NAT, "tokyo.example.jp", "vpn@tokyo.example.jp")
        )
    )
    peer = OFFICE_PUBLIC if rng.random() < 0.95 else ELSEWHERE
    set_peer = ROUTER_GLOBAL if rng.random() < 0.95 else ELSEWHERE
    device_psk = f"psk-{rng.randrange(10**8):08d}"
    router_psk = device_psk if rng.random() < 0.85 else f"psk-{rng.randrange(10**8):08d}"

    tunnel = Tunnel.model_validate(
        {
            "name": "conformance",
            "wan_address": wan,
            "public_address": OFFICE_PUBLIC if nat else None,
            "self_identity": identity if kind in ("address", "other-address") else None,
            "crypto": crypto,
            "psk": f"env:{PSK_ENV}",
        }
    )
    cloud = Cloud.model_validate(
        {
            "version": version,
            "global_address": ROUTER_GLOBAL,
            "peer": peer,
            "remote_id": remote_id,
            **cloud_fields,
        }
    )
    config_text = _with_identity(
        render_text(
            render_tunnel(tunnel, cloud.model_copy(update={"global_address": set_peer}), device_psk)
        ),
        kind,
        presented,
        identity,
    )
    raw_edits = []
    if rng.random() < 0.08:  # several hashes offered: the inventory has one
        offered = tunnel.resolved_crypto().ike_hash
        extra = rng.choice([h for h in vocab.ISAKMP_HASHES if h != offered])
        config_text = config_text.replace(" hash ", f" hash {extra} ", 1)
        raw_edits.append(f"hash+{extra}")
    if rng.random() < 0.04:  # aggressive mode: the inventory never generates it
        config_text = config_text.replace(" group ", " initiate-mode aggressive\n group ", 1)
        raw_edits.append("aggressive")
    settings = _settings(cloud, version, peer, remote_id, router_psk)
    inventory = None
    if kind in ("address", "other-address") and not raw_edits:
        inventory = Inventory.model_validate(
            {
                "sites": {
                    "pair": {
                        "device": {"host": "127.0.0.1", "username": "conformance"},
                        "tunnel": tunnel.model_dump(exclude_none=True),
                        "cloud": cloud.model_dump(exclude_none=True),
                    }
                }
            }
        )
        if set_peer != ROUTER_GLOBAL:
            inventory = None  # the inventory has one address for both (set peer = global)
    summary = (
        f"#{number} v{version} {'NAT' if nat else 'direct'} crypto={crypto} "
        f"cloud={cloud_fields} identity={kind}:{identity} RemoteID={remote_id} Peer={peer} "
        f"set-peer={set_peer} psk={'same' if router_psk == device_psk else 'different'} "
        f"edits={raw_edits}"
    )
    return Pair(
        number=number,
        summary=summary,
        nat=nat,
        config_text=config_text,
        settings=settings,
        router_version=version,
        # the inventory's own view of the router (Peer and RemoteID are set explicitly)
        cloud_peer=Site(device=DEVICE, tunnel=tunnel, cloud=cloud).cloud_peer(psk=router_psk),
        device_psk=device_psk,
        inventory=inventory,
    )


def _key_size(rng: random.Random, bits: int) -> list[int] | None:
    """No keysize line (128/192/256 offered), one pinned length, or a range."""
    choice = rng.random()
    if choice < 0.4:
        return None
    if choice < 0.8:
        pinned = bits if rng.random() < LINKING else rng.choice(vocab.AES_KEY_BITS)
        return [pinned, pinned, pinned]
    return [128, 256, rng.choice(vocab.AES_KEY_BITS)]


def _with_identity(text: str, kind: str, presented: str, identity: str) -> str:
    """The rendered config with its ``self-identity`` line as the pair wants it."""
    lines = [line for line in text.splitlines() if not line.startswith(" self-identity ")]
    if kind != "none":
        at = next(i for i, line in enumerate(lines) if line.startswith(" set isakmp-policy "))
        lines.insert(at, f" self-identity {presented} {identity}")
    return "\n".join(lines) + "\n"


def _settings(cloud: Cloud, version: int, peer: str, remote_id: str, psk: str) -> dict[str, Any]:
    vpn: dict[str, Any] = {
        "Config": [{"Peer": peer, "PreSharedSecret": psk, "RemoteID": remote_id, "Routes": []}],
        "Enabled": "True",
    }
    if version == 2:
        vpn |= {
            "IKE": {
                "Lifetime": cloud.ike_lifetime,
                "DPD": {"Interval": cloud.dpd_interval, "Timeout": cloud.dpd_timeout},
            },
            "ESP": {"Lifetime": cloud.esp_lifetime},
            "EncryptionAlgo": cloud.encryption_algo,
            "HashAlgo": cloud.hash_algo,
            "DHGroup": cloud.dh_group,
        }
    return {"Router": {"SiteToSiteIPsecVPN": vpn}}
