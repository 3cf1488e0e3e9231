"""What the control API's routes may use, handed over by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from emulator.core.catalog import Catalog
from emulator.core.clock_control import ClockControl
from emulator.transport.auth import Authenticator
from emulator.transport.request_log_file import JsonLinesLog


@dataclass
class ControlContext:
    catalog: Catalog
    authenticator: Authenticator
    request_log: JsonLinesLog | None = None  # None: started with --request-log off
    clock: ClockControl | None = None  # the world clock (/clock); None: not served

    @property
    def request_log_path(self) -> Path | None:
        return self.request_log.path if self.request_log is not None else None
