"""The lab's HTTP layer: a defect in an answer is said and answered, never a dropped line."""

from __future__ import annotations

import asyncio
import json

import pytest

from fitelctl.lab.json_http_server import JsonHttpServer, Request


def test_an_answer_that_raises_is_a_500_in_the_apis_envelope_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def answer(request: Request) -> tuple[int, dict[str, object]]:
        raise RuntimeError('no config address for 198.19.250.250 in {"PreSharedSecret": "s3cr3t"}')

    async def one_request() -> bytes:
        server = JsonHttpServer(answer)
        port = await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /is1a/api/cloud/1.1/appliance/1 HTTP/1.1\r\nConnection: close\r\n\r\n")
        data = await reader.read()
        writer.close()
        await server.close()
        return data

    head, _, body = asyncio.run(one_request()).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500 ")
    assert json.loads(body)["error_code"] == "internal_server_error"
    assert "lab: the API failed on GET /is1a/api/cloud/1.1/appliance/1" in caplog.text
    assert "no config address for 198.19.250.250" in caplog.text  # with its traceback
    assert "s3cr3t" not in caplog.text
