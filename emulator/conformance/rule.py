"""What a conformance rule is: a check over one client session, with an id, severity and fix.

A check maps a session (and the class model, when there is one) to findings' (summary,
evidence) pairs. Severity: error - Hyper-V would refuse it or the tool misbehaves on a real
host; warning - it works here but is fragile; info - worth knowing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from emulator.conformance.model import ClassModel, Evidence, Session

Found = tuple[str, list[Evidence]]


@dataclass(frozen=True)
class Thresholds:
    """Limits of the fast-polling rule: more than `polls_per_second` reads of one job,
    sustained for `sustained_seconds`, or for the whole of a shorter job's observed life
    when it was read at least `min_polls` times."""

    polls_per_second: float = 5.0
    sustained_seconds: float = 30.0
    min_polls: int = 20


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    fix: str
    check: Callable[[Session, ClassModel | None, Thresholds], Iterable[Found]]
