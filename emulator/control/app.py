"""The control API application, mounted at /_hvsim/ by the composition root.

Each route group is its own module with an `APIRouter`; add a group by including its router
here. OpenAPI is served at /_hvsim/openapi.json.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from emulator.control import (
    bundle,
    clock,
    cluster,
    conformance,
    dashboard,
    errors,
    faults,
    metrics,
    requests,
    state,
)
from emulator.control.auth import require_login
from emulator.control.context import ControlContext
from emulator.control.refusals import ControlRefusal, refusal_response

MOUNT_PATH = "/_hvsim"
ROUTE_GROUPS = (dashboard.router, cluster.router, requests.router, conformance.router,
                metrics.router, bundle.router, faults.router, clock.router, state.router)


def create_control_app(context: ControlContext) -> FastAPI:
    app = FastAPI(title="hvsim control API", docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", dependencies=[Depends(require_login)])
    app.state.control = context
    errors.install(app)
    metrics.register_collectors(context)
    app.add_exception_handler(ControlRefusal, refusal_response)
    for router in ROUTE_GROUPS:
        app.include_router(router)
    return app
