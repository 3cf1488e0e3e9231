"""GET /_hvsim/conformance: the conformance report over the request log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response

from emulator.conformance import build_report
from emulator.control.class_model import CatalogClassModel
from emulator.control.context import ControlContext
from emulator.control.requests import logged_records

router = APIRouter(tags=["conformance"])


@router.get("/conformance", summary="Rules over the request log, per client session",
            response_model=None)
def conformance(request: Request,
                client: Annotated[str | None, Query(
                    description="only this client (as for /requests)")] = None,
                since: Annotated[str | None, Query(
                    description="only requests from this time on")] = None,
                format: Annotated[Literal["json", "junit", "text"], Query(
                    description="json (default), JUnit XML or text")] = "json",
                ) -> dict[str, Any] | Response:
    context: ControlContext = request.app.state.control
    records = logged_records(request, client, since, None)
    report = build_report(records, CatalogClassModel(context.catalog))
    if format == "junit":
        return Response(report.to_junit(), media_type="application/xml")
    if format == "text":
        return PlainTextResponse(report.to_text())
    return report.to_dict()
