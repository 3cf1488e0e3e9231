"""What the core hands back for instances: results rendered lazily, and when they go stale.

A front end gets `InstanceResult`s and builds CIM objects only when it has no cached rendering;
`track_expiry` tells it until when an answer may be cached by the clock (see Record.expires).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pywbem import CIM_ERR_NOT_FOUND, CIMError, CIMInstance, CIMInstanceName

from emulator.cim.objectpath import format_wmi_path
from emulator.core.catalog import Catalog
from emulator.core.instances import View, build_instance, record_path, shape_instance
from providers.base import Record, Scope

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


def noted(records: Iterable[Record]) -> Iterator[Record]:
    """The records unchanged, each one's expiry noted for the enclosing track_expiry."""
    box = _EXPIRY.get()
    for record in records:
        if box is not None and record.expires is not None and record.expires < box[0]:
            box[0] = record.expires
        yield record


def not_found(path: CIMInstanceName, scope: Scope) -> CIMError:
    return CIMError(CIM_ERR_NOT_FOUND, f"no instance {format_wmi_path(path, relative=True)} in "
                                       f"{scope.namespace} on {scope.host}")


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


def materialised(record: Record, scope: Scope, catalog: Catalog, view: View) -> InstanceResult:
    """A result whose values are read now, inside the open unit of work."""
    result = InstanceResult(record, scope, catalog, view)
    result.materialise()
    return result


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
