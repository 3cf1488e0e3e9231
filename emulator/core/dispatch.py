"""The protocol-neutral core: validate an operation against the class model, run providers.

Front ends call one method per CIM operation and get CIM objects (or lazily rendered instance
results) back; every failure is a `pywbem.CIMError` (see emulator.core.guard): a database
that cannot serve now is `ServiceUnavailable`, an unexpected exception CIM_ERR_FAILED, so no
front end ever answers with a traceback.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nocasedict import NocaseDict
from pywbem import (
    CIM_ERR_INVALID_CLASS,
    CIM_ERR_INVALID_NAMESPACE,
    CIM_ERR_INVALID_PARAMETER,
    CIM_ERR_INVALID_QUERY,
    CIM_ERR_METHOD_NOT_FOUND,
    CIM_ERR_NO_SUCH_PROPERTY,
    CIM_ERR_NOT_FOUND,
    CIM_ERR_NOT_SUPPORTED,
    CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED,
    CIMClass,
    CIMClassName,
    CIMError,
    CIMInstance,
    CIMInstanceName,
    CIMQualifierDeclaration,
)

from emulator.cim import wql
from emulator.cim.objectpath import ObjectPathError, format_wmi_path, parse_object_path
from emulator.core.catalog import Catalog
from emulator.core.guard import guarded, guarded_write
from emulator.core.instances import FULL_VIEW, View, build_instance, record_path, shape_instance
from emulator.core.method_params import MethodOutcome, coerce_inputs, finish_call
from providers.base import (
    AssociationProvider,
    Clock,
    InstanceProvider,
    MethodCall,
    MethodProvider,
    MethodResult,
    ProviderContext,
    Record,
    Scope,
    normalise_keys,
    path_identity,
    scan_references,
)
from providers.migration.job_timeline import JobTimeline as Engine
from storage.db import Store
from storage.errors import StaleWrite

log = logging.getLogger("hvsim.dispatch")
# The earliest `expires` of any record an answer was computed from (see track_expiry).
_EXPIRY: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
    "hvsim_expiry", default=None)


@contextlib.contextmanager
def track_expiry() -> Iterator[list[float]]:
    """Collect, for the operations run inside, when their answer goes stale by the clock."""
    box = [math.inf]
    token = _EXPIRY.set(box)
    try:
        yield box
    finally:
        _EXPIRY.reset(token)


def _noted(records: Iterable[Record]) -> Iterator[Record]:
    box = _EXPIRY.get()
    for record in records:
        if box is not None and record.expires is not None and record.expires < box[0]:
            box[0] = record.expires
        yield record


@dataclass
class InstanceResult:
    """One instance of an answer; built only when a front end has no cached rendering."""

    record: Record
    scope: Scope
    catalog: Catalog
    view: View
    requested_class: str | None = None  # set for EnumerateInstances with DeepInheritance=False
    _values: Mapping[str, Any] | None = field(default=None, repr=False)
    _path: CIMInstanceName | None = field(default=None, repr=False)

    @property
    def path(self) -> CIMInstanceName:
        if self._path is None:
            self._path = record_path(self.record, self.scope)
        return self._path

    def cache_key(self) -> tuple[Any, ...]:
        """Identity of the rendered form; built from the record without constructing a path."""
        return (self.scope, self.record.classname, tuple(self.record.keys.items()),
                self.record.etag, self.view, self.requested_class)

    def materialise(self) -> None:
        """Read provider values now, while the request's transaction is still open."""
        if self._values is None:
            self._values = self.record.values()

    def values(self) -> Mapping[str, Any]:
        self.materialise()
        assert self._values is not None
        return self._values

    def allowed_properties(self) -> frozenset[str] | None:
        """Lower-case names this view shows (PropertyList, DeepInheritance=False), None = all."""
        allowed = self.view.properties
        if self.requested_class is not None:
            names = frozenset(p.lower() for p in self.catalog.get_class(
                self.scope.namespace, self.requested_class).properties)
            allowed = names if allowed is None else allowed & names
        return allowed

    def instance(self) -> CIMInstance:
        self.materialise()
        full = build_instance(self.catalog, self.scope, self.record, self._values)
        klass = self.catalog.get_class(self.scope.namespace, self.record.classname)
        requested = (self.catalog.get_class(self.scope.namespace, self.requested_class)
                     if self.requested_class else None)
        return shape_instance(full, klass, self.view, requested_class=requested)


class Dispatcher:
    def __init__(self, catalog: Catalog, store: Store, clock: Clock,
                 providers: Iterable[InstanceProvider],
                 methods: Iterable[MethodProvider] = (), engine: Engine | None = None,
                 unsupported: MethodProvider | None = None) -> None:
        """`unsupported` answers every declared method no provider handles (without one,
        such a call is CIM_ERR_NOT_SUPPORTED)."""
        self.catalog = catalog
        self.store = store
        self.clock = clock
        self.engine = engine
        self.token = secrets.randbits(63)
        self._providers: dict[tuple[str, str], InstanceProvider] = {}
        self._methods: dict[tuple[str, str], MethodProvider] = {}
        self._unsupported = unsupported
        for provider in providers:
            self._register(self._providers, provider, provider.namespaces, provider.classnames)
        for method_provider in methods:
            self._register(self._methods, method_provider, method_provider.namespaces,
                           method_provider.classnames)
        # Writes (method calls, settling jobs) take turns within this process; the engine
        # takes a database lock for turns between processes.
        self._write_lock = threading.RLock()
        self._due: tuple[int, datetime | None] | None = None

    def _register(self, table: dict[tuple[str, str], Any], provider: Any,
                  namespaces: Iterable[str], classnames: Iterable[str]) -> None:
        for namespace in namespaces:
            for classname in classnames:
                served = self.catalog.canonical_namespace(namespace)
                if served is None or not self.catalog.has_class(served, classname):
                    raise RuntimeError(f"{type(provider).__name__} serves {classname} in "
                                       f"{namespace}, which the class model lacks")
                table[(served.lower(), classname.lower())] = provider

    def wait_deadline(self) -> float | None:
        """Taken by a front end when a request arrives, for its wait_budget."""
        return self.store.wait_deadline()

    def wait_budget(self, deadline: float | None = None
                    ) -> contextlib.AbstractContextManager[None]:
        """Front ends wrap one request in this: all its database waits, and the time it
        queued for a worker since `deadline` was taken, share one bound."""
        return self.store.wait_budget(deadline)

    @guarded_write
    def world_version(self) -> int:
        """Changes whenever any answer may change other than by the clock (see Record.expires).

        Jobs whose time has come are settled first, so the version returned already covers
        every world change due by now.
        """
        return self.settle_due()

    @guarded_write
    def settle_due(self) -> int:
        """Apply job events due by now (see providers.migration.engine); the world version."""
        version = self.store.world_version()
        if self.engine is None:
            return version
        due = self._due
        if due is None or due[0] != version:
            with self.store.unit_of_work() as uow:
                due = (version, self.engine.next_due(uow))
            self._due = due
        moment = due[1]
        if moment is None or self.clock.now() < moment:
            return version
        with self._write_turn(), self.store.unit_of_work() as uow:
            try:
                self.engine.settle(uow, self.clock.now())
                uow.commit()
            except StaleWrite:
                log.info("another process settled the same jobs first")
        self._due = None
        return self.store.world_version()

    @contextlib.contextmanager
    def _write_turn(self) -> Iterator[None]:
        """This process's turn to write, waited for no longer than the request's wait budget.

        Writers queue here before they queue for the database's own lock; without a bound,
        one write stuck on a database lock would hold every later one past the timeout.
        """
        remaining = self.store.remaining_wait()
        if not self._write_lock.acquire(timeout=-1 if remaining is None else max(0, remaining)):
            raise self.store.budget_spent("the write turn held by another write of this "
                                          "process")
        try:
            yield
        finally:
            self._write_lock.release()

    # ----------------------------------------------------------------- validation helpers

    def scope(self, host: str, namespace: str | None) -> Scope:
        if not namespace:
            raise CIMError(CIM_ERR_INVALID_NAMESPACE, "no namespace was given")
        served = self.catalog.canonical_namespace(namespace)
        if served is None:
            raise CIMError(CIM_ERR_INVALID_NAMESPACE,
                           f"namespace {namespace!r} does not exist on {host}; served: "
                           f"{', '.join(self.catalog.namespaces)}")
        return Scope(served, host, self.token)

    def klass(self, scope: Scope, classname: str | None) -> CIMClass:
        if not classname:
            raise CIMError(CIM_ERR_INVALID_PARAMETER, "a class name is required")
        if not self.catalog.has_class(scope.namespace, classname):
            raise CIMError(CIM_ERR_INVALID_CLASS,
                           f"class {classname!r} does not exist in namespace {scope.namespace}")
        return self.catalog.get_class(scope.namespace, classname)

    def _context(self, uow: Any) -> ProviderContext:
        # Reads must not see a job (or VM) whose time has passed but is not yet written.
        self.settle_due()
        return ProviderContext(uow=uow, clock=self.clock, classes=self.catalog)

    def _concrete_classes(self, scope: Scope, classname: str) -> list[str]:
        """Classes with a provider that are classname or derive from it."""
        names = [classname, *self.catalog.subclasses(scope.namespace, classname, deep=True)]
        return [n for n in names if (scope.namespace.lower(), n.lower()) in self._providers]

    def _provider(self, scope: Scope, classname: str) -> InstanceProvider | None:
        return self._providers.get((scope.namespace.lower(), classname.lower()))

    # --------------------------------------------------------------------- class operations

    @guarded
    def get_class(self, host: str, namespace: str, classname: str, *, local_only: bool = True,
                  include_qualifiers: bool = True, include_class_origin: bool = False,
                  property_list: Iterable[str] | None = None) -> CIMClass:
        scope = self.scope(host, namespace)
        return shape_class(self.klass(scope, classname), local_only=local_only,
                           include_qualifiers=include_qualifiers,
                           include_class_origin=include_class_origin,
                           property_list=property_list)

    @guarded
    def enumerate_classes(self, host: str, namespace: str, classname: str | None = None, *,
                          deep_inheritance: bool = False, local_only: bool = True,
                          include_qualifiers: bool = True,
                          include_class_origin: bool = False) -> list[CIMClass]:
        scope = self.scope(host, namespace)
        if classname:
            self.klass(scope, classname)
        return [shape_class(self.catalog.get_class(scope.namespace, name), local_only=local_only,
                            include_qualifiers=include_qualifiers,
                            include_class_origin=include_class_origin)
                for name in self.catalog.subclasses(scope.namespace, classname,
                                                    deep=deep_inheritance)]

    @guarded
    def enumerate_class_names(self, host: str, namespace: str, classname: str | None = None, *,
                              deep_inheritance: bool = False) -> list[CIMClassName]:
        scope = self.scope(host, namespace)
        if classname:
            self.klass(scope, classname)
        return [CIMClassName(self.catalog.get_class(scope.namespace, name).classname)
                for name in self.catalog.subclasses(scope.namespace, classname,
                                                    deep=deep_inheritance)]

    @guarded
    def get_qualifier(self, host: str, namespace: str, name: str) -> CIMQualifierDeclaration:
        scope = self.scope(host, namespace)
        declarations = self.catalog.qualifier_declarations(scope.namespace)
        if name not in declarations:
            raise CIMError(CIM_ERR_NOT_FOUND, f"qualifier {name!r} is not declared in "
                                              f"{scope.namespace}")
        return declarations[name]

    @guarded
    def enumerate_qualifiers(self, host: str, namespace: str) -> list[CIMQualifierDeclaration]:
        scope = self.scope(host, namespace)
        return list(self.catalog.qualifier_declarations(scope.namespace).values())

    @guarded
    def refuse_schema_change(self, host: str, namespace: str, operation: str) -> None:
        self.scope(host, namespace)
        raise CIMError(CIM_ERR_NOT_SUPPORTED, f"{operation} is not supported: the Hyper-V class "
                                              "schema is fixed")

    # ------------------------------------------------------------------ instance operations

    def _resolve(self, ctx: ProviderContext, scope: Scope,
                 path: CIMInstanceName) -> Record | None:
        provider = self._provider(scope, path.classname)
        if provider is None:
            return None
        record = provider.get(ctx, scope, path.classname, path.keybindings)
        if record is None or record.classname.lower() != path.classname.lower():
            return None
        return next(_noted([record]))

    def _check_instance_path(self, scope: Scope, path: CIMInstanceName) -> None:
        klass = self.klass(scope, path.classname)
        keys = {k.lower() for k in self.catalog.key_names(scope.namespace, klass.classname)}
        given = {k.lower() for k in path.keybindings}
        if keys and given != keys:
            missing = sorted(keys - given)
            extra = sorted(given - keys)
            detail = "; ".join(filter(None, [
                f"missing key(s) {', '.join(missing)}" if missing else "",
                f"not key(s) of {klass.classname}: {', '.join(extra)}" if extra else ""]))
            raise CIMError(CIM_ERR_INVALID_PARAMETER,
                           f"invalid instance path for {klass.classname}: {detail}")

    @guarded
    def get_instance(self, host: str, namespace: str, path: CIMInstanceName, *,
                     local_only: bool = False, include_qualifiers: bool = False,
                     include_class_origin: bool = False,
                     property_list: Iterable[str] | None = None) -> InstanceResult:
        scope = self.scope(host, namespace)
        self._check_instance_path(scope, path)
        with self.store.unit_of_work() as uow:
            record = self._resolve(self._context(uow), scope, path)
            if record is None:
                raise not_found(path, scope)
            result = InstanceResult(record, scope, self.catalog,
                                    View.of(property_list, include_qualifiers,
                                            include_class_origin))
            result.materialise()
            return result

    def _enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        for name in self._concrete_classes(scope, classname):
            provider = self._provider(scope, name)
            assert provider is not None
            yield from _noted(provider.enumerate(ctx, scope, name))

    @guarded
    def enumerate_instances(self, host: str, namespace: str, classname: str, *,
                            local_only: bool = False, deep_inheritance: bool = True,
                            include_qualifiers: bool = False, include_class_origin: bool = False,
                            property_list: Iterable[str] | None = None) -> list[InstanceResult]:
        scope = self.scope(host, namespace)
        klass = self.klass(scope, classname)
        view = View.of(property_list, include_qualifiers, include_class_origin)
        requested = None if deep_inheritance else klass.classname
        with self.store.unit_of_work() as uow:
            results = [InstanceResult(r, scope, self.catalog, view, requested)
                       for r in self._enumerate(self._context(uow), scope, klass.classname)]
            return results

    @guarded
    def enumerate_instance_names(self, host: str, namespace: str,
                                 classname: str) -> list[CIMInstanceName]:
        scope = self.scope(host, namespace)
        klass = self.klass(scope, classname)
        with self.store.unit_of_work() as uow:
            return [record_path(r, scope)
                    for r in self._enumerate(self._context(uow), scope, klass.classname)]

    @guarded
    def get_property(self, host: str, namespace: str, path: CIMInstanceName,
                     name: str) -> Any:
        result = self.get_instance(host, namespace, path)
        instance = result.instance()
        if name not in instance.properties:
            raise CIMError(CIM_ERR_NO_SUCH_PROPERTY,
                           f"class {path.classname} has no property {name!r}")
        return instance.properties[name]

    @guarded
    def refuse_instance_write(self, host: str, namespace: str, operation: str,
                              path: CIMInstanceName | None = None,
                              instance: CIMInstance | None = None) -> None:
        """Create/Modify/DeleteInstance: Hyper-V changes its objects only through methods."""
        scope = self.scope(host, namespace)
        # An instance without properties is falsy, so test for None explicitly.
        classname = path.classname if path is not None else (
            instance.classname if instance is not None else None)
        klass = self.klass(scope, classname)
        if instance is not None:
            for name in instance.properties:
                if name not in klass.properties:
                    raise CIMError(CIM_ERR_INVALID_PARAMETER,
                                   f"class {klass.classname} has no property {name!r}")
        if operation != "CreateInstance" and path is not None:
            self._check_instance_path(scope, path)
            with self.store.unit_of_work() as uow:
                if self._resolve(self._context(uow), scope, path) is None:
                    raise not_found(path, scope)
        raise CIMError(CIM_ERR_NOT_SUPPORTED,
                       f"{operation} is not supported for {klass.classname}: Hyper-V changes "
                       "these objects only through the methods of its services")

    # --------------------------------------------------------------------------- methods

    @guarded_write
    def invoke_method(self, host: str, namespace: str, target: CIMInstanceName | CIMClassName,
                      method: str, params: Mapping[str, Any]) -> MethodOutcome:
        """Run an extrinsic method: its return value and output parameters, typed for the wire
        together with their declared types."""
        scope = self.scope(host, namespace)
        klass = self.klass(scope, target.classname)
        if method not in klass.methods:
            raise CIMError(CIM_ERR_METHOD_NOT_FOUND,
                           f"class {klass.classname} has no method {method!r}")
        declaration = klass.methods[method]
        for name in params:
            parameter = declaration.parameters.get(name)
            if parameter is None:
                raise CIMError(CIM_ERR_INVALID_PARAMETER,
                               f"method {klass.classname}.{declaration.name} has no parameter "
                               f"{name!r}")
            in_qualifier = parameter.qualifiers.get("In")
            if in_qualifier is not None and not in_qualifier.value:
                raise CIMError(CIM_ERR_INVALID_PARAMETER,
                               f"parameter {name!r} of {declaration.name} is an output only")
        if isinstance(target, CIMClassName):
            static = declaration.qualifiers.get("Static")
            if not (static and static.value):
                raise CIMError(CIM_ERR_INVALID_PARAMETER,
                               f"{klass.classname}.{declaration.name} is not static: invoke it "
                               "on an instance path")
        else:
            self._check_instance_path(scope, target)
        typed = coerce_inputs(self.catalog, scope, declaration, params)
        provider = self._methods.get((scope.namespace.lower(), klass.classname.lower()))
        if provider is None or not provider.handles(declaration.name):
            provider = self._unsupported
        if provider is None:
            raise CIMError(CIM_ERR_NOT_SUPPORTED,
                           f"{klass.classname}.{declaration.name} is not supported")
        call = MethodCall(scope, target, declaration.name, typed)
        for attempt in (1, 2):
            try:
                result = self._run_method(provider, scope, target, call)
                break
            except StaleWrite:
                if attempt == 2:
                    raise
        return finish_call(self.catalog, scope, declaration, host, result)

    def _run_method(self, provider: MethodProvider, scope: Scope,
                    target: CIMInstanceName | CIMClassName, call: MethodCall) -> MethodResult:
        with self._write_turn(), self.store.unit_of_work() as uow:
            ctx = ProviderContext(uow=uow, clock=self.clock, classes=self.catalog)
            if self.engine is not None:
                # Same transaction: settle what is due and hold the write lock for the call.
                self.engine.settle(uow, ctx.now())
            if isinstance(target, CIMInstanceName) and self._resolve(ctx, scope, target) is None:
                raise not_found(target, scope)
            result = provider.invoke(ctx, call)
            uow.commit()
        self._due = None
        return result

    # ----------------------------------------------------------------------- associations

    def _named_class(self, scope: Scope, classname: str, parameter: str) -> None:
        """A class named by an association operation must exist. DSP0200 lists
        CIM_ERR_INVALID_PARAMETER (not CIM_ERR_INVALID_CLASS) for the source class, AssocClass
        and ResultClass of Associators, AssociatorNames, References and ReferenceNames."""
        if not self.catalog.has_class(scope.namespace, classname):
            raise CIMError(CIM_ERR_INVALID_PARAMETER,
                           f"{parameter} class {classname!r} does not exist in namespace "
                           f"{scope.namespace}")

    def _association_classes(self, scope: Scope, assoc_class: str | None,
                             parameter: str = "AssocClass") -> list[str]:
        base = assoc_class or None
        if base is not None:
            self._named_class(scope, base, parameter)
            candidates = [base, *self.catalog.subclasses(scope.namespace, base, deep=True)]
        else:
            candidates = self.catalog.class_names(scope.namespace)
        return [n for n in candidates
                if self.catalog.is_association(scope.namespace, n)
                and self._provider(scope, n) is not None]

    def _links(self, ctx: ProviderContext, scope: Scope, source: CIMInstanceName,
               assoc_class: str | None, role: str | None,
               parameter: str = "AssocClass") -> Iterator[tuple[Record, str]]:
        """(association record, name of the reference that points at source)."""
        wanted = path_identity(source)
        for name in self._association_classes(scope, assoc_class, parameter):
            provider = self._provider(scope, name)
            # An association class may be served by a plain instance provider (a handful of
            # fixed links); AssociationProvider's scan finds its links just the same.
            assert provider is not None
            links = (provider.references(ctx, scope, name, source)
                     if isinstance(provider, AssociationProvider)
                     else scan_references(provider, ctx, scope, name, source))
            for record in links:
                for prop, value in record.keys.items():
                    if not isinstance(value, CIMInstanceName) or path_identity(value) != wanted:
                        continue
                    if role and prop.lower() != role.lower():
                        continue
                    yield record, prop

    def _check_source(self, ctx: ProviderContext, scope: Scope, source: CIMInstanceName) -> None:
        self._named_class(scope, source.classname, "source")
        self._check_instance_path(scope, source)
        if self._resolve(ctx, scope, source) is None:
            raise not_found(source, scope)

    @guarded
    def references(self, host: str, namespace: str, source: CIMInstanceName, *,
                   result_class: str | None = None, role: str | None = None,
                   include_qualifiers: bool = False, include_class_origin: bool = False,
                   property_list: Iterable[str] | None = None) -> list[InstanceResult]:
        scope = self.scope(host, namespace)
        if result_class:
            self._named_class(scope, result_class, "ResultClass")
        view = View.of(property_list, include_qualifiers, include_class_origin)
        with self.store.unit_of_work() as uow:
            ctx = self._context(uow)
            self._check_source(ctx, scope, source)
            results, seen = [], set()
            links = self._links(ctx, scope, source, result_class, role, "ResultClass")
            for record, _prop in links:
                identity = (record.classname.lower(), normalise_keys(record.keys))
                if identity not in seen:
                    seen.add(identity)
                    result = InstanceResult(record, scope, self.catalog, view)
                    result.materialise()
                    results.append(result)
            return results

    @guarded
    def associators(self, host: str, namespace: str, source: CIMInstanceName, *,
                    assoc_class: str | None = None, result_class: str | None = None,
                    role: str | None = None, result_role: str | None = None,
                    include_qualifiers: bool = False, include_class_origin: bool = False,
                    property_list: Iterable[str] | None = None) -> list[InstanceResult]:
        scope = self.scope(host, namespace)
        if assoc_class:
            self._named_class(scope, assoc_class, "AssocClass")
        if result_class:
            self._named_class(scope, result_class, "ResultClass")
        view = View.of(property_list, include_qualifiers, include_class_origin)
        with self.store.unit_of_work() as uow:
            ctx = self._context(uow)
            self._check_source(ctx, scope, source)
            results: list[InstanceResult] = []
            seen: set[Any] = set()
            for record, source_prop in self._links(ctx, scope, source, assoc_class, role):
                for prop, value in record.keys.items():
                    if prop == source_prop or not isinstance(value, CIMInstanceName):
                        continue
                    if result_role and prop.lower() != result_role.lower():
                        continue
                    target_scope = scope
                    if value.namespace:
                        target_scope = self.scope(host, value.namespace)
                    if result_class and not (
                            self.catalog.has_class(target_scope.namespace, value.classname)
                            and self.catalog.is_subclass(target_scope.namespace,
                                                         value.classname, result_class)):
                        continue
                    identity = (target_scope.namespace.lower(), path_identity(value))
                    if identity in seen:
                        continue
                    seen.add(identity)
                    other = self._resolve(ctx, target_scope, value)
                    if other is not None:
                        result = InstanceResult(other, target_scope, self.catalog, view)
                        result.materialise()
                        results.append(result)
            return results

    @guarded
    def associator_names(self, host: str, namespace: str, source: CIMInstanceName,
                         **filters: Any) -> list[CIMInstanceName]:
        return [r.path for r in self.associators(host, namespace, source, **filters)]

    @guarded
    def reference_names(self, host: str, namespace: str, source: CIMInstanceName,
                        **filters: Any) -> list[CIMInstanceName]:
        return [r.path for r in self.references(host, namespace, source, **filters)]

    @guarded
    def class_associators(self, host: str, namespace: str, source: CIMClassName, *,
                          assoc_class: str | None = None, result_class: str | None = None,
                          role: str | None = None, result_role: str | None = None,
                          references: bool = False) -> list[CIMClass]:
        """Schema-level Associators/References on a class path (DSP0200 §5.3.2.14)."""
        scope = self.scope(host, namespace)
        self._named_class(scope, source.classname, "source")
        if result_class:
            self._named_class(scope, result_class, "ResultClass")
        found: NocaseDict = NocaseDict()
        for name in self._association_classes(scope, assoc_class):
            assoc = self.catalog.get_class(scope.namespace, name)
            refs = {p.name: p.reference_class for p in assoc.properties.values()
                    if p.type == "reference"}
            for prop, target in refs.items():
                if role and prop.lower() != role.lower():
                    continue
                if not target or not self.catalog.is_subclass(scope.namespace, source.classname,
                                                              target):
                    continue
                if references:
                    if not result_class or self.catalog.is_subclass(scope.namespace, name,
                                                                    result_class):
                        found[name] = assoc
                    continue
                for other, other_class in refs.items():
                    if other == prop or (result_role and other.lower() != result_role.lower()):
                        continue
                    if other_class and self.catalog.has_class(scope.namespace, other_class) and (
                            not result_class or self.catalog.is_subclass(
                                scope.namespace, other_class, result_class)):
                        found[other_class] = self.catalog.get_class(scope.namespace, other_class)
        return list(found.values())

    # ------------------------------------------------------------------------------ query

    @guarded
    def exec_query(self, host: str, namespace: str, query_language: str,
                   query: str) -> list[InstanceResult]:
        scope = self.scope(host, namespace)
        if (query_language or "").upper() != "WQL":
            raise CIMError(CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED,
                           f"query language {query_language!r} is not supported; use WQL")
        try:
            parsed = wql.parse(query)
        except wql.WQLError as error:
            raise CIMError(CIM_ERR_INVALID_QUERY, f"invalid WQL: {error}") from error
        if isinstance(parsed, wql.AssociatorsQuery | wql.ReferencesQuery):
            return self._association_query(host, scope, parsed)
        if parsed.classname.startswith("__"):
            raise CIMError(CIM_ERR_NOT_SUPPORTED,
                           f"{parsed.classname} is an event class: event queries need a "
                           "subscription, which this server does not offer")
        klass = self.klass(scope, parsed.classname)
        view = View.of(None if parsed.properties is None else
                       self._selected_properties(scope, klass, parsed.properties))
        results = []
        with self.store.unit_of_work() as uow:
            for record in self._enumerate(self._context(uow), scope, klass.classname):
                result = InstanceResult(record, scope, self.catalog, FULL_VIEW)
                if parsed.where is not None:
                    instance = result.instance()
                    try:
                        keep = wql.evaluate(parsed.where, InstanceRow(instance, self.catalog,
                                                                      scope))
                    except wql.WQLError as error:
                        raise CIMError(CIM_ERR_INVALID_QUERY, str(error)) from error
                    if not keep:
                        continue
                result.view = view
                result.materialise()
                results.append(result)
        return results

    def _selected_properties(self, scope: Scope, klass: CIMClass,
                             names: Iterable[str]) -> list[str]:
        selected = []
        for name in names:
            if name.startswith("__"):
                continue
            if name not in klass.properties:
                raise CIMError(CIM_ERR_INVALID_QUERY,
                               f"class {klass.classname} has no property {name!r}")
            selected.append(name)
        # Keys always travel with a query result so that its path stays usable.
        selected.extend(self.catalog.key_names(scope.namespace, klass.classname))
        return selected

    def _association_query(self, host: str, scope: Scope,
                           parsed: wql.AssociatorsQuery | wql.ReferencesQuery
                           ) -> list[InstanceResult]:
        try:
            source = parse_object_path(parsed.source, default_namespace=scope.namespace)
        except ObjectPathError as error:
            raise CIMError(CIM_ERR_INVALID_QUERY, f"invalid object path in query: {error}") \
                from error
        if not isinstance(source, CIMInstanceName):
            raise CIMError(CIM_ERR_NOT_SUPPORTED, "schema queries (a class path in ASSOCIATORS "
                                                  "OF / REFERENCES OF) are not supported")
        if parsed.class_defs_only or parsed.schema_only:
            raise CIMError(CIM_ERR_NOT_SUPPORTED, "ClassDefsOnly and SchemaOnly are not supported")
        if isinstance(parsed, wql.ReferencesQuery):
            return self.references(host, scope.namespace, source,
                                   result_class=parsed.result_class, role=parsed.role)
        return self.associators(host, scope.namespace, source, assoc_class=parsed.assoc_class,
                                result_class=parsed.result_class, role=parsed.role,
                                result_role=parsed.result_role)

    # ---------------------------------------------------------------- paths given as text

    def parse_path(self, text: str, namespace: str) -> CIMInstanceName:
        try:
            path = parse_object_path(text, default_namespace=namespace)
        except ObjectPathError as error:
            raise CIMError(CIM_ERR_INVALID_PARAMETER, f"invalid object path: {error}") from error
        if not isinstance(path, CIMInstanceName):
            raise CIMError(CIM_ERR_INVALID_PARAMETER, f"{text!r} names a class, not an instance")
        return path


class InstanceRow:
    """A CIM instance as the WQL evaluator sees it."""

    def __init__(self, instance: CIMInstance, catalog: Catalog, scope: Scope) -> None:
        self._instance = instance
        self._catalog = catalog
        self._scope = scope

    def get(self, name: str) -> tuple[object, str | None, bool]:
        lowered = name.lower()
        if lowered == "__class":
            return self._instance.classname, "string", False
        if lowered in ("__path", "__relpath"):
            return format_wmi_path(self._instance.path, relative=lowered == "__relpath"), \
                "string", False
        if lowered == "__server":
            return self._scope.host, "string", False
        if lowered == "__namespace":
            return self._scope.namespace.replace("/", "\\"), "string", False
        if name not in self._instance.properties:
            raise KeyError(name)
        prop = self._instance.properties[name]
        return prop.value, prop.type, bool(prop.is_array)

    def classname(self) -> str:
        return self._instance.classname

    def is_a(self, classname: str) -> bool:
        return self._catalog.has_class(self._scope.namespace, self._instance.classname) and \
            self._catalog.is_subclass(self._scope.namespace, self._instance.classname, classname)

    def embedded(self, name: str) -> InstanceRow | None:
        return None



def not_found(path: CIMInstanceName, scope: Scope) -> CIMError:
    return CIMError(CIM_ERR_NOT_FOUND, f"no instance {format_wmi_path(path, relative=True)} in "
                                       f"{scope.namespace} on {scope.host}")


def shape_class(klass: CIMClass, *, local_only: bool, include_qualifiers: bool,
                include_class_origin: bool,
                property_list: Iterable[str] | None = None) -> CIMClass:
    """GetClass flags (DSP0200 §5.3.2.1) applied to a resolved class."""
    wanted = None if property_list is None else {p.lower() for p in property_list}
    shaped = klass.copy()
    for collection in (shaped.properties, shaped.methods):
        for name in list(collection):
            element = collection[name]
            inherited = element.propagated or (
                element.class_origin and element.class_origin.lower() != klass.classname.lower())
            if local_only and inherited:
                del collection[name]
                continue
            if collection is shaped.properties and wanted is not None and \
                    name.lower() not in wanted:
                del collection[name]
                continue
            if not include_class_origin:
                element.class_origin = None
                element.propagated = None
            if not include_qualifiers:
                element.qualifiers = NocaseDict()
                if collection is shaped.methods:
                    for parameter in element.parameters.values():
                        parameter.qualifiers = NocaseDict()
    if not include_qualifiers:
        shaped.qualifiers = NocaseDict()
    return shaped

