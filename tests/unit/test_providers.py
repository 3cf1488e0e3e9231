"""Provider rules that caching depends on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import cast

from providers.base import ClassLookup, ProviderContext
from providers.computer_system import ON_TIME_BUCKET_SECONDS, vm_record
from storage.db import UnitOfWork


def test_vm_uptime_is_constant_within_a_cache_bucket() -> None:
    changed = datetime(2026, 11, 22, 8, 0, 12, 500000, tzinfo=UTC)
    vm = SimpleNamespace(id=1, version_id=1, enabled_state=2, state_changed_at=changed,
                         planned=False, guid="G", element_name="v", created_at=changed,
                         health_state=5, operational_status=[2], operating_status=None,
                         running_since=changed, uptime_ms=0, requested_state=12)
    bucket_start = datetime(2026, 11, 22, 8, 1, 0, tzinfo=UTC)
    readings = set()
    for offset in (0, 7.5, ON_TIME_BUCKET_SECONDS - 0.001):
        clock = SimpleNamespace(now=lambda o=offset: bucket_start + timedelta(seconds=o))
        # vm_record reads only the clock: a None unit of work or class lookup fails loudly if
        # that changes.
        context = ProviderContext(uow=cast(UnitOfWork, None), clock=clock,
                                  classes=cast(ClassLookup, None))
        record = vm_record(context, vm)
        readings.add((record.etag, record.values()["OnTimeInMilliseconds"], record.expires))
    assert len(readings) == 1
    (_etag, uptime, expires), = readings
    assert uptime == 47500 and expires == bucket_start.timestamp() + ON_TIME_BUCKET_SECONDS
