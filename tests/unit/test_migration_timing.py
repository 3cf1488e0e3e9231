"""The migration models (§16.2-16.3), job progress over time, and compatibility blobs (§2.8, §7)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from providers.migration import compat, timing
from providers.migration.job_timeline import (
    COMPLETED,
    EXCEPTION,
    KILLED,
    NEW,
    RUNNING,
    STARTING,
    TERMINATED,
    view,
)

memory = st.floats(min_value=256, max_value=262144)
rates = st.floats(min_value=1, max_value=10000)
dirty_rates = st.floats(min_value=0, max_value=5000)
phase_lists = st.lists(
    st.builds(timing.Phase, st.floats(min_value=0, max_value=5000), st.text(max_size=5)),
    min_size=1, max_size=8)


# ---------------------------------------------------------------------------- pre-copy model


@given(memory, dirty_rates, rates, st.sampled_from([0, 1, 2]))
def test_precopy_passes_are_capped_and_blackout_is_what_is_left(
        memory_mb: float, dirty: float, rate: float, capping: int) -> None:
    transfer = timing.memory_transfer(memory_mb, dirty, rate, enabled_state=2,
                                     cpu_capping=capping)
    assert 1 <= transfer.passes <= timing.MAX_PASSES
    copies = transfer.phases[:-1]
    assert len(copies) == transfer.passes
    assert transfer.phases[-1].seconds == pytest.approx(transfer.blackout_seconds)
    # The first pass sends all of memory; the blackout sends what the last pass let dirty.
    assert copies[0].seconds == pytest.approx(memory_mb / rate)
    effective = dirty * timing.CPU_CAP_DIRTY_FACTOR[capping]
    remaining = min(memory_mb, effective * copies[-1].seconds)
    assert transfer.blackout_seconds == pytest.approx(remaining / rate)
    if transfer.passes < timing.MAX_PASSES:
        assert remaining <= timing.CONVERGED_MB
    # Each pass after the first sends at most what the previous one let dirty.
    for before, after in itertools.pairwise(copies):
        assert after.seconds <= before.seconds * max(1.0, effective / rate) + 1e-9


@given(memory, rates)
def test_precopy_converges_when_dirtying_is_much_slower_than_the_link(
        memory_mb: float, rate: float) -> None:
    dirty = rate / 1000.0
    transfer = timing.memory_transfer(memory_mb, dirty, rate, enabled_state=2)
    assert transfer.passes < timing.MAX_PASSES
    assert transfer.blackout_seconds * rate <= timing.CONVERGED_MB + 1e-6


def test_precopy_that_never_converges_stops_after_five_passes() -> None:
    transfer = timing.memory_transfer(4096, 2000, 100, enabled_state=2)
    assert transfer.passes == timing.MAX_PASSES == 5
    # Dirtying faster than the link: every pass resends all memory.
    assert transfer.blackout_seconds == pytest.approx(4096 / 100)


def test_cpu_capping_shortens_a_migration_that_converges_slowly() -> None:
    normal = timing.memory_transfer(8192, 150, 200, enabled_state=2, cpu_capping=0)
    high = timing.memory_transfer(8192, 150, 200, enabled_state=2, cpu_capping=2)
    assert sum(p.seconds for p in high.phases) < sum(p.seconds for p in normal.phases)
    assert high.blackout_seconds < normal.blackout_seconds


@given(st.floats(min_value=1, max_value=10000))
def test_compression_and_smb_speed_up_the_link(bandwidth: float) -> None:
    plain = timing.link_rate(bandwidth, compression=False, smb=False)
    assert plain == bandwidth
    assert timing.link_rate(bandwidth, compression=True, smb=False) == pytest.approx(
        bandwidth * timing.COMPRESSION_FACTOR)
    # SMB does not compress: the same with or without the compression flag.
    assert timing.link_rate(bandwidth, compression=True, smb=True) == pytest.approx(
        bandwidth * timing.SMB_FACTOR)
    assert timing.link_rate(bandwidth, compression=False, smb=True) == pytest.approx(
        bandwidth * timing.SMB_FACTOR)


@given(memory, dirty_rates, rates)
def test_a_faster_link_never_makes_the_migration_longer(
        memory_mb: float, dirty: float, rate: float) -> None:
    slow = timing.memory_transfer(memory_mb, dirty, rate, enabled_state=2)
    fast = timing.memory_transfer(memory_mb, dirty, rate * timing.COMPRESSION_FACTOR,
                                 enabled_state=2)
    assert fast.phases[0].seconds < slow.phases[0].seconds
    # (The blackout alone may grow a little: a faster link converges a pass earlier.)
    assert sum(p.seconds for p in fast.phases) <= sum(p.seconds for p in slow.phases) + 1e-9


@given(memory, dirty_rates, rates)
def test_an_off_vm_moves_only_its_configuration(memory_mb: float, dirty: float,
                                                rate: float) -> None:
    transfer = timing.memory_transfer(memory_mb, dirty, rate, enabled_state=3)
    assert transfer.passes == 0 and transfer.blackout_seconds == 0
    assert [p.seconds for p in transfer.phases] == [timing.CONFIGURATION_SECONDS]


@pytest.mark.parametrize("state", [6, 9])
def test_a_saved_or_paused_vm_is_copied_once_without_blackout(state: int) -> None:
    transfer = timing.memory_transfer(4096, 500, 100, enabled_state=state)
    assert transfer.passes == 1 and transfer.blackout_seconds == 0
    assert [p.seconds for p in transfer.phases] == [pytest.approx(40.96)]


def test_storage_copy_runs_at_the_storage_bandwidth() -> None:
    assert timing.storage_copy_seconds(60, 512) == pytest.approx(120.0)


# ------------------------------------------------------------------------- progress model


@given(phase_lists)
def test_percent_plan_spans_0_to_99_in_simulated_time(phases: list[timing.Phase]) -> None:
    plan = timing.percent_plan(phases)
    assert timing.plan_seconds(plan) == pytest.approx(sum(p.seconds for p in phases))
    assert plan[0][1] == 0
    previous_end = 0.0
    for seconds, start, end, _status in plan:
        assert float(start) == pytest.approx(previous_end)
        assert 0 <= float(start) <= float(end) <= 99 + 1e-9
        assert float(seconds) >= 0
        previous_end = float(end)
    if sum(p.seconds for p in phases) > 0:
        assert float(plan[-1][2]) == pytest.approx(99)


@given(phase_lists, st.lists(st.floats(min_value=0, max_value=20000), min_size=2, max_size=30))
def test_percent_never_decreases_and_stays_below_100(phases: list[timing.Phase],
                                                      times: list[float]) -> None:
    plan = timing.percent_plan(phases)
    total = timing.plan_seconds(plan)
    last = -1
    for elapsed in sorted([*times, total, total * 0.5]):
        percent, _status, wait = timing.progress_at(plan, elapsed)
        assert 0 <= percent <= 99
        assert percent >= last
        last = percent
        if elapsed >= total:
            assert wait is None
        else:
            assert wait is not None and wait >= 0


@settings(max_examples=300)
@given(phase_lists, st.floats(min_value=0, max_value=1), st.floats(min_value=0,
                                                                  max_value=0.999))
def test_wait_is_consistent(phases: list[timing.Phase], where: float, within: float) -> None:
    """Nothing a client sees changes before elapsed + wait; by then something does."""
    phases = [timing.Phase(p.seconds, f"phase {i}") for i, p in enumerate(phases)]
    plan = timing.percent_plan(phases)
    total = timing.plan_seconds(plan)
    assume(total > 0)
    elapsed = total * where
    percent, status, wait = timing.progress_at(plan, elapsed)
    if wait is None:
        return
    # Waits below float resolution at `elapsed` cannot be added to it meaningfully.
    assume(wait > 1e-9 * max(1.0, elapsed))
    assert timing.progress_at(plan, elapsed + wait * within)[:2] == (percent, status)
    # progress_at answers early by up to a billionth of the moment (float rounding margin).
    later = elapsed + wait * 1.0001 + 2e-9 * max(1.0, elapsed + wait)
    after, after_status, after_wait = timing.progress_at(plan, later)
    assert after >= percent
    # By then the percent or status moved on, or the plan ended (the job completes).
    assert (after, after_status) != (percent, status) or after_wait is None


def test_progress_through_a_plan() -> None:
    plan = timing.percent_plan([timing.Phase(10, "a"), timing.Phase(90, "b")])
    # Phase a covers 0-9.9 %.
    percent, status, wait = timing.progress_at(plan, 0.0)
    assert (percent, status) == (0, "a") and wait == pytest.approx(10 / 9.9)
    assert timing.progress_at(plan, 5.0)[:2] == (4, "a")
    assert timing.progress_at(plan, 10.0)[:2] == (9, "b")
    assert timing.progress_at(plan, 100.0) == (99, "b", None)
    assert timing.progress_at(plan, 1e9) == (99, "b", None)


# ----------------------------------------------------------------------------- job view

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PLAN = timing.percent_plan([timing.Phase(3, "Connecting"), timing.Phase(97, "Copying")])


def job(**values: Any) -> SimpleNamespace:
    base: dict[str, Any] = {"job_state": None, "finished_at": None, "percent_final": None,
                            "started_at": None, "submitted_at": T0, "due_at": None,
                            "plan": PLAN, "progression": "clock", "polls": 0}
    return SimpleNamespace(**{**base, **values})


def test_view_of_a_queued_job() -> None:
    seen = view(job(), T0 + timedelta(hours=1))
    assert (seen.state, seen.percent, seen.state_since, seen.changes_at) == (NEW, 0, T0, None)
    assert "Queued" in seen.status


def test_view_of_a_starting_then_running_job() -> None:
    started = T0 + timedelta(seconds=5)
    running = job(started_at=started, due_at=started + timedelta(seconds=100))
    seen = view(running, started + timedelta(seconds=1))
    assert seen.state == STARTING and seen.state_since == started
    assert seen.percent == 0
    assert seen.changes_at is not None and seen.changes_at <= started + timedelta(seconds=3)
    seen = view(running, started + timedelta(seconds=50))
    assert seen.state == RUNNING and seen.state_since == started + timedelta(seconds=3)
    assert seen.percent == 49 and seen.status == "Copying"
    # Past its end but not yet settled: still running at 99 %, due now.
    seen = view(running, started + timedelta(seconds=500))
    assert (seen.state, seen.percent) == (RUNNING, 99)
    assert seen.changes_at == started + timedelta(seconds=100)


@given(st.lists(st.floats(min_value=0, max_value=200), min_size=1, max_size=40))
def test_view_percent_and_state_never_go_back(offsets: list[float]) -> None:
    started = T0
    running = job(started_at=started, due_at=started + timedelta(seconds=100))
    last_percent, last_state = -1, NEW
    for offset in sorted(offsets):
        seen = view(running, started + timedelta(seconds=offset))
        assert seen.percent >= last_percent and seen.state >= last_state
        assert seen.percent <= 99 and seen.state in (STARTING, RUNNING)
        if offset >= 100:
            # Due but not settled yet: it changes (ends) as soon as it is settled.
            assert seen.changes_at == running.due_at
        elif seen.changes_at is not None:
            assert seen.changes_at > started + timedelta(seconds=offset)
            # Nothing changes before changes_at.
            just_before = seen.changes_at - (seen.changes_at - started
                                             - timedelta(seconds=offset)) / 2
            early = view(running, just_before)
            assert (early.percent, early.state) == (seen.percent, seen.state)
        last_percent, last_state = seen.percent, seen.state


@pytest.mark.parametrize(("state", "percent", "text"), [
    (COMPLETED, 100, "successfully"), (TERMINATED, 40, "cancelled"), (KILLED, 12, "killed"),
    (EXCEPTION, 3, "failed")])
def test_view_of_a_terminal_job_is_frozen(state: int, percent: int, text: str) -> None:
    finished = T0 + timedelta(seconds=30)
    ended = job(job_state=state, percent_final=percent, started_at=T0, finished_at=finished)
    for later in (finished, finished + timedelta(days=3)):
        seen = view(ended, later)
        assert (seen.state, seen.percent, seen.state_since, seen.changes_at) == (
            state, percent, finished, None)
        assert text in seen.status


# ------------------------------------------------------------------ compatibility blobs

KEY = compat.cluster_key("HVDEMO", 2026)
bodies = st.dictionaries(st.text(max_size=8), st.one_of(
    st.integers(), st.text(max_size=10), st.lists(st.integers(), max_size=4)), max_size=6)


@given(bodies)
def test_blob_round_trip(body: dict[str, Any]) -> None:
    assert compat.decode_blob(compat.encode_blob(body, KEY), KEY) == body


@given(bodies, st.data())
def test_any_altered_byte_is_detected(body: dict[str, Any], data: st.DataObject) -> None:
    blob = bytearray(compat.encode_blob(body, KEY))
    index = data.draw(st.integers(0, len(blob) - 1))
    flip = data.draw(st.integers(1, 255))
    blob[index] ^= flip
    with pytest.raises(compat.BadBlob):
        compat.decode_blob(bytes(blob), KEY)


@given(bodies, st.integers(1, 40))
def test_truncated_or_extended_blobs_are_rejected(body: dict[str, Any], cut: int) -> None:
    blob = compat.encode_blob(body, KEY)
    with pytest.raises(compat.BadBlob):
        compat.decode_blob(blob[:-cut], KEY)
    with pytest.raises(compat.BadBlob):
        compat.decode_blob(blob + b"\0" * cut, KEY)


@given(st.binary(max_size=200))
def test_garbage_is_rejected(garbage: bytes) -> None:
    with pytest.raises(compat.BadBlob):
        compat.decode_blob(garbage, KEY)


def test_a_blob_of_another_cluster_is_rejected() -> None:
    blob = compat.encode_blob({"kind": "host"}, compat.cluster_key("OTHER", 2026))
    with pytest.raises(compat.BadBlob, match="another cluster"):
        compat.decode_blob(blob, KEY)
    with pytest.raises(compat.BadBlob):
        compat.decode_blob(blob, compat.cluster_key("HVDEMO", 2027))


def test_a_signed_blob_of_another_format_version_is_rejected() -> None:
    import hashlib
    import hmac
    payload = compat.MAGIC + bytes([compat.FORMAT_VERSION + 1]) + b"{}"
    blob = payload + hmac.new(KEY, payload, hashlib.sha256).digest()
    with pytest.raises(compat.BadBlob, match="format"):
        compat.decode_blob(blob, KEY)


def test_a_signed_body_that_is_not_an_object_is_rejected() -> None:
    import hashlib
    import hmac
    for body in (b"[1,2]", b"\xff\xfe", b"{"):
        payload = compat.MAGIC + bytes([compat.FORMAT_VERSION]) + body
        blob = payload + hmac.new(KEY, payload, hashlib.sha256).digest()
        with pytest.raises(compat.BadBlob):
            compat.decode_blob(blob, KEY)


# The rule table of §7, VM value on the left, host value on the right.
VECTOR_TABLE = [
    (compat.EQUAL, 5, 5, True), (compat.EQUAL, 5, 4, False),
    (compat.SUPERSET, 0b111, 0b101, True), (compat.SUPERSET, 0b101, 0b111, False),
    (compat.SUBSET, 0b101, 0b111, True), (compat.SUBSET, 0b111, 0b101, False),
    (compat.SUBSET, 0, 0b1, True),
    (compat.DISJOINT, 0b1010, 0b0101, True), (compat.DISJOINT, 0b1010, 0b0010, False),
    (compat.GREATER, 3, 2, True), (compat.GREATER, 2, 2, False),
    (compat.GREATER_OR_EQUAL, 2, 2, True), (compat.GREATER_OR_EQUAL, 1, 2, False),
    (compat.LESS, 1, 2, True), (compat.LESS, 2, 2, False),
    (compat.LESS_OR_EQUAL, 2, 2, True), (compat.LESS_OR_EQUAL, 3, 2, False),
    (compat.MULTIPLE, 128, 64, True), (compat.MULTIPLE, 96, 64, False),
    (compat.MULTIPLE, 64, 0, False),
    (compat.DIVISIBLE, 64, 128, True), (compat.DIVISIBLE, 64, 96, False),
    (compat.DIVISIBLE, 0, 64, False),
    (99, 1, 1, False),
]


@pytest.mark.parametrize(("operation", "vm", "host", "expected"), VECTOR_TABLE)
def test_vector_comparison_table(operation: int, vm: int, host: int, expected: bool) -> None:
    assert compat.compatible(operation, vm, host) is expected


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_vector_rules_agree_with_set_semantics(vm: int, host: int) -> None:
    assert compat.compatible(compat.SUBSET, vm, host) == (vm | host == host)
    assert compat.compatible(compat.SUPERSET, vm, host) == (vm | host == vm)
    assert compat.compatible(compat.EQUAL, vm, host) == (
        compat.compatible(compat.SUBSET, vm, host) and compat.compatible(compat.SUPERSET, vm,
                                                                          host))


def test_processor_vectors_never_match_across_vendors() -> None:
    intel = compat.processor_vectors("GenuineIntel", 0b1011, 0b11, 64)
    amd = compat.processor_vectors("AuthenticAMD", 0b1011, 0b11, 64)
    assert compat.mismatched(intel, intel) == []
    assert [v.vector_id for v in compat.mismatched(intel, amd)] == [compat.PROCESSOR_VENDOR]
    # Fewer host features: only the feature vector fails; a missing host vector fails too.
    poorer = compat.processor_vectors("GenuineIntel", 0b0011, 0b11, 64)
    assert [v.vector_id for v in compat.mismatched(intel, poorer)] == [
        compat.PROCESSOR_FEATURES]
    assert compat.mismatched(intel, intel[:2]) == intel[2:]
