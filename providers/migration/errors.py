"""The Msvm_Error catalogue of migration failures (reference §9.2).

MessageID 33012 (missing virtual switch) is Hyper-V's own; the others are VMMS event numbers
used for the same class of failure (21502 "failed at migration source", 21024 "failed at
migration destination", 22038 authentication), chosen so clients see plausible numeric IDs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from providers.base import Embedded

OWNING_ENTITY = "Microsoft-Windows-Hyper-V-VMMS"
# ErrorType (§9.1)
COMMUNICATIONS, SOFTWARE, HARDWARE, SECURITY, OVERSUBSCRIPTION, UNSUPPORTED = 2, 4, 5, 7, 8, 10
# ProbableCause (§9.1)
CONNECTION_ERROR, CONFIGURATION, OUT_OF_MEMORY, PROCESSOR_PROBLEM = 5, 8, 33, 38
VERSION_MISMATCH, IDENTIFIER_DUPLICATION, AUTHENTICATION_FAILURE = 58, 79, 117
THRESHOLD_CROSSED, ELEMENT_MISSING, STORAGE_CAPACITY = 52, 73, 50

FAILED_AT_SOURCE = "21502"
FAILED_AT_DESTINATION = "21024"
AUTHENTICATION = "22038"
MISSING_SWITCH = "33012"
CANCELLED = "21110"


@dataclass
class MigrationError:
    """One Msvm_Error as stored with a job and returned by GetError/GetErrorEx."""

    MessageID: str
    Message: str
    ErrorType: int
    ProbableCause: int
    ProbableCauseDescription: str
    ErrorSource: str | None = None
    MessageArguments: list[str] = field(default_factory=list)
    PerceivedSeverity: int = 3
    OwningEntity: str = OWNING_ENTITY
    ErrorSourceFormat: int = 0
    CIMStatusCode: int = 1
    CIMStatusCodeDescription: str = "CIM_ERR_FAILED"
    OtherErrorType: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def source_failure(vm: str, source: str, reason: str, **kwargs: Any) -> MigrationError:
    return MigrationError(
        MessageID=kwargs.pop("message_id", FAILED_AT_SOURCE),
        Message=f"Virtual machine migration operation for '{vm}' failed at migration source "
                f"'{source}'. {reason}",
        MessageArguments=[vm, source], **kwargs)


def cancelled(vm: str | None, state_name: str) -> MigrationError:
    subject = f" for '{vm}'" if vm else ""
    return MigrationError(
        MessageID=CANCELLED, Message=f"The operation{subject} was cancelled ({state_name}).",
        ErrorType=SOFTWARE, ProbableCause=1, ProbableCauseDescription="Operation cancelled",
        PerceivedSeverity=2)


ERROR_CLASS = "Msvm_Error"


def error_instance(values: dict[str, Any]) -> Embedded:
    """An Msvm_Error a method returns (a job's GetErrorEx, a compatibility check's reasons)."""
    return Embedded(ERROR_CLASS, values)
