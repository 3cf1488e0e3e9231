"""Simulated time: the world clock stored with the world, so every process agrees on it.

`WorldClock` is the Clock every answer, job and hook reads. It computes simulated time from
the setting the store last read with the world version (Store.clock_setting): every request
reads the version before it reads the clock, and setting the clock moves the version, so no
process computes time from a setting older than the world it answers about. A world without
a stored clock (a database being seeded) reads the wall clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from emulator.clock import SystemClock
from providers.base import Clock
from storage.db import Store

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def to_us(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def from_us(microseconds: int) -> datetime:
    return EPOCH + timedelta(microseconds=microseconds)


class WorldClock:
    def __init__(self, store: Store, wall: Clock | None = None) -> None:
        self.store = store
        self.wall = wall or SystemClock()

    def now(self) -> datetime:
        wall = self.wall.now()
        setting = self.store.clock_setting
        if setting is None:
            return wall
        return from_us(setting.at(to_us(wall)))
