"""The conformance rules: what real Hyper-V tools got wrong, recognised in one client's requests.

`RULES` is the table: each row gives a check (in `job_rules`, `query_rules` or `schema_rules`)
its id, severity, title and one-line fix (`rule.Rule`). The rules see only what the request
log records, so each says what it looked at in its summary.
"""

from __future__ import annotations

from emulator.conformance.job_rules import (
    cancel_unchecked,
    completed_with_error,
    fast_polling,
    job_errors_unread,
    job_never_read,
    job_not_finished,
    planned_vm_leaked,
)
from emulator.conformance.query_rules import (
    broad_query,
    enumeration_not_released,
    envelope_too_large,
    localized_comparison,
)
from emulator.conformance.rule import Rule
from emulator.conformance.schema_rules import (
    deprecated_property,
    embedded_settings,
    unknown_names,
    v1_namespace,
    wrong_namespace,
)

RULES: tuple[Rule, ...] = (
    Rule("job-never-read", "error", "4096 taken for success",
         "4096 means a job started: poll the returned Job until JobState is 7 or more and "
         "check ErrorCode", job_never_read),
    Rule("job-not-finished", "warning", "job not read to a terminal state",
         "keep reading the job until JobState is 7, 8, 9 or 10 before reporting the outcome",
         job_not_finished),
    Rule("completed-with-error", "error", "JobState 7 with ErrorCode not 0 not noticed",
         "treat JobState 7 with ErrorCode != 0 as a failure and read GetErrorEx",
         completed_with_error),
    Rule("job-errors-unread", "warning", "GetErrorEx not read after JobState 10",
         "after JobState 10 call GetErrorEx (jobs carry several errors) rather than only "
         "ErrorDescription", job_errors_unread),
    Rule("cancel-unchecked", "warning", "cancel without checking Cancellable",
         "read the job and cancel (RequestStateChange 4) only when Cancellable is TRUE",
         cancel_unchecked),
    Rule("planned-vm-leaked", "warning", "Msvm_PlannedComputerSystem left after a failed "
         "staged migration", "after a failed staged migration, DestroySystem the planned VM "
         "on the destination", planned_vm_leaked),
    Rule("embedded-settings", "error", "malformed embedded MigrationSettingData",
         "start from the service's Msvm_VirtualSystemMigrationSettingData template and keep "
         "its CLASSNAME, TYPEs and arrays", embedded_settings),
    Rule("broad-query", "warning", "broad WQL",
         "add a WHERE clause (or ResultClass/AssocClass) that selects only what you need",
         broad_query),
    Rule("envelope-too-large", "error", "MaxEnvelopeSize above 500 KB",
         "send MaxEnvelopeSize at most 512000 (MaxEnvelopeSizekb 500)", envelope_too_large),
    Rule("enumeration-not-released", "warning", "enumeration context never released",
         "pull every enumeration to EndOfSequence or Release it; WinRM's quota of open "
         "operations runs out", enumeration_not_released),
    Rule("localized-comparison", "warning", "comparison with a localized string",
         "compare numeric values (JobState, ErrorCode, OperationalStatus) instead of "
         "StatusDescriptions and other display text", localized_comparison),
    Rule("v1-namespace", "error", "root\\virtualization (v1) namespace",
         "use root\\virtualization\\v2", v1_namespace),
    Rule("unknown-name", "error", "property or parameter that does not exist",
         "use the names the class declares (see its MOF)", unknown_names),
    Rule("wrong-namespace", "error", "wrong namespace",
         "ask the namespace that has the class (root\\virtualization\\v2 for Msvm_ classes)",
         wrong_namespace),
    Rule("deprecated-property", "warning", "deprecated property",
         "use the replacement the Deprecated qualifier names (OperationalStatus for Status)",
         deprecated_property),
    Rule("fast-polling", "warning", "polling faster than needed",
         "poll a migration job once a second or less often", fast_polling),
)
