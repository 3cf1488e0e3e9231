"""The control API's refusals: typed errors raised by the actions behind the routes and
answered in one place (`refusal_response`, installed by `app.create_control_app`) as JSON
saying what went wrong and where: `{"detail": "...", "where": "vms[2].state"}`."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse


class ControlRefusal(Exception):
    """An action refused; nothing changed. `where` names the offending part of the input."""

    status = 400

    def __init__(self, detail: str, where: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.where = where


class InvalidInput(ControlRefusal):
    status = 400


class NotFound(ControlRefusal):
    status = 404


class Conflict(ControlRefusal):
    status = 409


class TooLarge(ControlRefusal):
    status = 413


class Unavailable(ControlRefusal):
    """The database cannot be used now; retrying later may work."""

    status = 503


async def refusal_response(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ControlRefusal)
    body: dict[str, str] = {"detail": error.detail}
    if error.where is not None:
        body["where"] = error.where
    headers = {"Retry-After": "1"} if isinstance(error, Unavailable) else None
    return JSONResponse(body, status_code=error.status, headers=headers)
