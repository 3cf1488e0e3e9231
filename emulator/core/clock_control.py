"""Setting the world clock from outside the emulated API (the control API's clock routes).

Every change is one transaction in the write turn that also moves the world version, so every
process, and every cached answer, sees the new time on its next request. Advancing a frozen
clock settles what the world hooks have due on the way, each change at the moment it was due,
exactly as if that time had passed.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from emulator.core.transactions import Transactions
from emulator.core.world_clock import WorldClock, from_us, to_us
from storage.db import UnitOfWork
from storage.errors import StaleWrite, StoreUnavailable
from storage.world_clock import (
    EVERY_JOB,
    FROZEN,
    MODES,
    PROGRESSIONS,
    ClockSetting,
    starting_setting,
)

NEXT_CHANGE, IDLE = "next-change", "idle"
TARGETS = (NEXT_CHANGE, IDLE)
MAX_SCALE = 1_000_000.0
# Steps of an advance to idle: each ends at least one job, so a world needs this many jobs
# queued behind each other to stop short.
MAX_IDLE_STEPS = 10_000


class ClockInputError(ValueError):
    """A clock change that is not valid as asked: `where` names the field."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where


class ClockConflict(RuntimeError):
    """A clock change the clock's state does not allow (advancing a running clock), or one
    that raced with another process's change."""


class ClockUnavailable(RuntimeError):
    """The state store cannot serve now; retrying later may work. Nothing changed."""


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    try:
        yield
    except StaleWrite as error:
        raise ClockConflict("another request changed the clock at the same time; retry") \
            from error
    except StoreUnavailable as error:
        raise ClockUnavailable(f"the state store is unavailable ({error.reason}); retry") \
            from error


@dataclass(frozen=True)
class ClockState:
    mode: str
    scale: float
    now: datetime
    progression: dict[str, str]


class ClockControl:
    def __init__(self, transactions: Transactions, clock: WorldClock,
                 job_classes: Iterable[str], default_scale: float = 1.0) -> None:
        self.transactions = transactions
        self.store = transactions.store
        self.clock = clock
        self.job_classes = tuple(job_classes)
        self.default_scale = default_scale

    def start(self, *, seeded: datetime | None) -> None:
        """At start-up: a world seeded just now (at `seeded`) gets a new clock at the default
        scale; an existing one keeps its clock, taking the default scale if it runs scaled at
        another (the scale given on the command line wins, from the current moment on).

        In the setup turn: processes starting together on one database take turns, so the
        one that seeded sets the clock last and none inserts a clock another just inserted."""
        with self.store.setup_turn(), self.transactions.write_turn(), \
                self.store.unit_of_work() as uow:
            uow.lift_timeouts()
            uow.take_write_turn()
            setting = uow.clock.setting()
            wall_us = to_us(self.clock.wall.now())
            if seeded is not None or setting is None:
                start = to_us(seeded) if seeded is not None else wall_us
                uow.clock.store(starting_setting(self.default_scale, start)._replace(
                    anchor_us=wall_us))
            elif setting.mode != FROZEN and setting.scale != self.default_scale:
                uow.clock.store(setting.changed(wall_us, scale=self.default_scale))
            else:
                return
            uow.commit()

    def state(self) -> ClockState:
        with _store_errors(), self.store.unit_of_work() as uow:
            return self._state(uow, self._setting(uow))

    def change(self, *, mode: str | None = None, scale: float | None = None,
               progression: str | Mapping[str, str] | None = None) -> ClockState:
        """Run or freeze the clock, change its scale, or the progression rules of new jobs;
        time goes on from where it is."""
        if mode is not None and mode not in MODES:
            raise ClockInputError("mode", f"{mode!r} is not one of {', '.join(MODES)}")
        if scale is not None and not (0 < scale <= MAX_SCALE and math.isfinite(scale)):
            raise ClockInputError("scale", f"{scale} is not above 0 and at most {MAX_SCALE:g}")
        rules = None if progression is None else self._rules(progression)
        with _store_errors(), self.transactions.write_turn(), \
                self.store.unit_of_work() as uow:
            uow.take_write_turn()
            setting = self._setting(uow).changed(to_us(self.clock.wall.now()), mode=mode,
                                                 scale=scale)
            uow.clock.store(setting)
            uow.flush()
            if rules is not None:
                uow.clock.set_progression(rules)
            uow.commit()
            self.store.world_version()
            return self._state(uow, setting)

    def advance(self, *, seconds: float | None = None, to: str | None = None
                ) -> tuple[ClockState, float]:
        """Move a frozen clock on by `seconds`, or `to` the next change or until no job is in
        progress; the new state and the simulated seconds it moved."""
        if (seconds is None) == (to is None):
            raise ClockInputError("body", "give either seconds or to")
        if seconds is not None and not (0 < seconds < 10 ** 9 and math.isfinite(seconds)):
            raise ClockInputError("seconds", f"{seconds} is not a positive number of seconds")
        if to is not None and to not in TARGETS:
            raise ClockInputError("to", f"{to!r} is not one of {', '.join(TARGETS)}")
        with _store_errors(), self.transactions.write_turn(), \
                self.store.unit_of_work() as uow:
            uow.take_write_turn()
            setting = self._setting(uow)
            if setting.mode != FROZEN:
                raise ClockConflict(f"the clock is {setting.mode}, not frozen: only a frozen "
                                    "clock is advanced (PUT /_hvsim/clock {\"mode\": "
                                    "\"frozen\"} first)")
            start = setting.base_us
            target = self._target(uow, start, seconds, to)
            for hook in self.transactions.hooks:
                hook.settle(uow, from_us(target))
            moved = setting._replace(base_us=target, anchor_us=to_us(self.clock.wall.now()))
            uow.clock.store(moved)
            uow.commit()
            self.store.world_version()
            return self._state(uow, moved), (target - start) / 1e6

    def _target(self, uow: UnitOfWork, start: int, seconds: float | None,
                to: str | None) -> int:
        if seconds is not None:
            return start + round(seconds * 1e6)
        hooks = self.transactions.hooks
        if to == NEXT_CHANGE:
            moments = [m for m in (hook.next_due(uow) for hook in hooks) if m is not None]
            return max(start, to_us(min(moments))) if moments else start
        target = start
        for _ in range(MAX_IDLE_STEPS):
            moments = [m for m in (hook.next_activity(uow) for hook in hooks) if m is not None]
            if not moments:
                break
            target = max(target, to_us(min(moments)))
            for hook in hooks:
                hook.settle(uow, from_us(target))
            uow.flush()
        return target

    def _rules(self, progression: str | Mapping[str, str]) -> dict[str, str]:
        if isinstance(progression, str):
            progression = {EVERY_JOB: progression}
        known = {c.lower(): c for c in self.job_classes}
        rules: dict[str, str] = {}
        for classname, how in progression.items():
            where = f"progression.{classname}"
            if classname != EVERY_JOB and classname.lower() not in known:
                raise ClockInputError(where, f"{classname!r} is not a job class (one of "
                                             f"{', '.join((*self.job_classes, EVERY_JOB))})")
            if how not in PROGRESSIONS:
                raise ClockInputError(where, f"{how!r} is not one of {', '.join(PROGRESSIONS)}")
            rules[known.get(classname.lower(), classname)] = how
        return rules

    def _setting(self, uow: UnitOfWork) -> ClockSetting:
        return uow.clock.setting() or starting_setting(self.default_scale,
                                                       to_us(self.clock.wall.now()))

    def _state(self, uow: UnitOfWork, setting: ClockSetting) -> ClockState:
        now = from_us(setting.at(to_us(self.clock.wall.now())))
        return ClockState(setting.mode, setting.scale, now, uow.clock.progression())
