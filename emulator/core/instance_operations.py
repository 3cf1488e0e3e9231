"""Instance operations: GetInstance, EnumerateInstances(Names), GetProperty, and the refusal of
instance writes (Hyper-V changes its objects only through methods)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pywbem import (
    CIM_ERR_NO_SUCH_PROPERTY,
    CIM_ERR_NOT_SUPPORTED,
    CIMError,
    CIMInstance,
    CIMInstanceName,
)

from emulator.core.catalog import Catalog
from emulator.core.instances import View, record_path
from emulator.core.registry import ProviderRegistry
from emulator.core.results import InstanceResult, materialised, not_found
from emulator.core.transactions import Transactions
from emulator.core.validation import Validation
from providers.base import Scope


class InstanceOperations:
    """Every method takes a scope already validated; classes and paths are checked here."""

    def __init__(self, catalog: Catalog, validation: Validation, registry: ProviderRegistry,
                 transactions: Transactions) -> None:
        self.catalog = catalog
        self.validation = validation
        self.registry = registry
        self.transactions = transactions

    def get_instance(self, scope: Scope, path: CIMInstanceName, *, include_qualifiers: bool,
                     include_class_origin: bool,
                     property_list: Iterable[str] | None) -> InstanceResult:
        self.validation.instance_path(scope, path)
        with self.transactions.reading() as ctx:
            record = self.registry.resolve(ctx, scope, path)
            if record is None:
                raise not_found(path, scope)
            return materialised(record, scope, self.catalog,
                                View.of(property_list, include_qualifiers, include_class_origin))

    def enumerate_instances(self, scope: Scope, classname: str, *, deep_inheritance: bool,
                            include_qualifiers: bool, include_class_origin: bool,
                            property_list: Iterable[str] | None) -> list[InstanceResult]:
        klass = self.validation.klass(scope, classname)
        view = View.of(property_list, include_qualifiers, include_class_origin)
        requested = None if deep_inheritance else klass.classname
        with self.transactions.reading() as ctx:
            return [InstanceResult(r, scope, self.catalog, view, requested)
                    for r in self.registry.enumerate(ctx, scope, klass.classname)]

    def enumerate_instance_names(self, scope: Scope, classname: str) -> list[CIMInstanceName]:
        klass = self.validation.klass(scope, classname)
        with self.transactions.reading() as ctx:
            return [record_path(r, scope)
                    for r in self.registry.enumerate(ctx, scope, klass.classname)]

    @staticmethod
    def property_of(result: InstanceResult, path: CIMInstanceName, name: str) -> Any:
        instance = result.instance()
        if name not in instance.properties:
            raise CIMError(CIM_ERR_NO_SUCH_PROPERTY,
                           f"class {path.classname} has no property {name!r}")
        return instance.properties[name]

    def refuse_write(self, scope: Scope, operation: str, path: CIMInstanceName | None,
                     instance: CIMInstance | None) -> None:
        """Always raises: the error a host gives for this write, CIM_ERR_NOT_SUPPORTED when
        the request itself is sound."""
        # An instance without properties is falsy, so test for None explicitly.
        classname = path.classname if path is not None else (
            instance.classname if instance is not None else None)
        klass = self.validation.klass(scope, classname)
        if instance is not None:
            self.validation.written_properties(klass, instance.properties)
        if operation != "CreateInstance" and path is not None:
            self.validation.instance_path(scope, path)
            with self.transactions.reading() as ctx:
                if self.registry.resolve(ctx, scope, path) is None:
                    raise not_found(path, scope)
        raise CIMError(CIM_ERR_NOT_SUPPORTED,
                       f"{operation} is not supported for {klass.classname}: Hyper-V changes "
                       "these objects only through the methods of its services")
