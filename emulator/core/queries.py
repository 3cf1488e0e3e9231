"""ExecQuery: WQL SELECT over the instances of a class, and ASSOCIATORS OF / REFERENCES OF
handed to association traversal."""

from __future__ import annotations

from collections.abc import Iterable

from pywbem import (
    CIM_ERR_INVALID_QUERY,
    CIM_ERR_NOT_SUPPORTED,
    CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED,
    CIMClass,
    CIMError,
    CIMInstanceName,
)

from emulator.cim import wql
from emulator.cim.objectpath import ObjectPathError, parse_object_path
from emulator.core.associations import Associations
from emulator.core.catalog import Catalog
from emulator.core.instances import FULL_VIEW, View
from emulator.core.registry import ProviderRegistry
from emulator.core.results import InstanceResult, InstanceRow
from emulator.core.transactions import Transactions
from emulator.core.validation import Validation
from providers.base import Scope


class Queries:
    def __init__(self, catalog: Catalog, validation: Validation, registry: ProviderRegistry,
                 transactions: Transactions, associations: Associations) -> None:
        self.catalog = catalog
        self.validation = validation
        self.registry = registry
        self.transactions = transactions
        self.associations = associations

    def exec_query(self, scope: Scope, query_language: str, query: str) -> list[InstanceResult]:
        """Scope already validated; the language and the query are checked here."""
        if (query_language or "").upper() != "WQL":
            raise CIMError(CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED,
                           f"query language {query_language!r} is not supported; use WQL")
        try:
            parsed = wql.parse(query)
        except wql.WQLError as error:
            raise CIMError(CIM_ERR_INVALID_QUERY, f"invalid WQL: {error}") from error
        if isinstance(parsed, wql.AssociatorsQuery | wql.ReferencesQuery):
            return self._association_query(scope, parsed)
        if parsed.classname.startswith("__"):
            raise CIMError(CIM_ERR_NOT_SUPPORTED,
                           f"{parsed.classname} is an event class: event queries need a "
                           "subscription, which this server does not offer")
        klass = self.validation.klass(scope, parsed.classname)
        view = View.of(None if parsed.properties is None else
                       self._selected_properties(scope, klass, parsed.properties))
        results = []
        with self.transactions.reading() as ctx:
            for record in self.registry.enumerate(ctx, scope, klass.classname):
                result = InstanceResult(record, scope, self.catalog, FULL_VIEW)
                if parsed.where is not None and not self._matches(parsed.where, result, scope):
                    continue
                result.view = view
                result.materialise()
                results.append(result)
        return results

    def _matches(self, where: wql.Expr, result: InstanceResult, scope: Scope) -> bool:
        try:
            return wql.evaluate(where, InstanceRow(result.instance(), self.catalog, scope))
        except wql.WQLError as error:
            raise CIMError(CIM_ERR_INVALID_QUERY, str(error)) from error

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

    def _association_query(self, scope: Scope, parsed: wql.AssociatorsQuery | wql.ReferencesQuery
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
            return self.associations.references(scope, source, result_class=parsed.result_class,
                                                role=parsed.role)
        return self.associations.associators(scope, source, assoc_class=parsed.assoc_class,
                                             result_class=parsed.result_class, role=parsed.role,
                                             result_role=parsed.result_role)
