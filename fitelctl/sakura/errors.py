"""What can go wrong talking to the Sakura Cloud API, each with what to do next.

The API answers errors with ``{is_fatal, serial, status, error_code, error_msg}``
(the official SDK's ``APIErrorResponse``).  ``api_error`` turns one into the
exception a user can act on: a 401 says which credentials to check, a 404 says
to check the appliance ID and zone.  Every message is one line and passes
through ``SECRETS.redact`` so that no token, secret or PSK can leave in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fitelctl.errors import FitelctlError
from fitelctl.redact import SECRETS

CREDENTIAL_HINT = (
    "check the access token and secret (SAKURACLOUD_ACCESS_TOKEN / "
    "SAKURACLOUD_ACCESS_TOKEN_SECRET, the inventory, or the usacloud profile)"
)


class SakuraError(FitelctlError):
    """Anything that stopped a Sakura Cloud API call; ``str()`` is one redacted line."""

    def __init__(self, message: str) -> None:
        super().__init__(SECRETS.redact(" ".join(message.split())))


class ConfigError(SakuraError):
    """The API settings (environment, inventory, usacloud profile) are unusable."""


@dataclass(frozen=True)
class ErrorEnvelope:
    """The API's error body; every field may be missing from a broken answer."""

    status: str = ""
    error_code: str = ""
    error_msg: str = ""
    serial: str = ""
    is_fatal: bool = False

    @classmethod
    def from_json(cls, data: object) -> ErrorEnvelope:
        if not isinstance(data, dict):
            return cls()
        return cls(
            status=str(data.get("status") or ""),
            error_code=str(data.get("error_code") or ""),
            error_msg=str(data.get("error_msg") or ""),
            serial=str(data.get("serial") or ""),
            is_fatal=bool(data.get("is_fatal")),
        )


class ApiError(SakuraError):
    """The API answered with an error status."""

    def __init__(self, what: str, status: int, envelope: ErrorEnvelope, advice: str) -> None:
        self.status = status
        self.envelope = envelope
        detail = envelope.error_code or "error"
        if envelope.error_msg and envelope.error_msg != envelope.error_code:
            detail += f": {envelope.error_msg}"
        serial = f" [serial {envelope.serial}]" if envelope.serial else ""
        super().__init__(f"{what}: Sakura Cloud API answered {status} ({detail}){serial}; {advice}")


class AuthenticationError(ApiError):
    """401/403: the API key is wrong or lacks the permission."""


class NotFoundError(ApiError):
    """404: no such appliance in that zone."""


class StillCreatingError(ApiError):
    """409 ``still_creating``: the appliance is being created or migrated."""


class ConflictError(ApiError):
    """409: the request conflicts with the appliance's state (power, SettingsHash...)."""


class BusyError(ApiError):
    """423 or 429 still answered after every retry."""


class UnavailableError(ApiError):
    """503 still answered after every retry."""


class BadRequestError(ApiError):
    """400: the API rejected what was sent."""


class ApiTimeoutError(SakuraError):
    """No answer within the request timeout."""


class ApiDeadlineError(ApiTimeoutError):
    """No answer before the command's deadline (``--timeout``): exit 3, as for status."""

    exit_code = 3


class ApiConnectionError(SakuraError):
    """The API could not be reached at all."""


class ResponseError(SakuraError):
    """The API answered something this client cannot read."""


class NotVpcRouterError(SakuraError):
    """The appliance exists but is something else (a load balancer, a database...)."""


def api_error(
    what: str, status: int, body: object, *, stopped: str = "", conflict: str = ""
) -> ApiError:
    """The typed error for an error answer to ``what`` (e.g. "read appliance 1 in tk1v").

    ``stopped`` says when retrying stopped, for the statuses that are retried
    ("after 11 attempts", or that the command's deadline left no time).
    """
    envelope = ErrorEnvelope.from_json(body)
    if status in (401, 403):
        advice = CREDENTIAL_HINT if status == 401 else "the API key lacks the permission"
        return AuthenticationError(what, status, envelope, advice)
    if status == 404:
        return NotFoundError(what, status, envelope, "check the appliance ID and zone")
    if status == 409 and envelope.error_code == "still_creating":
        advice = (
            "the appliance is still being created or migrated; wait and retry, and if it "
            "stays so, power it off, re-import its exported settings and boot it"
        )
        return StillCreatingError(what, status, envelope, advice)
    if status == 409:
        return ConflictError(what, status, envelope, conflict or "read the appliance and retry")
    if status == 400:
        return BadRequestError(what, status, envelope, "the request was rejected as invalid")
    if status in (423, 429):
        return BusyError(what, status, envelope, f"still busy {stopped}; retry later")
    if status == 503:
        return UnavailableError(what, status, envelope, f"still unavailable {stopped}; retry later")
    return ApiError(what, status, envelope, "see the Sakura Cloud control panel or retry later")


class StateTimeoutError(SakuraError):
    """An appliance did not reach the awaited state in time."""
