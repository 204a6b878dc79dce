"""A minimal HTTP/1.1 server for small JSON answers, on ``asyncio.start_server``.

Hand-written so the lab needs no web framework: requests are tiny JSON bodies
with Content-Length (no chunked bodies), connections are kept alive unless the
client says ``Connection: close``.  What to answer is the caller's business
(``api_http.ApiServer``); a request that cannot be parsed gets a 400 in the
API's error envelope and the connection is closed.  For the lab's faults the
caller may raise ``Unanswered`` instead of answering: the connection is then
reset (RST, as a crashed front end or a middlebox does) or held without an
answer until the client gives up.  Any other exception is a lab defect: logged with
its traceback (redacted) and answered 500, so that it is seen rather than retried unnoticed.
``answered`` is told of each request whose answer has been written out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fitelctl.lab.api_errors import HttpError, bad_request
from fitelctl.redact import SECRETS

log = logging.getLogger("fitelctl.lab")

MAX_BODY = 1 << 20
MAX_HEADERS = 100


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


class Unanswered(Exception):
    """Raised by an ``Answer``: no answer; ``reset`` the connection, or hold it."""

    def __init__(self, *, reset: bool) -> None:
        super().__init__("reset" if reset else "held")
        self.reset = reset


#: turns a request into (status, JSON payload)
Answer = Callable[[Request], Awaitable[tuple[int, dict[str, Any]]]]


class JsonHttpServer:
    """Serves ``answer`` on every connection until closed."""

    def __init__(self, answer: Answer, answered: Callable[[Request], None] | None = None) -> None:
        self._answer = answer
        self._answered = answered
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0: any free port) and return the port bound."""
        self._server = await asyncio.start_server(self._connection, host, port)
        bound_port: int = self._server.sockets[0].getsockname()[1]
        return bound_port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except HttpError as err:
                    _write_response(writer, err.status, err.envelope(), keep_alive=False)
                    await writer.drain()
                    break
                if request is None:
                    break
                try:
                    status, payload = await self._answer(request)
                except Unanswered as unanswered:
                    await _unanswered(reader, writer, reset=unanswered.reset)
                    break
                except Exception:  # a lab defect: said, and answered, never a dropped line
                    # the traceback redacted: a request body may hold a PreSharedSecret
                    failure = SECRETS.redact(traceback.format_exc())
                    log.error(
                        "lab: the API failed on %s %s\n%s", request.method, request.target, failure
                    )
                    failed = HttpError(500, "internal_server_error", "the lab failed; see its log")
                    status, payload = failed.status, failed.envelope()
                _write_response(writer, status, payload, keep_alive=request.keep_alive)
                await writer.drain()
                if self._answered is not None:
                    self._answered(request)
                if not request.keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _unanswered(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, reset: bool
) -> None:
    """Reset the connection (SO_LINGER 0, then close: the kernel sends RST), or read
    and drop whatever the client sends until it closes the connection."""
    if reset:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return
    while await reader.read(4096):
        pass


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request, or None when the client has nothing more to say."""
    line = await reader.readline()
    if not line.strip():
        return None
    try:
        method, target, _version = line.decode("latin-1").split()
    except ValueError:
        raise bad_request("bad request line") from None
    headers: dict[str, str] = {}
    while len(headers) < MAX_HEADERS:
        header = await reader.readline()
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length", "0")
    if not length.isdigit() or int(length) > MAX_BODY or "transfer-encoding" in headers:
        raise bad_request("unsupported body")
    body = await reader.readexactly(int(length)) if int(length) else b""
    return Request(method.upper(), target, headers, body)


def _write_response(
    writer: asyncio.StreamWriter, status: int, payload: dict[str, Any], *, keep_alive: bool
) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: application/json; charset=UTF-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + body)
