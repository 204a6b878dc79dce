"""HTTP: ``/metrics`` (every site and the exporter's health), ``/probe?site=NAME`` (one
site, in the multi-target style of blackbox_exporter and snmp_exporter), ``/-/healthy``.

A scrape never waits for a poll: it renders the latest results.  A bad ``/probe``
request (no ``site``, two of them, a site this exporter does not poll) is answered
400 with one line saying which.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector
from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from fitelctl.errors import FitelctlError
from fitelctl.exporter.fleet import Fleet
from fitelctl.exporter.metrics import collect

log = logging.getLogger("fitelctl.exporter")

DEFAULT_LISTEN = "127.0.0.1:9817"


class ListenError(FitelctlError):
    pass


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port)."""
    host, _, port_text = text.rpartition(":")
    if not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ListenError(f"--listen {text!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}")
    return host.strip("[]"), int(port_text)


class _Sites(Collector):
    def __init__(self, fleet: Fleet, sites: list[str], started: float | None) -> None:
        self._fleet, self._sites, self._started = fleet, sites, started

    def collect(self) -> Iterable[Metric]:
        return collect(self._fleet, self._sites, started=self._started)


class ExporterServer:
    """The HTTP server in front of a fleet; ``start`` binds, ``stop`` ends it."""

    def __init__(self, fleet: Fleet, listen: str = DEFAULT_LISTEN) -> None:
        self.fleet = fleet
        host, port = parse_listen(listen)
        self.started = time.time()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Sites(fleet, fleet.sites, self.started))
        ProcessCollector(registry=self.registry)
        try:
            self._http = ThreadingHTTPServer((host, port), self._handler())
        except OSError as err:
            reason = "the address is already in use" if err.errno == errno.EADDRINUSE else None
            raise ListenError(
                f"--listen {listen}: cannot listen there: {reason or err.strerror or err}"
                + ("; stop what holds the port or choose another" if reason else "")
            ) from None
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def probe(self, query: str) -> tuple[int, bytes]:
        """The answer to ``/probe?QUERY``: status and body."""
        names = parse_qs(query).get("site", [])
        if len(names) != 1 or not names[0]:
            return 400, b"probe: give exactly one site, e.g. /probe?site=tokyo\n"
        site = names[0]
        if site not in self.fleet.state:
            return 400, f"probe: site {site!r} is not polled by this exporter\n".encode()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Sites(self.fleet, [site], None))
        return 200, generate_latest(registry)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/metrics":
                    self._send(200, generate_latest(server.registry), CONTENT_TYPE_LATEST)
                elif url.path == "/probe":
                    status, body = server.probe(url.query)
                    kind = CONTENT_TYPE_LATEST if status == 200 else "text/plain; charset=utf-8"
                    self._send(status, body, kind)
                elif url.path == "/-/healthy":
                    self._send(200, b"fitelctl exporter is healthy\n")
                elif url.path == "/":
                    self._send(200, b"fitelctl exporter: /metrics, /probe?site=NAME, /-/healthy\n")
                else:
                    self._send(404, b"not found: /metrics, /probe?site=NAME, /-/healthy\n")

            def _send(self, status: int, body: bytes, kind: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("%s " + format, self.address_string(), *args)

        return Handler
