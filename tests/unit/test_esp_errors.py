"""`show crypto sa`'s error counters from charon's own log (``esp_errors``), and the
packets the ``esp-noise`` fault sends (``esp_noise``).

The log lines are what a device charon (strongSwan 5.9, kernel-libipsec, ``esp = 2``)
wrote in the lab with ``--fault tokyo/esp-noise``.
"""

from __future__ import annotations

import struct

import pytest

from fitelctl.lab.strongswan.esp_errors import EspErrorCount, EspErrors
from fitelctl.lab.strongswan.esp_noise import esp_packet, sizes, udp

NOISY_LOG = """\
Dec  7 03:20:51 11[ESP] <tunnel1|1> adding SAD entry with SPI df9b58dd and reqid {1}
Dec  7 03:20:51 06[ESP] parsed ESP header with SPI df9b58dd [seq 1]
Dec  7 03:20:51 06[ESP] parsed ESP header with SPI df9b58dd [seq 1000001]
Dec  7 03:20:51 06[ESP] ESP decryption or ICV verification failed
Dec  7 03:20:53 06[ESP] parsed ESP header with SPI df9b58dd [seq 2]
Dec  7 03:20:53 06[ESP] parsed ESP header with SPI df9b58dd [seq 1000002]
Dec  7 03:20:53 06[ESP] ESP decryption or ICV verification failed
Dec  7 03:20:53 06[ESP] parsed ESP header with SPI df9b58dd [seq 1]
Dec  7 03:20:53 06[ESP] ESP sequence number verification failed:
Dec  7 03:20:53 06[ESP]   src 198.19.0.1, dst 198.19.1.2, SPI df9b58dd [seq 1]
""".splitlines()


def test_replays_and_forgeries_count_against_the_sa_they_were_sent_to() -> None:
    count = EspErrorCount()
    count.add(NOISY_LOG)
    assert count.of("df9b58dd") == EspErrors(replay=1, auth=2)
    assert count.of("6a7f89b8") == EspErrors()  # another SA: untouched


def test_the_log_can_be_fed_in_pieces_and_each_thread_keeps_its_own_last_header() -> None:
    count = EspErrorCount()
    count.add(NOISY_LOG[:3])
    count.add(["Dec  7 03:20:51 07[ESP] parsed ESP header with SPI 0000abcd [seq 9]"])
    count.add(NOISY_LOG[3:])
    assert count.of("df9b58dd") == EspErrors(replay=1, auth=2)
    assert count.of("0000abcd") == EspErrors()


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("parsing ESP payload failed: invalid padding", EspErrors(padding=1)),
        (
            "discarding inbound IP packet 10.0.0.1 == 10.0.0.2 [17] due to policy",
            EspErrors(rule=1),
        ),
        ("ESP decryption failed: invalid length", EspErrors()),  # none of the four
    ],
)
def test_each_refusal_libipsec_logs_is_its_own_counter(message: str, expected: EspErrors) -> None:
    count = EspErrorCount()
    count.add(
        [
            "Dec  7 03:20:51 06[ESP] parsed ESP header with SPI df9b58dd [seq 4]",
            f"Dec  7 03:20:51 06[ESP] {message}",
        ]
    )
    assert count.of("df9b58dd") == expected


@pytest.mark.parametrize(
    ("encryption", "integrity", "length"),
    [
        ("AES_CBC", "HMAC_SHA2_256_128", 8 + 16 + 16 + 16),
        ("AES_CBC", "HMAC_SHA1_96", 8 + 16 + 16 + 12),
        ("3DES_CBC", "HMAC_MD5_96", 8 + 8 + 8 + 12),
        ("AES_CBC", "HMAC_SHA2_512_256", 8 + 16 + 16 + 32),
    ],
)
def test_the_noise_has_the_length_libipsec_checks_before_the_icv(
    encryption: str, integrity: str, length: int
) -> None:
    """A packet whose length does not fit the SA is refused as "invalid length", which
    the F220 does not count: the forgery must reach the ICV check."""
    packet = esp_packet("df9b58dd", 1_000_001, *sizes(encryption, integrity))
    assert len(packet) == length
    assert struct.unpack("!II", packet[:8]) == (0xDF9B58DD, 1_000_001)
    datagram = udp(packet, 4500)
    assert struct.unpack("!HHHH", datagram[:8]) == (4500, 4500, 8 + length, 0)
