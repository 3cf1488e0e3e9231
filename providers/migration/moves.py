"""The migration service's moves and checks: MigrateVirtualSystemToHost/ToSystem and the three
CheckVirtualSystemIsMigratable methods (reference §2.3-§2.7).

Parameter and state problems are answered at once with the method's return-code family (§0.3);
everything that needs the destination is reported through the job, as a real host does.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from typing import Any

from pywbem import CIMInstanceName

from providers import world
from providers.base import (
    JobFacts,
    MethodCall,
    MethodResult,
    ProviderContext,
    Refused,
    key_value,
)
from providers.migration import checks, timing
from providers.migration import errors as e
from providers.migration import migration_request as req
from providers.migration.errors import MigrationError
from providers.migration.fault_errors import Subject, fault_error
from providers.migration.job_timeline import JobSpec, JobTimeline
from providers.migration.plan_cuts import phase_of, plan_until_percent, plan_until_phase
from providers.return_codes import DMTF, HYPER_V, DmtfReturnCode, Family, ReturnCode
from providers.vm_setting_ids import disk_setting_part
from storage.models import Host, VirtualMachine

log = logging.getLogger("hvsim.migration")

JOB_TYPES_MOVE = {req.VIRTUAL_SYSTEM: 305, req.VIRTUAL_SYSTEM_AND_STORAGE: 306,
                  req.STORAGE: 307, req.STAGED: 300}
JOB_TYPES_CHECK = {req.VIRTUAL_SYSTEM: 301, req.STAGED: 301, req.VIRTUAL_SYSTEM_AND_STORAGE: 302,
                   req.STORAGE: 303, req.STORAGE_DEEP_CHECK: 304}
JOB_TYPE_TEXT = {300: "Creating Remote Virtual Machine",
                 301: "Checking Virtual Machine Compatibility",
                 302: "Checking Virtual Machine and Storage Compatibility",
                 303: "Checking Storage Compatibility", 304: "Checking Storage Migration",
                 305: "Moving Virtual Machine", 306: "Moving Virtual Machine and Storage",
                 307: "Moving Storage"}
MOVABLE_STATES = {2, 3, 6, 9}  # running, off, saved, paused (§16.1)
# A VHD listed in UnmanagedVhds has no size in the world; copies are costed at this many GB.
UNMANAGED_VHD_GB = 10
CHECK_SECONDS = 2.0
DEEP_CHECK_SECONDS = 3.0


class MigrationMoves:
    """Handlers of the migrate and check methods; moves become jobs on the shared timeline."""

    def __init__(self, timeline: JobTimeline) -> None:
        self.timeline = timeline

    def migrate_to_host(self, ctx: ProviderContext, call: MethodCall, host: Host
                         ) -> MethodResult:
        return self._migrate(ctx, call, host, HYPER_V, call.param("DestinationHost"))

    def migrate_to_system(self, ctx: ProviderContext, call: MethodCall, host: Host
                           ) -> MethodResult:
        destination = self._destination_system(ctx, call, DMTF)
        result = self._migrate(ctx, call, host, DMTF, destination)
        return MethodResult(result.return_value, {**result.out, "NewComputerSystem": None})

    def check_migratable(self, ctx: ProviderContext, call: MethodCall, host: Host
                          ) -> MethodResult:
        return self._migrate(ctx, call, host, HYPER_V, call.param("DestinationHost"),
                             check_only=True)

    def check_to_host(self, ctx: ProviderContext, call: MethodCall, host: Host
                       ) -> MethodResult:
        return self._check_now(ctx, call, host, call.param("DestinationHost"))

    def check_to_system(self, ctx: ProviderContext, call: MethodCall, host: Host
                         ) -> MethodResult:
        return self._check_now(ctx, call, host, self._destination_system(ctx, call, DMTF))

    def _check_now(self, ctx: ProviderContext, call: MethodCall, host: Host,
                   destination: str | None) -> MethodResult:
        """The synchronous CIM checks: 0 and the verdict in IsMigratable (§2.6)."""
        move, _moves = self._prepare(ctx, call, host, DMTF, destination, check_only=True)
        problems = self._problems(ctx, move, _moves, check_only=True)
        for problem in problems:
            log.info("%s: %s", call.method, problem.Message)
        return MethodResult(DmtfReturnCode.COMPLETED, {"IsMigratable": not problems})

    def _destination_system(self, ctx: ProviderContext, call: MethodCall,
                            family: Family) -> str:
        path = call.param("DestinationSystem")
        if not isinstance(path, CIMInstanceName):
            raise Refused(family.invalid_parameter, "DestinationSystem is required")
        if path.classname.lower() != "msvm_computersystem":
            raise Refused(family.invalid_parameter,
                          f"DestinationSystem must be a host Msvm_ComputerSystem, not "
                          f"{path.classname}")
        name = str(key_value(path.keybindings, "Name") or "")
        if world.host_named(ctx, name) is None:
            raise Refused(family.invalid_parameter,
                          f"DestinationSystem {name!r} is not a host of this cluster")
        return name

    def _migrate(self, ctx: ProviderContext, call: MethodCall, host: Host, family: Family,
                 destination: str | None, *, check_only: bool = False) -> MethodResult:
        move, disk_moves = self._prepare(ctx, call, host, family, destination,
                                         check_only=check_only)
        request = move.request
        if not check_only:
            busy = ctx.uow.jobs.moving_vm(vm_guid=move.vm.guid)
            if busy is not None:
                raise Refused(family.in_use, f"virtual machine {move.vm.element_name!r} is "
                                             f"already being migrated (job {busy})")
        problems = self._problems(ctx, move, disk_moves, check_only=check_only)
        job_type = (JOB_TYPES_CHECK if check_only else JOB_TYPES_MOVE)[request.migration_type]
        phases = self._phases(move, disk_moves, check_only=check_only)
        # A job that fails part-way shows the progress it had reached on the full plan, not a
        # cut-down plan stretched to 99 percent.
        plan = timing.percent_plan(phases)
        failure = problems or None
        summary = None
        if problems and not check_only:
            plan = plan[:1]  # refused while setting up
        elif not check_only and request.cancel_if_blackout_exceeded:
            blackout = phases[-2].seconds if len(phases) >= 2 else 0.0
            if _is_live(move) and blackout > timing.BLACKOUT_LIMIT_SECONDS:
                plan = plan[:-2]
                failure = [_blackout_error(move, blackout)]
                summary = "The migration was cancelled: the blackout would exceed the threshold."
        if not check_only and failure is None:
            plan, failure = self._injected_failure(ctx, call, move, plan)
        description = JOB_TYPE_TEXT[job_type]
        spec = JobSpec(
            host=host, job_type=job_type, kind="check" if check_only else "move",
            description=description,
            plan=plan,
            migration_type=request.migration_type, vm=move.vm,
            destination=move.destination if request.migration_type != req.STORAGE else None,
            destination_name=move.destination_name if request.migration_type != req.STORAGE
            else None,
            counts_vm=not check_only and request.migration_type in (
                req.VIRTUAL_SYSTEM, req.VIRTUAL_SYSTEM_AND_STORAGE, req.STAGED),
            counts_storage=not check_only and request.migration_type in (
                req.STORAGE, req.VIRTUAL_SYSTEM_AND_STORAGE),
            request={"disk_moves": {str(k): v for k, v in disk_moves.items()},
                     "roots": request.roots, "system_text": request.system_text,
                     "resource_texts": request.resource_texts,
                     "transfer": _transfer_facts(move)},
            failure=failure, failure_summary=summary or (
                "The virtual machine cannot be migrated." if check_only
                else "The migration failed."))
        job = self.timeline.submit(ctx.uow, spec, str(uuid.uuid4()).upper(), ctx.now())
        return MethodResult(ReturnCode.JOB_STARTED, {"Job": job_path(job.instance_id)})

    @staticmethod
    def _injected_failure(ctx: ProviderContext, call: MethodCall, move: checks.Move,
                          plan: list[list[float | str]]
                          ) -> tuple[list[list[float | str]], list[MigrationError] | None]:
        """A control-plane fault rule may fail the move part-way: the plan stops there and
        the job ends with the rule's named error; the source VM stays as it was."""
        phases = tuple(dict.fromkeys(phase_of(str(step[3])) for step in plan))
        verdict = ctx.faults.job_failure(JobFacts(
            call.method, move.source.name, move.vm.element_name, move.vm.guid,
            move.request.migration_type, phases))
        if verdict is None:
            return plan, None
        subject = Subject(move.vm.element_name, move.vm.guid, move.source.name,
                          move.destination_name)
        if verdict.at_phase is not None:
            cut = plan_until_phase(plan, verdict.at_phase)
        else:
            cut = plan_until_percent(plan, verdict.at_percent or 0)
        log.info("fault rule %d fails the migration of %s: %s", verdict.rule_id,
                 move.vm.element_name, verdict.error)
        return cut, [fault_error(verdict.error, subject)]

    def _prepare(self, ctx: ProviderContext, call: MethodCall, host: Host, family: Family,
                 destination: Any, *, check_only: bool
                 ) -> tuple[checks.Move, dict[int, str]]:
        """Parameter and state validation shared by every migrate/check method."""
        if not host.migration_service_started:
            raise Refused(family.invalid_state,
                          f"the migration service of {host.name} is stopped")
        try:
            request = req.parse_migration_settings(call.param("MigrationSettingData"))
            req.apply_system_settings(request, call.param("NewSystemSettingData"))
            req.apply_resource_settings(request, call.param("NewResourceSettingData"))
        except req.InvalidRequest as error:
            raise Refused(family.invalid_parameter, str(error)) from None
        if request.migration_type == req.STORAGE_DEEP_CHECK and not check_only:
            raise Refused(family.invalid_parameter,
                          "MigrationType 32772 (StorageDeepCheck) is only valid for checks")
        vm = self._vm(ctx, call, host, family)
        if request.migration_type == req.VIRTUAL_SYSTEM and request.disk_paths:
            raise Refused(family.invalid_parameter, "NewResourceSettingData must be empty for "
                                                    "MigrationType 32768 (VirtualSystem)")
        target, name = self._destination(ctx, host, family, request, destination)
        planned = None
        if target is not None and request.planned_system_id:
            planned = ctx.uow.vms.on_host(target.id, request.planned_system_id, planned=True)
        move = checks.Move(vm, host, target, name, request, planned)
        return move, self._disk_moves(move, family)

    def _vm(self, ctx: ProviderContext, call: MethodCall, host: Host,
            family: Family) -> VirtualMachine:
        path = call.param("ComputerSystem")
        if not isinstance(path, CIMInstanceName):
            raise Refused(family.invalid_parameter, "ComputerSystem is required")
        guid = str(key_value(path.keybindings, "Name") or "")
        if path.classname.lower() == "msvm_plannedcomputersystem":
            raise Refused(family.invalid_state, "a planned virtual machine cannot be migrated")
        if path.classname.lower() != "msvm_computersystem":
            raise Refused(family.invalid_parameter,
                          f"ComputerSystem must be an Msvm_ComputerSystem, not {path.classname}")
        vm = ctx.uow.vms.on_host(host.id, guid, planned=False)
        if vm is None:
            raise Refused(family.invalid_parameter,
                          f"no virtual machine named {guid!r} on {host.name}")
        if vm.enabled_state not in MOVABLE_STATES:
            raise Refused(family.invalid_state,
                          f"virtual machine {vm.element_name!r} is in state {vm.enabled_state}")
        return vm

    @staticmethod
    def _destination(ctx: ProviderContext, host: Host, family: Family,
                     request: req.MigrationRequest, destination: Any
                     ) -> tuple[Host | None, str]:
        text = str(destination).strip() if destination is not None else ""
        if request.migration_type == req.STORAGE:
            if text and resolve_host(ctx, text) is not host:
                raise Refused(family.invalid_parameter,
                              "DestinationHost must be NULL for a storage migration")
            return host, host.name
        if not text:
            raise Refused(family.invalid_parameter, "DestinationHost is required")
        target = resolve_host(ctx, text)
        if target is host:
            raise Refused(family.invalid_parameter,
                          f"DestinationHost {text!r} is the source host")
        return target, text

    @staticmethod
    def _disk_moves(move: checks.Move, family: Family) -> dict[int, str]:
        """Disk id -> destination path, from NewResourceSettingData (§12.8)."""
        disks = {f"microsoft:{move.vm.guid}\\{disk_setting_part(d)}".lower(): d
                 for d in move.vm.disks}
        target_host = move.destination or move.source
        moves: dict[int, str] = {}
        for instance_id, path in move.request.disk_paths.items():
            disk = disks.get(instance_id)
            if disk is None:
                raise Refused(family.invalid_parameter,
                              f"NewResourceSettingData names {instance_id!r}, which is not a "
                              f"virtual hard disk of {move.vm.element_name!r}")
            if not path:
                file_name = disk.path.replace("/", "\\").rsplit("\\", 1)[-1]
                path = f"{target_host.default_vhd_path.rstrip(chr(92))}\\{file_name}"
            if target_host is move.source and _same_file(path, disk.path):
                raise Refused(family.invalid_parameter,
                              f"the virtual hard disk {disk.path!r} of "
                              f"{move.vm.element_name!r} is already there: a storage "
                              "migration needs a new location for each disk it names")
            moves[disk.id] = path
        if len({p.lower() for p in moves.values()}) != len(moves):
            raise Refused(family.invalid_parameter,
                          "NewResourceSettingData gives two disks the same destination path")
        return moves

    def _problems(self, ctx: ProviderContext, move: checks.Move, disk_moves: dict[int, str],
                  *, check_only: bool) -> list[MigrationError]:
        uow = ctx.uow
        migration_type = move.request.migration_type
        if migration_type in (req.STORAGE, req.STORAGE_DEEP_CHECK) and (
                migration_type == req.STORAGE or move.destination is move.source):
            return checks.storage_errors(uow, move, disk_moves)
        problems = checks.connection_errors(move)
        if problems:
            return problems
        problems = checks.destination_errors(
            uow, move, with_resources=migration_type != req.STAGED)
        return problems + checks.storage_errors(uow, move, disk_moves)

    def _phases(self, move: checks.Move, disk_moves: dict[int, str], *,
                check_only: bool) -> list[timing.Phase]:
        migration_type = move.request.migration_type
        if check_only:
            seconds = DEEP_CHECK_SECONDS if migration_type == req.STORAGE_DEEP_CHECK \
                else CHECK_SECONDS
            return [timing.Phase(seconds, "Checking compatibility")]
        if migration_type == req.STORAGE:
            setup = timing.Phase(timing.STORAGE_SWITCH_SECONDS, "Preparing storage migration")
        else:
            setup = timing.Phase(timing.SETUP_SECONDS, "Connecting to the destination host")
        phases = [setup]
        source, target = move.source, move.destination or move.source
        copy_gb = sum(d.size_gb for d in move.vm.disks if d.id in disk_moves)
        copy_gb += UNMANAGED_VHD_GB * len(move.request.unmanaged_vhds)
        if migration_type in (req.STORAGE, req.VIRTUAL_SYSTEM_AND_STORAGE) and copy_gb:
            bandwidth = min(source.storage_bandwidth_mbps, target.storage_bandwidth_mbps)
            phases.append(timing.Phase(timing.storage_copy_seconds(copy_gb, bandwidth),
                                      "Copying virtual hard disks"))
        if migration_type == req.STORAGE:
            phases.append(timing.Phase(timing.STORAGE_SWITCH_SECONDS,
                                      "Switching to the new virtual hard disks"))
            return phases
        if migration_type == req.STAGED:
            phases.append(timing.Phase(timing.CONFIGURATION_SECONDS,
                                      "Creating the planned virtual machine"))
            return phases
        phases.extend(_memory_phases(move))
        phases.append(timing.Phase(timing.RESUME_SECONDS, "Resuming on the destination host"))
        return phases


# Status text of a plan step -> the phase a fault rule names (emulator.core.fault_spec.PHASES).
def resolve_host(ctx: ProviderContext, text: str) -> Host | None:
    """A destination named by computer name, FQDN or one of its IP addresses (§2.4)."""
    wanted = text.strip().lower()
    try:
        address: str | None = str(ipaddress.ip_address(wanted))
    except ValueError:
        address = None
    for host in ctx.uow.hosts.all():
        if wanted in (host.name.lower(), host.fqdn.lower()):
            return host
        if address is not None and address in {a.lower() for a in host.ip_addresses}:
            return host
    return None


def _memory_phases(move: checks.Move) -> list[timing.Phase]:
    source, target = move.source, move.destination or move.source
    request = move.request
    bandwidth = float(min(source.migration_bandwidth_mbps, target.migration_bandwidth_mbps))
    if request.bandwidth_percent:
        bandwidth *= request.bandwidth_percent / 100.0
    compression = request.compression if request.compression is not None \
        else source.migration_compression
    rate = timing.link_rate(bandwidth, compression=bool(compression),
                           smb=request.transport == req.SMB)
    transfer = timing.memory_transfer(move.vm.memory_mb, move.vm.dirty_rate_mbps, rate,
                                     enabled_state=move.vm.enabled_state,
                                     cpu_capping=request.cpu_capping)
    return list(transfer.phases)


def _same_file(one: str, other: str) -> bool:
    """Windows paths name the same file: either slash, any case."""
    return one.replace("/", "\\").lower() == other.replace("/", "\\").lower()


def _transfer_facts(move: checks.Move) -> dict[str, Any]:
    """What the live-migration performance counters of both hosts are computed from."""
    request = move.request
    compression = request.compression if request.compression is not None \
        else move.source.migration_compression
    smb = request.transport == req.SMB
    # Over SMB pages are not compressed (§16.2), as the link model assumes.
    return {"memory_mb": int(move.vm.memory_mb), "compression": bool(compression) and not smb,
            "smb": smb, "cpu_capping": int(request.cpu_capping)}


def _is_live(move: checks.Move) -> bool:
    return move.vm.enabled_state == 2 and move.request.migration_type in (
        req.VIRTUAL_SYSTEM, req.VIRTUAL_SYSTEM_AND_STORAGE)


def _blackout_error(move: checks.Move, blackout: float) -> MigrationError:
    return e.source_failure(
        move.vm.element_name, move.source.name,
        f"The migration was cancelled because the predicted blackout ({blackout:.1f} s) "
        f"exceeds the threshold ({timing.BLACKOUT_LIMIT_SECONDS:.1f} s).",
        ErrorType=e.SOFTWARE, ProbableCause=e.THRESHOLD_CROSSED,
        ProbableCauseDescription="Threshold Crossed")


def job_path(instance_id: str) -> CIMInstanceName:
    """Host and namespace are filled in by the dispatcher."""
    return CIMInstanceName("Msvm_MigrationJob", keybindings={"InstanceID": instance_id})
