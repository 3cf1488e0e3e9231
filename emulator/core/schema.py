"""Class and qualifier operations: the class model as the catalog holds it, shaped by the
operation's flags. Nothing here opens the store."""

from __future__ import annotations

from collections.abc import Iterable

from nocasedict import NocaseDict
from pywbem import (
    CIM_ERR_NOT_FOUND,
    CIM_ERR_NOT_SUPPORTED,
    CIMClass,
    CIMClassName,
    CIMError,
    CIMQualifierDeclaration,
)

from emulator.core.catalog import Catalog
from emulator.core.validation import Validation
from providers.base import Scope


class Schema:
    """Every method takes a scope already validated."""

    def __init__(self, catalog: Catalog, validation: Validation) -> None:
        self.catalog = catalog
        self.validation = validation

    def get_class(self, scope: Scope, classname: str, *, local_only: bool,
                  include_qualifiers: bool, include_class_origin: bool,
                  property_list: Iterable[str] | None) -> CIMClass:
        return shape_class(self.validation.class_to_get(scope, classname), local_only=local_only,
                           include_qualifiers=include_qualifiers,
                           include_class_origin=include_class_origin,
                           property_list=property_list)

    def enumerate_classes(self, scope: Scope, classname: str | None, *, deep_inheritance: bool,
                          local_only: bool, include_qualifiers: bool,
                          include_class_origin: bool) -> list[CIMClass]:
        return [shape_class(self.catalog.get_class(scope.namespace, name), local_only=local_only,
                            include_qualifiers=include_qualifiers,
                            include_class_origin=include_class_origin)
                for name in self._subclasses(scope, classname, deep_inheritance)]

    def enumerate_class_names(self, scope: Scope, classname: str | None, *,
                              deep_inheritance: bool) -> list[CIMClassName]:
        return [CIMClassName(self.catalog.get_class(scope.namespace, name).classname)
                for name in self._subclasses(scope, classname, deep_inheritance)]

    def _subclasses(self, scope: Scope, classname: str | None, deep: bool) -> list[str]:
        if classname:
            self.validation.klass(scope, classname)
        return list(self.catalog.subclasses(scope.namespace, classname, deep=deep))

    def get_qualifier(self, scope: Scope, name: str) -> CIMQualifierDeclaration:
        declarations = self.catalog.qualifier_declarations(scope.namespace)
        if name not in declarations:
            raise CIMError(CIM_ERR_NOT_FOUND, f"qualifier {name!r} is not declared in "
                                              f"{scope.namespace}")
        return declarations[name]

    def enumerate_qualifiers(self, scope: Scope) -> list[CIMQualifierDeclaration]:
        return list(self.catalog.qualifier_declarations(scope.namespace).values())

    @staticmethod
    def refuse_change(operation: str) -> CIMError:
        return CIMError(CIM_ERR_NOT_SUPPORTED, f"{operation} is not supported: the Hyper-V class "
                                               "schema is fixed")


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
