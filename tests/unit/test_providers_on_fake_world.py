"""Providers run against the in-memory fake world: instances, associations, the migration
service's methods (submission, refusals), the job timeline settling, job and management methods
— without a database or a server."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pywbem import CIMClass, CIMInstance, CIMInstanceName, CIMProperty, Uint16

from emulator.setup.scenario import demo_scenario
from emulator.setup.seeding import world_plan
from providers.base import V2, MethodCall, MethodResult, ProviderContext, Scope, ref
from providers.computer_system import CS, PLANNED, ComputerSystemProvider
from providers.host_services import MIGRATION_SERVICE, VSMS, migration_service_keys, vsms_keys
from providers.jobs import JobMethods, JobProvider
from providers.management_service import ManagementServiceMethods
from providers.migration.job_timeline import COMPLETED, TERMINATED, JobTimeline
from providers.migration.migration_request import STAGED, STORAGE
from providers.migration.migration_request import VIRTUAL_SYSTEM as LIVE
from providers.migration.migration_service import MigrationServiceMethods
from providers.return_codes import DmtfReturnCode, ReturnCode
from providers.vm_setting_ids import disk_setting_part
from providers.vm_settings import ResourceSettingsProvider
from storage.models import VirtualMachine
from tests.support.fake_world import FakeUnitOfWork, FakeWorld

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HV1 = Scope(V2, "HV-01")
WEB01 = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"


class NoClasses:
    """Providers do not consult the class model; a test that made them would fail here."""

    def get_class(self, namespace: str, classname: str) -> CIMClass:
        raise AssertionError("providers do not read the class model")

    def is_subclass(self, namespace: str, classname: str, ancestor: str) -> bool:
        raise AssertionError("providers do not read the class model")

    def has_class(self, namespace: str, classname: str) -> bool:
        raise AssertionError("providers do not read the class model")


@dataclass
class Clock:
    moment: datetime = START

    def now(self) -> datetime:
        return self.moment


@dataclass
class Cluster:
    """A fake world and the providers' view of it: one request at a time, as the dispatcher
    runs them (settle what is due, run, commit)."""

    world: FakeWorld = field(
        default_factory=lambda: FakeWorld.from_plan(world_plan(demo_scenario(), START)))
    clock: Clock = field(default_factory=Clock)
    timeline: JobTimeline = field(default_factory=lambda: JobTimeline())

    def context(self) -> ProviderContext:
        uow: FakeUnitOfWork = self.world.unit_of_work()
        self.timeline.settle(uow, self.clock.now())
        return ProviderContext(uow=uow, clock=self.clock, classes=NoClasses())

    def call(self, provider: Any, target: CIMInstanceName, method: str,
             **params: Any) -> MethodResult:
        ctx = self.context()
        result: MethodResult = provider.invoke(ctx, MethodCall(HV1, target, method, params))
        ctx.uow.commit()
        return result

    def migrate(self, guid: str = WEB01, destination: str = "HV-02",
                migration_type: int = LIVE) -> MethodResult:
        return self.call(MigrationServiceMethods(self.timeline), service_path(self, "HV-01"),
                         "MigrateVirtualSystemToHost", ComputerSystem=vm_path(guid),
                         DestinationHost=destination,
                         MigrationSettingData=migration_settings(migration_type))

    def vm(self, guid: str = WEB01) -> VirtualMachine:
        return next(vm for vm in self.world.vms if vm.guid == guid and not vm.planned)

    def host_name(self, host_id: int) -> str:
        return next(h.name for h in self.world.hosts if h.id == host_id)

    def advance(self, seconds: float) -> None:
        self.clock.moment += timedelta(seconds=seconds)


def vm_path(guid: str, classname: str = CS) -> CIMInstanceName:
    return ref(classname, CreationClassName=classname, Name=guid)


def service_path(cluster: Cluster, host: str, *, management: bool = False) -> CIMInstanceName:
    row = cluster.world.unit_of_work().world.host_named(host)
    keys = vsms_keys(row) if management else migration_service_keys(row)
    return ref(VSMS if management else MIGRATION_SERVICE, **keys)


def migration_settings(migration_type: int) -> CIMInstance:
    return CIMInstance("Msvm_VirtualSystemMigrationSettingData", properties=[
        CIMProperty("MigrationType", Uint16(migration_type))])


@pytest.fixture
def cluster() -> Cluster:
    return Cluster()


# ------------------------------------------------------------------------------ instances


def test_computer_systems_of_a_host(cluster: Cluster) -> None:
    ctx = cluster.context()
    records = list(ComputerSystemProvider().enumerate(ctx, HV1, CS))
    vms = [vm.guid for vm in sorted(cluster.world.vms, key=lambda vm: vm.id) if vm.host_id == 1]
    assert [r.keys["Name"] for r in records] == ["HV-01", *vms]  # the host, then its VMs
    assert len(vms) == 3
    found = ComputerSystemProvider().get(ctx, HV1, CS, {"CreationClassName": CS,
                                                        "Name": WEB01.lower()})
    assert found is not None and found.values()["ElementName"] == "web-01"
    assert ComputerSystemProvider().get(ctx, Scope(V2, "HV-02"), CS,
                                        {"CreationClassName": CS, "Name": WEB01}) is None


def test_a_vms_disk_settings_come_from_its_disk_rows(cluster: Cluster) -> None:
    ctx = cluster.context()
    disks = [r for r in ResourceSettingsProvider().enumerate(
        ctx, HV1, "Msvm_StorageAllocationSettingData")]
    paths = sorted(str(r.values()["HostResource"][0]) for r in disks)
    assert paths == sorted(d.path for vm in cluster.world.vms if vm.host_id == 1
                           for d in vm.disks)


# ------------------------------------------------------------------ migration submission


def test_a_live_migration_runs_its_plan_and_moves_the_vm(cluster: Cluster) -> None:
    result = cluster.migrate()
    assert result.return_value == ReturnCode.JOB_STARTED
    (job,) = cluster.world.jobs
    assert result.out["Job"].keybindings["InstanceID"] == job.instance_id
    assert job.started_at == START and job.due_at is not None  # a free slot: started at once
    assert cluster.vm().operating_status is not None  # shown as migrating meanwhile
    due = job.due_at
    cluster.clock.moment = due - timedelta(microseconds=1)
    records = list(JobProvider().enumerate(cluster.context(), HV1, "Msvm_MigrationJob"))
    assert records[0].values()["JobState"] in (3, 4)
    assert cluster.host_name(cluster.vm().host_id) == "HV-01"
    cluster.clock.moment = due
    cluster.context()  # settling happens before any request is answered
    assert (job.job_state, job.percent_final, job.finished_at) == (COMPLETED, 100, due)
    assert cluster.host_name(cluster.vm().host_id) == "HV-02"
    assert cluster.vm().operating_status is None
    cluster.clock.moment = due + timedelta(seconds=300)
    cluster.context()
    assert cluster.world.jobs == []  # removed after TimeBeforeRemoval


def test_jobs_beyond_the_hosts_limit_queue(cluster: Cluster) -> None:
    guids = [vm.guid for vm in cluster.world.vms if vm.host_id == 1]
    for guid in guids:
        assert cluster.migrate(guid).return_value == ReturnCode.JOB_STARTED
    started = [job.started_at is not None for job in cluster.world.jobs]
    assert started == [True, True, False]  # HV-01 allows two live migrations at once
    first_end = min(job.due_at for job in cluster.world.jobs if job.due_at is not None)
    cluster.clock.moment = first_end
    cluster.context()
    assert cluster.world.jobs[2].started_at == first_end


@pytest.mark.parametrize(("params", "code"), [
    ({"ComputerSystem": vm_path("00000000-0000-0000-0000-000000000000")},
     ReturnCode.INVALID_PARAMETER),
    ({"ComputerSystem": vm_path(WEB01, PLANNED)}, ReturnCode.INVALID_STATE),
    ({"DestinationHost": None}, ReturnCode.INVALID_PARAMETER),
    ({"DestinationHost": "HV-01"}, ReturnCode.INVALID_PARAMETER),
    ({"MigrationSettingData": None}, ReturnCode.INVALID_PARAMETER),
])
def test_refusals_answer_at_once_and_submit_nothing(cluster: Cluster, params: dict[str, Any],
                                                    code: int) -> None:
    arguments: dict[str, Any] = {"ComputerSystem": vm_path(WEB01), "DestinationHost": "HV-02",
                                 "MigrationSettingData": migration_settings(LIVE), **params}
    result = cluster.call(MigrationServiceMethods(cluster.timeline),
                          service_path(cluster, "HV-01"), "MigrateVirtualSystemToHost",
                          **arguments)
    assert result.return_value == code
    assert cluster.world.jobs == []


def test_a_vm_being_migrated_is_in_use(cluster: Cluster) -> None:
    assert cluster.migrate().return_value == ReturnCode.JOB_STARTED
    assert cluster.migrate().return_value == ReturnCode.SYSTEM_IN_USE
    assert len(cluster.world.jobs) == 1


def test_a_destination_that_cannot_take_the_vm_fails_the_job(cluster: Cluster) -> None:
    result = cluster.migrate(destination="HV-77")
    assert result.return_value == ReturnCode.JOB_STARTED  # refused through the job
    (job,) = cluster.world.jobs
    assert job.due_at is not None
    cluster.clock.moment = job.due_at
    cluster.context()
    assert job.job_state == 10 and "No such host is known" in str(job.error_description)
    assert cluster.host_name(cluster.vm().host_id) == "HV-01"


def test_a_stopped_service_refuses_migrations(cluster: Cluster) -> None:
    service = MigrationServiceMethods(cluster.timeline)
    path = service_path(cluster, "HV-01")
    assert cluster.call(service, path, "StopService").return_value == ReturnCode.COMPLETED
    assert cluster.migrate().return_value == ReturnCode.INVALID_STATE
    assert cluster.call(service, path, "StartService").return_value == ReturnCode.COMPLETED
    assert cluster.migrate().return_value == ReturnCode.JOB_STARTED


# ---------------------------------------------------------------------------- jobs


def test_cancelling_a_job_leaves_the_vm_where_it_was(cluster: Cluster) -> None:
    cluster.migrate()
    (job,) = cluster.world.jobs
    cluster.advance(1)
    result = cluster.call(JobMethods(cluster.timeline),
                          ref("Msvm_MigrationJob", InstanceID=job.instance_id),
                          "RequestStateChange", RequestedState=Uint16(4))
    assert result.return_value == ReturnCode.COMPLETED
    assert job.job_state == TERMINATED and job.due_at is None
    cluster.advance(3600)
    cluster.context()
    assert cluster.host_name(cluster.vm().host_id) == "HV-01"


# --------------------------------------------------------------------- management


def test_a_staged_migration_makes_a_planned_vm_that_can_be_destroyed(cluster: Cluster
                                                                      ) -> None:
    assert cluster.migrate(migration_type=STAGED).return_value == ReturnCode.JOB_STARTED
    (job,) = cluster.world.jobs
    assert job.due_at is not None
    cluster.clock.moment = job.due_at
    cluster.context()
    planned = [vm for vm in cluster.world.vms if vm.planned]
    assert [(vm.guid, cluster.host_name(vm.host_id)) for vm in planned] == [(WEB01, "HV-02")]
    assert len(planned[0].disks) == len(cluster.vm().disks)
    management = ManagementServiceMethods(cluster.timeline)
    target = service_path(cluster, "HV-02", management=True)
    result = cluster.call(management, target, "DestroySystem",
                          AffectedSystem=vm_path(WEB01, PLANNED))
    assert result.return_value == DmtfReturnCode.COMPLETED
    assert not any(vm.planned for vm in cluster.world.vms)


def test_summary_information_lists_a_vms_running_migration(cluster: Cluster) -> None:
    cluster.migrate()
    management = ManagementServiceMethods(cluster.timeline)
    result = cluster.call(management, service_path(cluster, "HV-01", management=True),
                          "GetSummaryInformation", RequestedInformation=[Uint16(1),
                                                                         Uint16(108)])
    summaries = {s.values["ElementName"]: s.values for s in result.out["SummaryInformation"]}
    assert sorted(summaries) == ["db-01", "web-01", "web-02"]
    assert [t.values["JobType"] for t in summaries["web-01"]["AsynchronousTasks"]] == [305]
    assert summaries["web-02"]["AsynchronousTasks"] == []


@pytest.mark.parametrize("new_path", ["same", "same in other case", "default folder"])
def test_a_storage_migration_to_where_the_disk_already_is_is_refused(cluster: Cluster,
                                                                     new_path: str) -> None:
    vm = cluster.vm()
    (disk,) = vm.disks
    host = next(h for h in cluster.world.hosts if h.id == vm.host_id)
    if new_path == "default folder":
        # A disk in the host's default folder; "" asks for exactly that folder.
        disk.path = f"{host.default_vhd_path.rstrip(chr(92))}\\web-01.vhdx"
    path = {"same": disk.path, "same in other case": disk.path.upper().replace("\\", "/"),
            "default folder": ""}[new_path]
    setting = CIMInstance("Msvm_StorageAllocationSettingData", properties={
        "InstanceID": f"Microsoft:{WEB01}\\{disk_setting_part(disk)}", "HostResource": [path]})
    result = cluster.call(MigrationServiceMethods(cluster.timeline),
                          service_path(cluster, "HV-01"), "MigrateVirtualSystemToHost",
                          ComputerSystem=vm_path(WEB01),
                          MigrationSettingData=migration_settings(STORAGE),
                          NewResourceSettingData=[setting])
    assert result.return_value == ReturnCode.INVALID_PARAMETER
    assert cluster.world.jobs == []
