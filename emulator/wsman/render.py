"""Instances and values written the way WinRM's WMI plugin writes them.

An instance is `<p:Class xmlns:p="<class resource URI>" xsi:type="p:Class_Type">` with one
element per property of its class in WMI's (alphabetical) order: NULL as `xsi:nil="true"`,
arrays as repeated elements (an empty array as no element at all) except octet strings (uint8
arrays qualified OctetString, e.g. a thumbnail's ImageData), which are one base64 element as
DSP0230 maps them to base64Binary, datetimes as
`cim:Datetime`/`cim:Interval`, references as EPR content, and strings that carry an embedded
instance as escaped CIM-XML text, as WMI stores them. A value WMI types as an embedded object
(CIMTYPE "object:…", e.g. GetSummaryInformation's SummaryInformation[]) is instead written the
way WinRM writes a WMI object: the element holds the instance's properties as nested elements
in the namespace of the instance's own class, with `xsi:type="<prefix>:<Class>_Type"` (DSP0230's
mapping of an embedded instance). Rendered instances are cached by the result's identity (which
includes its version tag), so an unchanged instance is written once.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from pywbem import CIMClass, CIMDateTime, CIMInstance, CIMInstanceName

from emulator.caching.cache_budget import DEFAULT_BUDGET
from emulator.caching.versioned_cache import BoundedLRU
from emulator.core.embedded import is_embedded_object
from emulator.core.results import InstanceResult
from emulator.wsman import xmlns
from emulator.wsman.resources import class_uri, epr_xml

_NS_DECLS = f'xmlns:cim="{xmlns.CIM_COMMON}" xmlns:xsi="{xmlns.XSI}"'


Convert = Callable[[Any, str, str], str]  # (value, host, namespace) -> element content
ClassLookup = Callable[[str], CIMClass | None]  # class name -> its declaration, if served


class Spec(NamedTuple):
    """One property, with its element tags and value writer prepared once per class."""

    name: str
    lower: str
    type: str
    is_array: bool
    embedded: bool
    octets: bool  # an OctetString uint8 array: one base64 element
    open: str
    close: str
    nil: str
    convert: Convert


# Serialised instances and EPRs, reused while their record is unchanged.
CACHE: BoundedLRU[str] = BoundedLRU(DEFAULT_BUDGET.share("wsman.fragments"), largest_share=16,
                                    name="wsman.fragments")
_SPECS: dict[tuple[str, str], tuple[Spec, ...]] = {}


def class_specs(klass: CIMClass) -> tuple[Spec, ...]:
    """Properties in WMI's order, which WinRM keeps: alphabetical, ignoring case."""
    return tuple(
        Spec(p.name, p.name.lower(), p.type, bool(p.is_array), bool(p.embedded_object),
             is_octet_string(p.type, p.is_array, p.qualifiers), f"<p:{p.name}>",
             f"</p:{p.name}>", f'<p:{p.name} xsi:nil="true"/>',
             converter(p.type))
        for p in sorted(klass.properties.values(), key=lambda p: p.name.lower()))


def _specs(result: InstanceResult) -> tuple[Spec, ...]:
    key = (result.scope.namespace, result.record.classname)
    specs = _SPECS.get(key)
    if specs is None:
        specs = _SPECS[key] = class_specs(result.catalog.get_class(*key))
    return specs


def _interval(delta: timedelta) -> str:
    hours, rest = divmod(delta.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return (f"<cim:Interval>P{delta.days}DT{hours}H{minutes}M{seconds}."
            f"{delta.microseconds:06d}S</cim:Interval>")


def datetime_xml(value: Any) -> str:
    """cim:Datetime (xs:dateTime, UTC as Z) or cim:Interval (xs:duration)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    elif isinstance(value, timedelta):
        return _interval(value)
    else:
        cim = value if isinstance(value, CIMDateTime) else CIMDateTime(value)
        if cim.is_interval:
            return _interval(cim.timedelta)
        moment = cim.datetime
    text = moment.isoformat()
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return f"<cim:Datetime>{text}</cim:Datetime>"


def _escape(text: str) -> str:
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def _string(value: Any, host: str, namespace: str) -> str:
    if isinstance(value, CIMInstance):  # an embedded instance: escaped CIM-XML
        return _escape(value.tocimxmlstr())
    return _escape(value if type(value) is str else str(value))


def _integer(value: Any, host: str, namespace: str) -> str:
    return "true" if value is True else "false" if value is False else str(int(value))


def _boolean(value: Any, host: str, namespace: str) -> str:
    return "true" if value else "false"


def _datetime(value: Any, host: str, namespace: str) -> str:
    return datetime_xml(value)


def _real(value: Any, host: str, namespace: str) -> str:
    return repr(float(value))


def _char16(value: Any, host: str, namespace: str) -> str:
    return _escape(str(value)[:1])


def _reference(value: Any, host: str, namespace: str) -> str:
    return epr_xml(value, host, namespace)


_CONVERTERS: dict[str, Convert] = {
    "boolean": _boolean, "datetime": _datetime, "real32": _real, "real64": _real,
    "char16": _char16, "reference": _reference, "string": _string,
    **dict.fromkeys(("uint8", "uint16", "uint32", "uint64", "sint8", "sint16", "sint32",
                     "sint64"), _integer),
}


def is_octet_string(cim_type: str, is_array: Any, qualifiers: Mapping[str, Any]) -> bool:
    """A uint8 array the class qualifies OctetString, which WS-CIM writes as base64Binary."""
    if cim_type != "uint8" or not is_array:
        return False
    qualifier = qualifiers.get("OctetString")
    return bool(getattr(qualifier, "value", qualifier))


def octets_text(values: Iterable[Any]) -> str:
    """An octet string's base64 text: every value is a byte (0-255)."""
    data = values if isinstance(values, bytes | bytearray) else bytes(values)
    return base64.b64encode(data).decode("ascii")


def converter(cim_type: str) -> Convert:
    return _CONVERTERS.get(cim_type, _string)


def scalar_text(value: Any, cim_type: str, host: str, namespace: str) -> str:
    """The content of one value element; the value's own type decides where it is clearer."""
    if isinstance(value, CIMInstanceName):
        return epr_xml(value, host, namespace)
    if isinstance(value, bool):
        return _boolean(value, host, namespace)
    if isinstance(value, datetime | timedelta | CIMDateTime):
        return datetime_xml(value)
    return converter(cim_type)(value, host, namespace)


def element(prefix: str, name: str, value: Any, cim_type: str, is_array: bool, host: str,
            namespace: str, *, octets: bool = False) -> str:
    """`<p:Name>` elements for one property or parameter value (`octets`: an octet string)."""
    tag = f"{prefix}:{name}"
    if value is None:
        return f'<{tag} xsi:nil="true"/>'
    if octets:
        return f"<{tag}>{octets_text(value)}</{tag}>"
    if is_array or isinstance(value, list | tuple):
        return "".join(
            f'<{tag} xsi:nil="true"/>' if item is None else
            f"<{tag}>{scalar_text(item, cim_type, host, namespace)}</{tag}>" for item in value)
    return f"<{tag}>{scalar_text(value, cim_type, host, namespace)}</{tag}>"


def instance_body(classname: str, specs: Iterable[Spec], values: Mapping[str, Any],
                  allowed: frozenset[str] | None, host: str, namespace: str) -> str:
    given = {k.lower(): v for k, v in values.items()}
    parts = [f'<p:{classname} xmlns:p="{class_uri(namespace, classname)}" {_NS_DECLS} '
             f'xsi:type="p:{classname}_Type">']
    append = parts.append
    for spec in specs:
        if allowed is not None and spec.lower not in allowed:
            continue
        value = given.get(spec.lower)
        if value is None:
            append(spec.nil)
        elif spec.octets:
            append(f"{spec.open}{octets_text(value)}{spec.close}")
        elif spec.is_array or isinstance(value, list | tuple):
            for item in value:
                append(spec.nil if item is None else
                       f"{spec.open}{spec.convert(item, host, namespace)}{spec.close}")
        else:
            append(f"{spec.open}{spec.convert(value, host, namespace)}{spec.close}")
    parts.append(f"</p:{classname}>")
    return "".join(parts)


def embedded_objects(tag: str, value: Any, host: str, namespace: str, class_of: ClassLookup,
                     depth: int = 1) -> str:
    """`<tag>` elements for a value WMI types as an embedded object: one per instance."""
    if value is None:
        return f'<{tag} xsi:nil="true"/>'
    if isinstance(value, list | tuple):
        return "".join(embedded_objects(tag, item, host, namespace, class_of, depth)
                       for item in value)
    if not isinstance(value, CIMInstance):
        return f"<{tag}>{_escape(str(value))}</{tag}>"
    return embedded_object(tag, value, host, namespace, class_of, depth)


def embedded_object(tag: str, instance: CIMInstance, host: str, namespace: str,
                    class_of: ClassLookup, depth: int = 1) -> str:
    """One embedded instance as nested elements in its own class's namespace.

    Every property of the class is written, NULL as nil; each nesting level declares its own
    prefix, so an object inside an object (a summary's AsynchronousTasks) keeps its namespace.
    """
    classname = instance.classname
    prefix = f"p{depth}"
    klass = class_of(classname)
    declared = (sorted(klass.properties.values(), key=lambda p: p.name.lower())
                if klass is not None else
                sorted(instance.properties.values(), key=lambda p: p.name.lower()))
    values = {name.lower(): prop for name, prop in instance.properties.items()}
    parts = [f'<{tag} xmlns:{prefix}="{class_uri(namespace, classname)}" '
             f'xsi:type="{prefix}:{classname}_Type">']
    for decl in declared:
        given = values.get(decl.name.lower())
        value = given.value if given is not None else None
        if is_embedded_object(decl.qualifiers):
            parts.append(embedded_objects(f"{prefix}:{decl.name}", value, host, namespace,
                                          class_of, depth + 1))
        else:
            parts.append(element(prefix, decl.name, value, decl.type, bool(decl.is_array),
                                 host, namespace, octets=is_octet_string(
                                     decl.type, decl.is_array, decl.qualifiers)))
    parts.append(f"</{tag}>")
    return "".join(parts)


def instance_xml(result: InstanceResult) -> str:
    key = ("wsman-instance", result.cache_key())
    cached = CACHE.get(key)
    if cached is None:
        cached = instance_body(result.record.classname, _specs(result), result.values(),
                               result.allowed_properties(), result.scope.host,
                               result.scope.namespace)
        CACHE.put(key, cached)
    return cached


def result_epr(result: InstanceResult) -> str:
    key = ("wsman-epr", result.cache_key()[:3])
    cached = CACHE.get(key)
    if cached is None:
        cached = epr_xml(result.path, result.scope.host, result.scope.namespace)
        CACHE.put(key, cached)
    return cached


def epr_item(result: InstanceResult) -> str:
    return (f'<a:EndpointReference xmlns:a="{xmlns.ADDRESSING}">{result_epr(result)}'
            "</a:EndpointReference>")


def object_and_epr_item(result: InstanceResult) -> str:
    return f"<w:Item>{instance_xml(result)}{epr_item(result)}</w:Item>"
