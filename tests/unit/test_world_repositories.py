"""The world repositories' contract: the SQL store and the in-memory fake of the provider tests
answer the same reads and make the same changes, step by step, from the same seeded plan."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator.setup.scenario import demo_scenario
from emulator.setup.seeding import prepare_store, world_plan
from storage.db import Store
from storage.models import Host, Job, MigrationNetwork, NetworkAdapter, VirtualDisk
from storage.models import VirtualMachine as VM
from storage.repositories import NewJob, WorldUnitOfWork
from tests.support.fake_world import FakeWorld

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Opener = Callable[[], contextlib.AbstractContextManager[WorldUnitOfWork]]


@pytest.fixture(params=["sql", "fake"])
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    if request.param == "fake":
        fake = FakeWorld.from_plan(world_plan(demo_scenario(), NOW))
        yield fake.unit_of_work
        return
    store = Store(f"sqlite:///{tmp_path / 'world.db'}")
    prepare_store(store, demo_scenario(), NOW, reset=False)
    yield store.unit_of_work
    store.dispose()


def columns(row: Any, model: type) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in model.__table__.columns  # type: ignore[attr-defined]
            if c.key != "version_id"}


def names(rows: Any) -> list[str]:
    return [row.element_name for row in rows]


def test_reads_of_a_seeded_world(unit: Opener) -> None:
    with unit() as uow:
        world = uow.world
        assert world.cluster().name == "HVDEMO"
        assert world.host_names() == ["HV-01", "HV-02"]
        hv1 = world.host_named("hv-01")
        assert hv1 is not None
        assert columns(hv1, Host) == columns(world.hosts()[0], Host)
        assert getattr(world.host_by_id(hv1.id), "name", None) == "HV-01"
        assert world.host_named("HV-99") is None and world.host_by_id(999) is None
        assert [columns(n, MigrationNetwork) for n in world.networks_of(hv1.id)] == [
            {"id": 1, "host_id": hv1.id, "instance_id": n.instance_id, "subnet": "10.0.0.0",
             "prefix_length": 24, "metric": 1, "tags": n.tags}
            for n in world.networks_of(hv1.id)]
        on_hv1 = world.vms_on_host("hv-01", planned=False)
        assert names(on_hv1) == ["web-01", "web-02", "db-01"]
        assert names(world.vms_everywhere(planned=False)) == [
            "web-01", "web-02", "db-01", "app-01", "build-01", "legacy-01"]
        assert world.vms_on_host("HV-01", planned=True) == []
        db01 = on_hv1[2]
        assert getattr(world.vm_on_host("HV-01", db01.guid.lower(), planned=False), "id",
                       None) == db01.id
        assert world.vm_on_host("HV-02", db01.guid, planned=False) is None
        assert getattr(world.vm_anywhere(db01.guid, planned=False), "id", None) == db01.id
        assert world.vm_anywhere(db01.guid, planned=True) is None
        disks = world.disks_of_vms([vm.id for vm in on_hv1])
        assert sorted(disks) == [vm.id for vm in on_hv1]
        assert [columns(d, VirtualDisk)["path"] for d in disks[db01.id]] == [
            d.path for d in disks[db01.id]]
        adapters = world.adapters_of_vms([db01.id, 999])
        assert list(adapters) == [db01.id]
        assert [a.switch_name for a in adapters[db01.id]] == ["External", "Internal"]
        assert world.jobs() == [] and world.active_job_counts(hv1.id) == (0, 0)


def test_the_same_world_is_seeded_on_both(tmp_path: Path) -> None:
    """Ids included: the fake hands them out in the order the store's inserts do."""
    plan = world_plan(demo_scenario(), NOW)
    fake = FakeWorld.from_plan(plan).unit_of_work().world
    store = Store(f"sqlite:///{tmp_path / 'world.db'}")
    prepare_store(store, demo_scenario(), NOW, reset=False)
    try:
        with store.unit_of_work() as uow:
            sql = uow.world
            for reads in (fake, sql):
                assert reads.host_names() == ["HV-01", "HV-02"]

            def everything(reads: Any) -> list[Any]:
                vms = [*reads.vms_everywhere(planned=False)]
                ids = [vm.id for vm in vms]
                return [[columns(h, Host) for h in reads.hosts()],
                        [columns(n, MigrationNetwork) for h in reads.hosts()
                         for n in reads.networks_of(h.id)],
                        [columns(vm, VM) for vm in vms],
                        {i: [columns(d, VirtualDisk) for d in ds]
                         for i, ds in reads.disks_of_vms(ids).items()},
                        {i: [columns(a, NetworkAdapter) for a in ads]
                         for i, ads in reads.adapters_of_vms(ids).items()}]
            assert everything(fake) == everything(sql)
    finally:
        store.dispose()


def new_job(vm: Any, host_id: int, destination_id: int | None, *, instance_id: str,
            submitted: datetime, kind: str = "move") -> NewJob:
    return NewJob(instance_id=instance_id, classname="Msvm_MigrationJob", host_id=host_id,
                  job_type=305, kind=kind, plan=[[10.0, 0, 100, "Moving"]],
                  request={"description": "Moving Virtual Machine"}, submitted_at=submitted,
                  removal_seconds=300, migration_type=32768,
                  destination_host_id=destination_id, destination_name="HV-02", vm_id=vm.id,
                  vm_guid=vm.guid, vm_name=vm.element_name, counts_vm=True)


def test_jobs_queue_run_end_and_go(unit: Opener) -> None:
    with unit() as uow:
        hv1, hv2 = uow.hosts.all()
        web01, web02 = uow.vms.of_host(hv1.id)[:2]
        first = uow.jobs.add(new_job(web01, hv1.id, hv2.id, instance_id="AAAA-1",
                                     submitted=NOW))
        uow.jobs.add(new_job(web02, hv1.id, hv2.id, instance_id="AAAA-2",
                             submitted=NOW + timedelta(seconds=1)))
        uow.commit()
    with unit() as uow:
        assert [j.instance_id for j in uow.jobs.queued_on(hv1.id)] == ["AAAA-1", "AAAA-2"]
        assert uow.jobs.named("aaaa-1") is not None and uow.jobs.named("nope") is None
        assert uow.jobs.moving_vm(vm_id=web01.id) == "AAAA-1"
        assert uow.jobs.moving_vm(vm_guid=web02.guid) == "AAAA-2"
        assert uow.jobs.moving_vm(vm_id=999) is None
        assert [j.instance_id for j in uow.jobs.active_with_vm()] == ["AAAA-1", "AAAA-2"]
        assert uow.jobs.incoming_memory_mb(hv2.id, except_vm_id=None) == 4096 + 2048
        assert uow.jobs.incoming_memory_mb(hv2.id, except_vm_id=web01.id) == 2048
        assert uow.jobs.incoming_memory_mb(hv1.id, except_vm_id=None) == 0
        assert uow.jobs.next_due() is None and uow.jobs.next_ending(NOW) is None
        job = uow.jobs.named("AAAA-1")
        assert job is not None and job.id == first.id
        job.started_at, job.due_at = NOW, NOW + timedelta(seconds=10)
        uow.commit()
    with unit() as uow:
        assert uow.jobs.running_counts(hv1.id) == (1, 0)
        assert uow.world.active_job_counts(hv1.id) == (1, 0)
        assert [j.instance_id for j in uow.jobs.queued_on(hv1.id)] == ["AAAA-2"]
        assert uow.jobs.next_due() == NOW + timedelta(seconds=10)
        assert uow.jobs.next_ending(NOW) is None
        ending = uow.jobs.next_ending(NOW + timedelta(seconds=10))
        assert ending is not None and ending.instance_id == "AAAA-1"
        ending.job_state, ending.due_at = 7, None
        ending.remove_at = NOW + timedelta(seconds=310)
        uow.commit()
    with unit() as uow:
        assert uow.jobs.moving_vm(vm_id=web01.id) is None
        assert uow.jobs.next_due() == NOW + timedelta(seconds=310)
        assert [j.instance_id for j in uow.world.jobs(hv1.id)] == ["AAAA-1", "AAAA-2"]
        assert uow.world.jobs(hv2.id) == []
        assert uow.jobs.remove_expired(NOW + timedelta(seconds=309)) == 0
        assert uow.jobs.remove_expired(NOW + timedelta(seconds=310)) == 1
        uow.commit()
    with unit() as uow:
        assert [j.instance_id for j in uow.world.jobs()] == ["AAAA-2"]
        doomed = uow.jobs.named("AAAA-2")
        assert doomed is not None
        uow.jobs.delete(doomed)
        uow.commit()
    with unit() as uow:
        assert uow.world.jobs() == []


def test_planned_copies_moves_and_removal(unit: Opener) -> None:
    with unit() as uow:
        hv1, hv2 = uow.hosts.all()
        db01 = uow.vms.of_host(hv1.id)[2]
        disk = db01.disks[0]
        assert uow.vms.memory_in_use_mb(hv1.id) == 4096 + 2048  # db-01 is off
        planned = uow.vms.add_planned_copy(
            db01, hv2.id, roots={"ConfigurationDataRoot": "D:\\VMs"},
            disk_paths={disk.id: "D:\\VMs\\db-01.vhdx"})
        uow.commit()
        planned_id = planned.id
    with unit() as uow:
        copy = uow.vms.on_host(hv2.id, db01.guid.lower(), planned=True)
        assert copy is not None and copy.id == planned_id
        assert uow.vms.on_host(hv2.id, db01.guid, planned=False) is None
        assert uow.vms.on_host(hv2.id, db01.guid, planned=None) is copy
        assert (copy.config_root, copy.snapshot_root) == ("D:\\VMs", db01.config_root)
        assert (copy.enabled_state, copy.element_name) == (3, "db-01")
        assert [d.path for d in copy.disks] == ["D:\\VMs\\db-01.vhdx", *[
            d.path for d in db01.disks[1:]]]
        assert [a.adapter_guid for a in copy.network_adapters] == [
            a.adapter_guid for a in db01.network_adapters]
        assert [vm.planned for vm in uow.vms.with_guid_on_host(hv2.id, db01.guid)] == [True]
        assert "D:\\VMs\\db-01.vhdx" in uow.vms.disk_paths_on_host(hv2.id, except_guid="x")
        assert "D:\\VMs\\db-01.vhdx" not in uow.vms.disk_paths_on_host(
            hv2.id, except_guid=db01.guid.lower())
        assert names(uow.world.vms_on_host("HV-02", planned=True)) == ["db-01"]
        assert names(uow.world.vms_everywhere(planned=True)) == ["db-01"]
        assert sorted(uow.world.disks_of_vms([planned_id])) == [planned_id]
        uow.vms.destroy(copy)
        uow.flush()
        moving = uow.vms.get(db01.id)
        assert moving is not None
        moving.host_id = hv2.id
        uow.commit()
    with unit() as uow:
        assert uow.world.vms_on_host("HV-02", planned=True) == []
        assert uow.world.disks_of_vms([planned_id]) == {}
        assert names(uow.world.vms_on_host("HV-02", planned=False)) == [
            "db-01", "app-01", "build-01", "legacy-01"]
        assert uow.vms.get(planned_id) is None


def test_defined_vms_gain_and_lose_drives_and_adapters(unit: Opener) -> None:
    with unit() as uow:
        hv1 = uow.hosts.all()[0]
        template = uow.vms.of_host(hv1.id)[2]
        own = {c.key: getattr(template, c.key) for c in VM.__table__.columns
               if c.key not in ("id", "host_id", "version_id")}
        vm = uow.vms.define(hv1.id, {**own, "guid": "0000AAAA-0000-4000-8000-000000000001",
                                     "element_name": "new-01", "processor_weight": 200})
        assert vm.id is not None and vm.host_id == hv1.id
        drive = uow.vms.add_disk(vm, controller_kind="ide", controller_number=0,
                                 controller_guid="83F8638B-8DCA-4152-9EDA-2CA8B33039B4",
                                 location=0, path="", size_gb=0)
        uow.vms.add_disk(vm, controller_kind="ide", controller_number=0,
                         controller_guid="83F8638B-8DCA-4152-9EDA-2CA8B33039B4", location=1,
                         path="D:\\new-01.vhdx", size_gb=40)
        uow.vms.add_adapter(vm, adapter_guid="0000BBBB-0000-4000-8000-000000000001",
                            element_name="Network Adapter", switch_name="External",
                            mac_address="00155D000001")
        uow.commit()
        vm_id, drive_id = vm.id, drive.id
    with unit() as uow:
        row = uow.world.vm_on_host("HV-01", "0000aaaa-0000-4000-8000-000000000001",
                                   planned=False)
        assert row is not None and row.id == vm_id
        assert (row.element_name, row.processor_weight, row.serial_connections) == (
            "new-01", 200, ["", ""])
        assert [(d.location, d.path) for d in uow.world.disks_of_vms([vm_id])[vm_id]] == [
            (0, ""), (1, "D:\\new-01.vhdx")]
        assert [a.switch_name for a in uow.world.adapters_of_vms([vm_id])[vm_id]] == [
            "External"]
        version = row.version_id
        stored = uow.vms.get(vm_id)
        assert stored is not None
        uow.vms.remove_disk(stored, next(d for d in stored.disks if d.id == drive_id))
        uow.vms.remove_adapter(stored, stored.network_adapters[0])
        uow.vms.touch(stored)
        uow.commit()
    with unit() as uow:
        row = uow.world.vm_on_host("HV-01", "0000AAAA-0000-4000-8000-000000000001",
                                   planned=False)
        assert row is not None and row.version_id > version
        assert [d.location for d in uow.world.disks_of_vms([vm_id])[vm_id]] == [1]
        assert uow.world.adapters_of_vms([vm_id]) == {}


def test_migration_networks_come_and_go(unit: Opener) -> None:
    with unit() as uow:
        hv1 = uow.hosts.all()[0]
        added = uow.hosts.add_network(hv1, instance_id="Microsoft:NEW", subnet="192.168.0.0",
                                      prefix_length=16, metric=5, tags=["Microsoft:UserManaged"])
        uow.commit()
        assert added.host_id == hv1.id
    with unit() as uow:
        rows = uow.world.networks_of(hv1.id)
        assert [(n.subnet, n.prefix_length, n.metric) for n in rows] == [
            ("10.0.0.0", 24, 1), ("192.168.0.0", 16, 5)]
        host = uow.hosts.get(hv1.id)
        assert host is not None
        uow.hosts.remove_network(host, host.networks[0])
        uow.commit()
    with unit() as uow:
        assert [n.instance_id for n in uow.world.networks_of(hv1.id)] == ["Microsoft:NEW"]


def test_a_job_row_has_the_bookkeeping_columns(unit: Opener) -> None:
    with unit() as uow:
        hv1 = uow.hosts.all()[0]
        vm = uow.vms.of_host(hv1.id)[0]
        job: Job = uow.jobs.add(new_job(vm, hv1.id, None, instance_id="B-1", submitted=NOW,
                                        kind="check"))
        assert (job.error_code, job.errors, job.delete_on_completion) == (0, [], True)
        assert (job.started_at, job.job_state, job.remove_at) == (None, None, None)
        assert job.request == {"description": "Moving Virtual Machine"}


def test_keyboard_input_is_a_bounded_record_per_vm(unit: Opener) -> None:
    with unit() as uow:
        hv1 = uow.hosts.all()[0]
        first, second = uow.vms.of_host(hv1.id)[:2]
        for number in range(5):
            uow.keyboards.record(first.id, at=NOW + timedelta(seconds=number), method="TypeText",
                                 detail=f"text {number}", typed=str(number), keep=3)
        uow.keyboards.record(second.id, at=NOW, method="TypeKey", detail="VK_RETURN",
                             typed="\n" + "x" * 600, keep=3)
        uow.keyboards.press(first.id, 0x41, at=NOW)
        uow.keyboards.press(first.id, 0x41, at=NOW + timedelta(seconds=2))
        uow.keyboards.press(first.id, 0x10, at=NOW)
        uow.commit()
    with unit() as uow:
        kept = uow.keyboards.recent(first.id, 10)
        assert [(e.method, e.detail, e.typed) for e in kept] == [
            ("TypeText", "text 2", "2"), ("TypeText", "text 3", "3"), ("TypeText", "text 4", "4")]
        assert [e.at for e in kept] == [NOW + timedelta(seconds=n) for n in (2, 3, 4)]
        assert [e.detail for e in uow.keyboards.recent(first.id, 1)] == ["text 4"]
        (other,) = uow.keyboards.recent(second.id, 10)
        assert other.typed == "x" * 512
        assert uow.keyboards.keys_down(first.id, since=NOW) == {0x41, 0x10}
        assert uow.keyboards.keys_down(first.id, since=NOW + timedelta(seconds=1)) == {0x41}
        assert uow.keyboards.keys_down(second.id, since=NOW) == set()
        uow.keyboards.release(first.id, 0x41)
        uow.keyboards.release(first.id, 0x42)
        uow.commit()
    with unit() as uow:
        assert uow.keyboards.keys_down(first.id, since=NOW) == {0x10}
        vm = uow.vms.get(first.id)
        assert vm is not None
        uow.vms.destroy(vm)
        uow.commit()
    with unit() as uow:
        assert uow.keyboards.keys_down(first.id, since=NOW) == set()
        assert uow.keyboards.recent(first.id, 10) == []


def test_a_state_change_written_and_its_memory_held(unit: Opener) -> None:
    """The lifecycle writes a VM's state columns; memory counts from Starting to Stopping."""
    later = NOW + timedelta(seconds=90)
    with unit() as uow:
        hv1 = uow.hosts.all()[0]
        web01, _, db01 = uow.vms.of_host(hv1.id)
        assert (web01.running_since, web01.uptime_ms, web01.requested_state) == (NOW, 0, 12)
        assert db01.running_since is None and web01.shutdown_service is True
        db01.enabled_state, db01.requested_state, db01.state_changed_at = 10, 2, later
        web01.enabled_state, web01.uptime_ms, web01.running_since = 32773, 90_000, None
        uow.commit()
    with unit() as uow:
        assert uow.vms.memory_in_use_mb(hv1.id) == 4096 + 2048 + 16384
        row = uow.world.vm_on_host("HV-01", db01.guid, planned=False)
        assert row is not None
        assert (row.enabled_state, row.requested_state, row.state_changed_at) == (10, 2, later)
        row = uow.world.vm_on_host("HV-01", web01.guid, planned=False)
        assert row is not None
        assert (row.enabled_state, row.uptime_ms, row.running_since) == (32773, 90_000, None)
        saving = uow.vms.get(web01.id)
        assert saving is not None
        copy = uow.vms.add_planned_copy(saving, uow.hosts.all()[1].id, roots={}, disk_paths={})
        uow.flush()
        assert (copy.uptime_ms, copy.running_since, copy.requested_state) == (0, None, 12)
