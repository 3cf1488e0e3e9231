"""Extrinsic method calls: `<Method>_INPUT` → dispatcher parameters, results → `<Method>_OUTPUT`.

Input parameters are read by their declaration: references from EPRs, arrays from repeated
elements, octet strings (uint8 arrays qualified OctetString) from one base64 element, embedded
instances as CIM-XML text, everything else as text that the dispatcher coerces to the declared
type. Output parameters are written in WMI's order (alphabetical,
ReturnValue among them), references as EPRs, strings that carry an embedded instance (GetErrorEx's
Errors[]) as escaped CIM-XML, and parameters WMI types as embedded objects (GetSummaryInformation's
SummaryInformation[], GetSystemCompatibilityVectors' CompatibilityVectors[]) as nested elements
in the embedded class's namespace, as WinRM writes them (see render.py).
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from collections.abc import Callable, Mapping
from typing import Any

from pywbem import CIMClass, CIMInstanceName, CIMMethod

from emulator.core.embedded import is_embedded_object
from emulator.wsman import xmlns
from emulator.wsman.envelope import EPR, is_epr, parse_epr, qname, text_of
from emulator.wsman.faults import ACTION_NOT_SUPPORTED, INVALID_PARAMETER, WsmanFault
from emulator.wsman.render import ClassLookup, element, embedded_objects, is_octet_string
from emulator.wsman.resources import class_uri

ResolveEPR = Callable[[EPR], CIMInstanceName]

_NIL = f"{{{xmlns.XSI}}}nil"


def method_of(klass: CIMClass, name: str) -> CIMMethod:
    if name not in klass.methods:
        raise WsmanFault(ACTION_NOT_SUPPORTED,
                         f"{ACTION_NOT_SUPPORTED.message} Class {klass.classname} has no method "
                         f"{name!r}.")
    return klass.methods[name]


def read_input(body: Any, method: CIMMethod, resolve_epr: ResolveEPR) -> dict[str, Any]:
    """The parameters of a `<Method>_INPUT` element, keyed by declared name."""
    if body is None:
        return {}
    _, local = qname(body)
    if local.lower() != f"{method.name}_INPUT".lower():
        raise WsmanFault(INVALID_PARAMETER,
                         f"{INVALID_PARAMETER.message} The body of a {method.name} call must be "
                         f"{method.name}_INPUT, not {local}.")
    grouped: dict[str, list[Any]] = {}
    names: dict[str, str] = {}
    for child in body:
        _, child_name = qname(child)
        declared = method.parameters.get(child_name)
        name = declared.name if declared is not None else child_name
        names.setdefault(name.lower(), name)
        grouped.setdefault(names[name.lower()], []).append(child)
    params: dict[str, Any] = {}
    for name, elements in grouped.items():
        declared = method.parameters.get(name)
        if declared is None:
            # The dispatcher names the unknown parameter in its error.
            params[name] = text_of(elements[0])
            continue
        if is_octet_string(declared.type, declared.is_array, declared.qualifiers):
            params[declared.name] = _octets(declared.name, elements)
            continue
        values = [_value(e, declared.type, resolve_epr) for e in elements]
        if declared.is_array:
            params[declared.name] = values
        elif len(values) > 1:
            raise WsmanFault(INVALID_PARAMETER,
                             f"{INVALID_PARAMETER.message} {declared.name} is not an array but "
                             f"was given {len(values)} times.")
        else:
            params[declared.name] = values[0]
    return params


def _value(child: Any, cim_type: str, resolve_epr: ResolveEPR) -> Any:
    if (child.get(_NIL) or "").strip().lower() in ("true", "1"):
        return None
    if cim_type == "reference":
        if is_epr(child):
            return resolve_epr(parse_epr(child))
        return text_of(child).strip()  # an object path as text; the dispatcher checks it
    if len(child):
        raise WsmanFault(INVALID_PARAMETER,
                         f"{INVALID_PARAMETER.message} {qname(child)[1]} must be text; give "
                         "an embedded instance as escaped CIM-XML INSTANCE text.")
    return text_of(child)


def _octets(name: str, elements: list[Any]) -> list[int] | None:
    """An octet string's bytes from its one base64 element."""
    if len(elements) > 1:
        raise WsmanFault(INVALID_PARAMETER,
                         f"{INVALID_PARAMETER.message} {name} is an octet string, given as one "
                         f"base64 element, not {len(elements)} elements.")
    if (elements[0].get(_NIL) or "").strip().lower() in ("true", "1"):
        return None
    try:
        return list(b64decode("".join(text_of(elements[0]).split()), validate=True))
    except (binascii.Error, ValueError):
        raise WsmanFault(INVALID_PARAMETER,
                         f"{INVALID_PARAMETER.message} {name} is an octet string and must be "
                         "base64 text.") from None


def write_output(method: CIMMethod, classname: str, namespace: str, host: str,
                 return_value: Any, out_params: Mapping[str, Any],
                 class_of: ClassLookup = lambda name: None) -> str:
    """`<Method>_OUTPUT`; `class_of` gives the classes of embedded objects (every property)."""
    declared = {p.name.lower(): p for p in method.parameters.values()}
    entries: list[tuple[str, Any, str, bool, bool, bool]] = [
        ("ReturnValue", return_value, method.return_type or "uint32", False, False, False)]
    for name, value in out_params.items():
        param = declared.get(name.lower())
        if param is None:
            entries.append((name, value, "string", isinstance(value, list), False, False))
        else:
            entries.append((param.name, value, param.type, bool(param.is_array),
                            is_embedded_object(param.qualifiers),
                            is_octet_string(param.type, param.is_array, param.qualifiers)))
    entries.sort(key=lambda e: e[0].lower())
    uri = class_uri(namespace, classname)
    inner = "".join(
        embedded_objects(f"p:{name}", value, host, namespace, class_of) if nested else
        element("p", name, value, cim_type, is_array, host, namespace, octets=octets)
        for name, value, cim_type, is_array, nested, octets in entries)
    return (f'<p:{method.name}_OUTPUT xmlns:p="{uri}" xmlns:cim="{xmlns.CIM_COMMON}" '
            f'xmlns:xsi="{xmlns.XSI}">{inner}</p:{method.name}_OUTPUT>')
