"""The answer to a declared method hvsim does not emulate: the method's own "Not Supported".

A Hyper-V host answers a request it cannot perform with a return code, not a CIM error, and
only after WMI has checked the call against the class: parameters of the declared types,
references to the declared class, embedded instances that parse and are of the declared class,
values inside a parameter's value map. The dispatcher has checked names and types already;
this provider checks the rest and answers with the codes the method's own ValueMap gives
("Invalid Parameter", "Not Supported"), so each return-code family (§0.3) answers in its own
numbers without a table to keep in step with the MOF.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pywbem import CIM_ERR_NOT_SUPPORTED, CIMError, CIMInstance, CIMInstanceName, CIMMethod

from providers.base import (
    ClassLookup,
    MalformedEmbedded,
    MethodCall,
    MethodProvider,
    MethodResult,
    ProviderContext,
)

log = logging.getLogger("hvsim.methods")

NOT_SUPPORTED = "not supported"
INVALID_PARAMETER = "invalid parameter"
# CIM_Service.StartService/StopService and CIM_LogicalDevice/CIM_ComputerSystem.SetPowerState
# declare no ValueMap; their descriptions give 1 for "not supported" and "any other number" for
# an error, for which hvsim uses 2 (the DMTF lists' "Unknown or Unspecified Error").
UNMAPPED_NOT_SUPPORTED = 1
UNMAPPED_ERROR = 2
_EMBEDDED_QUALIFIERS = ("EmbeddedInstance", "HyperVEmbeddedInstance")


def return_code(method: CIMMethod, meaning: str) -> int | None:
    """The value the method's ValueMap gives to `meaning` (compared case-insensitively)."""
    value_map = method.qualifiers.get("ValueMap")
    values = method.qualifiers.get("Values")
    if value_map is None or values is None:
        return None
    for code, text in zip(value_map.value, values.value, strict=False):
        if str(text).strip().lower() == meaning and str(code).isdigit():
            return int(code)
    return None


def not_supported_code(method: CIMMethod) -> int | None:
    """What the method answers for a request the host cannot perform; None: it has no such
    answer (a new MOF declaration must then get a handler or a "Not Supported" value)."""
    if method.qualifiers.get("ValueMap") is None:
        return UNMAPPED_NOT_SUPPORTED
    return return_code(method, NOT_SUPPORTED)


def invalid_parameter_code(method: CIMMethod) -> int:
    if method.qualifiers.get("ValueMap") is None:
        return UNMAPPED_ERROR
    code = return_code(method, INVALID_PARAMETER)
    return UNMAPPED_ERROR if code is None else code


def parameter_problem(classes: ClassLookup, namespace: str, method: CIMMethod,
                      params: Mapping[str, Any]) -> str | None:
    """Why the (already typed) parameters do not fit the declaration beyond their types;
    None when they fit."""
    for name, value in params.items():
        parameter = method.parameters[name]
        items = value if isinstance(value, list) else [value]
        for item in (i for i in items if i is not None):
            problem = _value_problem(classes, namespace, parameter, item)
            if problem is not None:
                return f"{method.name}.{parameter.name}: {problem}"
    return None


def _value_problem(classes: ClassLookup, namespace: str, parameter: Any,
                   value: Any) -> str | None:
    if isinstance(value, MalformedEmbedded):
        return f"the embedded instance does not parse ({value.reason})"
    if isinstance(value, CIMInstanceName) and parameter.reference_class:
        return _class_problem(classes, namespace, value.classname, parameter.reference_class,
                              "a reference to")
    if isinstance(value, CIMInstance):
        declared = _embedded_class(parameter.qualifiers)
        if declared:
            return _class_problem(classes, namespace, value.classname, declared,
                                  "an embedded instance of")
        return None
    value_map = parameter.qualifiers.get("ValueMap")
    if value_map is not None and isinstance(value, int) and not isinstance(value, bool) \
            and not in_value_map(int(value), value_map.value):
        return f"{value} is not in its value map"
    return None


def _class_problem(classes: ClassLookup, namespace: str, given: str, declared: str,
                   what: str) -> str | None:
    if classes.has_class(namespace, given) and classes.is_subclass(namespace, given, declared):
        return None
    return f"expects {what} {declared}, not {given}"


def _embedded_class(qualifiers: Mapping[str, Any]) -> str | None:
    for name in _EMBEDDED_QUALIFIERS:
        qualifier = qualifiers.get(name)
        if qualifier is not None and isinstance(qualifier.value, str) and qualifier.value:
            return qualifier.value
    return None


def in_value_map(value: int, entries: Iterable[str]) -> bool:
    """Whether a ValueMap ("3", "7..4095", "..9", "32768..") admits the value."""
    for entry in entries:
        text = str(entry).strip()
        if ".." in text:
            low, _, high = text.partition("..")
            if (not low or value >= int(low)) and (not high or value <= int(high)):
                return True
        elif text.lstrip("-").isdigit() and int(text) == value:
            return True
    return False


class UnsupportedMethods(MethodProvider):
    """Every declared method that no provider handles (the dispatcher's fallback)."""

    def invoke(self, ctx: ProviderContext, call: MethodCall) -> MethodResult:
        namespace, classname = call.scope.namespace, call.target.classname
        method = ctx.classes.get_class(namespace, classname).methods[call.method]
        where = f"{classname}.{method.name} on {call.scope.host}"
        problem = parameter_problem(ctx.classes, namespace, method, call.params)
        if problem is not None:
            code = invalid_parameter_code(method)
            log.info("%s returned %d (invalid parameter): %s", where, code, problem)
            return MethodResult(code, {})
        unsupported = not_supported_code(method)
        if unsupported is None:
            raise CIMError(CIM_ERR_NOT_SUPPORTED, f"{classname}.{method.name} is not supported")
        log.info("%s is not emulated by hvsim; returned %d (Not Supported)", where, unsupported)
        return MethodResult(unsupported, {})
