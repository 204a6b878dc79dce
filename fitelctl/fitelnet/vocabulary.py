"""The FITELnet IPsec vocabulary: the values the F220 CLI accepts.

The words and their sources: docs/domain.md#ipsec-configuration-vocabulary.

One table shared by the lab device (which rejects anything else, as the real
CLI does), the config renderer and the compatibility checks.
"""

from __future__ import annotations

ISAKMP_ENCRYPTIONS = ("aes", "3des", "des")
ISAKMP_HASHES = ("sha", "sha-256", "sha-512", "md5")
DH_GROUPS = (1, 2, 5, 14, 15, 16, 19, 20)
AES_KEY_BITS = (128, 192, 256)

ESP_ENCRYPTIONS = ("esp-aes", "esp-3des", "esp-des", "esp-null")
ESP_AUTHS = ("esp-sha-hmac", "esp-sha256-hmac", "esp-sha512-hmac", "esp-md5-hmac")

IKE_VERSIONS = (1, 2)

#: Key lengths the F220 offers when no keysize line pins them (INFERRED from the
#: article: the v1 router picked 128 and the v2 router 256 from the same config).
DEFAULT_AES_KEY_BITS = (128, 192, 256)

#: FITELnet's default IPsec SA lifetime (600 s, docs/domain.md#incidents-in-the-article) and
#: ISAKMP SA lifetime.
DEFAULT_IPSEC_LIFETIME = 600
DEFAULT_ISAKMP_LIFETIME = 86400

HASH_BITS = {"sha": 160, "sha-256": 256, "sha-512": 512, "md5": 128}
ESP_AUTH_TO_HASH = {
    "esp-sha-hmac": "sha",
    "esp-sha256-hmac": "sha-256",
    "esp-sha512-hmac": "sha-512",
    "esp-md5-hmac": "md5",
}

MODP_BITS = {1: 768, 2: 1024, 5: 1536, 14: 2048, 15: 3072, 16: 4096}


def device_encryption_name(key_bits: int) -> str:
    """How `show crypto sa` names an AES-CBC transform, e.g. ``AES-CBC/128``."""
    return f"AES-CBC/{key_bits}"


def device_authentication_name(esp_auth: str) -> str:
    """How `show crypto sa` names an ESP integrity transform.

    ``HMAC-SHA1-96/160`` is observed (the article); the SHA-2 names follow the
    same ``ICV-bits/key-bits`` pattern and are INFERRED.
    """
    return {
        "esp-sha-hmac": "HMAC-SHA1-96/160",
        "esp-sha256-hmac": "HMAC-SHA2-256-128/256",
        "esp-sha512-hmac": "HMAC-SHA2-512-256/512",
        "esp-md5-hmac": "HMAC-MD5-96/128",
    }[esp_auth]
