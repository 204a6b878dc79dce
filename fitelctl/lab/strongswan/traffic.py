"""The lab's traffic through a tunnel: run inside a namespace by ``lab_world``.

``send SRC DST:PORT INTERVAL``: a 56-byte UDP datagram from SRC to DST every INTERVAL
seconds (the office side).  ``echo ADDRESS PORT``: every datagram received on ADDRESS
is sent back (the VPC router side).  Both run until killed (the lab removes their
namespace); routes put the inside addresses behind ``ipsec0``, so every datagram is
ESP in a CHILD_SA, and goes nowhere while there is none.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time

PAYLOAD = b"fitelctl-lab".ljust(56, b".")


def send(source: str, target: str, interval: float) -> None:
    host, _, port = target.rpartition(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(interval / 2)
        while True:
            next_send = time.monotonic() + interval
            try:
                sock.sendto(PAYLOAD, (host, int(port)))
                sock.recvfrom(2048)  # the echo, if the tunnel is up
            except OSError:  # no route yet, or no answer in time
                pass
            time.sleep(max(0.0, next_send - time.monotonic()))


def echo(address: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, port))
        while True:
            data, sender = sock.recvfrom(2048)
            with contextlib.suppress(OSError):
                sock.sendto(data, sender)


def main(argv: list[str]) -> None:
    if argv[:1] == ["send"] and len(argv) == 4:
        send(argv[1], argv[2], float(argv[3]))
    elif argv[:1] == ["echo"] and len(argv) == 3:
        echo(argv[1], int(argv[2]))
    else:
        raise SystemExit("usage: traffic send SRC DST:PORT INTERVAL | traffic echo ADDRESS PORT")


if __name__ == "__main__":
    main(sys.argv[1:])
