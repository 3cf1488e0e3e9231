"""A VM's lifecycle: Msvm_ComputerSystem.RequestStateChange and Msvm_ShutdownComponent (§10.3).

A state change takes time on a host. The VM shows the transitional EnabledState at once
(Starting 10, Stopping 4, Saving 32773, Pausing 32776, Resuming 32777) and RequestedState the
value asked for; the method answers 4096 with an Msvm_ConcreteJob of the JobType a host uses.
The job is a timeline like a migration job's (providers.migration.job_timeline): nothing runs in
the background, and the moment it ends — settled before any later request is answered, by
whichever process notices first — puts the VM in its final state. A request the VM's state does
not allow, or one made while the VM migrates, answers 32775 and changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pywbem import CIMInstanceName

from providers import world
from providers.base import (
    CLUSTER,
    V2,
    MethodCall,
    MethodResult,
    ProviderContext,
    Refused,
    key_value,
    ref,
)
from providers.computer_system import CS, is_host_name
from providers.jobs import CONCRETE_JOB, STATE_JOB
from providers.method_table import MethodTable
from providers.migration import errors as e
from providers.migration.checks import free_memory_mb
from providers.migration.job_timeline import JobSpec, JobTimeline
from providers.migration.timing import Phase, percent_plan
from providers.return_codes import ReturnCode
from providers.vm_setting_ids import SHUTDOWN_COMPONENT
from providers.vm_states import (
    ALLOWED_REQUESTS,
    NO_CHANGE_REQUESTED,
    OFF,
    PAUSE,
    PAUSED,
    PAUSING,
    REBOOT,
    RESET,
    RESUMING,
    RUNNING,
    SAVE,
    SAVED,
    SAVING,
    SHUT_DOWN,
    START,
    STARTING,
    STOPPING,
    TRANSITIONAL_STATES,
    TURN_OFF,
)
from storage.models import Host, Job, VirtualMachine
from storage.repositories import WorldUnitOfWork

log = logging.getLogger("hvsim.lifecycle")

# RequestStateChange values a v2 host names but does not do (Other, Test, Defer, and the
# transitional and critical values, which only a host sets).
NAMED_BUT_UNSUPPORTED = frozenset({1, 7, 8}) | frozenset(range(32773, 32793))
# Saving and restoring move the VM's memory to and from disk: seconds per GB on top.
STATE_FILE_SECONDS_PER_GB = 0.25
ACCEPT_SHARE = 0.05


@dataclass(frozen=True)
class Transition:
    """One kind of state change: its job, what the VM shows meanwhile and where it ends."""

    job_type: int  # Msvm_ConcreteJob.JobType (§8.4)
    description: str
    during: int  # EnabledState while the job runs
    final: int  # EnabledState at the end
    seconds: float  # simulated seconds (divided by the time scale)
    restarts_guest: bool = False  # uptime starts again from zero
    per_gb: bool = False  # plus STATE_FILE_SECONDS_PER_GB per GB of memory


# "Initializing and Starting Virtual Machine" is what a host's start job was recorded saying.
BOOT = Transition(12, "Initializing and Starting Virtual Machine", STARTING, RUNNING, 2.0,
                  restarts_guest=True)
RESTORE = Transition(15, "Restore Virtual Machine", STARTING, RUNNING, 1.0, per_gb=True)
RESUME = Transition(27, "Resume Virtual Machine", RESUMING, RUNNING, 0.5)
POWER_OFF = Transition(13, "Power Off Virtual Machine", STOPPING, OFF, 0.5)
GUEST_SHUTDOWN = Transition(16, "Shut Down Virtual Machine", STOPPING, OFF, 3.0)
FORCED_SHUTDOWN = Transition(16, "Shut Down Virtual Machine", STOPPING, OFF, 1.5)
SAVE_STATE = Transition(14, "Save Virtual Machine", SAVING, SAVED, 1.0, per_gb=True)
PAUSE_GUEST = Transition(26, "Pause Virtual Machine", PAUSING, PAUSED, 0.5)
GUEST_REBOOT = Transition(29, "Reboot Virtual Machine", STARTING, RUNNING, 4.0,
                          restarts_guest=True)
HARD_RESET = Transition(28, "Reset Virtual Machine", STARTING, RUNNING, 1.0,
                        restarts_guest=True)


def transition_for(requested: int, state: int) -> Transition:
    """The state change RequestStateChange(requested) starts from `state` (allowed already)."""
    if requested == START:
        return {OFF: BOOT, SAVED: RESTORE, PAUSED: RESUME}[state]
    return {TURN_OFF: POWER_OFF, SHUT_DOWN: GUEST_SHUTDOWN, SAVE: SAVE_STATE,
            PAUSE: PAUSE_GUEST, REBOOT: GUEST_REBOOT, RESET: HARD_RESET}[requested]


class StateChanges:
    """Starting state changes and ending them: the one place a VM's EnabledState moves."""

    def __init__(self, timeline: JobTimeline) -> None:
        self.timeline = timeline
        timeline.on_end(STATE_JOB, self.end)

    def refuse_while_migrating(self, ctx: ProviderContext, vm: VirtualMachine) -> None:
        busy = ctx.uow.jobs.moving_vm(vm_id=vm.id)
        if busy is not None:
            raise Refused(ReturnCode.INVALID_STATE,
                          f"{vm.element_name} is being migrated (job {busy}); its state cannot "
                          "change until the migration ends")

    def begin(self, ctx: ProviderContext, vm: VirtualMachine, requested: int,
              transition: Transition) -> Job:
        """Put the VM in the transition's state and start the job that ends it."""
        now = ctx.now()
        host = ctx.uow.hosts.get(vm.host_id)
        assert host is not None
        failure = self._start_problems(ctx, vm, host) if transition.final == RUNNING \
            and vm.enabled_state in (OFF, SAVED) else []
        seconds = transition.seconds
        if transition.per_gb:
            seconds += STATE_FILE_SECONDS_PER_GB * vm.memory_mb / 1024
        spec = JobSpec(
            host=host, job_type=transition.job_type, kind=STATE_JOB,
            description=transition.description, vm=vm, classname=CONCRETE_JOB,
            # JobState Starting (3) while the request is accepted, then Running (4).
            plan=percent_plan([Phase(seconds * ACCEPT_SHARE, "Accepting the request"),
                               Phase(seconds * (1 - ACCEPT_SHARE), transition.description)]),
            # "from": what a state export writes for the VM while the change is unfinished.
            request={"requested": requested, "from": vm.enabled_state,
                     "during": transition.during,
                     "final": transition.final, "restarts_guest": transition.restarts_guest},
            failure=failure or None,
            failure_summary=f"'{vm.element_name}' failed to start.")
        job = self.timeline.begin(ctx.uow, spec, str(uuid.uuid4()).upper(), now)
        if failure:
            # The host refuses before anything moves: the VM stays as it was, the job fails.
            return job
        _stop_the_clock(vm, now)
        vm.enabled_state = transition.during
        vm.requested_state = requested
        vm.state_changed_at = now
        log.info("%s: %s (job %s, %.1f s)", vm.element_name, transition.description,
                 job.instance_id, seconds)
        return job

    @staticmethod
    def _start_problems(ctx: ProviderContext, vm: VirtualMachine,
                        host: Host) -> list[e.MigrationError]:
        free = free_memory_mb(ctx.uow, host, exclude_vm=vm)
        if vm.memory_mb <= free:
            return []
        return [e.MigrationError(
            MessageID="3050",
            Message=f"'{vm.element_name}' could not initialize. Not enough memory in the system "
                    f"to start the virtual machine: it needs {vm.memory_mb} MB and "
                    f"{max(free, 0)} MB are available on '{host.name}'.",
            MessageArguments=[vm.element_name, vm.guid],
            ErrorType=e.OVERSUBSCRIPTION, ProbableCause=e.OUT_OF_MEMORY,
            ProbableCauseDescription="Out of Memory",
            ErrorSource=f'Msvm_ComputerSystem.CreationClassName="{CS}",Name="{vm.guid}"')]

    @staticmethod
    def end(uow: WorldUnitOfWork, job: Job, at: datetime) -> None:
        """The job's end: the VM reaches the transition's final state at `at`."""
        if job.outcome is not None or job.vm_id is None:
            return
        vm = uow.vms.get(job.vm_id)
        if vm is None or vm.enabled_state != int(job.request["during"]):
            return  # destroyed meanwhile: nothing left to change
        final = int(job.request["final"])
        vm.enabled_state = final
        vm.requested_state = NO_CHANGE_REQUESTED
        vm.state_changed_at = at
        if final == RUNNING:
            if job.request.get("restarts_guest"):
                vm.uptime_ms = 0
            vm.running_since = at
        elif final in (OFF, SAVED):
            vm.uptime_ms = 0


def _stop_the_clock(vm: VirtualMachine, now: datetime) -> None:
    """Uptime excludes everything but running: bank the running stretch that ends now."""
    if vm.running_since is not None:
        vm.uptime_ms = int(vm.uptime_ms or 0) + max(
            0, int((now - vm.running_since).total_seconds() * 1000))
        vm.running_since = None


def _vm_of(ctx: ProviderContext, call: MethodCall, guid: str) -> VirtualMachine:
    row = world.vm_by_guid(ctx, call.scope, guid, planned=False)
    assert row is not None  # the dispatcher resolved the target instance
    vm = ctx.uow.vms.get(row.id)
    assert vm is not None
    return vm


class ComputerSystemMethods(MethodTable[VirtualMachine | None]):
    """Msvm_ComputerSystem.RequestStateChange on a VM (a host's own answers Not Supported)."""

    classnames = (CS,)
    namespaces = (V2, CLUSTER)
    log = log

    def __init__(self, changes: StateChanges) -> None:
        self.changes = changes
        super().__init__({"requeststatechange": self._request_state_change})

    def target(self, ctx: ProviderContext, call: MethodCall) -> VirtualMachine | None:
        assert isinstance(call.target, CIMInstanceName)
        name = str(key_value(call.target.keybindings, "Name") or "")
        return None if is_host_name(name) else _vm_of(ctx, call, name)

    def describe(self, target: VirtualMachine | None) -> str:
        return "the host" if target is None else target.element_name

    def not_emulated(self, method: str) -> int:
        return ReturnCode.NOT_SUPPORTED

    def _request_state_change(self, ctx: ProviderContext, call: MethodCall,
                              vm: VirtualMachine | None) -> MethodResult:
        if vm is None:
            raise Refused(ReturnCode.NOT_SUPPORTED,
                          "the hosting computer system's state is not changed through WMI")
        requested = call.param("RequestedState")
        if requested is None:
            raise Refused(ReturnCode.INVALID_PARAMETER, "RequestedState is required")
        requested = int(requested)
        if requested not in (START, TURN_OFF, SHUT_DOWN, SAVE, PAUSE, REBOOT, RESET):
            code = ReturnCode.NOT_SUPPORTED if requested in NAMED_BUT_UNSUPPORTED \
                else ReturnCode.INVALID_PARAMETER
            raise Refused(code, f"RequestedState {requested} is not a state a virtual machine "
                                "can be asked for")
        self.changes.refuse_while_migrating(ctx, vm)
        state = vm.enabled_state
        if state in TRANSITIONAL_STATES:
            raise Refused(ReturnCode.INVALID_STATE,
                          f"{vm.element_name} is changing state (EnabledState {state})")
        if requested not in ALLOWED_REQUESTS.get(state, ()):
            raise Refused(ReturnCode.INVALID_STATE,
                          f"{vm.element_name} in EnabledState {state} cannot go to "
                          f"RequestedState {requested}")
        if requested == SHUT_DOWN and not vm.shutdown_service:
            raise Refused(ReturnCode.INVALID_STATE,
                          f"{vm.element_name}'s shutdown integration service is not enabled")
        job = self.changes.begin(ctx, vm, requested, transition_for(requested, state))
        return MethodResult(ReturnCode.JOB_STARTED,
                            {"Job": ref(CONCRETE_JOB, InstanceID=job.instance_id)})


class ShutdownComponentMethods(MethodTable[VirtualMachine]):
    """InitiateShutdown and InitiateReboot: the guest shuts down (or reboots) itself.

    They answer 0 once the guest has been asked; the change then runs as a job of type 16 (29),
    which a client finds through Msvm_AffectedJobElement, while the VM shows Stopping
    (Starting)."""

    classnames = (SHUTDOWN_COMPONENT,)
    namespaces = (V2,)
    log = log

    def __init__(self, changes: StateChanges) -> None:
        self.changes = changes
        super().__init__({"initiateshutdown": self._initiate_shutdown,
                          "initiatereboot": self._initiate_reboot})

    def target(self, ctx: ProviderContext, call: MethodCall) -> VirtualMachine:
        assert isinstance(call.target, CIMInstanceName)
        return _vm_of(ctx, call, str(key_value(call.target.keybindings, "SystemName") or ""))

    def describe(self, target: VirtualMachine) -> str:
        return target.element_name

    def not_emulated(self, method: str) -> int:
        return ReturnCode.NOT_SUPPORTED

    def _initiate_shutdown(self, ctx: ProviderContext, call: MethodCall,
                           vm: VirtualMachine) -> MethodResult:
        transition = FORCED_SHUTDOWN if call.param("Force") else GUEST_SHUTDOWN
        return self._guest_request(ctx, call, vm, SHUT_DOWN, transition)

    def _initiate_reboot(self, ctx: ProviderContext, call: MethodCall,
                         vm: VirtualMachine) -> MethodResult:
        return self._guest_request(ctx, call, vm, REBOOT, GUEST_REBOOT)

    def _guest_request(self, ctx: ProviderContext, call: MethodCall, vm: VirtualMachine,
                       requested: int, transition: Transition) -> MethodResult:
        reason: Any = call.param("Reason")
        self.changes.refuse_while_migrating(ctx, vm)
        # The component exists only while the guest runs (the dispatcher found it), so the
        # VM's state allows the request.
        job = self.changes.begin(ctx, vm, requested, transition)
        log.info("%s: guest asked to %s (reason %r; job %s)", vm.element_name,
                 "reboot" if requested == REBOOT else "shut down", reason, job.instance_id)
        return MethodResult(ReturnCode.COMPLETED, {})
