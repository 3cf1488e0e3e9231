"""The vocabulary of the conformance report: sessions, findings, and the class model view."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from emulator.transport.request_log import RequestRecord

SEVERITIES = ("error", "warning", "info")
# CIM-XML's intrinsic operations; every other CIM-XML operation is an extrinsic method.
INTRINSIC = frozenset(name.lower() for name in (
    "GetInstance", "EnumerateInstances", "EnumerateInstanceNames", "Associators",
    "AssociatorNames", "References", "ReferenceNames", "ExecQuery", "GetClass",
    "EnumerateClasses", "EnumerateClassNames", "GetQualifier", "EnumerateQualifiers",
    "GetProperty", "SetProperty", "ModifyInstance", "CreateInstance", "DeleteInstance",
    "OpenEnumerateInstances", "OpenEnumerateInstancePaths", "OpenAssociatorInstances",
    "OpenAssociatorInstancePaths", "OpenReferenceInstances", "OpenReferenceInstancePaths",
    "OpenQueryInstances", "PullInstancesWithPath", "PullInstancePaths", "PullInstances",
    "CloseEnumeration", "EnumerationCount"))
_INSTANCE_ID = re.compile(r"(?:^|,)InstanceID=\"?([^,\"]+)", re.IGNORECASE)


@dataclass(frozen=True)
class PropertyInfo:
    name: str
    type: str  # CIM type: uint16, string, reference, ...
    is_array: bool
    deprecated_by: str | None = None  # the replacement a Deprecated qualifier names


class ClassModel(Protocol):
    """What the rules may ask of the class model the emulated hosts serve."""

    def namespaces_of(self, classname: str) -> list[str]:
        """The namespaces that have the class (empty: no namespace has it)."""
        ...

    def properties(self, namespace: str, classname: str) -> Mapping[str, PropertyInfo] | None:
        """The class's properties by lower-case name; None when the namespace lacks it."""
        ...

    def parameters(self, namespace: str, classname: str,
                   method: str) -> Mapping[str, PropertyInfo] | None:
        """A method's input parameters by lower-case name; None when it has no such method."""
        ...


@dataclass(frozen=True)
class SessionKey:
    user: str | None
    address: str | None
    user_agent: str | None

    def __str__(self) -> str:
        return (f"{self.user or '(no user)'}@{self.address or '?'} "
                f"[{self.user_agent or 'no User-Agent'}]")


@dataclass
class Session:
    """The requests of one client: one user, from one address, with one User-Agent."""

    key: SessionKey
    records: list[RequestRecord] = field(default_factory=list)


def sessions_of(records: Iterable[RequestRecord]) -> list[Session]:
    """Records grouped per client session, each in time order. The steps of an NTLM login,
    before the user is known, join the session of their connection's user."""
    ordered = sorted(records, key=lambda r: r.time)
    connection_users: dict[tuple[str, int | None], str | None] = {
        (r.host, r.connection): r.user for r in ordered
                        if r.user is not None and r.connection is not None}
    by_key: dict[SessionKey, Session] = {}
    for record in ordered:
        user = record.user or connection_users.get((record.host, record.connection))
        key = SessionKey(user, record.address, record.user_agent)
        by_key.setdefault(key, Session(key)).records.append(record)
    return list(by_key.values())


@dataclass(frozen=True)
class Evidence:
    id: str
    time: float
    summary: str


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    session: str
    summary: str
    fix: str
    evidence: tuple[Evidence, ...]


def method_of(record: RequestRecord) -> str | None:
    """The extrinsic method a request invoked, on either protocol."""
    operation = record.operation or ""
    if record.protocol == "ws-man":
        return operation[len("Invoke "):] if operation.startswith("Invoke ") else None
    if not operation or operation.lower() in INTRINSIC or record.http_status is None:
        return None
    return operation


def classname_of(record: RequestRecord) -> str | None:
    """The class a request named (a WS-Man resource URI's last segment)."""
    target = record.target
    if not target:
        return None
    if record.protocol == "ws-man":
        last = target.rstrip("/").rpartition("/")[2]
        return None if last == "*" else last
    return target


def instance_id(record: RequestRecord) -> str | None:
    """The InstanceID key of the object a request targets (a job), if it has one."""
    match = _INSTANCE_ID.search(record.keys or "")
    return match.group(1).strip() if match else None


def outcome(record: RequestRecord) -> str:
    if record.http_status is None:
        return "client went away"
    if record.fault_subcode:
        return f"fault {record.fault_subcode}"
    if record.cim_status is not None:
        return f"{record.cim_status_name}"
    if record.return_value is not None:
        return f"ReturnValue {record.return_value}"
    return f"HTTP {record.http_status}"


def evidence(record: RequestRecord, note: str = "") -> Evidence:
    what = " ".join(part for part in (
        record.protocol, record.host, record.operation or "?", classname_of(record) or "",
        f"[{record.keys}]" if record.keys else "", f"{record.query!r}" if record.query else "",
    ) if part)
    text = f"{what} -> {outcome(record)}"
    return Evidence(record.id, record.time, f"{text}; {note}" if note else text)
