"""Method parameters in and out, typed by the method's declaration in the class model.

Front ends hand over what their protocol carried: CIM-XML gives typed values, WS-Man gives
text. Inbound, values are converted to the declared CIM type; embedded instances (CIM-XML or
MOF text) are parsed, and an unparsable one becomes MalformedEmbedded so the method can answer
with its own invalid-parameter code. Outbound, provider values are typed and embedded
instances built from their classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nocasedict import NocaseDict
from pywbem import (
    CIM_ERR_INVALID_PARAMETER,
    CIMError,
    CIMInstance,
    CIMInstanceName,
    CIMMethod,
    CIMParameter,
    Uint8,
    cimvalue,
)

from emulator.cim.objectpath import ObjectPathError, parse_object_path
from emulator.core.catalog import Catalog
from emulator.core.embedded import EmbeddedInstanceError, parse_embedded_instance
from emulator.core.instances import build_embedded, complete_path
from providers.base import Embedded, MalformedEmbedded, MethodResult, Scope

# Every uint8 once: an octet array (a thumbnail's ImageData) is typed by lookup, not by
# constructing a value per byte.
_OCTETS = tuple(Uint8(octet) for octet in range(256))
# Embedded instances inside embedded instances (e.g. UnmanagedVhds, §5.2).
_EMBEDDED_QUALIFIERS = ("EmbeddedInstance", "EmbeddedObject", "HyperVEmbeddedInstance")


def embedded_class(qualifiers: Mapping[str, Any]) -> str | None:
    """The class an embedded-instance string carries, "" for any object, None if not one."""
    for name in _EMBEDDED_QUALIFIERS:
        qualifier = qualifiers.get(name)
        if qualifier is not None and qualifier.value:
            return qualifier.value if isinstance(qualifier.value, str) else ""
    return None


def coerce_inputs(catalog: Catalog, scope: Scope, method: CIMMethod,
                  params: Mapping[str, Any]) -> NocaseDict:
    typed = NocaseDict()
    for name, value in params.items():
        parameter = method.parameters[name]
        try:
            typed[parameter.name] = _coerce(catalog, scope, parameter, value)
        except (TypeError, ValueError) as error:
            raise CIMError(CIM_ERR_INVALID_PARAMETER,
                           f"parameter {parameter.name} of {method.name} expects "
                           f"{_describe(parameter)}: {error}") from None
    return typed


def _describe(parameter: CIMParameter) -> str:
    kind = f"a reference to {parameter.reference_class}" if parameter.type == "reference" \
        else parameter.type
    return f"an array of {kind}" if parameter.is_array else kind


def _coerce(catalog: Catalog, scope: Scope, parameter: CIMParameter, value: Any) -> Any:
    if value is None:
        return None
    if parameter.is_array:
        items = value if isinstance(value, list | tuple) else [value]
        return [_scalar(catalog, scope, parameter, item) for item in items]
    if isinstance(value, list | tuple):
        raise ValueError("an array was given")
    return _scalar(catalog, scope, parameter, value)


def _scalar(catalog: Catalog, scope: Scope, parameter: CIMParameter, value: Any) -> Any:
    if value is None:
        return None
    if parameter.type == "reference":
        return _reference(scope, value)
    embedded = embedded_class(parameter.qualifiers)
    if embedded is not None or isinstance(value, CIMInstance):
        return _embedded(catalog, scope, value)
    if parameter.type == "boolean" and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError(f"{value!r} is not true or false")
        return lowered == "true"
    if parameter.type in ("string", "char16"):
        return cimvalue(str(value), parameter.type)
    return cimvalue(value.strip() if isinstance(value, str) else value, parameter.type)


def _reference(scope: Scope, value: Any) -> CIMInstanceName:
    if isinstance(value, CIMInstanceName):
        return value
    if isinstance(value, str):
        try:
            path = parse_object_path(value, default_namespace=scope.namespace)
        except ObjectPathError as error:
            raise ValueError(f"{value!r} is not an object path ({error})") from None
        if isinstance(path, CIMInstanceName):
            return path
        raise ValueError(f"{value!r} names a class, not an instance")
    raise ValueError(f"{type(value).__name__} is not an object path")


def _embedded(catalog: Catalog, scope: Scope, value: Any) -> CIMInstance | MalformedEmbedded:
    if isinstance(value, CIMInstance):
        instance = value.copy()
        for name in [n for n in instance.properties if n.startswith("__")]:
            del instance.properties[name]
    elif isinstance(value, str):
        try:
            instance = parse_embedded_instance(value, catalog, scope.namespace)
        except EmbeddedInstanceError as error:
            return MalformedEmbedded(value, str(error))
    else:
        raise ValueError(f"{type(value).__name__} is not an embedded instance")
    return _parse_nested(catalog, scope, instance)


def _parse_nested(catalog: Catalog, scope: Scope, instance: CIMInstance) -> CIMInstance:
    if not catalog.has_class(scope.namespace, instance.classname):
        return instance
    klass = catalog.get_class(scope.namespace, instance.classname)
    for name, prop in instance.properties.items():
        declared = klass.properties.get(name)
        if declared is None or embedded_class(declared.qualifiers) is None:
            continue
        if isinstance(prop.value, list):
            prop.value = [_embedded(catalog, scope, v) if isinstance(v, str) else v
                          for v in prop.value]
        elif isinstance(prop.value, str):
            prop.value = _embedded(catalog, scope, prop.value)
    return instance


@dataclass(frozen=True, slots=True)
class OutputParameter:
    """One output parameter as the wire carries it: declared name and type, typed value."""

    name: str
    cim_type: str
    is_array: bool
    value: Any


@dataclass(frozen=True, slots=True)
class MethodOutcome:
    """A method's answer typed by its declaration, so a front end never looks the method up."""

    method: str  # the declared name, e.g. "MigrateVirtualSystemToHost"
    return_value: Any  # typed as return_type, e.g. Uint32(4096)
    return_type: str
    outputs: tuple[OutputParameter, ...]

    def output_values(self) -> NocaseDict:
        """The output values by parameter name (case-insensitive)."""
        return NocaseDict((out.name, out.value) for out in self.outputs)


def finish_call(catalog: Catalog, scope: Scope, method: CIMMethod, host: str,
                result: MethodResult) -> MethodOutcome:
    """A provider's answer typed for the wire, each value with its declared type."""
    values = finish_outputs(catalog, scope, method, host, result.out)
    outputs = tuple(OutputParameter(name, method.parameters[name].type,
                                    bool(method.parameters[name].is_array), value)
                    for name, value in values.items())
    return MethodOutcome(method.name, cimvalue(result.return_value, method.return_type),
                         method.return_type, outputs)


def finish_outputs(catalog: Catalog, scope: Scope, method: CIMMethod, host: str,
                   out: Mapping[str, Any]) -> NocaseDict:
    """Declared output parameters, typed; references completed with host and namespace."""
    finished = NocaseDict()
    for name, value in out.items():
        parameter = method.parameters[name]
        finished[parameter.name] = _output(catalog, scope, parameter, host, value)
    return finished


def _output(catalog: Catalog, scope: Scope, parameter: CIMParameter, host: str,
            value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray) and parameter.type == "uint8":
        return [_OCTETS[octet] for octet in value]
    if isinstance(value, list | tuple):
        return [_output_scalar(catalog, scope, parameter, host, v) for v in value]
    return _output_scalar(catalog, scope, parameter, host, value)


def _output_scalar(catalog: Catalog, scope: Scope, parameter: CIMParameter, host: str,
                   value: Any) -> Any:
    if isinstance(value, Embedded):
        return build_embedded(catalog, scope, value.classname, value.values)
    if isinstance(value, CIMInstanceName):
        path = complete_path(value, scope)
        path.host = value.host or host
        return path
    if parameter.type in ("reference", "string") or isinstance(value, CIMInstance):
        return value
    return cimvalue(value, parameter.type)
