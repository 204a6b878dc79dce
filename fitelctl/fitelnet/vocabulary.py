"""The FITELnet IPsec vocabulary: the values the F220 CLI accepts.

The words and their sources: docs/domain.md#ipsec-configuration-vocabulary.

One table shared by the lab device (which rejects anything else, as the real
CLI does), the config renderer and the compatibility checks.  The algorithm words are
those of ``algorithms``' rows, which also hold each algorithm's strongSwan names.
"""

from __future__ import annotations

from fitelctl.fitelnet import algorithms

ISAKMP_ENCRYPTIONS = tuple(cipher.word for cipher in algorithms.CIPHERS if cipher.ike)
ISAKMP_HASHES = tuple(hash_.word for hash_ in algorithms.HASHES)
DH_GROUPS = tuple(group.number for group in algorithms.DH_GROUPS)
AES_KEY_BITS = (128, 192, 256)

ESP_ENCRYPTIONS = tuple(cipher.esp for cipher in algorithms.CIPHERS)
ESP_AUTHS = tuple(hash_.esp for hash_ in algorithms.HASHES)

IKE_VERSIONS = (1, 2)

#: Key lengths the F220 offers when no keysize line pins them (INFERRED from the
#: article: the v1 router picked 128 and the v2 router 256 from the same config).
DEFAULT_AES_KEY_BITS = (128, 192, 256)

#: FITELnet's default IPsec SA lifetime (600 s, docs/domain.md#incidents-in-the-article) and
#: ISAKMP SA lifetime.
DEFAULT_IPSEC_LIFETIME = 600
DEFAULT_ISAKMP_LIFETIME = 86400


def device_encryption_name(key_bits: int) -> str:
    """How `show crypto sa` names an AES-CBC transform, e.g. ``AES-CBC/128``."""
    return f"AES-CBC/{key_bits}"


def device_authentication_name(esp_auth: str) -> str:
    """How `show crypto sa` names an ESP integrity transform.

    ``HMAC-SHA1-96/160`` is observed (the article); the SHA-2 names follow the
    same ``ICV-bits/key-bits`` pattern and are INFERRED.
    """
    return algorithms.HASH_BY_ESP[esp_auth].show_crypto_sa
