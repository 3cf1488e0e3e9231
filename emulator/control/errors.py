"""The control API's one translation of CIM errors: what the core raises while reading the
world (the database away, a failure) becomes a JSON answer, never a bare 500."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pywbem import CIMError

from emulator.core.unavailable import ServiceUnavailable


async def cim_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CIMError)
    status = 503 if isinstance(error, ServiceUnavailable) else 500
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse({"detail": error.status_description,
                         "cim_status": error.status_code_name}, status, headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(CIMError, cim_error)
