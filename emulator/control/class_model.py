"""The class model as the conformance rules see it (emulator.conformance.ClassModel)."""

from __future__ import annotations

from collections.abc import Mapping

from pywbem import CIMClass, CIMParameter, CIMProperty

from emulator.conformance import PropertyInfo
from emulator.core.catalog import Catalog


class CatalogClassModel:
    """Answers from the catalog, each class's view built once per report."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._seen: dict[tuple[str, ...], Mapping[str, PropertyInfo] | None] = {}

    def namespaces_of(self, classname: str) -> list[str]:
        return [ns for ns in self.catalog.namespaces if self.catalog.has_class(ns, classname)]

    def _class(self, namespace: str, classname: str) -> CIMClass | None:
        served = self.catalog.canonical_namespace(namespace)
        if served is None or not self.catalog.has_class(served, classname):
            return None
        return self.catalog.get_class(served, classname)

    def properties(self, namespace: str, classname: str) -> Mapping[str, PropertyInfo] | None:
        key = (namespace.lower(), classname.lower())
        if key not in self._seen:
            self._seen[key] = self._properties(namespace, classname)
        return self._seen[key]

    def parameters(self, namespace: str, classname: str,
                   method: str) -> Mapping[str, PropertyInfo] | None:
        key = (namespace.lower(), classname.lower(), method.lower())
        if key not in self._seen:
            self._seen[key] = self._parameters(namespace, classname, method)
        return self._seen[key]

    def _properties(self, namespace: str, classname: str) -> Mapping[str, PropertyInfo] | None:
        klass = self._class(namespace, classname)
        if klass is None:
            return None
        return {name.lower(): _info(prop) for name, prop in klass.properties.items()}

    def _parameters(self, namespace: str, classname: str,
                    method: str) -> Mapping[str, PropertyInfo] | None:
        klass = self._class(namespace, classname)
        if klass is None or method not in klass.methods:
            return None
        return {name.lower(): _info(param)
                for name, param in klass.methods[method].parameters.items()
                if _qualifier(param, "In", default=True)}


def _info(item: CIMProperty | CIMParameter) -> PropertyInfo:
    deprecated = item.qualifiers.get("Deprecated")
    replacement = None
    if deprecated is not None and deprecated.value:
        value = deprecated.value
        replacement = ", ".join(value) if isinstance(value, list) else str(value)
    return PropertyInfo(item.name, item.type, bool(item.is_array), replacement)


def _qualifier(item: CIMParameter, name: str, *, default: bool) -> bool:
    qualifier = item.qualifiers.get(name)
    return default if qualifier is None else bool(qualifier.value)
