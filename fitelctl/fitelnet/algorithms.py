"""The IPsec algorithms the F220 knows, one row each, under every name it goes by.

A row holds FITELnet's words for the algorithm (docs/domain.md#ipsec-configuration-vocabulary),
strongSwan's proposal keyword (what swanctl is configured with, e.g. ``aes128``,
``sha256``, ``modp2048``; the Sakura API's ``EncryptionAlgo``/``HashAlgo``/``DHGroup``
values are such keywords) and the name charon gives it in its log and over vici.
charon's names are as it logs them, e.g. ``IKE:AES_CBC_128/HMAC_SHA1_96/PRF_HMAC_SHA1/
MODP_1536``; AES is ``AES_CBC_<bits>``.  Read one way to write the lab's log, the other
to read a router's log.  ESP without encryption is ``NULL``, as strongSwan's
``crypter.c`` names it.

``vocabulary`` takes the words the F220 CLI accepts from these rows, so adding an
algorithm is one row; the ``*_BY_*`` lookups read the table in either direction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cipher:
    word: str  # FITELnet's ``encryption WORD``; its ESP transform is ``esp-WORD``
    ike: bool  # whether ``crypto isakmp policy`` has it (else ESP only)
    swanctl: str  # the proposal keyword; the key length follows when ``keyed``: ``aes128``
    charon: str  # ``_<bits>`` follows when ``keyed``: ``AES_CBC_128``
    keyed: bool = False  # the key length is part of each name

    @property
    def esp(self) -> str:
        """FITELnet's ESP transform word, e.g. ``esp-aes``."""
        return f"esp-{self.word}"

    def swanctl_name(self, bits: int) -> str:
        return f"{self.swanctl}{bits}" if self.keyed else self.swanctl

    def charon_name(self, bits: int) -> str:
        return f"{self.charon}_{bits}" if self.keyed else self.charon


@dataclass(frozen=True)
class Hash:
    word: str  # FITELnet's ``hash WORD`` (crypto isakmp policy)
    esp: str  # FITELnet's ESP transform word for it
    swanctl: str  # the proposal keyword: IKE integrity and PRF, ESP integrity
    charon_integrity: str
    charon_prf: str  # the PRF charon names next to the IKE integrity (written, never read back)
    bits: int  # the HMAC key length
    show_crypto_sa: str  # the F220's name for it as ESP integrity (device_authentication_name)


@dataclass(frozen=True)
class DhGroup:
    number: int  # FITELnet's ``group N``, ``set pfs groupN``
    swanctl: str
    charon: str
    modp_bits: int  # 0: an elliptic-curve group


AES = Cipher("aes", ike=True, swanctl="aes", charon="AES_CBC", keyed=True)
CIPHERS = (
    AES,
    Cipher("3des", ike=True, swanctl="3des", charon="3DES_CBC"),
    Cipher("des", ike=True, swanctl="des", charon="DES_CBC"),
    Cipher("null", ike=False, swanctl="null", charon="NULL"),
)
HASHES = (
    Hash(
        word="sha",
        esp="esp-sha-hmac",
        swanctl="sha1",
        charon_integrity="HMAC_SHA1_96",
        charon_prf="PRF_HMAC_SHA1",
        bits=160,
        show_crypto_sa="HMAC-SHA1-96/160",
    ),
    Hash(
        word="sha-256",
        esp="esp-sha256-hmac",
        swanctl="sha256",
        charon_integrity="HMAC_SHA2_256_128",
        charon_prf="PRF_HMAC_SHA2_256",
        bits=256,
        show_crypto_sa="HMAC-SHA2-256-128/256",
    ),
    Hash(
        word="sha-512",
        esp="esp-sha512-hmac",
        swanctl="sha512",
        charon_integrity="HMAC_SHA2_512_256",
        charon_prf="PRF_HMAC_SHA2_512",
        bits=512,
        show_crypto_sa="HMAC-SHA2-512-256/512",
    ),
    Hash(
        word="md5",
        esp="esp-md5-hmac",
        swanctl="md5",
        charon_integrity="HMAC_MD5_96",
        charon_prf="PRF_HMAC_MD5",
        bits=128,
        show_crypto_sa="HMAC-MD5-96/128",
    ),
)
DH_GROUPS = (
    DhGroup(1, "modp768", "MODP_768", 768),
    DhGroup(2, "modp1024", "MODP_1024", 1024),
    DhGroup(5, "modp1536", "MODP_1536", 1536),
    DhGroup(14, "modp2048", "MODP_2048", 2048),
    DhGroup(15, "modp3072", "MODP_3072", 3072),
    DhGroup(16, "modp4096", "MODP_4096", 4096),
    DhGroup(19, "ecp256", "ECP_256", 0),
    DhGroup(20, "ecp384", "ECP_384", 0),
)

CIPHER_BY_WORD = {cipher.word: cipher for cipher in CIPHERS}
CIPHER_BY_ESP = {cipher.esp: cipher for cipher in CIPHERS}
HASH_BY_WORD = {hash_.word: hash_ for hash_ in HASHES}
HASH_BY_ESP = {hash_.esp: hash_ for hash_ in HASHES}
HASH_BY_SWANCTL = {hash_.swanctl: hash_ for hash_ in HASHES}
HASH_BY_CHARON = {hash_.charon_integrity: hash_ for hash_ in HASHES}
DH_GROUP_BY_NUMBER = {group.number: group for group in DH_GROUPS}
DH_GROUP_BY_SWANCTL = {group.swanctl: group for group in DH_GROUPS}
DH_GROUP_BY_CHARON = {group.charon: group for group in DH_GROUPS}
