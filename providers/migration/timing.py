"""How long a migration takes and how its progress looks: the models of reference §16.2-16.3.

Pure functions of the VM, the hosts and the request; no randomness, so one scenario always
gives the same timeline. Durations are simulated seconds, stored as they are in a job's plan:
the world clock decides how fast simulated time runs.
"""

from __future__ import annotations

from dataclasses import dataclass

# Setup: resolve the destination, connect on its listener, authenticate, create the skeleton
# VM and exchange configuration (§16.2 phase 1-2).
SETUP_SECONDS = 3.0
# Resume on the destination, reverse ARP, clean up on the source (§16.2 phase 5-6).
RESUME_SECONDS = 1.0
CONFIGURATION_SECONDS = 1.0
STORAGE_SWITCH_SECONDS = 1.0
# Pre-copy stops when what is left fits in this many MB, or after MAX_PASSES (2012 R2+: 5).
CONVERGED_MB = 64.0
MAX_PASSES = 5
# A blackout longer than this cancels the migration when the request asks for it.
BLACKOUT_LIMIT_SECONDS = 2.0
COMPRESSION_FACTOR = 2.0
SMB_FACTOR = 3.0
# CPUCappingMagnitude (§5.5): 0 Normal, 1 Low, 2 High; throttling the guest slows dirtying.
CPU_CAP_DIRTY_FACTOR = {0: 1.0, 1: 0.6, 2: 0.3}
_ROUNDING = 1e-9


@dataclass(frozen=True)
class Phase:
    seconds: float
    status: str


@dataclass(frozen=True)
class MemoryTransfer:
    phases: tuple[Phase, ...]
    passes: int
    blackout_seconds: float


def link_rate(bandwidth_mbps: float, *, compression: bool, smb: bool) -> float:
    """Effective MB/s of a migration link."""
    if smb:
        return bandwidth_mbps * SMB_FACTOR
    return bandwidth_mbps * (COMPRESSION_FACTOR if compression else 1.0)


def memory_transfer(memory_mb: float, dirty_rate_mbps: float, rate_mbps: float, *,
                    enabled_state: int, cpu_capping: int = 0) -> MemoryTransfer:
    """Pre-copy of a running VM; one pass of saved state for a saved or paused VM; nothing
    but configuration for a VM that is off."""
    if enabled_state == 3:
        return MemoryTransfer((Phase(CONFIGURATION_SECONDS, "Transferring configuration"),),
                              0, 0.0)
    if enabled_state != 2:
        # Saved (6) or paused (9): the state does not change while it is copied.
        seconds = memory_mb / rate_mbps
        return MemoryTransfer((Phase(seconds, "Transferring saved state"),), 1, 0.0)
    dirty = dirty_rate_mbps * CPU_CAP_DIRTY_FACTOR.get(cpu_capping, 1.0)
    phases: list[Phase] = []
    to_send = memory_mb
    passes = 0
    while True:
        passes += 1
        seconds = to_send / rate_mbps
        phases.append(Phase(seconds, f"Copying memory: pass {passes}"))
        to_send = min(memory_mb, dirty * seconds)
        if to_send <= CONVERGED_MB or passes >= MAX_PASSES:
            break
    blackout = to_send / rate_mbps
    phases.append(Phase(blackout, "Transferring final state (virtual machine paused)"))
    return MemoryTransfer(tuple(phases), passes, blackout)


def storage_copy_seconds(total_gb: float, storage_bandwidth_mbps: float) -> float:
    """A VHD copy runs at the slower of the hosts' storage bandwidths (§16.3)."""
    return total_gb * 1024.0 / storage_bandwidth_mbps


def percent_plan(phases: list[Phase]) -> list[list[float | str]]:
    """[[simulated seconds, percent at start, percent at end, status], ...] for the job record.

    Percent follows simulated time and stops at 99: 100 is reached only when the job
    completes, so PercentComplete never goes down and never claims success early.
    """
    total = sum(p.seconds for p in phases) or 1.0
    plan: list[list[float | str]] = []
    elapsed = 0.0
    for phase in phases:
        start = 99.0 * elapsed / total
        elapsed += phase.seconds
        end = 99.0 * elapsed / total
        plan.append([phase.seconds, start, end, phase.status])
    return plan


def plan_seconds(plan: list[list[float | str]]) -> float:
    return sum(float(step[0]) for step in plan)


def progress_at(plan: list[list[float | str]], elapsed: float) -> tuple[int, str, float | None]:
    """(percent, status, seconds until the percent next changes) after `elapsed` seconds."""
    offset = 0.0
    for seconds, start, end, status in plan:
        seconds, start, end = float(seconds), float(start), float(end)
        if elapsed < offset + seconds:
            fraction = (elapsed - offset) / seconds if seconds > 0 else 1.0
            value = start + (end - start) * fraction
            percent = int(value)
            if end > start:
                next_at = min(offset + seconds * ((percent + 1 - start) / (end - start)),
                              offset + seconds)
            else:
                next_at = offset + seconds
            # Rounding in the interpolation above may reach the next percent a hair early;
            # answering a little early only costs a recomputation, a little late a stale reply.
            wait = max(0.0, next_at - elapsed - _ROUNDING * max(1.0, next_at))
            return percent, str(status), wait
        offset += seconds
    last: list[float | str] = plan[-1] if plan else [0, 0, 99, ""]
    return int(float(last[2])), str(last[3]), None
