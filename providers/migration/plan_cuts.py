"""A migration plan cut short where a fault rule fails the job: at a percent, or half-way
through a phase (the phases a rule may name are emulator.core.fault_spec.PHASES)."""

from __future__ import annotations

_PHASE_PREFIXES = (("Connecting", "setup"), ("Preparing", "setup"),
                   ("Copying virtual hard disks", "storage"), ("Copying memory", "memory"),
                   ("Transferring saved", "memory"), ("Transferring configuration", "memory"),
                   ("Transferring final", "blackout"), ("Resuming", "resume"))


def phase_of(status: str) -> str:
    for prefix, phase in _PHASE_PREFIXES:
        if status.startswith(prefix):
            return phase
    return "finish"


def plan_until_percent(plan: list[list[float | str]],
                       percent: float) -> list[list[float | str]]:
    """The plan cut where progress reaches `percent`: the job stops there."""
    cut: list[list[float | str]] = []
    for step in plan:
        seconds, start, end = float(step[0]), float(step[1]), float(step[2])
        if end >= percent:
            fraction = max(0.0, (percent - start) / (end - start)) if end > start else 0.0
            cut.append([seconds * fraction, start, max(start, float(percent)), step[3]])
            return cut
        cut.append(step)
    return cut


def plan_until_phase(plan: list[list[float | str]], phase: str) -> list[list[float | str]]:
    """The plan cut half-way through the first step of `phase`."""
    for index, step in enumerate(plan):
        if phase_of(str(step[3])) == phase:
            start, end = float(step[1]), float(step[2])
            return [*plan[:index], [float(step[0]) / 2, start, (start + end) / 2, step[3]]]
    return plan
