"""The hvsim test harness: `from hvsim.testing import Emulator` (see emulator/testing/)."""

from emulator.testing import (
    VIRTUALIZATION_NAMESPACE,
    Clock,
    ControlClient,
    ControlError,
    Credentials,
    Emulator,
    EmulatorStartError,
    Faults,
)

__all__ = ["VIRTUALIZATION_NAMESPACE", "Clock", "ControlClient", "ControlError", "Credentials",
           "Emulator", "EmulatorStartError", "Faults"]
