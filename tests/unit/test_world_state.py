"""The world as a scenario file (emulator/setup/world_state.py) and the whole-world actions
(emulator/setup/world_control.py), on an in-memory store: an exported world seeds the same
rows again, whatever run time changed; reset, load and snapshots replace it whole."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from emulator.setup.scenario import demo_scenario
from emulator.setup.seeding import prepare_store, world_plan
from emulator.setup.world_control import (
    BadSnapshotName,
    SnapshotExists,
    UnknownSnapshot,
    WorldControl,
)
from emulator.setup.world_state import StateDocumentError, read_document, write_document
from storage.db import Store
from storage.repositories import NewJob
from storage.seeding import WorldPlan

T0 = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)
WEB_01 = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"  # running on HV-01
BUILD_01 = "C4D5E6F7-0819-4A2B-9C3D-4E5F60718293"  # paused on HV-02


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def store() -> Iterator[Store]:
    store = Store("sqlite:///:memory:")
    prepare_store(store, demo_scenario(), T0, reset=False)
    yield store
    store.dispose()


def _exported(store: Store) -> tuple[WorldPlan, str]:
    with store.unit_of_work() as uow:
        plan = uow.seeding.current_plan()
        assert plan is not None
        return plan, write_document(plan, uow.seeding.unfinished_jobs_of_vms())


def _same_world(a: WorldPlan, b: WorldPlan) -> None:
    a, b = (dataclasses.replace(p, scenario_digest="") for p in (a, b))
    assert a.hosts == b.hosts
    for left, right in zip(a.vms, b.vms, strict=True):
        assert left == right, left.columns["element_name"]
    assert a == b


def test_an_exported_world_seeds_the_same_rows_whatever_run_time_changed(store: Store) -> None:
    with store.unit_of_work() as uow:
        hv01, hv02 = uow.hosts.all()
        hv01.migration_compression = hv01.migration_smb = True  # no `performance` says both
        hv01.migration_service_started = False
        uow.hosts.add_network(hv02, instance_id="Microsoft:ANY-V6", subnet="::0",
                              prefix_length=0, metric=7, tags=["Microsoft:UserManaged"])
        web = uow.vms.on_host(hv01.id, WEB_01, planned=False)
        assert web is not None
        web.host_id = hv02.id  # as a finished migration leaves it
        web.processor_weight, web.serial_connections = 250, ["\\\\.\\pipe\\com1", ""]
        web.notes = ["moved", "twice"]
        web.uptime_ms, web.running_since = 12_345, T0 + timedelta(seconds=30)
        web.config_root = "D:\\VMs"
        uow.vms.add_disk(web, controller_kind="scsi", controller_number=0,
                         controller_guid="11111111-2222-4333-8444-555555555555", location=5,
                         path="", size_gb=0)
        uow.vms.add_adapter(web, adapter_guid="AAAAAAAA-2222-4333-8444-555555555555",
                            element_name="Backup", switch_name="Internal",
                            mac_address="00155DFFFFFF")
        uow.vms.add_planned_copy(web, hv01.id, roots={}, disk_paths={})
        uow.commit()
    plan, document = _exported(store)
    again = world_plan(read_document(document), T0 + timedelta(days=3))
    _same_world(plan, again)


def test_a_vm_in_the_middle_of_a_state_change_is_exported_as_it_was_before(
        store: Store) -> None:
    with store.unit_of_work() as uow:
        hv01, hv02 = uow.hosts.all()
        for host, guid, during, request in (
                (hv01, WEB_01, 4, {"from": 2, "during": 4, "final": 3}),  # turning off
                (hv02, BUILD_01, 32777, {"during": 32777, "final": 2})):  # resuming, no "from"
            vm = uow.vms.on_host(host.id, guid, planned=False)
            assert vm is not None
            vm.enabled_state, vm.requested_state = during, 2
            vm.running_since, vm.uptime_ms, vm.state_changed_at = None, 5000, T0
            uow.jobs.add(NewJob(instance_id=guid[:8] + "-JOB", classname="Msvm_ConcreteJob",
                                host_id=host.id, job_type=18, kind="state", plan=[],
                                request=request, submitted_at=T0, removal_seconds=300,
                                vm_id=vm.id, vm_guid=guid))
        uow.commit()
    _, document = _exported(store)
    scenario = read_document(document)
    states = {vm.guid: (vm.state, vm.runtime.uptime_ms, vm.runtime.running_since)
              for vm in scenario.vms}
    assert states[WEB_01] == (2, 5000, T0)  # running again, since the change began
    assert states[BUILD_01] == (9, 5000, None)  # paused, as a resume starts from


@pytest.mark.parametrize(("document", "where", "says"), [
    ("[cluster\nname = 1", "TOML line 1, column 9", "Expected ']'"),
    ('hosts = [{name = "HV-01"}]\nvms = [{name = "a", host = "HV-01", state = "on"}]',
     "vms[0].state", "'on' is not one of"),
    ('hosts = [{name = "HV-01", installed_at = 2026-01-01T00:00:00}]', "hosts[0].installed_at",
     "no UTC offset"),
    ('hosts = [{name = "HV-01"}]\nvms = [{name = "a", host = "HV-01", disks = [\n'
     '{path = "a", controller_number = 0, location = 0}, '
     '{path = "b", controller_number = 0, location = 0}]}]', "vms[0].disks[1]",
     "another drive is already at scsi 0:0"),
    ('hosts = [{name = "HV-01"}]\nvms = [{name = "a", host = "HV-01", network_adapters = '
     '[{switch = "External", mac_address = "00-15"}]}]', "vms[0].network_adapters[0].mac_address",
     "12 hexadecimal digits"),
])
def test_a_bad_document_is_refused_saying_where(document: str, where: str, says: str) -> None:
    with pytest.raises(StateDocumentError) as caught:
        read_document(document)
    assert caught.value.where == where
    assert says in caught.value.reason


def _control(store: Store) -> WorldControl:
    return WorldControl(store, demo_scenario(), FixedClock(T0 + timedelta(hours=1)))


def _vm_hosts(store: Store) -> dict[str, str]:
    with store.unit_of_work() as uow:
        names = {host.id: host.name for host in uow.world.hosts()}
        return {vm.element_name: names[vm.host_id]
                for vm in uow.world.vms_everywhere(planned=False)}


def test_reset_goes_back_to_the_start_scenario_with_the_same_identities(store: Store) -> None:
    before, _ = _exported(store)
    with store.unit_of_work() as uow:
        hv01, hv02 = uow.hosts.all()
        vm = uow.vms.on_host(hv01.id, WEB_01, planned=False)
        assert vm is not None
        vm.host_id = hv02.id
        uow.commit()
    control = _control(store)
    version = control.summary().world_version
    summary = control.reset()
    assert (summary.cluster, summary.hosts, summary.vms) == ("HVDEMO", 2, 6)
    assert summary.world_version > version
    after, _ = _exported(store)
    # Stamped with the reset's moment; every identity and setting is the start's.
    moment = {"installed_at", "created_at", "state_changed_at", "running_since"}
    assert [{k: v for k, v in h.columns.items() if k not in moment} for h in after.hosts] == \
        [{k: v for k, v in h.columns.items() if k not in moment} for h in before.hosts]
    assert [(v.host, v.disks, v.adapters) for v in after.vms] == \
        [(v.host, v.disks, v.adapters) for v in before.vms]


def test_snapshots_outlive_a_reset_and_restore_the_world_they_kept(store: Store) -> None:
    control = _control(store)
    with store.unit_of_work() as uow:
        hv01, hv02 = uow.hosts.all()
        vm = uow.vms.on_host(hv01.id, WEB_01, planned=False)
        assert vm is not None
        vm.host_id = hv02.id
        uow.commit()
    moved, _ = _exported(store)
    info = control.take_snapshot("moved")
    assert (info.name, info.hosts, info.vms) == ("moved", 2, 6)
    with pytest.raises(SnapshotExists):
        control.take_snapshot("moved")
    with pytest.raises(BadSnapshotName):
        control.take_snapshot("no/slashes")
    control.reset()
    assert _vm_hosts(store)["web-01"] == "HV-01"
    assert [s.name for s in control.snapshots()] == ["moved"]
    control.restore("moved")
    assert _vm_hosts(store)["web-01"] == "HV-02"
    restored, _ = _exported(store)
    _same_world(moved, restored)
    with pytest.raises(UnknownSnapshot):
        control.restore("never-taken")
    control.delete_snapshot("moved")
    assert control.snapshots() == []


def test_a_document_for_other_hosts_is_refused_and_nothing_changes(store: Store) -> None:
    control = _control(store)
    before, document = _exported(store)
    with pytest.raises(StateDocumentError) as caught:
        control.load(document.replace('"HV-02"', '"HV-03"'))
    assert caught.value.where == "hosts"
    with pytest.raises(StateDocumentError):
        control.load(document.replace("[cluster]", "[cluster"))
    after, _ = _exported(store)
    assert after == before
