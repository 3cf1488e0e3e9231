"""Test harness: `Emulator` runs a real `hvsim serve` on free ports and drives it over HTTP;
`emulator.testing.pytest_plugin` gives pytest the `hvsim_emulator` and `hvsim` fixtures.

Users import it as `hvsim.testing` (the distribution's name); `emulator.testing` is the same.
"""

from emulator.testing.control import Clock, ControlClient, ControlError, Faults
from emulator.testing.emulator import (
    VIRTUALIZATION_NAMESPACE,
    Credentials,
    Emulator,
    EmulatorStartError,
)

__all__ = ["VIRTUALIZATION_NAMESPACE", "Clock", "ControlClient", "ControlError", "Credentials",
           "Emulator", "EmulatorStartError", "Faults"]
