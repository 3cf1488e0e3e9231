"""GET /_hvsim/cluster: hosts with their VMs, and the jobs the hosts hold, as JSON; GET
/_hvsim/server: the version and flags."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from emulator.control.context import ControlContext
from emulator.core.cluster_view import ClusterView

router = APIRouter(tags=["cluster"])


def cluster_view(request: Request) -> ClusterView:
    context: ControlContext = request.app.state.control
    if context.cluster is None:
        raise HTTPException(404, "this server has no cluster view")
    return context.cluster


@router.get("/server", summary="The server's version and flags (no secrets)")
def server(request: Request) -> dict[str, Any]:
    context: ControlContext = request.app.state.control
    return dict(context.server_info)


@router.get("/cluster", summary="Hosts, their VMs and state, and jobs with their progress")
def cluster(request: Request) -> dict[str, Any]:
    return cluster_view(request).snapshot().as_dict()
