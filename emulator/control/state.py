"""The world as a whole: GET /health, POST /reset, GET|PUT /state and the snapshots.

Every action replaces the world in one transaction that every process on the database sees
(see emulator/setup/world_control.py); refusals are answered by `refusals.refusal_response`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from emulator.control.context import ControlContext
from emulator.control.refusals import InvalidInput, TooLarge
from emulator.control.world_admin import WorldAdmin

router = APIRouter(tags=["world"])
# A state document of 10,000 VMs is about 15 MB.
MAX_DOCUMENT_BYTES = 128 * 1024 * 1024
TOML_MEDIA_TYPE = "application/toml"
SNAPSHOT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SnapshotName = Annotated[str, Path(pattern=SNAPSHOT_NAME_PATTERN, max_length=64)]


def _admin(request: Request) -> WorldAdmin:
    context: ControlContext = request.app.state.control
    return context.world


class NewSnapshot(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=SNAPSHOT_NAME_PATTERN, max_length=64,
                      description="1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit")


@router.get("/health", summary="Ready, version, database, endpoints", response_model=None)
def health(request: Request) -> JSONResponse:
    report = _admin(request).health()
    return JSONResponse(report, status_code=200 if report["ready"] else 503)


@router.post("/reset", summary="Back to the scenario the server started with")
def reset(request: Request) -> dict[str, Any]:
    return {"world": _admin(request).reset()}


@router.get("/state", summary="The whole world as a scenario file (TOML)",
            response_class=PlainTextResponse,
            responses={200: {"content": {TOML_MEDIA_TYPE: {}}}})
def export_state(request: Request) -> PlainTextResponse:
    return PlainTextResponse(_admin(request).export(), media_type=TOML_MEDIA_TYPE)


@router.put("/state", summary="Replace the world by a scenario file's (TOML body)",
            openapi_extra={"requestBody": {"required": True, "content": {
                TOML_MEDIA_TYPE: {"schema": {"type": "string"}}}}})
async def load_state(request: Request) -> dict[str, Any]:
    document = await _document(request)
    return {"world": await run_in_threadpool(_admin(request).load, document)}


async def _document(request: Request) -> str:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_DOCUMENT_BYTES:
        raise TooLarge(f"a state document is at most {MAX_DOCUMENT_BYTES} bytes", "body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_DOCUMENT_BYTES:
            raise TooLarge(f"a state document is at most {MAX_DOCUMENT_BYTES} bytes", "body")
        chunks.append(chunk)
    try:
        text = b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"the body is not UTF-8 (byte {error.start})", "body") from None
    if not text.strip():
        raise InvalidInput("the body is empty: send a scenario file (TOML)", "body")
    return text


@router.get("/snapshots", summary="The snapshots, oldest first")
def list_snapshots(request: Request) -> dict[str, Any]:
    return {"snapshots": _admin(request).snapshots()}


@router.post("/snapshots", summary="Keep the world as it is now under a name",
             status_code=201)
def take_snapshot(request: Request, snapshot: Annotated[NewSnapshot, Body()]) -> dict[str, Any]:
    return _admin(request).take_snapshot(snapshot.name)


@router.post("/snapshots/{name}/restore", summary="Replace the world by a snapshot's")
def restore_snapshot(request: Request, name: SnapshotName) -> dict[str, Any]:
    return {"world": _admin(request).restore(name)}


@router.delete("/snapshots/{name}", summary="Forget a snapshot", status_code=204)
def delete_snapshot(request: Request, name: SnapshotName) -> Response:
    _admin(request).delete_snapshot(name)
    return Response(status_code=204)
