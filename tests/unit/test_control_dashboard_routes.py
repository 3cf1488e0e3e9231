"""The control API's dashboard routes without a server: assets only by name, and a world that
cannot be read answered as unavailable (503 with Retry-After), never a bare 500."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import httpx

from emulator.control.app import create_control_app
from emulator.control.context import ControlContext
from emulator.control.world_admin import WorldAdmin
from emulator.core.catalog import Catalog
from emulator.core.cluster_view import ClusterView
from emulator.core.unavailable import ServiceUnavailable
from emulator.transport.auth import Authenticator


class AwayView:
    def snapshot(self) -> Any:
        raise ServiceUnavailable("the state store is unavailable (connection refused); "
                                 "retry the operation")


class Client:
    """GETs against the control app in-process."""

    def __init__(self, view: object) -> None:
        context = ControlContext(cast(Catalog, None), Authenticator(None),
                                 cast(WorldAdmin, None), cluster=cast(ClusterView, view),
                                 server_info={"hvsim": "test"})
        self.app = create_control_app(context)

    def get(self, path: str) -> httpx.Response:
        async def fetch() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hv") as http:
                return await http.get(path)
        return asyncio.run(fetch())


def client(view: object) -> Client:
    return Client(view)


def test_dashboard_and_assets() -> None:
    http = client(AwayView())
    page = http.get("/")
    assert page.status_code == 200 and "static/dashboard.js" in page.text
    assert http.get("/static/dashboard.js").headers["content-type"].startswith("text/javascript")
    assert http.get("/static/dashboard.css").status_code == 200
    for name in ("index.html", "..%2Fapp.py", "missing.js"):
        assert http.get(f"/static/{name}").status_code == 404
    assert http.get("/server").json() == {"hvsim": "test"}


def test_an_unreadable_world_is_unavailable() -> None:
    http = client(AwayView())
    reply = http.get("/cluster")
    assert reply.status_code == 503 and reply.headers["retry-after"] == "1"
    assert "unavailable" in reply.json()["detail"]
    metrics = http.get("/metrics")
    assert metrics.status_code == 200 and "hvsim_world_up 0.0" in metrics.text
