"""GET /_hvsim/: the dashboard, plain HTML, CSS and JavaScript shipped in the package.

The page polls the JSON routes (/cluster, /requests, /conformance, and /faults when the
server has it) and redraws; nothing is fetched from anywhere else.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

router = APIRouter(tags=["dashboard"])
STATIC = resources.files("emulator.control") / "static"
ASSETS = {"dashboard.css": "text/css; charset=utf-8",
          "dashboard.js": "text/javascript; charset=utf-8"}
NO_CACHE = {"Cache-Control": "no-cache"}


@router.get("/", summary="The dashboard (HTML)", response_class=HTMLResponse)
def dashboard() -> HTMLResponse:
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"), headers=NO_CACHE)


@router.get("/static/{name}", summary="The dashboard's style sheet and script",
            response_class=Response)
def asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404, f"no dashboard asset {name!r}")
    return Response((STATIC / name).read_bytes(), media_type=media_type, headers=NO_CACHE)
