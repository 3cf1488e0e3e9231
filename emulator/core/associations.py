"""Association traversal: References, Associators (and their Names forms) on an instance, and
their schema-level form on a class path."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from nocasedict import NocaseDict
from pywbem import CIMClass, CIMClassName, CIMInstanceName

from emulator.core.catalog import Catalog
from emulator.core.instances import View
from emulator.core.registry import ProviderRegistry
from emulator.core.results import InstanceResult, materialised, not_found
from emulator.core.transactions import Transactions
from emulator.core.validation import Validation
from providers.base import ProviderContext, Record, Scope, normalise_keys, path_identity


class Associations:
    def __init__(self, catalog: Catalog, validation: Validation, registry: ProviderRegistry,
                 transactions: Transactions) -> None:
        self.catalog = catalog
        self.validation = validation
        self.registry = registry
        self.transactions = transactions

    def references(self, scope: Scope, source: CIMInstanceName, *,
                   result_class: str | None = None, role: str | None = None,
                   include_qualifiers: bool = False, include_class_origin: bool = False,
                   property_list: Iterable[str] | None = None) -> list[InstanceResult]:
        """The association instances that point at `source`; scope already validated."""
        if result_class:
            self.validation.named_class(scope, result_class, "ResultClass")
        view = View.of(property_list, include_qualifiers, include_class_origin)
        with self.transactions.reading() as ctx:
            self._check_source(ctx, scope, source)
            results, seen = [], set()
            for record, _prop in self._links(ctx, scope, source, result_class, role,
                                             "ResultClass"):
                identity = (record.classname.lower(), normalise_keys(record.keys))
                if identity not in seen:
                    seen.add(identity)
                    results.append(materialised(record, scope, self.catalog, view))
            return results

    def associators(self, scope: Scope, source: CIMInstanceName, *,
                    assoc_class: str | None = None, result_class: str | None = None,
                    role: str | None = None, result_role: str | None = None,
                    include_qualifiers: bool = False, include_class_origin: bool = False,
                    property_list: Iterable[str] | None = None) -> list[InstanceResult]:
        """The instances associated with `source`; scope already validated."""
        if assoc_class:
            self.validation.named_class(scope, assoc_class, "AssocClass")
        if result_class:
            self.validation.named_class(scope, result_class, "ResultClass")
        view = View.of(property_list, include_qualifiers, include_class_origin)
        with self.transactions.reading() as ctx:
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
                        target_scope = self.validation.scope(scope.host, value.namespace)
                    if result_class and not self._is_a(target_scope, value.classname,
                                                       result_class):
                        continue
                    identity = (target_scope.namespace.lower(), path_identity(value))
                    if identity in seen:
                        continue
                    seen.add(identity)
                    other = self.registry.resolve(ctx, target_scope, value)
                    if other is not None:
                        results.append(materialised(other, target_scope, self.catalog, view))
            return results

    def _is_a(self, scope: Scope, classname: str, ancestor: str) -> bool:
        return self.catalog.has_class(scope.namespace, classname) and \
            self.catalog.is_subclass(scope.namespace, classname, ancestor)

    def class_associators(self, scope: Scope, source: CIMClassName, *,
                          assoc_class: str | None = None, result_class: str | None = None,
                          role: str | None = None, result_role: str | None = None,
                          references: bool = False) -> list[CIMClass]:
        """Schema-level Associators/References on a class path (DSP0200 §5.3.2.14); scope
        already validated."""
        self.validation.named_class(scope, source.classname, "source")
        if result_class:
            self.validation.named_class(scope, result_class, "ResultClass")
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

    def _association_classes(self, scope: Scope, assoc_class: str | None,
                             parameter: str = "AssocClass") -> list[str]:
        base = assoc_class or None
        if base is not None:
            self.validation.named_class(scope, base, parameter)
            candidates = [base, *self.catalog.subclasses(scope.namespace, base, deep=True)]
        else:
            candidates = self.catalog.class_names(scope.namespace)
        return self.registry.association_classes(scope, candidates)

    def _links(self, ctx: ProviderContext, scope: Scope, source: CIMInstanceName,
               assoc_class: str | None, role: str | None,
               parameter: str = "AssocClass") -> Iterator[tuple[Record, str]]:
        """(association record, name of the reference that points at source)."""
        wanted = path_identity(source)
        for name in self._association_classes(scope, assoc_class, parameter):
            for record in self.registry.links(ctx, scope, name, source):
                for prop, value in record.keys.items():
                    if not isinstance(value, CIMInstanceName) or path_identity(value) != wanted:
                        continue
                    if role and prop.lower() != role.lower():
                        continue
                    yield record, prop

    def _check_source(self, ctx: ProviderContext, scope: Scope, source: CIMInstanceName) -> None:
        self.validation.named_class(scope, source.classname, "source")
        self.validation.instance_path(scope, source)
        if self.registry.resolve(ctx, scope, source) is None:
            raise not_found(source, scope)
