"""A VM's EnabledState values and what follows from them (reference §10.3).

One table says which RequestStateChange targets each state allows; the views (Msvm_ComputerSystem,
summaries, the host's free memory, counters) read the same constants, so a state means the same
everywhere. The v2 numbering only: saved is 6 and paused 9, never the retired V1 values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

RUNNING, OFF, STOPPING, SAVED, PAUSED, STARTING = 2, 3, 4, 6, 9, 10
SAVING, PAUSING, RESUMING = 32773, 32776, 32777
# RequestStateChange(RequestedState) values (§10.3).
START, TURN_OFF, SHUT_DOWN, SAVE, PAUSE, REBOOT, RESET = 2, 3, 4, 6, 9, 10, 11
NO_CHANGE_REQUESTED = 12

STABLE_STATES = frozenset({RUNNING, OFF, SAVED, PAUSED})
TRANSITIONAL_STATES = frozenset({STOPPING, STARTING, SAVING, PAUSING, RESUMING})
# The worker process holds the VM's memory in these states (Win32_OperatingSystem, migration
# memory checks); storage.virtual_machines.RUNNING_STATES is the same set for SQL.
MEMORY_HOLDING_STATES = frozenset({RUNNING, PAUSED} | TRANSITIONAL_STATES)
# A worker process (vmwp.exe, ProcessID) exists: memory held, or a saved state on disk.
WORKER_STATES = MEMORY_HOLDING_STATES | {SAVED}

# The RequestStateChange targets each stable state allows; anything else answers 32775.
ALLOWED_REQUESTS: dict[int, tuple[int, ...]] = {
    RUNNING: (TURN_OFF, SHUT_DOWN, SAVE, PAUSE, REBOOT, RESET),
    OFF: (START,),
    SAVED: (START, TURN_OFF),
    PAUSED: (START, TURN_OFF, SAVE, RESET),
}


def available_requested_states(enabled_state: int) -> list[int]:
    """AvailableRequestedStates[] of a VM in this state (empty during a transition)."""
    return list(ALLOWED_REQUESTS.get(enabled_state, ()))


def on_time_ms(vm: Any, at: datetime) -> int:
    """OnTimeInMilliseconds at `at`: the running time so far, paused time excluded (§10.2)."""
    if vm.enabled_state not in MEMORY_HOLDING_STATES:
        return 0
    total = int(vm.uptime_ms or 0)
    if vm.running_since is not None:
        total += max(0, int((at - vm.running_since).total_seconds() * 1000))
    return total
