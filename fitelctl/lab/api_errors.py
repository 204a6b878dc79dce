"""The lab API's error answers, shared by the router model and the HTTP layer.

The real service answers every failure with the same JSON envelope
(``is_fatal``, ``serial``, ``status``, ``error_code``, ``error_msg``), whether
the request was malformed, unauthorized or refused by the appliance.  Keeping
the error type here lets ``vpc_router`` refuse an operation (409 ``conflict``,
409 ``still_creating``, 400 ``bad_request``) without knowing about HTTP.
"""

from __future__ import annotations

import secrets
from http import HTTPStatus
from typing import Any


class HttpError(Exception):
    """An error answer with the API's envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def envelope(self) -> dict[str, Any]:
        return {
            "is_fatal": True,
            "serial": secrets.token_hex(16),
            "status": f"{self.status} {HTTPStatus(self.status).phrase}",
            "error_code": self.code,
            "error_msg": self.message,
        }


def bad_request(message: str) -> HttpError:
    return HttpError(400, "bad_request", message)


def conflict(message: str) -> HttpError:
    return HttpError(409, "conflict", message)
