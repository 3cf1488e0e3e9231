"""GET /_hvsim/requests: the request log, filtered by client and time, newest last."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from emulator.control.context import ControlContext
from emulator.transport.request_log import RequestRecord, as_dict
from emulator.transport.request_log_file import parse_time, read_records

router = APIRouter(tags=["request log"])
MAX_LIMIT = 10_000


def parse_since(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError as error:
        raise HTTPException(422, f"since: {error}") from None


def logged_records(request: Request, client: str | None, since: str | None,
                   limit: int | None) -> list[RequestRecord]:
    context: ControlContext = request.app.state.control
    log = context.request_log
    if log is None:
        raise HTTPException(404, "the request log is off (hvsim serve --request-log off)")
    log.flush()
    return read_records(log.path, since=parse_since(since), client=client, limit=limit)


@router.get("/requests", summary="Logged requests, oldest first")
def requests_(request: Request,
              client: Annotated[str | None, Query(
                  description="user name, address, address:port or part of the User-Agent")
              ] = None,
              since: Annotated[str | None, Query(
                  description="seconds since the epoch or an ISO 8601 time")] = None,
              limit: Annotated[int, Query(ge=1, le=MAX_LIMIT,
                                          description="at most this many, the newest")] = 100,
              ) -> dict[str, Any]:
    records = logged_records(request, client, since, limit)
    context: ControlContext = request.app.state.control
    assert context.request_log is not None
    return {"path": str(context.request_log.path), "dropped": context.request_log.dropped,
            "records": [as_dict(record) for record in records]}
