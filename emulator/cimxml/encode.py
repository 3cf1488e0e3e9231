"""CIM-XML responses (DSP0201), written with pywbem's element code.

Serialised instances are cached by (scope, path, version tag, view): the same instance answered
twice is serialised once, in any process, since the tag comes from the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from pywbem import (
    CIMClass,
    CIMClassName,
    CIMInstance,
    CIMInstanceName,
    CIMQualifierDeclaration,
    _cim_xml,
    tocimxml,
)

from emulator.caching.cache_budget import DEFAULT_BUDGET
from emulator.caching.versioned_cache import BoundedLRU
from emulator.cimxml import writer
from emulator.core.results import InstanceResult

XML_DECLARATION = '<?xml version="1.0" encoding="utf-8" ?>\n'
# sblim wbemcli's parser rejects empty-element tags for these (wire/README.md), so write
# <PROPERTY ...></PROPERTY> instead of <PROPERTY .../>.
_SELF_CLOSED = re.compile(
    r"<(PROPERTY|PROPERTY\.ARRAY|PROPERTY\.REFERENCE|VALUE|VALUE\.ARRAY|VALUE\.REFARRAY|"
    r"QUALIFIER|METHOD|PARAMETER|PARAMETER\.ARRAY|PARAMETER\.REFERENCE|PARAMETER\.REFARRAY|"
    r"KEYVALUE|INSTANCE|CLASS)((?:\s[^<>]*?)?)/>"
)


def xml_text(element: Any) -> str:
    return _SELF_CLOSED.sub(r"<\1\2></\1>", element.toxml())


# Serialised instances and paths, reused while their record is unchanged.
CACHE: BoundedLRU[str] = BoundedLRU(DEFAULT_BUDGET.share("cimxml.fragments"), largest_share=16,
                                    name="cimxml.fragments")


_SPECS: dict[tuple[str, str], tuple[tuple[writer.PropertySpec, ...], dict[str, str]]] = {}


def _specs(result: InstanceResult) -> tuple[tuple[writer.PropertySpec, ...], dict[str, str]]:
    key = (result.scope.namespace, result.record.classname)
    specs = _SPECS.get(key)
    if specs is None:
        klass = result.catalog.get_class(*key)
        key_types = {p.name.lower(): p.type for p in klass.properties.values()
                     if p.qualifiers.get("Key") and p.qualifiers["Key"].value}
        specs = _SPECS[key] = (writer.class_specs(klass), key_types)
    return specs


def instance_xml(result: InstanceResult) -> str:
    key = ("INSTANCE", result.cache_key())
    cached = CACHE.get(key)
    if cached is None:
        if result.view.include_qualifiers:
            # Instance qualifiers are deprecated and rare; pywbem writes them.
            cached = xml_text(result.instance().tocimxml(ignore_path=True))
        else:
            cached = writer.instance(result.record.classname, _specs(result)[0],
                                     result.values(), result.view,
                                     result.allowed_properties(), result.scope.host,
                                     result.scope.namespace)
        CACHE.put(key, cached)
    return cached


def path_xml(path: CIMInstanceName, *, form: str) -> str:
    """form: 'name' (INSTANCENAME), 'local' (LOCALINSTANCEPATH) or 'full' (INSTANCEPATH)."""
    if form == "name":
        path = CIMInstanceName(path.classname, keybindings=path.keybindings)
    elif form == "local":
        path = CIMInstanceName(path.classname, keybindings=path.keybindings,
                               namespace=path.namespace)
    return xml_text(path.tocimxml())


def result_path_xml(result: InstanceResult, *, form: str) -> str:
    """INSTANCENAME (form 'name') or INSTANCEPATH (form 'full') of a result."""
    key = ("PATH", form, result.cache_key()[:3])
    cached = CACHE.get(key)
    if cached is None:
        scope, record = result.scope, result.record
        key_types = _specs(result)[1]
        name = writer.instancename(record.classname, record.keys.items(), key_types,
                                   scope.host, scope.namespace)
        cached = name if form == "name" else (
            f"<INSTANCEPATH>{writer.namespacepath(scope.host, scope.namespace)}{name}"
            "</INSTANCEPATH>")
        CACHE.put(key, cached)
    return cached


def named_instance(result: InstanceResult) -> str:
    return (f"<VALUE.NAMEDINSTANCE>{result_path_xml(result, form='name')}"
            f"{instance_xml(result)}</VALUE.NAMEDINSTANCE>")


def object_with_path(result: InstanceResult) -> str:
    return (f"<VALUE.OBJECTWITHPATH>{result_path_xml(result, form='full')}"
            f"{instance_xml(result)}</VALUE.OBJECTWITHPATH>")


def instance_with_path(result: InstanceResult) -> str:
    return (f"<VALUE.INSTANCEWITHPATH>{result_path_xml(result, form='full')}"
            f"{instance_xml(result)}</VALUE.INSTANCEWITHPATH>")


def class_xml(klass: CIMClass) -> str:
    return xml_text(klass.tocimxml())


def class_path_xml(classname: str, host: str, namespace: str) -> str:
    return f"<OBJECTPATH>{_classpath(classname, host, namespace)}</OBJECTPATH>"


def _classpath(classname: str, host: str, namespace: str) -> str:
    return xml_text(CIMClassName(classname, host=host, namespace=namespace).tocimxml())


def class_with_path(klass: CIMClass, host: str, namespace: str) -> str:
    return (f"<VALUE.OBJECTWITHPATH>{_classpath(klass.classname, host, namespace)}"
            f"{class_xml(klass)}</VALUE.OBJECTWITHPATH>")


def classname_xml(name: CIMClassName) -> str:
    return f"<CLASSNAME NAME={quoteattr(name.classname)}/>"


def qualifier_xml(declaration: CIMQualifierDeclaration) -> str:
    # DSP0201's SCOPE element has no ANY attribute: ANY means every scope is true.
    scopes = dict(declaration.scopes or {})
    if scopes.pop("ANY", False):
        scopes = dict.fromkeys(("CLASS", "ASSOCIATION", "INDICATION", "PROPERTY", "REFERENCE",
                                "METHOD", "PARAMETER"), True)
    declaration = declaration.copy()
    declaration.scopes = scopes
    return xml_text(declaration.tocimxml())


def full_path_xml(path: CIMInstanceName) -> str:
    return f"<OBJECTPATH>{path_xml(path, form='full')}</OBJECTPATH>"


def _open(message_id: str) -> str:
    return (f'{XML_DECLARATION}<CIM CIMVERSION="2.0" DTDVERSION="2.0">'
            f"<MESSAGE ID={quoteattr(message_id)} PROTOCOLVERSION=\"1.0\"><SIMPLERSP>")


_CLOSE = "</SIMPLERSP></MESSAGE></CIM>\n"


def imethod_response(message_id: str, name: str, body: Iterable[str] | None,
                     out_params: dict[str, tuple[str, str]] | None = None) -> Iterator[str]:
    """Stream an IMETHODRESPONSE; out_params maps name → (PARAMTYPE, text value)."""
    yield _open(message_id)
    yield f"<IMETHODRESPONSE NAME={quoteattr(name)}>"
    if body is not None:
        yield "<IRETURNVALUE>"
        yield from body
        yield "</IRETURNVALUE>"
    for param, (param_type, value) in (out_params or {}).items():
        yield (f"<PARAMVALUE NAME={quoteattr(param)} PARAMTYPE={quoteattr(param_type)}>"
               f"<VALUE>{escape(value)}</VALUE></PARAMVALUE>")
    yield "</IMETHODRESPONSE>"
    yield _CLOSE


def error_response(message_id: str, name: str, *, intrinsic: bool, code: int,
                   description: str) -> str:
    element = "IMETHODRESPONSE" if intrinsic else "METHODRESPONSE"
    return (f"{_open(message_id)}<{element} NAME={quoteattr(name)}>"
            f"<ERROR CODE=\"{code}\" DESCRIPTION={quoteattr(description)}></ERROR>"
            f"</{element}>{_CLOSE}")


def method_response(message_id: str, name: str, return_value: Any, return_type: str,
                    out_params: Mapping[str, tuple[str, Any]]) -> str:
    """METHODRESPONSE: RETURNVALUE and one PARAMVALUE per output parameter (DSP0201 §5.3.2.8).

    out_params maps a name to (declared CIM type, value); a NULL output keeps its PARAMVALUE
    with no value so clients find the name.
    """
    parts = [xml_text(_cim_xml.RETURNVALUE(_param_value(return_value), return_type))]
    for param, (param_type, value) in out_params.items():
        if _is_number_array(value):
            parts.append(_number_array_param(param, param_type, value))
            continue
        embedded = _embedded_kind(value)
        element = _cim_xml.PARAMVALUE(param, _param_value(value), param_type,
                                      embedded_object=embedded)
        parts.append(xml_text(element))
    return (f"{_open(message_id)}<METHODRESPONSE NAME={quoteattr(name)}>{''.join(parts)}"
            f"</METHODRESPONSE>{_CLOSE}")


def _is_number_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], int) \
        and not isinstance(value[0], bool)


def _number_array_param(name: str, param_type: str, values: list[int]) -> str:
    """PARAMVALUE of an integer array, as pywbem's element code writes it but in one pass: an
    octet array (a thumbnail's ImageData) has a value per byte, too many for a DOM."""
    items = "".join([f"<VALUE>{int(v)}</VALUE>" for v in values])
    return (f"<PARAMVALUE NAME={quoteattr(name)} PARAMTYPE={quoteattr(param_type)}>"
            f"<VALUE.ARRAY>{items}</VALUE.ARRAY></PARAMVALUE>")


def _param_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, CIMInstanceName):
        return _cim_xml.VALUE_REFERENCE(value.tocimxml())
    if isinstance(value, CIMInstance):
        return _cim_xml.VALUE(xml_text(value.tocimxml(ignore_path=True)))
    if isinstance(value, list):
        if value and isinstance(value[0], CIMInstanceName):
            return _cim_xml.VALUE_REFARRAY([_param_value(v) for v in value])
        return _cim_xml.VALUE_ARRAY([_param_value(v) for v in value])
    return tocimxml(value)


def _embedded_kind(value: Any) -> str | None:
    if isinstance(value, list):
        return _embedded_kind(value[0]) if value else None
    return "instance" if isinstance(value, CIMInstance) else None
