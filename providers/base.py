"""What providers are given and what they return.

Providers derive CIM instances from the world rows in the store. They never see HTTP or XML.
An instance is returned as a `Record`: its class, its keys, a version tag (so front ends can
cache the serialised form) and a function producing its property values on demand, so that an
enumeration answered from cache never builds CIM objects at all.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, NamedTuple, Protocol

from pywbem import CIMClass, CIMClassName, CIMDateTime, CIMInstance, CIMInstanceName

from storage.repositories import WorldUnitOfWork

V2 = "root/virtualization/v2"
CLUSTER = "root/HyperVCluster/v2"
INTEROP = "root/interop"
CIMV2 = "root/cimv2"


class ClassLookup(Protocol):
    def get_class(self, namespace: str, classname: str) -> CIMClass: ...

    def is_subclass(self, namespace: str, classname: str, ancestor: str) -> bool: ...

    def has_class(self, namespace: str, classname: str) -> bool: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class Scope(NamedTuple):
    """Which view a request sees: a namespace as served by one emulated host's endpoint.

    A NamedTuple rather than a dataclass: it is part of every cache key, and tuples hash in C.
    """

    namespace: str  # as the catalog spells it, e.g. "root/HyperVCluster/v2"
    host: str  # the endpoint's host name, e.g. "HV-01"
    # Which dispatcher answers: keeps apart the cache keys of two dispatchers (two opened
    # worlds) in one process.
    dispatcher_token: int = 0

    @property
    def cluster_view(self) -> bool:
        return self.namespace.lower() == CLUSTER.lower()


@dataclass(frozen=True)
class JobFacts:
    """What a migration method knows of the job it is about to submit, for the fault rules."""

    method: str
    host: str  # the source host
    vm_name: str
    vm_guid: str
    migration_type: int
    phases: tuple[str, ...]  # the phases its plan goes through (emulator.core.fault_spec.PHASES)


@dataclass(frozen=True)
class JobFailure:
    """A fault rule's verdict: fail the job with a named error at a percent or in a phase."""

    rule_id: int
    error: str
    at_percent: int | None
    at_phase: str | None


class JobFaults(Protocol):
    """The fault rules as a method provider may ask them (the control plane's fail-job rules);
    counting a match is part of the method's unit of work."""

    def job_failure(self, facts: JobFacts) -> JobFailure | None: ...


class NoJobFaults:
    def job_failure(self, facts: JobFacts) -> JobFailure | None:
        return None


# A write a read owes the world (e.g. a job that moves each time it is read), run with the
# moment of the read once the read's answer is complete.
AfterRead = Callable[[WorldUnitOfWork, datetime], None]


@dataclass
class ProviderContext:
    uow: WorldUnitOfWork
    clock: Clock
    classes: ClassLookup
    # Per-request memo so that one request loads each world row once.
    memo: dict[Any, Any] = field(default_factory=dict)
    faults: JobFaults = field(default_factory=NoJobFaults)
    # Writes owed by this read, by what they concern (one each per request); the dispatcher
    # commits them in the write turn after the read (see Transactions.reading).
    after_read: dict[Hashable, AfterRead] = field(default_factory=dict)

    def now(self) -> datetime:
        """The clock, read once per request so that every record of an answer agrees."""
        moment = self.memo.get("now")
        if moment is None:
            moment = self.memo["now"] = self.clock.now()
        return moment


ValuesFactory = Callable[[], Mapping[str, Any]]


@dataclass(slots=True)
class Record:
    """One instance as a provider sees it.

    `keys` holds the key properties in the order the class defines them; reference-valued keys
    are CIMInstanceName objects without host or namespace (filled in by the dispatcher).
    `etag` changes whenever any property value may have changed; `expires` says when values
    derived from the clock move on.
    """

    classname: str
    keys: dict[str, Any]
    etag: str
    values: ValuesFactory
    # Epoch seconds after which the values change without any write (uptime, job progress).
    expires: float | None = None

    def path(self, scope: Scope) -> CIMInstanceName:
        return CIMInstanceName(self.classname, keybindings=self.keys,
                               namespace=scope.namespace, host=scope.host)


class InstanceProvider(abc.ABC):
    """Serves the instances of one or more leaf classes in the namespaces it lists."""

    classnames: ClassVar[tuple[str, ...]] = ()
    namespaces: ClassVar[tuple[str, ...]] = (V2,)

    @abc.abstractmethod
    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        """Every instance of `classname` (one of self.classnames) that the scope shows."""

    def get(self, ctx: ProviderContext, scope: Scope, classname: str,
            keys: Mapping[str, Any]) -> Record | None:
        """Default lookup by scanning; providers of large classes override it with an index."""
        wanted = normalise_keys(keys)
        for record in self.enumerate(ctx, scope, classname):
            if normalise_keys(record.keys) == wanted:
                return record
        return None


class AssociationProvider(InstanceProvider):
    """Serves association instances and finds those that reference a given object."""

    def references(self, ctx: ProviderContext, scope: Scope, classname: str,
                   source: CIMInstanceName) -> Iterator[Record]:
        """Default: scan; providers override with a direct lookup from the source object."""
        return scan_references(self, ctx, scope, classname, source)


def scan_references(provider: InstanceProvider, ctx: ProviderContext, scope: Scope,
                    classname: str, source: CIMInstanceName) -> Iterator[Record]:
    """The association instances of `classname` with a reference to `source`, by enumeration."""
    wanted = path_identity(source)
    for record in provider.enumerate(ctx, scope, classname):
        if any(isinstance(v, CIMInstanceName) and path_identity(v) == wanted
               for v in record.keys.values()):
            yield record


class WorldHook(abc.ABC):
    """Writes a provider family owes the world by the clock, whoever asks next.

    Nothing runs in the background: a change due at a moment (a job starting or ending) is
    written when the first request after that moment arrives. The dispatcher asks every hook
    registered in the composition root, through the unit of work it opened:

    - before a read, `next_due` (remembered until the world version changes); when that moment
      has passed, `settle` runs in a unit of work of its own, in the process's write turn, and
      is committed before the read goes on;
    - before a method call, `settle` runs in the call's own unit of work, so the call sees, and
      commits together with, everything due by its start.

    `settle` applies each due change at the moment it was due, so the outcome does not depend
    on when, or by which process, it is noticed. It may raise storage.errors.StaleWrite when
    another process settled the same change first; the dispatcher then drops its own attempt.
    """

    @abc.abstractmethod
    def next_due(self, uow: WorldUnitOfWork) -> datetime | None:
        """The earliest moment at which settle has something to write; None if nothing is
        pending."""

    @abc.abstractmethod
    def settle(self, uow: WorldUnitOfWork, now: datetime) -> None:
        """Write every change due by `now` into uow; the caller commits."""

    def next_activity(self, uow: WorldUnitOfWork) -> datetime | None:
        """The earliest moment work in progress changes the world, leaving out housekeeping
        (e.g. removing finished jobs); None when nothing is in progress. Advancing a frozen
        clock "to idle" stops when every hook answers None."""
        return self.next_due(uow)


class MalformedEmbedded(NamedTuple):
    """An embedded-instance parameter whose text could not be parsed; methods answer with
    their invalid-parameter code rather than a CIM error."""

    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class Embedded:
    """An embedded instance a method returns; the dispatcher types it from the class model.

    A dataclass rather than a NamedTuple, so that it is never mistaken for an array.
    """

    classname: str
    values: Mapping[str, Any]


class MethodResult(NamedTuple):
    return_value: int
    out: dict[str, Any]


@dataclass
class MethodCall:
    """One extrinsic method call, validated against the class model by the dispatcher.

    `params` maps parameter names (case-insensitive) to typed values: CIMInstanceName for
    references, CIMInstance (or MalformedEmbedded) for embedded instances, lists for arrays;
    parameters the client left out are absent.
    """

    scope: Scope
    target: CIMInstanceName | CIMClassName
    method: str
    params: Mapping[str, Any]

    def param(self, name: str) -> Any:
        return self.params.get(name)


class MethodProvider(abc.ABC):
    """Extrinsic methods of some leaf classes; looked up through an explicit table."""

    classnames: ClassVar[tuple[str, ...]] = ()
    namespaces: ClassVar[tuple[str, ...]] = (V2,)

    @abc.abstractmethod
    def invoke(self, ctx: ProviderContext, call: MethodCall) -> MethodResult:
        """Run the method in ctx's unit of work; the dispatcher commits afterwards."""

    def handles(self, method: str) -> bool:
        """Whether this provider emulates the declared method `method` (any case); the
        dispatcher answers the others with the method's "Not Supported"."""
        return True


class Refused(Exception):
    """A method answers at once with `code` (already in its return-code family)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def key_value(keys: Mapping[str, Any], name: str) -> Any:
    """A key binding by name, case-insensitive as WMI names are; None when absent."""
    for key, value in keys.items():
        if key.lower() == name.lower():
            return value
    return None


def property_value(instance: CIMInstance, name: str) -> Any:
    """A property's value, None when NULL or absent."""
    prop = instance.properties.get(name)
    return None if prop is None else prop.value


def normalise_keys(keys: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    items = []
    for name, value in keys.items():
        if isinstance(value, CIMInstanceName):
            value = path_identity(value)
        elif isinstance(value, str):
            value = value.lower()
        items.append((name.lower(), value))
    return tuple(sorted(items, key=lambda item: item[0]))


def path_identity(path: CIMInstanceName) -> tuple[Any, ...]:
    """Identity of an instance path ignoring host and namespace, case-insensitive on names.

    String key values compare case-insensitively as WMI does for its GUID and name keys.
    """
    return (path.classname.lower(), normalise_keys(path.keybindings))


def ref(classname: str, **keys: Any) -> CIMInstanceName:
    return CIMInstanceName(classname, keybindings=keys)


def cim_datetime(moment: datetime | None) -> CIMDateTime | None:
    return None if moment is None else CIMDateTime(moment)


def cim_interval(delta: timedelta) -> CIMDateTime:
    return CIMDateTime(delta)


def one(records: Iterable[Record]) -> Record | None:
    for record in records:
        return record
    return None
