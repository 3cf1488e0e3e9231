"""DSP0201 text for instances and instance paths, written straight from provider values.

pywbem's element code builds a DOM per instance (about 1 ms for a VM) and writes NULL
properties as empty-element tags, which sblim wbemcli rejects. This writer produces the same
elements from the class declaration and the record's plain values in a tenth of the time; a test
checks that pywbem's own parser reads back exactly the instance pywbem would have written.
Classes and qualifier declarations, which are rare in replies, still go through pywbem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from xml.sax.saxutils import escape, quoteattr

from pywbem import CIMClass, CIMDateTime, CIMInstanceName

from emulator.core.instances import View

NUMERIC = frozenset(("uint8", "uint16", "uint32", "uint64", "sint8", "sint16", "sint32",
                     "sint64", "real32", "real64"))


class PropertySpec(NamedTuple):
    name: str
    lower: str
    type: str
    is_array: bool
    reference_class: str | None
    embedded: str | None
    origin_attrs: str  # ' CLASSORIGIN="X"' plus ' PROPAGATED="true"' where it applies


def class_specs(klass: CIMClass) -> tuple[PropertySpec, ...]:
    specs = []
    for prop in klass.properties.values():
        origin = f" CLASSORIGIN={quoteattr(prop.class_origin)}" if prop.class_origin else ""
        if prop.propagated:
            origin += ' PROPAGATED="true"'
        specs.append(PropertySpec(prop.name, prop.name.lower(), prop.type, bool(prop.is_array),
                                  prop.reference_class, prop.embedded_object, origin))
    return tuple(specs)


def scalar_text(value: Any, cim_type: str) -> str:
    if cim_type == "boolean":
        return "TRUE" if value else "FALSE"
    if cim_type == "datetime":
        if isinstance(value, datetime | timedelta):
            value = CIMDateTime(value)
        return str(value)
    if cim_type in NUMERIC:
        if cim_type.startswith("real"):
            return repr(float(value))
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{cim_type} needs an integer, got {value!r}")
        return str(value)
    if cim_type == "char16":
        return escape(str(value)[:1])
    return escape(str(value))


def keyvalue(value: Any, cim_type: str) -> str:
    if cim_type == "boolean" or isinstance(value, bool):
        return f'<KEYVALUE VALUETYPE="boolean" TYPE="boolean">{scalar_text(value, "boolean")}' \
               "</KEYVALUE>"
    if cim_type in NUMERIC:
        return f'<KEYVALUE VALUETYPE="numeric" TYPE="{cim_type}">{scalar_text(value, cim_type)}' \
               "</KEYVALUE>"
    return f'<KEYVALUE VALUETYPE="string" TYPE="{cim_type or "string"}">' \
           f"{escape(str(value))}</KEYVALUE>"


def instancename(classname: str, keys: Iterable[tuple[str, Any]],
                 key_types: Mapping[str, str], host: str, namespace: str) -> str:
    parts = [f"<INSTANCENAME CLASSNAME={quoteattr(classname)}>"]
    for name, value in keys:
        parts.append(f"<KEYBINDING NAME={quoteattr(name)}>")
        if isinstance(value, CIMInstanceName):
            parts.append(f"<VALUE.REFERENCE>{instancepath(value, host, namespace)}"
                         "</VALUE.REFERENCE>")
        else:
            parts.append(keyvalue(value, key_types.get(name.lower(), "string")))
        parts.append("</KEYBINDING>")
    parts.append("</INSTANCENAME>")
    return "".join(parts)


def namespacepath(host: str, namespace: str) -> str:
    names = "".join(f"<NAMESPACE NAME={quoteattr(n)}/>" for n in namespace.strip("/").split("/"))
    return (f"<NAMESPACEPATH><HOST>{escape(host)}</HOST><LOCALNAMESPACEPATH>{names}"
            "</LOCALNAMESPACEPATH></NAMESPACEPATH>")


def instancepath(path: CIMInstanceName, host: str, namespace: str,
                 key_types: Mapping[str, str] | None = None) -> str:
    """INSTANCEPATH; a reference without host or namespace gets those of the answer."""
    types = key_types or {k.lower(): _guess_type(v) for k, v in path.keybindings.items()}
    return (f"<INSTANCEPATH>{namespacepath(path.host or host, path.namespace or namespace)}"
            f"{instancename(path.classname, path.keybindings.items(), types, host, namespace)}"
            "</INSTANCEPATH>")


def _guess_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "sint64" if value < 0 else "uint64"
    return "string"


def property_xml(spec: PropertySpec, value: Any, view: View, host: str,
                 namespace: str) -> str:
    origin = spec.origin_attrs if view.include_class_origin else ""
    if spec.type == "reference":
        head = (f"<PROPERTY.REFERENCE NAME={quoteattr(spec.name)}"
                f"{_attr('REFERENCECLASS', spec.reference_class)}{origin}>")
        body = "" if value is None else \
            f"<VALUE.REFERENCE>{instancepath(value, host, namespace)}</VALUE.REFERENCE>"
        return f"{head}{body}</PROPERTY.REFERENCE>"
    embedded = f' EmbeddedObject="{spec.embedded}"' if spec.embedded else ""
    if spec.is_array:
        head = f'<PROPERTY.ARRAY NAME={quoteattr(spec.name)} TYPE="{spec.type}"{origin}{embedded}>'
        if value is None:
            return f"{head}</PROPERTY.ARRAY>"
        items = "".join("<VALUE.NULL/>" if item is None else
                        f"<VALUE>{scalar_text(item, spec.type)}</VALUE>" for item in value)
        return f"{head}<VALUE.ARRAY>{items}</VALUE.ARRAY></PROPERTY.ARRAY>"
    head = f'<PROPERTY NAME={quoteattr(spec.name)} TYPE="{spec.type}"{origin}{embedded}>'
    if value is None:
        return f"{head}</PROPERTY>"
    return f"{head}<VALUE>{scalar_text(value, spec.type)}</VALUE></PROPERTY>"


def _attr(name: str, value: str | None) -> str:
    return f" {name}={quoteattr(value)}" if value else ""


def instance(classname: str, specs: Iterable[PropertySpec], values: Mapping[str, Any],
             view: View, allowed: frozenset[str] | None, host: str, namespace: str) -> str:
    """INSTANCE with the properties in `allowed` (lower-case names; None = all)."""
    given = {k.lower(): v for k, v in values.items()}
    parts = [f"<INSTANCE CLASSNAME={quoteattr(classname)}>"]
    for spec in specs:
        if allowed is None or spec.lower in allowed:
            parts.append(property_xml(spec, given.get(spec.lower), view, host, namespace))
    parts.append("</INSTANCE>")
    return "".join(parts)
