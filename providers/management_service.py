"""Msvm_VirtualSystemManagementService: its instances (the service, its settings, its
capabilities) and its methods (§13.2).

os-win, Compare-VM and Move-VM use the methods around a migration: delete a stale planned VM
(DestroySystem), check and realize a planned VM (ValidatePlannedSystem, RealizePlannedSystem)
and turn Msvm_Error instances into text (FormatError); libvirt's screenshot asks for
GetVirtualSystemThumbnailImage (providers/thumbnail.py). Defining and changing VMs
(DefineSystem, ModifySystemSettings, Add/Modify/RemoveResourceSettings) lives in
providers/vm_definition.py. Methods without a handler here (importing and exporting VMs, …)
answer their own "Not Supported" (providers.unsupported).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pywbem import CIMInstance, CIMInstanceName

from providers.base import (
    CLUSTER,
    V2,
    MethodCall,
    MethodResult,
    ProviderContext,
    Record,
    Refused,
    key_value,
    property_value,
    ref,
)
from providers.computer_system import CS, PLANNED, host_etag
from providers.host_services import (
    VSMS,
    VSMS_CAPABILITIES,
    VSMS_SETTINGS,
    PerHostProvider,
    service_status,
    settings_instance_id,
    vsms_keys,
)
from providers.method_table import HostServiceMethods
from providers.migration import checks, timing
from providers.migration import migration_request as req
from providers.migration.errors import MigrationError
from providers.migration.job_timeline import JobSpec, JobTimeline
from providers.return_codes import DmtfReturnCode, ReturnCode
from providers.summary import KNOWN_CODES, summaries
from providers.thumbnail import get_thumbnail_image
from providers.vm_definition import DefinitionMethods
from providers.world import HostRow
from storage.models import Host, VirtualMachine

log = logging.getLogger("hvsim.management")

VALIDATE_JOB_TYPE = 140
VALIDATE_SECONDS = 1.0
CONCRETE_JOB = "Msvm_ConcreteJob"


class ManagementServiceProvider(PerHostProvider):
    classnames = (VSMS,)
    namespaces = (V2, CLUSTER)

    def record(self, ctx: ProviderContext, host: HostRow) -> Record:
        keys = vsms_keys(host)

        def values() -> dict[str, Any]:
            return {
                **keys, **service_status(True),
                "Caption": "Virtual System Management Service",
                "Description": "Service for creating, manipulating, and managing virtual "
                               "machines",
                "ElementName": "Hyper-V Virtual System Management Service",
                "StatusDescriptions": ["The service is running normally"],
            }
        return Record(VSMS, keys, host_etag(host), values)


class ManagementServiceSettingsProvider(PerHostProvider):
    classnames = (VSMS_SETTINGS,)
    namespaces = (V2, CLUSTER)

    def record(self, ctx: ProviderContext, host: HostRow) -> Record:
        keys = {"InstanceID": settings_instance_id(host)}

        def values() -> dict[str, Any]:
            return {
                **keys,
                "Caption": "Hyper-V Virtual System Management Service Setting Data",
                "Description": "Settings for the Hyper-V Virtual System Management Service",
                "ElementName": "Hyper-V Virtual System Management Service Setting Data",
                "DefaultExternalDataRoot": host.default_external_data_root,
                "DefaultVirtualHardDiskPath": host.default_vhd_path,
                "NumaSpanningEnabled": True,
                "EnhancedSessionModeEnabled": False,
                "PrimaryOwnerName": None,
                "PrimaryOwnerContact": None,
            }
        return Record(VSMS_SETTINGS, keys, host_etag(host), values)


class ManagementCapabilitiesProvider(PerHostProvider):
    classnames = (VSMS_CAPABILITIES,)

    def record(self, ctx: ProviderContext, host: HostRow) -> Record:
        keys = {"InstanceID": settings_instance_id(host)}

        def values() -> dict[str, Any]:
            return {
                **keys,
                "Caption": "Virtual System Management Capabilities",
                "Description": "Capabilities of the Hyper-V Virtual System Management Service",
                "ElementName": "Hyper-V Virtual System Management Capabilities",
            }
        return Record(VSMS_CAPABILITIES, keys, host_etag(host), values)


class ManagementServiceMethods(HostServiceMethods):
    classnames = (VSMS,)
    namespaces = (V2, CLUSTER)
    log = log

    def __init__(self, timeline: JobTimeline) -> None:
        self.timeline = timeline
        definition = DefinitionMethods(timeline)
        super().__init__({
            "destroysystem": self._destroy_system,
            "validateplannedsystem": self._validate_planned_system,
            "realizeplannedsystem": self._realize_planned_system,
            "formaterror": self._format_error,
            "getsummaryinformation": self._summary_information,
            "definesystem": definition.define_system,
            "modifysystemsettings": definition.modify_system_settings,
            "addresourcesettings": definition.add_resource_settings,
            "modifyresourcesettings": definition.modify_resource_settings,
            "removeresourcesettings": definition.remove_resource_settings,
            "getvirtualsystemthumbnailimage": get_thumbnail_image,
        })

    # ------------------------------------------------------------------------ systems

    def _system(self, ctx: ProviderContext, host: Host, path: Any, *, planned: bool | None,
                invalid: int) -> VirtualMachine:
        if not isinstance(path, CIMInstanceName):
            raise Refused(invalid, "a virtual machine reference is required")
        classname = path.classname.lower()
        if classname not in (CS.lower(), PLANNED.lower()):
            raise Refused(invalid, f"{path.classname} is not a virtual machine class")
        is_planned = classname == PLANNED.lower()
        if planned is not None and is_planned != planned:
            raise Refused(invalid, f"expected a {PLANNED if planned else CS} reference")
        guid = str(key_value(path.keybindings, "Name") or "").upper()
        vm = ctx.uow.vms.on_host(host.id, guid, planned=is_planned)
        if vm is None:
            raise Refused(invalid, f"no {'planned ' if is_planned else ''}virtual machine "
                                   f"{guid} on {host.name}")
        return vm

    def _destroy_system(self, ctx: ProviderContext, call: MethodCall, host: Host
                        ) -> MethodResult:
        vm = self._system(ctx, host, call.param("AffectedSystem"), planned=None,
                          invalid=DmtfReturnCode.INVALID_PARAMETER)
        busy = ctx.uow.jobs.moving_vm(vm_id=vm.id)
        if busy is not None:
            raise Refused(DmtfReturnCode.INVALID_STATE,
                          f"{vm.element_name} is being migrated (job {busy})")
        ctx.uow.vms.destroy(vm)
        return MethodResult(DmtfReturnCode.COMPLETED, {"Job": None})

    def _validate_planned_system(self, ctx: ProviderContext, call: MethodCall, host: Host
                                 ) -> MethodResult:
        vm = self._system(ctx, host, call.param("PlannedSystem"), planned=True,
                          invalid=ReturnCode.INVALID_PARAMETER)
        problems = planned_problems(vm, host)
        spec = JobSpec(
            host=host, job_type=VALIDATE_JOB_TYPE, kind="check",
            description="Validate Planned Virtual Machine",
            plan=timing.percent_plan([timing.Phase(VALIDATE_SECONDS, "Validating")]),
            vm=vm, failure=problems or None,
            failure_summary="The planned virtual machine cannot be realized.",
            classname=CONCRETE_JOB)
        job = self.timeline.submit(ctx.uow, spec, str(uuid.uuid4()).upper(), ctx.now())
        return MethodResult(ReturnCode.JOB_STARTED,
                            {"Job": ref(CONCRETE_JOB, InstanceID=job.instance_id)})

    def _realize_planned_system(self, ctx: ProviderContext, call: MethodCall, host: Host
                                ) -> MethodResult:
        vm = self._system(ctx, host, call.param("PlannedSystem"), planned=True,
                          invalid=ReturnCode.INVALID_PARAMETER)
        problems = planned_problems(vm, host)
        if problems:
            raise Refused(ReturnCode.FAILED, "; ".join(p.Message for p in problems))
        vm.planned = False
        vm.enabled_state = 3
        vm.state_changed_at = ctx.now()
        return MethodResult(ReturnCode.COMPLETED,
                            {"ResultingSystem": ref(CS, CreationClassName=CS, Name=vm.guid),
                             "Job": None})

    # -------------------------------------------------------------------- summaries

    def _summary_information(self, ctx: ProviderContext, call: MethodCall, host: Host
                             ) -> MethodResult:
        codes = [int(c) for c in call.param("RequestedInformation") or []]
        unknown = sorted(set(codes) - KNOWN_CODES)
        if unknown:
            raise Refused(ReturnCode.INVALID_PARAMETER,
                          f"RequestedInformation {unknown} is not in the value map")
        paths = call.param("SettingData")
        found = summaries(ctx.uow, host, paths, codes, ctx.now())
        return MethodResult(ReturnCode.COMPLETED, {"SummaryInformation": found})

    # ------------------------------------------------------------------------- errors

    def _format_error(self, ctx: ProviderContext, call: MethodCall, host: Host
                      ) -> MethodResult:
        errors = call.param("Errors")
        if not errors:
            raise Refused(ReturnCode.INVALID_PARAMETER, "Errors is required")
        messages = []
        for index, error in enumerate(errors):
            if not isinstance(error, CIMInstance) or error.classname.lower() not in (
                    "msvm_error", "cim_error"):
                raise Refused(ReturnCode.INVALID_PARAMETER,
                              f"Errors[{index}] is not an embedded Msvm_Error")
            messages.append(str(property_value(error, "Message") or ""))
        return MethodResult(ReturnCode.COMPLETED, {"ErrorMessage": "\n\n".join(messages)})


def planned_problems(vm: VirtualMachine, host: Host) -> list[MigrationError]:
    """What keeps a planned VM from being realized on its host: switches and version."""
    move = checks.Move(vm, host, host, host.name,
                       req.MigrationRequest(migration_type=req.STAGED))
    problems = [p for p in checks.missing_switches(vm, host)]
    if vm.config_version not in host.supported_versions:
        problems += checks.version_errors(move)
    return problems

