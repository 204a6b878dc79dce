"""The ``esp-noise`` fault: a third party on the Internet sends the office bad ESP.

Run inside the VPC router's place for one office (``lab_world``), as
``python -m fitelctl.lab.strongswan.esp_noise VICI_SOCKET INTERVAL``: every INTERVAL
seconds, for each CHILD_SA the router's charon has installed, it sends the office two
UDP-encapsulated ESP packets for the SA's inbound SPI (the router's outbound one),
from the router's address and NAT-T port, as an attacker who saw the traffic could:

- a *replay*: sequence number 1, which the office has already received (sent only once
  the router has sent two packets), so libipsec's replay check refuses it;
- a *forgery*: a sequence number far ahead (it passes the replay check) and random
  bytes, so the ICV does not verify.

The office's charon refuses both, and logs why (``esp_errors``); `show crypto sa`
counts them as Replay and Auth errors.  The lab cannot make Padding or Rule errors:
both need a packet that authenticates, so the SA's keys, which charon never exports.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import sys
import time

import vici

from fitelctl.lab.strongswan.sa_views import installed_children, vici_number, vici_text

NAT_T_PORT = 4500
FORGED_AHEAD = 1_000_000


def sizes(encryption: str, integrity: str) -> tuple[int, int]:
    """(IV and block bytes, ICV bytes) of an ESP packet with these charon algorithm names
    (``AES_CBC``, ``HMAC_SHA2_256_128``: the ICV is the name's last number of bits)."""
    block = 16 if encryption.startswith("AES") else 8
    return block, int(integrity.rsplit("_", 1)[1]) // 8


def esp_packet(spi: str, sequence: int, block: int, icv: int) -> bytes:
    """An ESP packet of the right length for its SA, whose contents do not verify."""
    return (
        struct.pack("!II", int(spi, 16), sequence)
        + os.urandom(block)  # IV
        + os.urandom(block)  # one block of ciphertext
        + os.urandom(icv)
    )


def udp(payload: bytes, port: int) -> bytes:
    """A UDP header from the NAT-T port (checksum 0: none, as IPv4 allows) and ``payload``."""
    return struct.pack("!HHHH", NAT_T_PORT, port, 8 + len(payload), 0) + payload


def noise_once(vici_socket: str, raw: socket.socket) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
        unix.connect(vici_socket)
        found = [sa for item in vici.Session(unix).list_sas() for sa in item.values()]
    for ike in found:
        host = vici_text(ike, "remote-host")
        port = vici_number(ike, "remote-port") or NAT_T_PORT
        for child in installed_children(ike):
            block, icv = sizes(vici_text(child, "encr-alg"), vici_text(child, "integ-alg"))
            spi, sent = vici_text(child, "spi-out"), vici_number(child, "packets-out")
            packets = [esp_packet(spi, sent + FORGED_AHEAD, block, icv)]
            if sent >= 2:
                packets.append(esp_packet(spi, 1, block, icv))
            for packet in packets:
                raw.sendto(udp(packet, port), (host, 0))


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: esp_noise VICI_SOCKET INTERVAL")
    vici_socket, interval = argv[0], float(argv[1])
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP) as raw:
        while True:
            # the router's charon may be stopped (power off, restart): try again later
            with contextlib.suppress(OSError, vici.exception.SessionException):
                noise_once(vici_socket, raw)
            time.sleep(interval)


if __name__ == "__main__":
    main(sys.argv[1:])
