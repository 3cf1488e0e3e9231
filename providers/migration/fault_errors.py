"""The named errors a fail-job fault rule may give a migration (reference §9.2, §16.2).

Each is the Msvm_Error a Hyper-V host reports through the job for that failure: the VMMS
message number (21502 failed at the source, 21024 failed at the destination, 22038
authentication), ErrorType, ProbableCause, the message text with the HRESULT a host shows,
and the ErrorSource where the host names one (the VM). The job ends in JobState 10 with
ErrorCode 32768, as every migration failure does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from providers.migration import errors as e
from providers.migration.errors import MigrationError

TIMEOUT, COMMUNICATIONS_SUBSYSTEM_FAILURE = 111, 7
UNAVAILABLE_RESOURCE = 9


@dataclass(frozen=True)
class Subject:
    """Who the message speaks of."""

    vm_name: str
    vm_guid: str
    source: str
    destination: str


def _vm_path(subject: Subject) -> str:
    return f'Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",Name="{subject.vm_guid}"'


def _out_of_memory(s: Subject) -> MigrationError:
    return MigrationError(
        MessageID=e.FAILED_AT_DESTINATION,
        Message=f"Virtual machine migration operation for '{s.vm_name}' failed at migration "
                f"destination '{s.destination}'. Not enough memory in the system to start the "
                f"virtual machine '{s.vm_name}'. (0x8007000E)",
        MessageArguments=[s.vm_name, s.destination], ErrorType=e.OVERSUBSCRIPTION,
        ProbableCause=e.OUT_OF_MEMORY, ProbableCauseDescription="Out of Memory",
        ErrorSource=_vm_path(s))


def _connection_lost(s: Subject) -> MigrationError:
    return e.source_failure(
        s.vm_name, s.source, "Failed to send data for a Virtual Machine migration: An existing "
        "connection was forcibly closed by the remote host. (0x80072746)",
        ErrorType=e.COMMUNICATIONS, ProbableCause=COMMUNICATIONS_SUBSYSTEM_FAILURE,
        ProbableCauseDescription="Communications Subsystem Failure", ErrorSource=_vm_path(s))


def _kerberos(s: Subject) -> MigrationError:
    return e.source_failure(
        s.vm_name, s.source, "The Virtual Machine Management Service failed to authenticate "
        f"the connection for a Virtual Machine migration at the source host: The specified "
        f"target is unknown or unreachable. (0x80090303) Kerberos constrained delegation to "
        f"'{s.destination}' (cifs and Microsoft Virtual System Migration Service) is not "
        "configured.", message_id=e.AUTHENTICATION, ErrorType=e.SECURITY,
        ProbableCause=e.AUTHENTICATION_FAILURE, ProbableCauseDescription="Authentication Failure")


def _credssp(s: Subject) -> MigrationError:
    return e.source_failure(
        s.vm_name, s.source, f"Failed to establish a connection with host '{s.destination}': "
        "No credentials are available in the security package (0x8009030E).",
        message_id=e.AUTHENTICATION, ErrorType=e.SECURITY,
        ProbableCause=e.AUTHENTICATION_FAILURE, ProbableCauseDescription="Authentication Failure")


def _processor(s: Subject) -> MigrationError:
    return MigrationError(
        MessageID=e.FAILED_AT_DESTINATION,
        Message=f"The virtual machine '{s.vm_name}' is using processor-specific features not "
                f"supported on physical computer '{s.destination}'. To allow for migration of "
                "this virtual machine to physical computers with different processors, modify "
                "the virtual machine settings to limit the processor features used by the "
                "virtual machine.",
        MessageArguments=[s.vm_name, s.destination], ErrorType=e.HARDWARE,
        ProbableCause=e.PROCESSOR_PROBLEM,
        ProbableCauseDescription="Processor Problem (Internal Machine Error)",
        ErrorSource=_vm_path(s))


def _storage_full(s: Subject) -> MigrationError:
    return MigrationError(
        MessageID=e.FAILED_AT_DESTINATION,
        Message=f"Virtual machine migration operation for '{s.vm_name}' failed at migration "
                f"destination '{s.destination}'. Failed to copy file: There is not enough space "
                "on the disk. (0x80070070)",
        MessageArguments=[s.vm_name, s.destination], ErrorType=UNAVAILABLE_RESOURCE,
        ProbableCause=e.STORAGE_CAPACITY, ProbableCauseDescription="Storage Capacity Problem",
        ErrorSource=_vm_path(s))


def _timed_out(s: Subject) -> MigrationError:
    return e.source_failure(
        s.vm_name, s.source, "Failed to receive data for a Virtual Machine migration: This "
        "operation returned because the timeout period expired. (0x800705B4)",
        ErrorType=e.COMMUNICATIONS, ProbableCause=TIMEOUT, ProbableCauseDescription="Timeout",
        ErrorSource=_vm_path(s))


def _unreachable(s: Subject) -> MigrationError:
    return e.source_failure(
        s.vm_name, s.source, f"Failed to establish a connection with host '{s.destination}': "
        "A connection attempt failed because the connected party did not properly respond "
        "after a period of time. (0x8007274C)", ErrorType=e.COMMUNICATIONS,
        ProbableCause=e.CONNECTION_ERROR,
        ProbableCauseDescription="Connection Establishment Error")


# name -> the Msvm_Error it gives; README "Fault rules" lists the same names.
FAULT_ERRORS: dict[str, Callable[[Subject], MigrationError]] = {
    "destination-out-of-memory": _out_of_memory,
    "network-connection-lost": _connection_lost,
    "kerberos-delegation-failed": _kerberos,
    "credssp-failed": _credssp,
    "processor-incompatible": _processor,
    "destination-storage-full": _storage_full,
    "operation-timed-out": _timed_out,
    "destination-unreachable": _unreachable,
}


def fault_error(name: str, subject: Subject) -> MigrationError:
    return FAULT_ERRORS[name](subject)
