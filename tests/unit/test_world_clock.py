"""The world clock's arithmetic and how `polls` and `immediate` jobs move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from emulator.core.world_clock import WorldClock, from_us, to_us
from providers.migration import timing
from providers.migration.job_timeline import RUNNING, STARTING, poll, view
from storage.db import Store
from storage.world_clock import FROZEN, SCALED, ClockSetting, starting_setting

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SECOND = 1_000_000


def test_a_scaled_clock_runs_scale_times_as_fast_from_where_it_was_set() -> None:
    setting = ClockSetting(SCALED, 60.0, base_us=to_us(T0), anchor_us=5 * SECOND)
    assert setting.at(5 * SECOND) == to_us(T0)
    assert from_us(setting.at(7 * SECOND)) == T0 + timedelta(minutes=2)


def test_freezing_and_running_again_keep_simulated_time_continuous() -> None:
    running = starting_setting(10.0, 0)
    frozen = running.changed(3 * SECOND, mode=FROZEN)
    assert frozen.at(3 * SECOND) == frozen.at(100 * SECOND) == 30 * SECOND
    again = frozen.changed(100 * SECOND, mode=SCALED)
    assert again.at(100 * SECOND) == 30 * SECOND
    assert again.at(101 * SECOND) == 40 * SECOND
    slower = again.changed(101 * SECOND, scale=1.0)
    assert slower.at(103 * SECOND) == 42 * SECOND


class FixedWall:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


def test_the_world_clock_reads_the_setting_the_store_last_saw() -> None:
    store = SimpleNamespace(clock_setting=None)
    clock = WorldClock(cast(Store, store), FixedWall(T0))
    assert clock.now() == T0  # no clock stored yet: wall time
    store.clock_setting = ClockSetting(FROZEN, 1.0, to_us(T0 - timedelta(days=1)), 0)
    assert clock.now() == T0 - timedelta(days=1)


PLAN = timing.percent_plan([timing.Phase(3, "Connecting"), timing.Phase(7, "Copying"),
                            timing.Phase(1, "Resuming")])


def job(**values: Any) -> SimpleNamespace:
    base: dict[str, Any] = {"job_state": None, "finished_at": None, "percent_final": None,
                            "started_at": T0, "submitted_at": T0, "due_at": None, "plan": PLAN,
                            "progression": "polls", "polls": 0}
    return SimpleNamespace(**{**base, **values})


def due_at(polled: Any) -> datetime | None:
    return cast(datetime | None, polled.due_at)


def test_a_polls_job_moves_one_phase_per_read_and_not_with_time() -> None:
    polled: Any = job()
    later = T0 + timedelta(hours=1)
    seen = view(polled, later)
    assert (seen.state, seen.percent, seen.changes_at) == (STARTING, 0, None)
    poll(polled, later)
    seen = view(polled, later + timedelta(hours=1))
    assert (seen.state, seen.percent) == (RUNNING, int(float(PLAN[1][1])))
    poll(polled, later)
    assert view(polled, later).percent == int(float(PLAN[2][1]))
    assert polled.due_at is None
    poll(polled, later)  # through the last phase: due to end now
    poll(polled, later + timedelta(seconds=1))  # no further once due
    assert (polled.polls, due_at(polled)) == (3, later)


def test_reads_do_not_move_jobs_on_the_clock_or_queued_ones() -> None:
    for other in (job(progression="clock"), job(started_at=None)):
        poll(cast(Any, other), T0)
        assert other.polls == 0 and other.due_at is None
