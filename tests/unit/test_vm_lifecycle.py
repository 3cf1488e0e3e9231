"""A VM's lifecycle on the fake world: RequestStateChange, the shutdown component, the
transitional states a client sees, the job's end settled from the clock, uptime and refusals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from pywbem import CIMInstanceName

from providers.base import V2, MethodCall, MethodResult, Scope, ref
from providers.computer_system import CS, ComputerSystemProvider
from providers.host_identity import HostOperatingSystemProvider
from providers.jobs import JobMethods, JobProvider
from providers.return_codes import ReturnCode, StateChangeCode
from providers.summary import summaries
from providers.vm_lifecycle import ComputerSystemMethods, ShutdownComponentMethods, StateChanges
from providers.vm_setting_ids import SHUTDOWN_COMPONENT, SHUTDOWN_SERVICE_GUID
from providers.vm_settings import LogicalDeviceProvider
from tests.unit.test_providers_on_fake_world import HV1, WEB01, Cluster, vm_path

DB01 = "1F2E3D4C-5B6A-4978-8877-66554433AA11"  # off, 16 GB, HV-01
APP01 = "A0B1C2D3-E4F5-4607-8819-2A3B4C5D6E7F"  # saved, HV-02
BUILD01 = "C4D5E6F7-0819-4A2B-9C3D-4E5F60718293"  # paused, HV-02


@dataclass
class Lifecycle(Cluster):
    def __post_init__(self) -> None:
        changes = StateChanges(self.timeline)
        self.methods = ComputerSystemMethods(changes)
        self.shutdown = ShutdownComponentMethods(changes)

    def request(self, guid: str, state: int | None) -> MethodResult:
        ctx = self.context()
        call = MethodCall(scope_of(guid), vm_path(guid), "RequestStateChange",
                          {"RequestedState": state})
        result: MethodResult = self.methods.invoke(ctx, call)
        ctx.uow.commit()
        return result

    def seen(self, guid: str = WEB01) -> dict[str, Any]:
        record = ComputerSystemProvider().get(self.context(), scope_of(guid), CS,
                                              {"CreationClassName": CS, "Name": guid})
        assert record is not None
        return dict(record.values())

    def job(self, result: MethodResult) -> dict[str, Any]:
        wanted = result.out["Job"].keybindings["InstanceID"]
        (record,) = [r for r in JobProvider().enumerate(self.context(), HV1, "Msvm_ConcreteJob")
                     if r.keys["InstanceID"] == wanted]
        return dict(record.values())

    def finish(self) -> None:
        """Let the clock pass every job's end."""
        due = [j.due_at for j in self.world.jobs if j.due_at is not None]
        if due:
            self.clock.moment = max(due)
        self.context()


def scope_of(guid: str) -> Scope:
    return Scope(V2, "HV-02") if guid in (APP01, BUILD01) else HV1


def shutdown_path(guid: str) -> CIMInstanceName:
    return ref(SHUTDOWN_COMPONENT, SystemCreationClassName=CS, SystemName=guid,
               CreationClassName=SHUTDOWN_COMPONENT,
               DeviceID=f"Microsoft:{guid}\\{SHUTDOWN_SERVICE_GUID}")


@pytest.fixture
def life() -> Lifecycle:
    return Lifecycle()


@pytest.mark.parametrize(("guid", "requested", "during", "final", "job_type"), [
    (DB01, 2, 10, 2, 12),          # start
    (WEB01, 3, 4, 3, 13),          # turn off
    (WEB01, 6, 32773, 6, 14),      # save
    (WEB01, 9, 32776, 9, 26),      # pause
    (WEB01, 10, 10, 2, 29),        # reboot
    (WEB01, 11, 10, 2, 28),        # reset
    (WEB01, 4, 4, 3, 16),          # shut down
])
def test_a_state_change_shows_its_transition_then_ends(life: Lifecycle, guid: str,
                                                       requested: int, during: int, final: int,
                                                       job_type: int) -> None:
    result = life.request(guid, requested)
    assert result.return_value == ReturnCode.JOB_STARTED
    job = life.job(result)
    assert (job["JobType"], job["JobState"], job["Cancellable"]) == (job_type, 3, False)
    seen = life.seen(guid)
    assert (seen["EnabledState"], seen["RequestedState"]) == (during, requested)
    assert seen["AvailableRequestedStates"] == []
    life.finish()
    seen = life.seen(guid)
    assert (seen["EnabledState"], seen["RequestedState"]) == (final, 12)
    assert life.job(result)["JobState"] == 7


def test_restore_and_resume_come_back_running(life: Lifecycle) -> None:
    for guid, during, job_type in ((APP01, 10, 15), (BUILD01, 32777, 27)):
        result = life.request(guid, 2)
        assert result.return_value == ReturnCode.JOB_STARTED
        assert life.seen(guid)["EnabledState"] == during
        assert life.world.jobs[-1].job_type == job_type
    life.finish()
    assert [life.seen(guid)["EnabledState"] for guid in (APP01, BUILD01)] == [2, 2]


@pytest.mark.parametrize(("guid", "requested", "code"), [
    (WEB01, 2, ReturnCode.INVALID_STATE),       # already running
    (DB01, 3, ReturnCode.INVALID_STATE),        # already off
    (DB01, 9, ReturnCode.INVALID_STATE),        # an off VM cannot pause
    (WEB01, 7, ReturnCode.NOT_SUPPORTED),       # Test
    (WEB01, 32776, ReturnCode.NOT_SUPPORTED),   # Pausing: only a host sets it
    (WEB01, 5, ReturnCode.INVALID_PARAMETER),   # not a requestable value
    (WEB01, None, ReturnCode.INVALID_PARAMETER),
])
def test_refused_requests_change_nothing(life: Lifecycle, guid: str, requested: int | None,
                                         code: int) -> None:
    before = {vm.guid: (vm.enabled_state, vm.requested_state) for vm in life.world.vms}
    assert life.request(guid, requested).return_value == code
    assert {vm.guid: (vm.enabled_state, vm.requested_state) for vm in life.world.vms} == before
    assert life.world.jobs == []


def test_a_change_during_a_change_is_refused(life: Lifecycle) -> None:
    assert life.request(WEB01, 6).return_value == ReturnCode.JOB_STARTED
    assert life.request(WEB01, 3).return_value == ReturnCode.INVALID_STATE
    assert len(life.world.jobs) == 1


def test_a_migrating_vm_refuses_state_changes_and_a_changing_vm_does_not_migrate(
        life: Lifecycle) -> None:
    assert life.migrate().return_value == ReturnCode.JOB_STARTED
    assert life.request(WEB01, 3).return_value == ReturnCode.INVALID_STATE
    result = life.call(life.shutdown, shutdown_path(WEB01), "InitiateShutdown", Force=True,
                       Reason="test")
    assert result.return_value == ReturnCode.INVALID_STATE
    web02 = "8E1B7C0D-2F3A-4B5C-8D6E-7F8091A2B3C4"
    assert life.request(web02, 9).return_value == ReturnCode.JOB_STARTED
    assert life.migrate(web02).return_value == ReturnCode.INVALID_STATE  # pausing
    assert sum(j.kind == "move" for j in life.world.jobs) == 1


def test_a_state_job_cannot_be_cancelled(life: Lifecycle) -> None:
    result = life.request(WEB01, 6)
    job_path = result.out["Job"]
    methods = JobMethods(life.timeline)
    answer = life.call(methods, job_path, "RequestStateChange", RequestedState=4)
    assert answer.return_value == StateChangeCode.INVALID_STATE_TRANSITION
    assert life.call(methods, job_path, "KillJob", DeleteOnKill=False).return_value == \
        StateChangeCode.FAILED
    life.finish()
    assert life.vm().enabled_state == 6


def test_the_host_answers_not_supported(life: Lifecycle) -> None:
    host = ref(CS, CreationClassName=CS, Name="HV-01")
    result = life.call(life.methods, host, "RequestStateChange", RequestedState=3)
    assert result.return_value == ReturnCode.NOT_SUPPORTED


def test_starting_without_memory_fails_in_the_job(life: Lifecycle) -> None:
    host = next(h for h in life.world.hosts if h.name == "HV-01")
    host.memory_mb = 12288  # web-01 and web-02 hold 6 GB; db-01 needs 16
    result = life.request(DB01, 2)
    assert result.return_value == ReturnCode.JOB_STARTED
    assert life.seen(DB01)["EnabledState"] == 3  # nothing moved
    life.finish()
    job = life.job(result)
    assert (job["JobState"], job["ErrorCode"]) == (10, 32768)
    assert "Not enough memory" in job["ErrorDescription"]
    assert life.seen(DB01)["EnabledState"] == 3


def test_the_shutdown_component_follows_the_running_guest(life: Lifecycle) -> None:
    def components() -> list[str]:
        return [r.keys["SystemName"] for r in LogicalDeviceProvider().enumerate(
            life.context(), HV1, SHUTDOWN_COMPONENT)]

    assert sorted(components()) == sorted([WEB01, "8E1B7C0D-2F3A-4B5C-8D6E-7F8091A2B3C4"])
    result = life.call(life.shutdown, shutdown_path(WEB01), "InitiateShutdown", Force=False,
                       Reason="maintenance")
    assert (result.return_value, result.out) == (ReturnCode.COMPLETED, {})
    assert life.seen()["EnabledState"] == 4
    assert life.world.jobs[-1].job_type == 16
    assert WEB01 not in components()
    life.finish()
    assert life.seen()["EnabledState"] == 3
    life.vm().shutdown_service = False
    assert life.request(WEB01, 2).return_value == ReturnCode.JOB_STARTED
    life.finish()
    assert WEB01 not in components()  # running, but its shutdown service is disabled
    assert life.request(WEB01, 4).return_value == ReturnCode.INVALID_STATE


def test_initiate_reboot_restarts_the_guest(life: Lifecycle) -> None:
    life.advance(100)
    result = life.call(life.shutdown, shutdown_path(WEB01), "InitiateReboot", Force=True,
                       Reason=None)
    assert result.return_value == ReturnCode.COMPLETED
    assert life.seen()["EnabledState"] == 10
    life.finish()
    assert (life.seen()["EnabledState"], life.vm().uptime_ms) == (2, 0)


def test_uptime_excludes_paused_time_and_restarts_from_off(life: Lifecycle) -> None:
    vm = life.vm()
    life.advance(60)
    assert life.request(WEB01, 9).return_value == ReturnCode.JOB_STARTED
    assert vm.uptime_ms == 60_000
    life.finish()
    life.advance(3600)  # paused for an hour
    assert life.seen()["OnTimeInMilliseconds"] == 60_000
    assert life.request(WEB01, 2).return_value == ReturnCode.JOB_STARTED
    life.finish()
    resumed = life.clock.moment
    life.advance(40)
    ctx = life.context()
    host = next(h for h in life.world.hosts if h.name == "HV-01")
    (summary,) = summaries(ctx.uow, host, [ref("Msvm_VirtualSystemSettingData",
                                               InstanceID=f"Microsoft:{WEB01}")],
                           [100, 104, 105], life.clock.moment)
    assert summary.values["UpTime"] == 60_000 + 40_000
    assert (summary.values["EnabledState"], summary.values["Heartbeat"]) == (2, 2)
    assert vm.running_since == resumed
    assert life.request(WEB01, 3).return_value == ReturnCode.JOB_STARTED
    life.finish()
    assert (life.seen()["OnTimeInMilliseconds"], vm.uptime_ms) == (0, 0)


def test_free_memory_follows_starts_and_stops(life: Lifecycle) -> None:
    def free_kb() -> int:
        (record,) = HostOperatingSystemProvider().enumerate(
            life.context(), HV1.__class__("root/cimv2", "HV-01"), "Win32_OperatingSystem")
        return int(record.values()["FreePhysicalMemory"])

    before = free_kb()
    assert life.request(DB01, 2).return_value == ReturnCode.JOB_STARTED
    assert before - free_kb() == 16384 * 1024  # held from the moment it starts starting
    life.finish()
    assert before - free_kb() == 16384 * 1024
    assert life.request(DB01, 6).return_value == ReturnCode.JOB_STARTED
    life.finish()
    assert free_kb() == before  # a saved VM's memory is on disk
    assert timedelta(0) <= life.clock.moment - life.vm(DB01).state_changed_at
