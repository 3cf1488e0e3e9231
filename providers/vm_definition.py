"""Defining and changing VMs through Msvm_VirtualSystemManagementService (§13.2).

DefineSystem creates a VM (off) with the devices a host gives every VM of its generation,
then applies the embedded resource settings; ModifySystemSettings changes the VSSD (name,
notes, automatic actions); AddResourceSettings, ModifyResourceSettings and
RemoveResourceSettings change memory, processors, drives and their virtual hard disks,
network adapters and their connections, and serial ports (providers/vm_resources.py,
resource_kinds.py, vm_compute_settings.py).

These methods come from CIM_VirtualSystemManagementService and answer with the DMTF codes
(§0.3 Family A): 0 when done, 4 (invalid parameter), 5 (invalid state), 1 (not supported)
when refused. A refusal changes nothing, and its Job output names an Msvm_ConcreteJob that
already failed, whose GetError/GetErrorEx give the Msvm_Error with the reason: os-win reads
the job of a call that answered 4, other clients test the code.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from pywbem import CIMInstance, CIMInstanceName

from providers.base import (
    MalformedEmbedded,
    MethodCall,
    MethodResult,
    ProviderContext,
    Refused,
    key_value,
    property_value,
    ref,
)
from providers.capabilities import MAX_MEMORY_MB
from providers.computer_system import CS
from providers.migration.errors import (
    CONFIGURATION,
    OWNING_ENTITY,
    SOFTWARE,
    UNSUPPORTED,
    MigrationError,
)
from providers.migration.job_timeline import JobSpec, JobTimeline
from providers.resource_kinds import CLASS_BY_KIND, kind_of, part_kind
from providers.return_codes import DmtfReturnCode
from providers.vm_draft import VMDraft
from providers.vm_resources import add, modify, remove
from providers.vm_setting_ids import SETTINGS_ID, VSSD
from storage.models import Host, VirtualMachine

log = logging.getLogger("hvsim.management")

CONCRETE_JOB = "Msvm_ConcreteJob"
# Msvm_ConcreteJob.JobType (§8.4)
DEFINE_JOB, MODIFY_VM_JOB, ADD_JOB, MODIFY_RESOURCES_JOB, REMOVE_JOB = 1, 2, 30, 31, 32
REALIZED = "Microsoft:Hyper-V:System:Realized"
SUBTYPE = "Microsoft:Hyper-V:SubType:"
DEFAULT_NAME = "New Virtual Machine"
DEFAULT_MEMORY_MB = 1024  # the Default of the memory allocation capabilities
DEFAULT_DIRTY_RATE_MBPS = 30
AUTOMATIC_STARTUP = (2, 3, 4)  # none, restart if previously active, always start
AUTOMATIC_SHUTDOWN = (2, 3, 4)  # turn off, save state, shut down
MAX_NAME = 100
MAX_NOTES_CHARS = 4000
# MessageIDs of hvsim's own for refused definitions (the VMMS catalogue is not public, §9.2).
INVALID_CONFIGURATION = "32773"
INVALID_STATE_ID = "32775"

Handler = Callable[[ProviderContext, MethodCall, Host], MethodResult]


class DefinitionMethods:
    """The handlers, each plugged into the management service's method table by name."""

    def __init__(self, timeline: JobTimeline) -> None:
        self.timeline = timeline
        self.define_system = self._guarded(self._define_system, DEFINE_JOB)
        self.modify_system_settings = self._guarded(self._modify_system_settings,
                                                    MODIFY_VM_JOB)
        self.add_resource_settings = self._guarded(self._add_resource_settings, ADD_JOB)
        self.modify_resource_settings = self._guarded(self._modify_resource_settings,
                                                      MODIFY_RESOURCES_JOB)
        self.remove_resource_settings = self._guarded(self._remove_resource_settings,
                                                      REMOVE_JOB)

    # ------------------------------------------------------------------------- methods

    def _define_system(self, ctx: ProviderContext, call: MethodCall, host: Host,
                      affected: list[VirtualMachine]) -> MethodResult:
        settings = call.param("SystemSettings")
        system = None if settings is None else _embedded(settings, "SystemSettings",
                                                         (VSSD, "CIM_VirtualSystemSettingData"))
        reference = self._reference_vm(ctx, host, call.param("ReferenceConfiguration"))
        draft = _new_draft(host, system, reference, ctx)
        taken = _taken_paths(ctx, host, draft)
        for index, value in enumerate(call.param("ResourceSettings") or []):
            what = f"ResourceSettings[{index}]"
            add(draft, _embedded(value, what, None), host, taken, what, defining=True)
        vm = draft.apply(ctx.uow, host.id)
        log.info("defined %s (%s) on %s", vm.element_name, vm.guid, host.name)
        return MethodResult(DmtfReturnCode.COMPLETED, {
            "ResultingSystem": ref(CS, CreationClassName=CS, Name=vm.guid), "Job": None})

    def _modify_system_settings(self, ctx: ProviderContext, call: MethodCall, host: Host,
                               affected: list[VirtualMachine]) -> MethodResult:
        system = _embedded(call.param("SystemSettings"), "SystemSettings",
                           (VSSD, "CIM_VirtualSystemSettingData"))
        vm = self._vm_of_settings(ctx, host, property_value(system, "InstanceID"),
                                  "SystemSettings", affected, whole=True)
        draft = VMDraft.of(vm)
        _system_settings(draft.settings, system, "SystemSettings", defining=False)
        generation = _generation(system, "SystemSettings")
        if generation is not None and generation != vm.generation:
            raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                          f"the generation of {vm.element_name} cannot change")
        version = property_value(system, "Version")
        if version not in (None, "") and str(version) != vm.config_version:
            raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                          f"the configuration version of {vm.element_name} changes only by "
                          "an upgrade, not by ModifySystemSettings")
        draft.apply(ctx.uow, host.id)
        return MethodResult(DmtfReturnCode.COMPLETED, {"Job": None})

    def _add_resource_settings(self, ctx: ProviderContext, call: MethodCall, host: Host,
                              affected: list[VirtualMachine]) -> MethodResult:
        configuration = call.param("AffectedConfiguration")
        if not isinstance(configuration, CIMInstanceName):
            raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                          "AffectedConfiguration must name the virtual machine's settings")
        vm = self._vm_of_settings(ctx, host, key_value(configuration.keybindings, "InstanceID"),
                                  "AffectedConfiguration", affected, whole=True)
        values = _required_array(call, "ResourceSettings")
        draft = VMDraft.of(vm)
        taken = _taken_paths(ctx, host, draft)
        results = []
        for index, value in enumerate(values):
            what = f"ResourceSettings[{index}]"
            setting = _embedded(value, what, None)
            part = add(draft, setting, host, taken, what, defining=False)
            results.append(_setting_ref(vm.guid, part_kind(draft, part)[0], part))
        draft.apply(ctx.uow, host.id)
        return MethodResult(DmtfReturnCode.COMPLETED,
                            {"ResultingResourceSettings": results, "Job": None})

    def _modify_resource_settings(self, ctx: ProviderContext, call: MethodCall, host: Host,
                                 affected: list[VirtualMachine]) -> MethodResult:
        values = _required_array(call, "ResourceSettings")
        drafts: dict[int, tuple[VMDraft, set[str]]] = {}
        results = []
        for index, value in enumerate(values):
            what = f"ResourceSettings[{index}]"
            setting = _embedded(value, what, None)
            kind_of(setting, what)
            vm, part = self._vm_and_part(ctx, host, property_value(setting, "InstanceID"),
                                         f"{what}.InstanceID", affected)
            if vm.id not in drafts:
                draft = VMDraft.of(vm)
                drafts[vm.id] = (draft, _taken_paths(ctx, host, draft))
            draft, taken = drafts[vm.id]
            modify(draft, part, setting, host, taken, what)
            results.append(ref(setting.classname,
                               InstanceID=str(property_value(setting, "InstanceID"))))
        for draft, _taken in drafts.values():
            draft.apply(ctx.uow, host.id)
        return MethodResult(DmtfReturnCode.COMPLETED,
                            {"ResultingResourceSettings": results, "Job": None})

    def _remove_resource_settings(self, ctx: ProviderContext, call: MethodCall, host: Host,
                                 affected: list[VirtualMachine]) -> MethodResult:
        paths = _required_array(call, "ResourceSettings")
        drafts: dict[int, VMDraft] = {}
        for index, path in enumerate(paths):
            what = f"ResourceSettings[{index}]"
            if not isinstance(path, CIMInstanceName):
                raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                              f"{what} must be a reference to a resource's settings")
            vm, part = self._vm_and_part(ctx, host, key_value(path.keybindings, "InstanceID"),
                                         f"{what}.InstanceID", affected)
            draft = drafts.setdefault(vm.id, VMDraft.of(vm))
            remove(draft, part, path.classname, what)
        for draft in drafts.values():
            draft.apply(ctx.uow, host.id)
        return MethodResult(DmtfReturnCode.COMPLETED, {"Job": None})

    # ------------------------------------------------------------------------- lookups

    def _vm_of_settings(self, ctx: ProviderContext, host: Host, instance_id: Any, what: str,
                        affected: list[VirtualMachine], *, whole: bool) -> VirtualMachine:
        vm, part = self._vm_and_part(ctx, host, instance_id, what, affected)
        if whole and part is not None:
            raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                          f"{what} names a resource's settings, not a virtual machine's")
        return vm

    @staticmethod
    def _vm_and_part(ctx: ProviderContext, host: Host, instance_id: Any, what: str,
                     affected: list[VirtualMachine]) -> tuple[VirtualMachine, Any]:
        match = SETTINGS_ID.match(str(instance_id or ""))
        if match is None:
            raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                          f"{what} {instance_id!r} does not name a virtual machine's settings")
        guid = match.group(1).upper()
        vm = ctx.uow.vms.on_host(host.id, guid, planned=None)
        if vm is None:
            raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                          f"{what}: no virtual machine {guid} on {host.name}")
        if vm not in affected:
            affected.append(vm)
        busy = ctx.uow.jobs.moving_vm(vm_id=vm.id)
        if busy is not None:
            raise Refused(DmtfReturnCode.INVALID_STATE,
                          f"{vm.element_name} is being migrated (job {busy}); its "
                          "configuration cannot change until the migration ends")
        return vm, match.group(2)

    def _reference_vm(self, ctx: ProviderContext, host: Host, path: Any
                      ) -> VirtualMachine | None:
        if path is None:
            return None
        if not isinstance(path, CIMInstanceName):
            raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                          "ReferenceConfiguration must name a virtual machine's settings")
        return self._vm_of_settings(ctx, host, key_value(path.keybindings, "InstanceID"),
                                    "ReferenceConfiguration", [], whole=True)

    # ------------------------------------------------------------------------ refusals

    def _guarded(self, method: Callable[[ProviderContext, MethodCall, Host,
                                         list[VirtualMachine]], MethodResult],
                 job_type: int) -> Handler:
        def handler(ctx: ProviderContext, call: MethodCall, host: Host) -> MethodResult:
            affected: list[VirtualMachine] = []
            try:
                return method(ctx, call, host, affected)
            except Refused as refusal:
                log.info("%s on %s returned %d: %s", call.method, host.name, refusal.code,
                         refusal)
                job = self._failed_job(ctx, host, call.method, job_type, refusal,
                                       affected[0] if affected else None)
                return MethodResult(refusal.code, {"Job": job})
        return handler

    def _failed_job(self, ctx: ProviderContext, host: Host, method: str, job_type: int,
                    refusal: Refused, vm: VirtualMachine | None) -> CIMInstanceName:
        state = refusal.code == DmtfReturnCode.INVALID_STATE
        unsupported = refusal.code == DmtfReturnCode.NOT_SUPPORTED
        error = MigrationError(
            MessageID=INVALID_STATE_ID if state else INVALID_CONFIGURATION,
            Message=f"{method} failed: {refusal}",
            MessageArguments=[method, str(refusal)],
            ErrorType=UNSUPPORTED if unsupported or state else SOFTWARE,
            ProbableCause=CONFIGURATION,
            ProbableCauseDescription="Configuration/Customization Error",
            ErrorSource=None if vm is None else
            f'{CS}.CreationClassName="{CS}",Name="{vm.guid}"',
            OwningEntity=OWNING_ENTITY,
            CIMStatusCode=7 if unsupported else 4,
            CIMStatusCodeDescription="CIM_ERR_NOT_SUPPORTED" if unsupported
            else "CIM_ERR_INVALID_PARAMETER")
        spec = JobSpec(host=host, job_type=job_type, kind="check", description=method,
                       plan=[], vm=vm, failure=[error],
                       failure_summary=f"{method} failed.", classname=CONCRETE_JOB)
        job = self.timeline.record_refusal(ctx.uow, spec, str(uuid.uuid4()).upper(), ctx.now())
        return ref(CONCRETE_JOB, InstanceID=job.instance_id)


# -------------------------------------------------------------------------------- helpers

def _embedded(value: Any, what: str, classes: tuple[str, ...] | None) -> CIMInstance:
    if isinstance(value, MalformedEmbedded):
        raise Refused(DmtfReturnCode.INVALID_PARAMETER, f"{what}: {value.reason}")
    if not isinstance(value, CIMInstance):
        raise Refused(DmtfReturnCode.INVALID_PARAMETER, f"{what} must be an embedded instance")
    if classes is not None and value.classname.lower() not in {c.lower() for c in classes}:
        raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                      f"{what} is an embedded {value.classname}, not an {classes[0]}")
    return value


def _required_array(call: MethodCall, name: str) -> list[Any]:
    values = call.param(name)
    if not values:
        raise Refused(DmtfReturnCode.INVALID_PARAMETER, f"{name} is required")
    return list(values)


def _setting_ref(guid: str, kind: str, part: str) -> CIMInstanceName:
    return ref(CLASS_BY_KIND[kind], InstanceID=f"Microsoft:{guid}\\{part}")


def _taken_paths(ctx: ProviderContext, host: Host, draft: VMDraft) -> set[str]:
    """Virtual hard disks a new disk of the draft may not use: every other disk on the host."""
    return {p.lower() for p in ctx.uow.vms.disk_paths_on_host(host.id, except_guid=draft.guid)
            if p} | {d.path.lower() for d in draft.live_drives() if d.path}


def _generation(system: CIMInstance | None, what: str) -> int | None:
    subtype = property_value(system, "VirtualSystemSubType") if system is not None else None
    if not subtype:
        return None
    text = str(subtype)
    if text.lower() not in (f"{SUBTYPE}1".lower(), f"{SUBTYPE}2".lower()):
        raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                      f"{what}.VirtualSystemSubType {text!r} is neither {SUBTYPE}1 nor "
                      f"{SUBTYPE}2")
    return int(text[-1])


def _system_settings(settings: dict[str, Any], system: CIMInstance, what: str, *,
                     defining: bool) -> None:
    """ElementName, Notes and the automatic actions of an embedded VSSD, checked."""
    name = property_value(system, "ElementName")
    if name is not None or defining:
        text = DEFAULT_NAME if name is None else str(name)
        if not text.strip() or len(text) > MAX_NAME:
            raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                          f"{what}.ElementName must be 1 to {MAX_NAME} characters")
        settings["element_name"] = text
    notes = property_value(system, "Notes")
    if notes is not None:
        lines = [str(n) for n in (notes if isinstance(notes, list) else [notes])]
        if sum(len(n) for n in lines) > MAX_NOTES_CHARS:
            raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                          f"{what}.Notes exceeds {MAX_NOTES_CHARS} characters")
        settings["notes"] = [n for n in lines if n] if lines != [""] else []
    for name, column, allowed in (("AutomaticStartupAction", "automatic_startup_action",
                                   AUTOMATIC_STARTUP),
                                  ("AutomaticShutdownAction", "automatic_shutdown_action",
                                   AUTOMATIC_SHUTDOWN)):
        value = property_value(system, name)
        if value is None:
            continue
        if str(value).strip() not in {str(a) for a in allowed}:
            raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                          f"{what}.{name} {value!r} is not one of {list(allowed)}")
        settings[column] = int(str(value).strip())


def _new_draft(host: Host, system: CIMInstance | None, reference: VirtualMachine | None,
               ctx: ProviderContext) -> VMDraft:
    """A VM as a host defines it: off, with the defaults of its generation (or of the
    reference configuration's VM), then the embedded VSSD's settings."""
    what = "SystemSettings"
    kind = property_value(system, "VirtualSystemType") if system is not None else None
    if kind not in (None, "", REALIZED):
        raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                      f"{what}.VirtualSystemType {kind!r} is not {REALIZED} (a planned VM is "
                      "defined with DefinePlannedSystem)")
    generation = _generation(system, what) or (reference.generation if reference else 1)
    version = str(property_value(system, "Version") or "") if system is not None else ""
    version = version or (reference.config_version if reference else host.default_version)
    if version not in host.supported_versions:
        raise Refused(DmtfReturnCode.INVALID_PARAMETER,
                      f"{what}.Version {version} is not a configuration version {host.name} "
                      f"supports ({', '.join(host.supported_versions)})")
    memory = min(DEFAULT_MEMORY_MB, MAX_MEMORY_MB.get(host.os_name, 1 << 20))
    now = ctx.now()
    roots = {"config_root": host.default_external_data_root,
             "snapshot_root": host.default_external_data_root,
             "swap_root": host.default_external_data_root}
    for name, column in (("ConfigurationDataRoot", "config_root"),
                         ("SnapshotDataRoot", "snapshot_root"),
                         ("SwapFileDataRoot", "swap_root")):
        value = property_value(system, name) if system is not None else None
        if value:
            roots[column] = str(value)
    columns: dict[str, Any] = {
        "guid": str(uuid.uuid4()).upper(), "planned": False, "element_name": DEFAULT_NAME,
        "enabled_state": 3, "health_state": 5, "operational_status": [2],
        "operating_status": None, "generation": generation, "config_version": version,
        "memory_mb": memory, "dynamic_memory": False, "memory_min_mb": memory,
        "memory_max_mb": memory, "processors": 1, "processor_limit": 100000,
        "processor_reservation": 0, "processor_weight": 100,
        "limit_processor_features": False, "processor_vendor": host.processor_vendor,
        "processor_features": host.processor_features, "processor_xsave": host.processor_xsave,
        "cache_line_flush_size": host.cache_line_flush_size,
        "dirty_rate_mbps": DEFAULT_DIRTY_RATE_MBPS, "notes": [],
        "automatic_startup_action": 3, "automatic_shutdown_action": 3,
        "serial_connections": ["", ""], **roots, "created_at": now, "state_changed_at": now,
        # A generation 2 VM boots from SCSI and gets its first controller; a controller's
        # GUID is random, as on a host.
        "scsi_controllers": [str(uuid.uuid4()).upper()] if generation == 2 else [],
    }
    if reference is not None:
        for column in ("memory_mb", "dynamic_memory", "memory_min_mb", "memory_max_mb",
                       "processors", "processor_limit", "processor_reservation",
                       "processor_weight", "limit_processor_features",
                       "automatic_startup_action", "automatic_shutdown_action"):
            columns[column] = getattr(reference, column)
    if system is not None:
        _system_settings(columns, system, what, defining=True)
    return VMDraft(columns["guid"], generation, 3, False, columns)
