"""What the control API's routes may use, handed over by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from emulator.control.world_admin import WorldAdmin
from emulator.core.catalog import Catalog
from emulator.transport.auth import Authenticator
from emulator.transport.request_log_file import JsonLinesLog


@dataclass
class ControlContext:
    catalog: Catalog
    authenticator: Authenticator
    world: WorldAdmin  # health, reset, state export and load, snapshots
    request_log: JsonLinesLog | None = None  # None: started with --request-log off

    @property
    def request_log_path(self) -> Path | None:
        return self.request_log.path if self.request_log is not None else None
