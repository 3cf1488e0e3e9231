"""Why a migration cannot happen: the destination-side checks of §16.2 phase 1 and §9.2.

Each check returns the Msvm_Error instances a real host reports through the job (or through
CheckSystemCompatibilityInfo); an empty list means the move may go ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from providers.host_services import listener_addresses
from providers.migration import compat
from providers.migration import errors as e
from providers.migration import migration_request as req
from providers.migration.errors import MigrationError
from providers.vm_setting_ids import port_setting_part
from storage.models import Host, VirtualMachine
from storage.repositories import WorldUnitOfWork

# Memory the management OS keeps for itself on every host.
HOST_RESERVE_MB = 2048
PORT_SETTINGS = "Msvm_EthernetPortAllocationSettingData"
AUTHENTICATION_NAMES = {0: "CredSSP", 1: "Kerberos"}


@dataclass
class Move:
    """A requested migration with everything the checks look at."""

    vm: VirtualMachine
    source: Host
    destination: Host | None  # None: the name did not resolve
    destination_name: str
    request: req.MigrationRequest
    planned: VirtualMachine | None = None  # the planned VM it migrates into


def vm_vectors(vm: Any) -> list[compat.Vector]:
    return compat.processor_vectors(vm.processor_vendor, vm.processor_features,
                                    vm.processor_xsave, vm.cache_line_flush_size)


def host_vectors(host: Any) -> list[compat.Vector]:
    return compat.processor_vectors(host.processor_vendor, host.processor_features,
                                    host.processor_xsave, host.cache_line_flush_size)


def connection_errors(move: Move) -> list[MigrationError]:
    """Can the source reach the destination's migration listener and authenticate?"""
    vm, source, destination = move.vm.element_name, move.source.name, move.destination_name
    if move.destination is None:
        return [e.source_failure(
            vm, source, f"Failed to establish a connection with host '{destination}': No such "
            "host is known. (0x80072AF9)", ErrorType=e.COMMUNICATIONS,
            ProbableCause=e.CONNECTION_ERROR,
            ProbableCauseDescription="Connection Establishment Error")]
    host = move.destination
    if not move.source.migration_enabled and move.request.migration_type != req.STORAGE:
        return [e.source_failure(
            vm, source, "Migration is not enabled on the source host: the Virtual Machine "
            "Management Service has not been configured to send live migrations.",
            ErrorType=e.UNSUPPORTED, ProbableCause=e.CONFIGURATION,
            ProbableCauseDescription="Configuration/Customization Error")]
    if not host.reachable:
        return [e.source_failure(
            vm, source, f"Failed to establish a connection with host '{destination}': A "
            "connection attempt failed because the connected party did not properly respond "
            "after a period of time. (0x8007274C)", ErrorType=e.COMMUNICATIONS,
            ProbableCause=e.CONNECTION_ERROR,
            ProbableCauseDescription="Connection Establishment Error")]
    if not host.migration_service_started:
        return [e.source_failure(
            vm, source, f"Failed to establish a connection with host '{destination}': No "
            "connection could be made because the target machine actively refused it: the "
            "migration service on the destination is stopped. (0x8007274D)",
            ErrorType=e.COMMUNICATIONS, ProbableCause=e.CONNECTION_ERROR,
            ProbableCauseDescription="Connection Establishment Error")]
    if not host.migration_enabled:
        return [MigrationError(
            MessageID=e.FAILED_AT_DESTINATION,
            Message=f"The Virtual Machine Management Service on the destination host "
                    f"'{destination}' has not been configured to accept live migrations.",
            ErrorType=e.UNSUPPORTED, ProbableCause=e.CONFIGURATION,
            ProbableCauseDescription="Configuration/Customization Error")]
    listeners = listener_addresses(host, list(host.networks)) or []
    if not listeners:
        return [MigrationError(
            MessageID=e.FAILED_AT_DESTINATION,
            Message=f"The destination host '{destination}' has no networks configured for "
                    "incoming migrations.",
            ErrorType=e.COMMUNICATIONS, ProbableCause=e.CONFIGURATION,
            ProbableCauseDescription="Configuration/Customization Error")]
    wanted = move.request.destination_addresses
    if wanted and not {a.lower() for a in wanted} & {a.lower() for a in listeners}:
        return [e.source_failure(
            vm, source, f"Failed to establish a connection with host '{destination}' on "
            f"{', '.join(wanted)}: the destination does not accept migrations on these "
            f"addresses (it listens on {', '.join(listeners)}). (0x8007274D)",
            ErrorType=e.COMMUNICATIONS, ProbableCause=e.CONNECTION_ERROR,
            ProbableCauseDescription="Connection Establishment Error")]
    if move.source.migration_auth_type != host.migration_auth_type:
        source_auth = AUTHENTICATION_NAMES.get(move.source.migration_auth_type, "?")
        target_auth = AUTHENTICATION_NAMES.get(host.migration_auth_type, "?")
        return [e.source_failure(
            vm, source, f"Failed to authenticate the connection at the source host: the "
            f"source uses {source_auth} and '{destination}' expects {target_auth}. No "
            "credentials are available in the security package. (0x8009030E)",
            message_id=e.AUTHENTICATION, ErrorType=e.SECURITY,
            ProbableCause=e.AUTHENTICATION_FAILURE,
            ProbableCauseDescription="Authentication Failure")]
    if move.request.transport == req.SMB and not (move.source.migration_smb and
                                                  host.migration_smb):
        return [e.source_failure(
            vm, source, "The SMB transport was requested but is not enabled on both hosts "
            "(EnableSmbTransport).", ErrorType=e.UNSUPPORTED, ProbableCause=e.CONFIGURATION,
            ProbableCauseDescription="Configuration/Customization Error")]
    return []


def destination_errors(uow: WorldUnitOfWork, move: Move, *, with_resources: bool
                       ) -> list[MigrationError]:
    """What the destination refuses: identity, version, and (for a VM that will run there)
    memory, processor and virtual switches. Every problem is reported, as Compare-VM lists
    them all."""
    host = move.destination
    assert host is not None
    vm = move.vm
    problems: list[MigrationError] = []
    problems += _identity_errors(uow, move)
    problems += version_errors(move)
    if not with_resources:
        return problems
    problems += processor_errors(vm, host)
    problems += processor_count_errors(vm, host)
    free = free_memory_mb(uow, host, exclude_vm=vm)
    if vm.enabled_state in (2, 9) and vm.memory_mb > free:
        problems.append(MigrationError(
            MessageID=e.FAILED_AT_DESTINATION,
            Message=f"Not enough memory in the system to start the virtual machine "
                    f"'{vm.element_name}' on '{host.name}': it needs {vm.memory_mb} MB and "
                    f"{max(free, 0)} MB are available.",
            ErrorType=e.OVERSUBSCRIPTION, ProbableCause=e.OUT_OF_MEMORY,
            ProbableCauseDescription="Out of Memory", ErrorSource=_vm_path(vm)))
    problems += missing_switches(move.planned or vm, host)
    return problems


def version_errors(move: Move) -> list[MigrationError]:
    host, vm = move.destination, move.vm
    assert host is not None
    if vm.config_version in host.supported_versions:
        return []
    return [MigrationError(
        MessageID=e.FAILED_AT_DESTINATION,
        Message=f"The virtual machine '{vm.element_name}' uses configuration version "
                f"{vm.config_version}, which '{host.name}' does not support (supported: "
                f"{', '.join(host.supported_versions)}).",
        ErrorType=e.SOFTWARE, ProbableCause=e.VERSION_MISMATCH,
        ProbableCauseDescription="Version Mismatch", ErrorSource=_vm_path(vm))]


def missing_switches(owner: Any, host: Any) -> list[MigrationError]:
    """One 33012 error per connected adapter whose switch the host lacks (§9.2)."""
    problems = []
    for adapter in owner.network_adapters:
        if adapter.switch_name and adapter.switch_name not in host.virtual_switches:
            problems.append(MigrationError(
                MessageID=e.MISSING_SWITCH,
                Message=f"Could not find Ethernet switch '{adapter.switch_name}'.",
                MessageArguments=[adapter.switch_name],
                ErrorType=e.SOFTWARE, ProbableCause=e.CONFIGURATION,
                ProbableCauseDescription="Configuration/Customization Error",
                ErrorSource=f'{PORT_SETTINGS}.InstanceID="Microsoft:{owner.guid}\\\\'
                            f'{port_setting_part(adapter).replace(chr(92), chr(92) * 2)}"'))
    return problems


def _identity_errors(uow: WorldUnitOfWork, move: Move) -> list[MigrationError]:
    host = move.destination
    assert host is not None
    vm = move.vm
    others = uow.vms.with_guid_on_host(host.id, vm.guid)
    wanted = move.request.planned_system_id
    if any(not other.planned for other in others):
        return [MigrationError(
            MessageID=e.FAILED_AT_DESTINATION,
            Message=f"A virtual machine with the identifier {vm.guid} already exists on "
                    f"'{host.name}'.", ErrorType=e.SOFTWARE,
            ProbableCause=e.IDENTIFIER_DUPLICATION,
            ProbableCauseDescription="Identifier Duplication", ErrorSource=_vm_path(vm))]
    if wanted and move.request.migration_type != req.STAGED:
        if wanted.lower() != vm.guid.lower():
            return [MigrationError(
                MessageID=e.FAILED_AT_DESTINATION,
                Message=f"DestinationPlannedVirtualSystemId {wanted} does not name the planned "
                        f"virtual machine of '{vm.element_name}' ({vm.guid}).",
                ErrorType=e.SOFTWARE, ProbableCause=e.CONFIGURATION,
                ProbableCauseDescription="Configuration/Customization Error")]
        if move.planned is None:
            return [MigrationError(
                MessageID=e.FAILED_AT_DESTINATION,
                Message=f"Cannot find planned virtual machine {wanted} on '{host.name}'.",
                ErrorType=e.SOFTWARE, ProbableCause=e.ELEMENT_MISSING,
                ProbableCauseDescription="Element Missing")]
        return []
    if others:
        return [MigrationError(
            MessageID=e.FAILED_AT_DESTINATION,
            Message=f"A planned virtual machine with the identifier {vm.guid} already exists "
                    f"on '{host.name}'. Remove it, or migrate into it with "
                    "DestinationPlannedVirtualSystemId.", ErrorType=e.SOFTWARE,
            ProbableCause=e.IDENTIFIER_DUPLICATION,
            ProbableCauseDescription="Identifier Duplication", ErrorSource=_vm_path(vm))]
    return []


def processor_errors(vm: Any, host: Any) -> list[MigrationError]:
    """A VM that is off picks its processor features at the next start (§2.8)."""
    if vm.enabled_state not in (2, 6, 9):
        return []
    bad = compat.mismatched(vm_vectors(vm), host_vectors(host))
    if not bad:
        return []
    if any(v.vector_id == compat.PROCESSOR_VENDOR for v in bad):
        message = (f"The virtual machine '{vm.element_name}' was started on a "
                   f"{vm.processor_vendor} processor and cannot run on physical computer "
                   f"'{host.name}' ({host.processor_vendor}).")
    else:
        message = (f"The virtual machine '{vm.element_name}' is using processor-specific "
                   f"features not supported on physical computer '{host.name}'. To allow "
                   "migration, shut down the virtual machine and enable processor "
                   "compatibility (LimitProcessorFeatures).")
    return [MigrationError(
        MessageID=e.FAILED_AT_DESTINATION, Message=message, ErrorType=e.HARDWARE,
        ProbableCause=e.PROCESSOR_PROBLEM,
        ProbableCauseDescription="Processor Problem (Internal Machine Error)",
        ErrorSource=_vm_path(vm))]


def processor_count_errors(vm: Any, host: Any) -> list[MigrationError]:
    """A VM cannot run with more virtual processors than the host has logical ones."""
    if vm.processors <= host.logical_processors:
        return []
    return [MigrationError(
        MessageID=e.FAILED_AT_DESTINATION,
        Message=f"The virtual machine '{vm.element_name}' has {vm.processors} virtual "
                f"processors, more than the {host.logical_processors} logical processors of "
                f"'{host.name}'.",
        ErrorType=e.OVERSUBSCRIPTION, ProbableCause=e.PROCESSOR_PROBLEM,
        ProbableCauseDescription="Processor Problem (Internal Machine Error)",
        ErrorSource=_vm_path(vm))]


def free_memory_mb(uow: WorldUnitOfWork, host: Host, *, exclude_vm: Any = None) -> int:
    """Memory not used by the host's running VMs nor promised to migrations heading there."""
    used = uow.vms.memory_in_use_mb(host.id)
    incoming = uow.jobs.incoming_memory_mb(
        host.id, except_vm_id=exclude_vm.id if exclude_vm is not None else None)
    return int(host.memory_mb - HOST_RESERVE_MB - used - incoming)


def storage_errors(uow: WorldUnitOfWork, move: Move, moves: dict[int, str]) -> list[MigrationError]:
    """A destination file that another disk already uses (§16.3)."""
    if not moves or move.request.allow_overwrite:
        return []
    host_id = (move.destination or move.source).id
    # The VM's own disks, and those of its planned copy (same GUID) it may migrate into.
    taken = {p.lower() for p in uow.vms.disk_paths_on_host(host_id, except_guid=move.vm.guid)}
    problems = []
    for path in moves.values():
        if path.lower() in taken:
            problems.append(MigrationError(
                MessageID=e.FAILED_AT_DESTINATION,
                Message=f"The file '{path}' already exists and is in use by another virtual "
                        "machine. Set AllowOverwriteExistingFile to replace it.",
                ErrorType=e.SOFTWARE, ProbableCause=e.STORAGE_CAPACITY,
                ProbableCauseDescription="Storage Capacity Problem"))
    return problems


def _vm_path(vm: Any) -> str:
    return f'Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",Name="{vm.guid}"'
