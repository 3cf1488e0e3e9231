"""The protocol-neutral core's one façade: a method per CIM operation for the front ends.

Each operation resolves the namespace to a Scope (emulator.core.validation) and hands the rest
to the part that does that job: schema.py (classes, qualifiers), instance_operations.py,
associations.py, queries.py (WQL), method_calls.py; they find providers through registry.py
and open the store through transactions.py. Front ends get CIM objects or lazily rendered
`InstanceResult`s (results.py) back; every failure is a `pywbem.CIMError` (see
emulator.core.guard): a database that cannot serve now is `ServiceUnavailable`, an unexpected
exception CIM_ERR_FAILED, so no front end ever answers with a traceback.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from pywbem import (
    CIMClass,
    CIMClassName,
    CIMInstance,
    CIMInstanceName,
    CIMQualifierDeclaration,
)

from emulator.clock import SystemClock
from emulator.core.associations import Associations
from emulator.core.catalog import Catalog
from emulator.core.faults import FaultRules
from emulator.core.guard import guarded, guarded_write
from emulator.core.instance_operations import InstanceOperations
from emulator.core.method_calls import MethodCalls
from emulator.core.method_params import MethodOutcome
from emulator.core.queries import Queries
from emulator.core.registry import ProviderRegistry
from emulator.core.results import InstanceResult
from emulator.core.schema import Schema
from emulator.core.transactions import Transactions
from emulator.core.validation import Validation
from providers.base import Clock, InstanceProvider, MethodProvider, Scope, WorldHook
from storage.db import Store

# Scope.dispatcher_token of each dispatcher: cache keys only need to tell apart the
# dispatchers of one process, so a counter does (unlike a random token, it cannot collide,
# nor make two runs of one seeded test differ).
_DISPATCHER_TOKENS = itertools.count(1)


class Dispatcher:
    """The one façade the front ends call: each operation resolves the scope and hands off to
    the part whose job it is."""

    def __init__(self, catalog: Catalog, store: Store, clock: Clock,
                 providers: Iterable[InstanceProvider], methods: Iterable[MethodProvider] = (),
                 hooks: Iterable[WorldHook] = (),
                 unsupported: MethodProvider | None = None,
                 fault_errors: Iterable[str] = (),
                 wall_clock: Clock | None = None) -> None:
        """`hooks` settle what the clock made due before every read and write (providers.base.
        WorldHook); `unsupported` answers every declared method no provider handles (without
        one, such a call is CIM_ERR_NOT_SUPPORTED); `fault_errors` are the named errors a
        fail-job fault rule may give (the migration provider's catalogue). `clock` is the
        world's (simulated) time; `wall_clock` real time, for protocol bookkeeping such as
        enumeration contexts."""
        self.catalog = catalog
        self.store = store  # also what emulator.core.guard retries against
        self.clock = clock
        self.wall_clock = wall_clock or SystemClock()
        self.token = next(_DISPATCHER_TOKENS)
        self.validation = Validation(catalog, self.token)
        self.registry = ProviderRegistry(catalog, providers, methods)
        # The control plane's fault rules: front ends ask them once per request.
        self.faults = FaultRules(store, clock, fault_errors)
        self.transactions = Transactions(store, clock, catalog, hooks, self.faults)
        self.schema = Schema(catalog, self.validation)
        self.instances = InstanceOperations(catalog, self.validation, self.registry,
                                            self.transactions)
        self.associations = Associations(catalog, self.validation, self.registry,
                                         self.transactions)
        self.queries = Queries(catalog, self.validation, self.registry, self.transactions,
                               self.associations)
        self.method_calls = MethodCalls(catalog, self.validation, self.registry, self.transactions,
                                        unsupported)

    # ------------------------------------------------------------- request bounds, versions

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

        What the hooks have due is settled first, so the version returned already covers
        every world change due by now.
        """
        return self.transactions.settle_due()

    @guarded_write
    def settle_due(self) -> int:
        """Apply what the world hooks have due by now; the world version."""
        return self.transactions.settle_due()

    # ------------------------------------------------------------------------- validation

    def scope(self, host: str, namespace: str | None) -> Scope:
        return self.validation.scope(host, namespace)

    def klass(self, scope: Scope, classname: str | None) -> CIMClass:
        return self.validation.klass(scope, classname)

    def parse_path(self, text: str, namespace: str) -> CIMInstanceName:
        return self.validation.parse_path(text, namespace)

    # --------------------------------------------------------------------- class operations

    @guarded
    def get_class(self, host: str, namespace: str, classname: str, *, local_only: bool = True,
                  include_qualifiers: bool = True, include_class_origin: bool = False,
                  property_list: Iterable[str] | None = None) -> CIMClass:
        return self.schema.get_class(self.scope(host, namespace), classname,
                                     local_only=local_only, include_qualifiers=include_qualifiers,
                                     include_class_origin=include_class_origin,
                                     property_list=property_list)

    @guarded
    def enumerate_classes(self, host: str, namespace: str, classname: str | None = None, *,
                          deep_inheritance: bool = False, local_only: bool = True,
                          include_qualifiers: bool = True,
                          include_class_origin: bool = False) -> list[CIMClass]:
        return self.schema.enumerate_classes(
            self.scope(host, namespace), classname, deep_inheritance=deep_inheritance,
            local_only=local_only, include_qualifiers=include_qualifiers,
            include_class_origin=include_class_origin)

    @guarded
    def enumerate_class_names(self, host: str, namespace: str, classname: str | None = None, *,
                              deep_inheritance: bool = False) -> list[CIMClassName]:
        return self.schema.enumerate_class_names(self.scope(host, namespace), classname,
                                                 deep_inheritance=deep_inheritance)

    @guarded
    def get_qualifier(self, host: str, namespace: str, name: str) -> CIMQualifierDeclaration:
        return self.schema.get_qualifier(self.scope(host, namespace), name)

    @guarded
    def enumerate_qualifiers(self, host: str, namespace: str) -> list[CIMQualifierDeclaration]:
        return self.schema.enumerate_qualifiers(self.scope(host, namespace))

    @guarded
    def refuse_schema_change(self, host: str, namespace: str, operation: str) -> None:
        self.scope(host, namespace)
        raise self.schema.refuse_change(operation)

    # ------------------------------------------------------------------ instance operations

    @guarded
    def get_instance(self, host: str, namespace: str, path: CIMInstanceName, *,
                     local_only: bool = False, include_qualifiers: bool = False,
                     include_class_origin: bool = False,
                     property_list: Iterable[str] | None = None) -> InstanceResult:
        return self.instances.get_instance(
            self.scope(host, namespace), path, include_qualifiers=include_qualifiers,
            include_class_origin=include_class_origin, property_list=property_list)

    @guarded
    def enumerate_instances(self, host: str, namespace: str, classname: str, *,
                            local_only: bool = False, deep_inheritance: bool = True,
                            include_qualifiers: bool = False, include_class_origin: bool = False,
                            property_list: Iterable[str] | None = None) -> list[InstanceResult]:
        return self.instances.enumerate_instances(
            self.scope(host, namespace), classname, deep_inheritance=deep_inheritance,
            include_qualifiers=include_qualifiers, include_class_origin=include_class_origin,
            property_list=property_list)

    @guarded
    def enumerate_instance_names(self, host: str, namespace: str,
                                 classname: str) -> list[CIMInstanceName]:
        return self.instances.enumerate_instance_names(self.scope(host, namespace), classname)

    @guarded
    def get_property(self, host: str, namespace: str, path: CIMInstanceName,
                     name: str) -> Any:
        return self.instances.property_of(self.get_instance(host, namespace, path), path, name)

    @guarded
    def refuse_instance_write(self, host: str, namespace: str, operation: str,
                              path: CIMInstanceName | None = None,
                              instance: CIMInstance | None = None) -> None:
        """Create/Modify/DeleteInstance: Hyper-V changes its objects only through methods."""
        self.instances.refuse_write(self.scope(host, namespace), operation, path, instance)

    # --------------------------------------------------------------------------- methods

    @guarded_write
    def invoke_method(self, host: str, namespace: str, target: CIMInstanceName | CIMClassName,
                      method: str, params: Mapping[str, Any]) -> MethodOutcome:
        """Run an extrinsic method: its return value and output parameters, typed for the wire
        together with their declared types."""
        return self.method_calls.invoke(self.scope(host, namespace), target, method, params)

    # ----------------------------------------------------------------------- associations

    @guarded
    def references(self, host: str, namespace: str, source: CIMInstanceName, *,
                   result_class: str | None = None, role: str | None = None,
                   include_qualifiers: bool = False, include_class_origin: bool = False,
                   property_list: Iterable[str] | None = None) -> list[InstanceResult]:
        return self.associations.references(
            self.scope(host, namespace), source, result_class=result_class, role=role,
            include_qualifiers=include_qualifiers, include_class_origin=include_class_origin,
            property_list=property_list)

    @guarded
    def associators(self, host: str, namespace: str, source: CIMInstanceName, *,
                    assoc_class: str | None = None, result_class: str | None = None,
                    role: str | None = None, result_role: str | None = None,
                    include_qualifiers: bool = False, include_class_origin: bool = False,
                    property_list: Iterable[str] | None = None) -> list[InstanceResult]:
        return self.associations.associators(
            self.scope(host, namespace), source, assoc_class=assoc_class,
            result_class=result_class, role=role, result_role=result_role,
            include_qualifiers=include_qualifiers, include_class_origin=include_class_origin,
            property_list=property_list)

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
        return self.associations.class_associators(
            self.scope(host, namespace), source, assoc_class=assoc_class,
            result_class=result_class, role=role, result_role=result_role,
            references=references)

    # ------------------------------------------------------------------------------ query

    @guarded
    def exec_query(self, host: str, namespace: str, query_language: str,
                   query: str) -> list[InstanceResult]:
        return self.queries.exec_query(self.scope(host, namespace), query_language, query)
