"""The control API application, mounted at /_hvsim/ by the composition root.

Each route group is its own module with an `APIRouter`; add a group by including its router
here. OpenAPI is served at /_hvsim/openapi.json.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from emulator.control import conformance, requests, state
from emulator.control.auth import require_login
from emulator.control.context import ControlContext
from emulator.control.refusals import ControlRefusal, refusal_response

MOUNT_PATH = "/_hvsim"
ROUTE_GROUPS = (requests.router, conformance.router, state.router)


def create_control_app(context: ControlContext) -> FastAPI:
    app = FastAPI(title="hvsim control API", docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", dependencies=[Depends(require_login)])
    app.state.control = context
    app.add_exception_handler(ControlRefusal, refusal_response)
    for router in ROUTE_GROUPS:
        app.include_router(router)
    return app
