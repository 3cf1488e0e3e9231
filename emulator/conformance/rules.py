"""The conformance rules: what real Hyper-V tools got wrong, recognised in one client's requests.

Each rule is a function from a session (and the class model, when there is one) to findings'
(summary, evidence) pairs; `Rule` gives it an id, a severity and a one-line fix. Severity:
error - Hyper-V would refuse it or the tool misbehaves on a real host; warning - it works here
but is fragile; info - worth knowing. The rules see only what the request log records, so
each says what it looked at in its summary.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.cim.wql import (
    And,
    AssociatorsQuery,
    Comparison,
    Expr,
    IsA,
    IsNull,
    Like,
    Not,
    Or,
    Query,
    SelectQuery,
    WQLError,
    parse,
)
from emulator.conformance.model import (
    ClassModel,
    Evidence,
    PropertyInfo,
    Session,
    classname_of,
    evidence,
    instance_id,
    method_of,
)
from emulator.transport.request_log import RequestRecord

JOB_STARTED = "4096"
TERMINAL_JOB_STATES = {7: "Completed", 8: "Terminated", 9: "Killed", 10: "Exception"}
JOB_STATE_NAMES = {2: "New", 3: "Starting", 4: "Running", 5: "Suspended",
                   6: "Shutting Down", **TERMINAL_JOB_STATES, 11: "Service",
                   12: "Query Pending"}
MAX_ENVELOPE_BYTES = 500 * 1024
V1_NAMESPACE = "root/virtualization"
STAGED_MIGRATION = "32770"
# Strings WMI translates to the host's language: a comparison with them fails elsewhere.
LOCALIZED_PROPERTIES = frozenset({"statusdescriptions", "errordescription", "jobstatus",
                                  "description", "errorsummarydescription"})
ERROR_METHODS = frozenset({"geterror", "geterrorex"})
SETTINGS_CLASSES = {"migrationsettingdata": "Msvm_VirtualSystemMigrationSettingData"}
_EMBEDDED_CLASS = re.compile(r"<INSTANCE\b[^>]*\bCLASSNAME=\"([^\"]*)\"")
_EMBEDDED_PROPERTY = re.compile(
    r"<PROPERTY(\.ARRAY|\.REFERENCE)?\b(?=[^>]*\bNAME=\"([^\"]*)\")(?:[^>]*\bTYPE=\"([^\"]*)\")?")
_MIGRATION_TYPE = re.compile(r"NAME=\"MigrationType\"[^>]*>\s*<VALUE>\s*(\d+)", re.IGNORECASE)
# Parameters a WS-Man request carries that are not a method's inputs.
_TRANSPORT_PARAMS = frozenset({"maxenvelopesize", "operationtimeout"})

Found = tuple[str, list[Evidence]]


@dataclass(frozen=True)
class Thresholds:
    """Limits of the fast-polling rule: more than `polls_per_second` reads of one job,
    sustained for `sustained_seconds`, or for the whole of a shorter job's observed life
    when it was read at least `min_polls` times."""

    polls_per_second: float = 5.0
    sustained_seconds: float = 30.0
    min_polls: int = 20


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    fix: str
    check: Callable[[Session, ClassModel | None, Thresholds], Iterable[Found]]


# ---------------------------------------------------------------------------------- helpers


@dataclass
class JobTrail:
    """One job as a session saw it: who started it and every read of it."""

    id: str
    started: RequestRecord | None = None
    reads: list[tuple[RequestRecord, dict[str, Any]]] = field(default_factory=list)

    def states(self) -> list[tuple[RequestRecord, int, dict[str, Any]]]:
        return [(record, _int(job.get("JobState")), job) for record, job in self.reads]


def job_trails(session: Session) -> dict[str, JobTrail]:
    trails: dict[str, JobTrail] = {}
    for record in session.records:
        job_ref = record.observed.get("job")
        if job_ref and record.return_value == JOB_STARTED:
            trails.setdefault(job_ref.lower(), JobTrail(job_ref)).started = record
        for job in record.observed.get("jobs", ()):
            job_id = str(job.get("InstanceID", ""))
            if job_id:
                trail = trails.setdefault(job_id.lower(), JobTrail(job_id))
                trail.reads.append((record, job))
    return trails


def job_calls(session: Session, methods: frozenset[str]) -> list[tuple[RequestRecord, str]]:
    """(record, job id) of every call of one of `methods` on a job."""
    found = []
    for record in session.records:
        method = method_of(record)
        job_id = instance_id(record)
        if method and method.lower() in methods and job_id:
            found.append((record, job_id.lower()))
    return found


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _true(value: Any) -> bool | None:
    if value is None:
        return None
    return str(value).strip().lower() == "true"


def query_text(record: RequestRecord) -> str | None:
    params = record.params
    for name in ("Query", "FilterQuery", "Filter"):
        if params.get(name):
            return params[name]
    return record.query


def wql_of(record: RequestRecord) -> Query | None:
    text = query_text(record)
    if not text:
        return None
    language = (record.params.get("QueryLanguage") or record.params.get("FilterQueryLanguage")
                or "WQL")
    if "wql" not in language.lower():
        return None
    try:
        return parse(text)
    except WQLError:
        return None


def where_properties(expression: Expr | None) -> Iterator[tuple[str, Expr]]:
    """(property name, the comparison) for every property a WHERE clause reads."""
    if expression is None:
        return
    if isinstance(expression, And | Or):
        for operand in expression.operands:
            yield from where_properties(operand)
    elif isinstance(expression, Not):
        yield from where_properties(expression.operand)
    elif isinstance(expression, Comparison | Like | IsNull | IsA):
        yield expression.prop, expression


def normal_namespace(namespace: str | None) -> str:
    return (namespace or "").replace("\\", "/").strip("/").lower()


def list_param(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return [text]
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def named_properties(record: RequestRecord) -> tuple[str | None, list[str]]:
    """(class, property names) a request names itself: a PropertyList, or a SELECT's list
    and WHERE clause."""
    query = wql_of(record)
    if isinstance(query, SelectQuery):
        names = list(query.properties or ())
        names += [name for name, _ in where_properties(query.where)]
        return query.classname, names
    if "PropertyList" in record.params and record.operation in ("GetInstance",
                                                                "EnumerateInstances"):
        return classname_of(record), list_param(record.params.get("PropertyList"))
    return None, []


# ------------------------------------------------------------------------------------ rules


def job_never_read(session: Session, model: ClassModel | None,
                   limits: Thresholds) -> Iterator[Found]:
    for trail in job_trails(session).values():
        if trail.started is not None and not trail.reads:
            method = method_of(trail.started)
            yield (f"{method} returned 4096 (job started) but job {trail.id} was never read: "
                   "4096 was taken for success", [evidence(trail.started)])


def job_not_finished(session: Session, model: ClassModel | None,
                     limits: Thresholds) -> Iterator[Found]:
    for trail in job_trails(session).values():
        states = trail.states()
        if trail.started is None or not states:
            continue
        if not any(state in TERMINAL_JOB_STATES for _, state, _ in states):
            last, state, _ = states[-1]
            yield (f"job {trail.id} was last read in JobState {state} "
                   f"({JOB_STATE_NAMES.get(state, '?')}); the client stopped reading it "
                   "before it ended", [evidence(trail.started), evidence(last)])


def completed_with_error(session: Session, model: ClassModel | None,
                         limits: Thresholds) -> Iterator[Found]:
    error_reads = job_calls(session, ERROR_METHODS)
    for trail in job_trails(session).values():
        for record, state, job in trail.states():
            code = _int(job.get("ErrorCode"))
            if state != 7 or code in (0, -1):
                continue
            if not any(job_id == trail.id.lower() and call.time >= record.time
                       for call, job_id in error_reads):
                yield (f"job {trail.id} was read in JobState 7 (Completed) with ErrorCode "
                       f"{code}, and its errors were never read", [evidence(record)])
            break


def job_errors_unread(session: Session, model: ClassModel | None,
                      limits: Thresholds) -> Iterator[Found]:
    error_reads = job_calls(session, ERROR_METHODS)
    for trail in job_trails(session).values():
        failed = [record for record, state, _ in trail.states() if state == 10]
        if not failed:
            continue
        if not any(job_id == trail.id.lower() for _, job_id in error_reads):
            yield (f"job {trail.id} failed (JobState 10) and neither GetError nor GetErrorEx "
                   "was called on it: only ErrorDescription, the first of its errors, was "
                   "seen", [evidence(failed[0])])


def cancel_unchecked(session: Session, model: ClassModel | None,
                     limits: Thresholds) -> Iterator[Found]:
    trails = job_trails(session)
    for call, job_id in job_calls(session, frozenset({"requeststatechange"})):
        trail = trails.get(job_id)
        before = [job for record, job in (trail.reads if trail else [])
                  if record.time <= call.time and record is not call]
        if not before:
            yield (f"job {job_id} was cancelled without reading it (and its Cancellable) "
                   "first", [evidence(call)])
        elif _true(before[-1].get("Cancellable")) is False:
            yield (f"job {job_id} was cancelled although it was read with Cancellable = "
                   "FALSE", [evidence(call)])


def planned_vm_leaked(session: Session, model: ClassModel | None,
                      limits: Thresholds) -> Iterator[Found]:
    trails = job_trails(session)
    destroys = [record for record in session.records
                if (method_of(record) or "").lower() == "destroysystem"]
    for record in session.records:
        settings = record.params.get("MigrationSettingData") or ""
        kind = _MIGRATION_TYPE.search(settings)
        if not method_of(record) or not kind or kind.group(1) != STAGED_MIGRATION:
            continue
        failed_at: RequestRecord | None = None
        if record.return_value not in (None, "0", JOB_STARTED):
            failed_at = record
        job_ref = record.observed.get("job")
        trail = trails.get(job_ref.lower()) if job_ref else None
        if trail is not None:
            failed_at = next((read for read, state, _ in trail.states()
                              if state in (8, 9, 10)), failed_at)
        if failed_at is None:
            continue
        if not any(destroy.time >= failed_at.time for destroy in destroys):
            yield ("a staged migration (MigrationType 32770) failed and no DestroySystem "
                   "followed: the Msvm_PlannedComputerSystem it may have left on the "
                   "destination stays there", [evidence(record), evidence(failed_at)]
                   if failed_at is not record else [evidence(record)])


def embedded_settings(session: Session, model: ClassModel | None,
                      limits: Thresholds) -> Iterator[Found]:
    for record in session.records:
        if not method_of(record):
            continue
        for name, text in record.params.items():
            expected = SETTINGS_CLASSES.get(name.lower())
            if expected is None or "<INSTANCE" not in text:
                continue
            problems = settings_problems(text, expected, record.namespace, model)
            if problems:
                yield (f"{name}: " + "; ".join(problems), [evidence(record)])


def settings_problems(text: str, expected: str, namespace: str | None,
                      model: ClassModel | None) -> list[str]:
    problems: list[str] = []
    found = _EMBEDDED_CLASS.search(text)
    classname = found.group(1) if found else ""
    if classname.lower() != expected.lower():
        problems.append(f"CLASSNAME is {classname!r}, not {expected}")
    known: Mapping[str, PropertyInfo] | None = None
    if model is not None and namespace:
        known = model.properties(namespace, expected)
    for kind, prop, cim_type in _EMBEDDED_PROPERTY.findall(text):
        is_array = kind == ".ARRAY"
        if prop.lower() == "destinationipaddresslist" and not is_array:
            problems.append("DestinationIPAddressList is a PROPERTY, not a PROPERTY.ARRAY "
                            "(string[])")
            continue
        if known is None:
            continue
        info = known.get(prop.lower())
        if info is None:
            problems.append(f"{expected} has no property {prop}")
        elif cim_type and cim_type.lower() != info.type.lower():
            problems.append(f"{prop} is TYPE {cim_type!r}, not {info.type}")
        elif is_array != info.is_array and kind != ".REFERENCE":
            problems.append(f"{prop} is {'an array' if is_array else 'a scalar'}, "
                            f"not {'an array' if info.is_array else 'a scalar'}")
    return problems


def broad_query(session: Session, model: ClassModel | None,
                limits: Thresholds) -> Iterator[Found]:
    for record in session.records:
        query = wql_of(record)
        if isinstance(query, SelectQuery) and query.where is None:
            yield (f"WQL without WHERE reads every {query.classname}: slow on a host with "
                   "many VMs (Hyper-V's provider times out)", [evidence(record)])
        elif (isinstance(query, AssociatorsQuery) and query.result_class is None
              and query.assoc_class is None):
            yield ("ASSOCIATORS OF without ResultClass or AssocClass follows every "
                   "association of the object", [evidence(record)])


def envelope_too_large(session: Session, model: ClassModel | None,
                       limits: Thresholds) -> Iterator[Found]:
    for record in session.records:
        size = _int(record.params.get("MaxEnvelopeSize"))
        if size > MAX_ENVELOPE_BYTES:
            yield (f"MaxEnvelopeSize {size} exceeds WinRM's MaxEnvelopeSizekb (500 KB)",
                   [evidence(record)])


def enumeration_not_released(session: Session, model: ClassModel | None,
                             limits: Thresholds) -> Iterator[Found]:
    open_contexts: dict[str, RequestRecord] = {}
    for record in session.records:
        used = record.params.get("EnumerationContext")
        if used:
            open_contexts.pop(used.strip(), None)
        context = record.observed.get("context")
        if context and not record.observed.get("end"):
            open_contexts[str(context).strip()] = record
    for context, record in open_contexts.items():
        yield (f"enumeration context {context} was neither pulled to its end nor released",
               [evidence(record)])


def localized_comparison(session: Session, model: ClassModel | None,
                         limits: Thresholds) -> Iterator[Found]:
    for record in session.records:
        query = wql_of(record)
        if not isinstance(query, SelectQuery):
            continue
        for name, test in where_properties(query.where):
            literal = isinstance(test, Like) or (
                isinstance(test, Comparison) and isinstance(test.value, str))
            if name.lower() in LOCALIZED_PROPERTIES and literal:
                yield (f"WHERE compares {name}, a string the host translates to its "
                       "language", [evidence(record)])
                break


def v1_namespace(session: Session, model: ClassModel | None,
                 limits: Thresholds) -> Iterator[Found]:
    used = [r for r in session.records if normal_namespace(r.namespace) == V1_NAMESPACE]
    if used:
        yield (f"{len(used)} request(s) used root\\virtualization, the v1 namespace retired "
               "in Windows Server 2012 R2", [evidence(r) for r in used[:5]])


def unknown_names(session: Session, model: ClassModel | None,
                  limits: Thresholds) -> Iterator[Found]:
    if model is None:
        return
    for record in session.records:
        namespace = record.namespace
        if not namespace:
            continue
        classname, names = named_properties(record)
        known = model.properties(namespace, classname) if classname else None
        if known is not None:
            missing = sorted({n for n in names if n.lower() not in known and n != "*"})
            if missing:
                yield (f"{classname} has no property {', '.join(missing)}", [evidence(record)])
        method = method_of(record)
        target = classname_of(record)
        if method and target:
            declared = model.parameters(namespace, target, method)
            if declared is None:
                continue
            unknown = sorted(name for name in record.params
                             if name.lower() not in declared
                             and name.lower() not in _TRANSPORT_PARAMS
                             and not name.startswith("Option."))
            if unknown:
                yield (f"{target}.{method} has no parameter {', '.join(unknown)}",
                       [evidence(record)])


def wrong_namespace(session: Session, model: ClassModel | None,
                    limits: Thresholds) -> Iterator[Found]:
    for record in session.records:
        if normal_namespace(record.namespace) == V1_NAMESPACE or not record.namespace:
            continue
        query = wql_of(record)
        classname = query.classname if isinstance(query, SelectQuery) else classname_of(record)
        if record.cim_status == 3:
            yield (f"namespace {record.namespace} does not exist on a Hyper-V host",
                   [evidence(record)])
        elif model is not None and classname:
            elsewhere = model.namespaces_of(classname)
            if elsewhere and model.properties(record.namespace, classname) is None:
                yield (f"{classname} is not in {record.namespace}; it is in "
                       f"{', '.join(elsewhere)}", [evidence(record)])


def deprecated_property(session: Session, model: ClassModel | None,
                        limits: Thresholds) -> Iterator[Found]:
    if model is None:
        return
    for record in session.records:
        classname, names = named_properties(record)
        if not classname or not record.namespace:
            continue
        known = model.properties(record.namespace, classname) or {}
        for name in names:
            info = known.get(name.lower())
            if info is not None and info.deprecated_by:
                yield (f"{classname}.{info.name} is deprecated; use {info.deprecated_by}",
                       [evidence(record)])
                break


def fast_polling(session: Session, model: ClassModel | None,
                 limits: Thresholds) -> Iterator[Found]:
    for trail in job_trails(session).values():
        states = trail.states()
        reads = [record for record, _, _ in states]
        if len(reads) < 2:
            continue
        span = reads[-1].time - reads[0].time
        rate = (len(reads) - 1) / span if span > 0 else float("inf")
        ended = states[-1][1] in TERMINAL_JOB_STATES
        sustained = span >= limits.sustained_seconds or (ended
                                                         and len(reads) >= limits.min_polls)
        if rate > limits.polls_per_second and sustained:
            yield (f"job {trail.id} was read {len(reads)} times in {span:.1f} s "
                   f"({rate:.1f}/s)", [evidence(reads[0]), evidence(reads[-1])])


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
