"""The world clock in SQL: one row every process computes simulated time from.

Simulated time is kept in microseconds since the epoch (UTC). While the clock is `scaled` it
runs `scale` times as fast as the wall clock from the moment it was last set; while `frozen`
it stands still until someone advances it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.control_models import WorldClockRow

SCALED, FROZEN = "scaled", "frozen"
MODES = (SCALED, FROZEN)
# How a job moves along its plan (Job.progression).
BY_CLOCK, IMMEDIATE, POLLS = "clock", "immediate", "polls"
PROGRESSIONS = (BY_CLOCK, IMMEDIATE, POLLS)
EVERY_JOB = "*"  # the progression rule for job classes without one of their own
CLOCK_ROW = 1


class ClockSetting(NamedTuple):
    mode: str
    scale: float
    base_us: int  # simulated time when the clock was last set
    anchor_us: int  # wall time at that moment

    def at(self, wall_us: int) -> int:
        """Simulated time when the wall clock reads `wall_us`."""
        if self.mode == FROZEN:
            return self.base_us
        return self.base_us + round((wall_us - self.anchor_us) * self.scale)

    def changed(self, wall_us: int, *, mode: str | None = None, scale: float | None = None,
                simulated_us: int | None = None) -> ClockSetting:
        """The clock set at wall time `wall_us`: it goes on from where it is (or from
        `simulated_us`) in `mode` at `scale`."""
        start = self.at(wall_us) if simulated_us is None else simulated_us
        return ClockSetting(mode or self.mode, self.scale if scale is None else scale, start,
                            wall_us)


def starting_setting(scale: float, wall_us: int) -> ClockSetting:
    """A new world's clock: simulated time starts at the wall time and runs at `scale`."""
    return ClockSetting(SCALED, scale, wall_us, wall_us)


def setting_of(row: Any) -> ClockSetting | None:
    """The setting in a row of (mode, scale, base_us, anchor_us); None when there is none."""
    if row is None or row[0] is None:
        return None
    return ClockSetting(str(row[0]), float(row[1]), int(row[2]), int(row[3]))


class SqlWorldClock:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _row(self) -> WorldClockRow | None:
        return self._session.get(WorldClockRow, CLOCK_ROW)

    def setting(self) -> ClockSetting | None:
        row = self._row()
        return None if row is None else setting_of(
            (row.mode, row.scale, row.base_us, row.anchor_us))

    def store(self, setting: ClockSetting) -> None:
        """Set the clock (a world change: the world version moves with it)."""
        row = self._row()
        if row is None:
            self._session.add(WorldClockRow(id=CLOCK_ROW, mode=setting.mode, scale=setting.scale,
                                            base_us=setting.base_us,
                                            anchor_us=setting.anchor_us, progression={}))
            return
        row.mode, row.scale = setting.mode, setting.scale
        row.base_us, row.anchor_us = setting.base_us, setting.anchor_us

    def progression(self) -> dict[str, str]:
        """Job class name (or EVERY_JOB) -> the progression new jobs of that class get."""
        found = self._session.scalar(
            select(WorldClockRow.progression).where(WorldClockRow.id == CLOCK_ROW))
        return dict(found or {})

    def set_progression(self, rules: dict[str, str]) -> None:
        row = self._row()
        if row is None:
            raise LookupError("the world has no clock yet")
        row.progression = dict(rules)
