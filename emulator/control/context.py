"""What the control API's routes may use, handed over by the composition root."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from emulator.control.world_admin import WorldAdmin
from emulator.core.catalog import Catalog
from emulator.core.clock_control import ClockControl
from emulator.core.cluster_view import ClusterView
from emulator.core.faults import FaultRules
from emulator.transport.auth import Authenticator
from emulator.transport.request_log_file import JsonLinesLog


@dataclass
class ControlContext:
    catalog: Catalog
    authenticator: Authenticator
    world: WorldAdmin  # health, reset, state export and load, snapshots
    request_log: JsonLinesLog | None = None  # None: started with --request-log off
    cluster: ClusterView | None = None  # hosts, VMs and jobs for the dashboard and metrics
    # The request metrics' registry; /metrics adds the world's and the caches' to it.
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)
    # The server's version and flags as the bug-report bundle shows them: no secrets.
    server_info: Mapping[str, Any] = field(default_factory=dict)
    faults: FaultRules | None = None  # the fault rules of the world served
    clock: ClockControl | None = None  # the world clock (/clock); None: not served

    @property
    def request_log_path(self) -> Path | None:
        return self.request_log.path if self.request_log is not None else None
