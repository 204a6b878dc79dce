"""One strongSwan charon in a network namespace: its config, its process, its vici socket.

``charon-systemd`` runs fine without systemd and writes no pid file, so several run side
by side; each gets its own ``strongswan.conf`` (through ``STRONGSWAN_CONF``), its own
vici socket (``netns.vici_socket``: named after its namespace, in a short path, since a
Unix socket's may not exceed 108 bytes) and its own log file in its work folder.
Plugins are listed explicitly (``load_modular = no``) so that what runs does not depend
on the machine's ``/etc/strongswan.d``.  The kernel here has no ESP, so CHILD_SAs are installed by
``kernel-libipsec`` in user space (a TUN device ``ipsec0`` per namespace); it forces UDP
encapsulation, which is why charon reports "remote host is behind NAT" even without one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitelctl.errors import FitelctlError
from fitelctl.lab.charon_log import HALF_OPEN_TIMEOUT, Retransmit
from fitelctl.lab.strongswan.netns import vici_socket

CHARON_BINARY = Path("/usr/sbin/charon-systemd")
PLUGINS = (
    "random nonce openssl pem pkcs1 x509 revocation constraints pubkey aes sha1 sha2 md5"
    " hmac gmp curve25519 kdf kernel-libipsec kernel-netlink socket-default vici"
)
START_TIMEOUT = 10.0
#: what charon logs when its vici plugin cannot listen (and then runs on without it)
VICI_FAILED = "creating vici socket failed"
LAST_LOG_LINES = 15


class CharonError(FitelctlError):
    """A charon did not start, or its vici socket refused a command."""


@dataclass(frozen=True)
class Timing:
    """charon's retransmission and half-open settings, as the model lab knows them too
    (``charon_log.Retransmit``: its ``keyingtries`` is a connection's, not charon's)."""

    retransmit: Retransmit = field(default_factory=Retransmit)
    half_open_timeout: float = HALF_OPEN_TIMEOUT


class Charon:
    """A charon running in ``namespace``, configured and logging under ``workdir``."""

    def __init__(
        self, namespace: str, workdir: Path, *, timing: Timing = Timing(), esp_packets: bool = False
    ) -> None:
        self.namespace = namespace
        self.workdir = workdir
        self.timing = timing
        #: log every inbound ESP packet's header (``esp_errors`` needs it)
        self.esp_packets = esp_packets
        self.vici_socket = vici_socket(namespace)
        self.log_file = workdir / "charon.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start charon and wait for its vici socket; ``CharonError`` with its last log lines."""
        self.workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        conf = self.workdir / "strongswan.conf"
        conf.write_text(self._strongswan_conf())
        stdout = open(self.workdir / "stdout.log", "wb")  # noqa: SIM115 - the child owns it
        with stdout:
            self._process = subprocess.Popen(
                ["ip", "netns", "exec", self.namespace, str(CHARON_BINARY)],
                env={**os.environ, "STRONGSWAN_CONF": str(conf)},
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise self._failed(f"exited with status {self._process.returncode}")
            if self._answers():
                return
            if any(VICI_FAILED in line for line in self.log_lines()):
                self.stop()  # it would run on, unreachable
                raise self._failed("could not create its vici socket")
            time.sleep(0.02)
        self.stop()
        raise self._failed(f"its vici socket did not answer within {START_TIMEOUT:.0f}s")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; idempotent."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @contextmanager
    def session(self) -> Iterator[Any]:
        """A vici session (``vici.Session``) on a fresh connection, closed afterwards."""
        import vici  # here, so that ``prerequisites`` can say when it is missing

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.vici_socket))
            yield vici.Session(sock)
        except (OSError, vici.exception.SessionException) as error:
            raise CharonError(f"charon in {self.namespace}: vici: {error}") from None
        finally:
            sock.close()

    def log_lines(self) -> list[str]:
        try:
            return self.log_file.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def log_since(self, offset: int) -> tuple[list[str], int]:
        """The whole log lines written after byte ``offset``, and the offset after them
        (charon appends to its log, also when it starts again)."""
        try:
            with open(self.log_file, "rb") as log:
                log.seek(offset)
                data = log.read()
        except FileNotFoundError:
            return [], offset
        end = data.rfind(b"\n") + 1
        return data[:end].decode(errors="replace").splitlines(), offset + end

    def _answers(self) -> bool:
        if not self.vici_socket.exists():
            return False
        try:
            with self.session() as session:
                session.version()
        except CharonError:
            return False
        return True

    def _failed(self, what: str) -> CharonError:
        lines = self.log_lines() or (self.workdir / "stdout.log").read_text().splitlines()
        tail = "\n".join(f"  {line}" for line in lines[-LAST_LOG_LINES:])
        return CharonError(f"charon in {self.namespace} {what}; its last log lines:\n{tail}")

    def _strongswan_conf(self) -> str:
        t = self.timing
        return f"""\
charon-systemd {{
  load_modular = no
  load = {PLUGINS}
  install_routes = no
  retransmit_tries = {t.retransmit.tries}
  retransmit_timeout = {t.retransmit.timeout}
  retransmit_base = {t.retransmit.base}
  half_open_timeout = {t.half_open_timeout:g}
  plugins {{
    vici {{
      socket = unix://{self.vici_socket}
    }}
  }}
  journal {{
    default = -1
  }}
  filelog {{
    charon {{
      path = {self.log_file}
      time_format = %b %e %T
      ike_name = yes
      default = 1
      esp = {2 if self.esp_packets else 1}
      flush_line = yes
    }}
  }}
}}
"""
