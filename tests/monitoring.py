"""What the monitoring tests share: an exporter over a lab, a real Prometheus, promtool.

Prometheus and promtool (Debian's ``prometheus`` package) are required, never mocked:
a missing one fails the test, saying how to install it.  Everything listens on
127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO

from helpers import lab_inventory, required_tool, settles

from fitelctl.exporter.fleet import Fleet
from fitelctl.exporter.server import ExporterServer
from fitelctl.exporter.sessions import SessionPolicy
from fitelctl.lab.runner import Lab

INSTALL = "install it with: apt-get install -y prometheus (Debian; ships promtool and prometheus)"


def tool(name: str) -> str:
    return required_tool(name, INSTALL)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@contextmanager
def serving(lab: Lab) -> Iterator[ExporterServer]:
    """An exporter over every site of ``lab``, polling each second, on a free port."""
    inventory = lab_inventory(lab)
    fleet = Fleet(inventory, inventory.select([]), 1.0, policy=SessionPolicy(backoff_min=0.2))
    server = ExporterServer(fleet, "127.0.0.1:0")
    fleet.start()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        fleet.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_prometheus(config: Path, tmp_path: Path) -> Iterator[str]:
    """A real Prometheus on 127.0.0.1 with ``config``; its URL once it is ready.

    Its port is found free just before it starts; another test's lab may take it in
    between, and then Prometheus stops at once and is started again on another."""
    for _ in range(3):
        port = free_port()
        process, log = _start_prometheus(config, tmp_path, port)
        url = f"http://127.0.0.1:{port}"
        try:
            ready = settles(partial(_ready_or_ended, url, process), 60)
            text = (tmp_path / "prometheus.log").read_text()
            if process.poll() is not None and "address already in use" in text:
                continue
            assert ready and process.poll() is None, text
            yield url
            return
        finally:
            process.terminate()
            process.wait(30)
            log.close()
    raise AssertionError("Prometheus found its port taken three times")


def _start_prometheus(
    config: Path, tmp_path: Path, port: int
) -> tuple[subprocess.Popen[bytes], IO[str]]:
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            tool("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, log


def _ready_or_ended(url: str, process: subprocess.Popen[bytes]) -> bool:
    return _ready(url) or process.poll() is not None


def _ready(url: str) -> bool:
    try:
        return get(f"{url}/-/ready")[0] == 200
    except (OSError, http.client.HTTPException):  # not up yet, or another server's port
        return False


def query(url: str, promql: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(
        f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": promql}), timeout=10
    ) as answer:
        data = json.load(answer)
    assert data["status"] == "success", data
    result: list[dict[str, object]] = data["data"]["result"]
    return result


def values(url: str, promql: str) -> dict[str, float]:
    """``{instance or site: value}`` of an instant query."""
    found = {}
    for series in query(url, promql):
        metric = series["metric"]
        assert isinstance(metric, dict)
        raw = series["value"]
        assert isinstance(raw, list)
        found[str(metric.get("site") or metric.get("instance"))] = float(raw[1])
    return found
