"""The store on SQLite and on a real PostgreSQL: seeding, restarts, optimistic concurrency."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from emulator.setup.scenario import demo_scenario, generated_scenario
from emulator.setup.seeding import ScenarioMismatch, prepare_store
from storage.db import Store
from storage.errors import StaleWrite
from storage.models import Host, VirtualDisk, VirtualMachine

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    yield store
    store.dispose()


def count(store: Store, model: type) -> int:
    with store.unit_of_work() as uow:
        return uow.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_seeds_once_and_keeps_the_world(store: Store) -> None:
    assert prepare_store(store, demo_scenario(), NOW, reset=False) is True
    assert prepare_store(store, demo_scenario(), NOW, reset=False) is False
    assert count(store, Host) == 2
    assert count(store, VirtualMachine) == 6
    assert count(store, VirtualDisk) == 7


def test_another_scenario_is_refused_unless_reset(store: Store) -> None:
    prepare_store(store, demo_scenario(), NOW, reset=False)
    other = generated_scenario(3, 2, seed=5)
    with pytest.raises(ScenarioMismatch, match="--reset"):
        prepare_store(store, other, NOW, reset=False)
    assert prepare_store(store, other, NOW, reset=True) is True
    assert count(store, Host) == 3
    assert count(store, VirtualMachine) == 6


def test_timestamps_come_back_in_utc(store: Store) -> None:
    prepare_store(store, demo_scenario(), NOW, reset=False)
    with store.unit_of_work() as uow:
        vm = uow.session.scalars(select(VirtualMachine)).first()
        assert vm is not None
        assert vm.created_at == NOW and vm.created_at.tzinfo is not None


def test_concurrent_writers_cannot_both_win(store: Store) -> None:
    prepare_store(store, demo_scenario(), NOW, reset=False)
    with store.unit_of_work() as first, store.unit_of_work() as second:
        host_a = first.session.scalars(select(Host).where(Host.name == "HV-01")).one()
        host_b = second.session.scalars(select(Host).where(Host.name == "HV-01")).one()
        host_a.migration_enabled = False
        first.commit()
        host_b.max_active_vm_migrations = 7
        with pytest.raises(StaleWrite):
            second.commit()
    with store.unit_of_work() as check:
        host = check.session.scalars(select(Host).where(Host.name == "HV-01")).one()
        assert host.migration_enabled is False and host.max_active_vm_migrations == 2


def test_uncommitted_work_is_discarded(store: Store) -> None:
    prepare_store(store, demo_scenario(), NOW, reset=False)
    with store.unit_of_work() as uow:
        host = uow.session.scalars(select(Host)).first()
        assert host is not None
        host.migration_enabled = False
    with store.unit_of_work() as uow:
        assert all(h.migration_enabled for h in uow.session.scalars(select(Host)))

