"""Turn provider records into CIM instances shaped by the class model and the request.

Every instance carries every property of its class (NULL where the provider gave no value), as
WMI returns them, typed from the class declaration rather than from Python types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from pywbem import CIMClass, CIMError, CIMInstance, CIMInstanceName, CIMProperty, cimvalue
from pywbem._cim_constants import CIM_ERR_FAILED

from emulator.core.catalog import Catalog
from providers.base import Embedded, Record, Scope


class View(NamedTuple):
    """What a request wants to see of each instance (DSP0200 operation flags)."""

    properties: frozenset[str] | None = None  # lower-case names; None = all
    include_qualifiers: bool = False
    include_class_origin: bool = False

    @staticmethod
    def of(property_list: Iterable[str] | None, include_qualifiers: bool = False,
           include_class_origin: bool = False) -> View:
        names = None if property_list is None else frozenset(p.lower() for p in property_list)
        return View(names, bool(include_qualifiers), bool(include_class_origin))


FULL_VIEW = View()


def complete_path(path: CIMInstanceName, scope: Scope) -> CIMInstanceName:
    """Give a provider's relative reference the host and namespace of the answering endpoint."""
    keys = {k: complete_path(v, scope) if isinstance(v, CIMInstanceName) else v
            for k, v in path.keybindings.items()}
    return CIMInstanceName(path.classname, keybindings=keys,
                           namespace=path.namespace or scope.namespace,
                           host=path.host or scope.host)


def record_path(record: Record, scope: Scope) -> CIMInstanceName:
    keys = {k: complete_path(v, scope) if isinstance(v, CIMInstanceName) else v
            for k, v in record.keys.items()}
    return CIMInstanceName(record.classname, keybindings=keys, namespace=scope.namespace,
                           host=scope.host)


def build_instance(catalog: Catalog, scope: Scope, record: Record,
                   values: Mapping[str, Any] | None = None) -> CIMInstance:
    """The full instance: every property of the record's class, typed by the class model."""
    klass = catalog.get_class(scope.namespace, record.classname)
    given = {k.lower(): v for k, v in (values if values is not None else record.values()).items()}
    instance = CIMInstance(record.classname, path=record_path(record, scope))
    for prop in klass.properties.values():
        value = given.get(prop.name.lower())
        try:
            instance.properties[prop.name] = _typed_property(prop, value, scope)
        except (TypeError, ValueError) as error:
            raise CIMError(CIM_ERR_FAILED, f"provider gave {record.classname}.{prop.name} "
                                           f"an invalid value {value!r}: {error}") from error
    return instance


def build_embedded(catalog: Catalog, scope: Scope, classname: str,
                   values: Mapping[str, Any]) -> CIMInstance:
    """An instance that travels inside a parameter (no path): every property of its class."""
    klass = catalog.get_class(scope.namespace, classname)
    given = {k.lower(): v for k, v in values.items()}
    instance = CIMInstance(klass.classname)
    for prop in klass.properties.values():
        value = given.get(prop.name.lower())
        if value is not None and (prop.embedded_object or "EmbeddedInstance" in prop.qualifiers):
            # Embedded instances inside this one (e.g. a summary's AsynchronousTasks).
            nested = [_nested(catalog, scope, v) for v in value] if prop.is_array \
                else _nested(catalog, scope, value)
            typed = CIMProperty(prop.name, nested, type=prop.type, is_array=prop.is_array,
                                embedded_object="instance")
        else:
            typed = _typed_property(prop, value, scope)
            typed.class_origin, typed.propagated, typed.qualifiers = None, None, {}
        instance.properties[prop.name] = typed
    return instance


def _nested(catalog: Catalog, scope: Scope, value: Any) -> Any:
    if isinstance(value, Embedded):
        return build_embedded(catalog, scope, value.classname, value.values)
    return value


def _typed_property(decl: CIMProperty, value: Any, scope: Scope) -> CIMProperty:
    if value is not None:
        if decl.type == "reference":
            value = complete_path(value, scope)
        elif decl.is_array:
            value = [cimvalue(item, decl.type) for item in value]
        else:
            value = cimvalue(value, decl.type)
    return CIMProperty(
        decl.name, value, type=decl.type, is_array=decl.is_array,
        reference_class=decl.reference_class, embedded_object=decl.embedded_object,
        class_origin=decl.class_origin, propagated=decl.propagated,
        qualifiers=decl.qualifiers,
    )


def shape_instance(instance: CIMInstance, klass: CIMClass | None, view: View,
                   *, requested_class: CIMClass | None = None) -> CIMInstance:
    """Apply PropertyList, IncludeQualifiers and IncludeClassOrigin to a full instance.

    `requested_class` limits properties to those of the class named in an EnumerateInstances
    with DeepInheritance=False (DSP0200 §5.3.2.11).
    """
    allowed: set[str] | frozenset[str] | None = None
    if requested_class is not None:
        allowed = {name.lower() for name in requested_class.properties}
    if view.properties is not None:
        allowed = view.properties if allowed is None else allowed & view.properties
    shaped = CIMInstance(instance.classname, path=instance.path)
    for name, prop in instance.properties.items():
        if allowed is not None and name.lower() not in allowed:
            continue
        shaped.properties[name] = CIMProperty(
            prop.name, prop.value, type=prop.type, is_array=prop.is_array,
            reference_class=prop.reference_class, embedded_object=prop.embedded_object,
            class_origin=prop.class_origin if view.include_class_origin else None,
            propagated=prop.propagated if view.include_class_origin else None,
            qualifiers=prop.qualifiers if view.include_qualifiers else None,
        )
    if view.include_qualifiers and klass is not None:
        shaped.qualifiers = klass.qualifiers
    return shaped
