"""/_hvsim/faults: fault rules at run time (list, add, remove), shared by every process.

A rule is checked completely before anything is stored; a bad one (or one bad rule of a list)
is answered 400 with `where` (the field) and `error` (what is wrong), and nothing changes.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pywbem import CIM_ERR_NOT_SUPPORTED, CIMError
from starlette.concurrency import run_in_threadpool

from emulator.control.context import ControlContext
from emulator.core.faults import FaultRuleError, FaultRules

router = APIRouter(tags=["faults"])
RULE_EXAMPLE = {"effect": "fail-job", "vm": "web-01", "error": "destination-out-of-memory",
                "at_percent": 40, "count": 1}


def _rules(request: Request) -> FaultRules:
    context: ControlContext = request.app.state.control
    if context.faults is None:
        raise CIMError(CIM_ERR_NOT_SUPPORTED, "fault rules are not available on this server")
    return context.faults


def _problem(status: int, where: str, error: str) -> JSONResponse:
    return JSONResponse({"detail": f"{where}: {error}", "where": where, "error": error},
                        status_code=status)


def _unavailable(error: CIMError) -> JSONResponse:
    return JSONResponse({"detail": error.status_description, "where": "database",
                         "error": error.status_description}, status_code=503,
                        headers={"Retry-After": "1"})


@router.get("/faults", summary="The fault rules, with how often each matched and fired")
def list_faults(request: Request) -> Any:
    try:
        return {"rules": _rules(request).rules()}
    except CIMError as error:
        return _unavailable(error)


@router.post("/faults", status_code=201, summary="Add one rule (an object) or several (a list)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": {"type": "object"},
                                      "example": RULE_EXAMPLE}}}})
async def add_faults(request: Request) -> Any:
    body = await request.body()
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        return _problem(400, "body", f"not JSON: {error}")
    many = isinstance(data, list)
    if many and not data:
        return _problem(400, "body", "an empty list adds no rule")
    try:
        added = await _run(request, lambda rules: rules.add(data if many else [data],
                                                            where="rules" if many else "rule"))
    except FaultRuleError as error:
        where = error.where if many else error.where.replace("rule[0]", "rule", 1)
        return _problem(400, where, error.reason)
    except CIMError as error:
        return _unavailable(error)
    return JSONResponse({"rules": added}, status_code=201)


@router.delete("/faults", summary="Remove every fault rule")
def clear_faults(request: Request) -> Any:
    try:
        return {"removed": _rules(request).clear()}
    except CIMError as error:
        return _unavailable(error)


@router.delete("/faults/{rule_id}", summary="Remove one fault rule")
def remove_fault(request: Request, rule_id: str) -> Any:
    if not rule_id.isdigit():
        return _problem(400, "path.rule_id", f"{rule_id!r} is not a rule id (a number)")
    try:
        removed = _rules(request).remove(int(rule_id))
    except CIMError as error:
        return _unavailable(error)
    if not removed:
        return _problem(404, "path.rule_id", f"no fault rule {rule_id}")
    return {"removed": 1}


async def _run(request: Request, work: Any) -> Any:
    """Database work off the event loop."""
    return await run_in_threadpool(work, _rules(request))
