"""Rules on the names a client uses, checked against the class model: namespaces, classes,
properties, method parameters, and the settings it embeds in a method call."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from emulator.cim.wql import SelectQuery
from emulator.conformance.model import (
    ClassModel,
    PropertyInfo,
    Session,
    classname_of,
    evidence,
    method_of,
)
from emulator.conformance.reading import named_properties, normal_namespace, wql_of
from emulator.conformance.rule import Found, Thresholds

V1_NAMESPACE = "root/virtualization"
SETTINGS_CLASSES = {"migrationsettingdata": "Msvm_VirtualSystemMigrationSettingData"}
_EMBEDDED_CLASS = re.compile(r"<INSTANCE\b[^>]*\bCLASSNAME=\"([^\"]*)\"")
_EMBEDDED_PROPERTY = re.compile(
    r"<PROPERTY(\.ARRAY|\.REFERENCE)?\b(?=[^>]*\bNAME=\"([^\"]*)\")(?:[^>]*\bTYPE=\"([^\"]*)\")?")
# Parameters a WS-Man request carries that are not a method's inputs.
_TRANSPORT_PARAMS = frozenset({"maxenvelopesize", "operationtimeout"})


def embedded_settings(session: Session, model: ClassModel | None,
                      limits: Thresholds) -> Iterator[Found]:
    for record in session.records:
        if not method_of(record):
            continue
        for name, text in record.params.items():
            expected = SETTINGS_CLASSES.get(name.lower())
            if expected is None or "<INSTANCE" not in text:
                continue
            problems = settings_problems(text, expected, record.namespace, model)
            if problems:
                yield (f"{name}: " + "; ".join(problems), [evidence(record)])



def settings_problems(text: str, expected: str, namespace: str | None,
                      model: ClassModel | None) -> list[str]:
    problems: list[str] = []
    found = _EMBEDDED_CLASS.search(text)
    classname = found.group(1) if found else ""
    if classname.lower() != expected.lower():
        problems.append(f"CLASSNAME is {classname!r}, not {expected}")
    known: Mapping[str, PropertyInfo] | None = None
    if model is not None and namespace:
        known = model.properties(namespace, expected)
    for kind, prop, cim_type in _EMBEDDED_PROPERTY.findall(text):
        is_array = kind == ".ARRAY"
        if prop.lower() == "destinationipaddresslist" and not is_array:
            problems.append("DestinationIPAddressList is a PROPERTY, not a PROPERTY.ARRAY "
                            "(string[])")
            continue
        if known is None:
            continue
        info = known.get(prop.lower())
        if info is None:
            problems.append(f"{expected} has no property {prop}")
        elif cim_type and cim_type.lower() != info.type.lower():
            problems.append(f"{prop} is TYPE {cim_type!r}, not {info.type}")
        elif is_array != info.is_array and kind != ".REFERENCE":
            problems.append(f"{prop} is {'an array' if is_array else 'a scalar'}, "
                            f"not {'an array' if info.is_array else 'a scalar'}")
    return problems



def v1_namespace(session: Session, model: ClassModel | None,
                 limits: Thresholds) -> Iterator[Found]:
    used = [r for r in session.records if normal_namespace(r.namespace) == V1_NAMESPACE]
    if used:
        yield (f"{len(used)} request(s) used root\\virtualization, the v1 namespace retired "
               "in Windows Server 2012 R2", [evidence(r) for r in used[:5]])



def unknown_names(session: Session, model: ClassModel | None,
                  limits: Thresholds) -> Iterator[Found]:
    if model is None:
        return
    for record in session.records:
        namespace = record.namespace
        if not namespace:
            continue
        classname, names = named_properties(record)
        known = model.properties(namespace, classname) if classname else None
        if known is not None:
            missing = sorted({n for n in names if n.lower() not in known and n != "*"})
            if missing:
                yield (f"{classname} has no property {', '.join(missing)}", [evidence(record)])
        method = method_of(record)
        target = classname_of(record)
        if method and target:
            declared = model.parameters(namespace, target, method)
            if declared is None:
                continue
            unknown = sorted(name for name in record.params
                             if name.lower() not in declared
                             and name.lower() not in _TRANSPORT_PARAMS
                             and not name.startswith("Option."))
            if unknown:
                yield (f"{target}.{method} has no parameter {', '.join(unknown)}",
                       [evidence(record)])



def wrong_namespace(session: Session, model: ClassModel | None,
                    limits: Thresholds) -> Iterator[Found]:
    for record in session.records:
        if normal_namespace(record.namespace) == V1_NAMESPACE or not record.namespace:
            continue
        query = wql_of(record)
        classname = query.classname if isinstance(query, SelectQuery) else classname_of(record)
        if record.cim_status == 3:
            yield (f"namespace {record.namespace} does not exist on a Hyper-V host",
                   [evidence(record)])
        elif model is not None and classname:
            elsewhere = model.namespaces_of(classname)
            if elsewhere and model.properties(record.namespace, classname) is None:
                yield (f"{classname} is not in {record.namespace}; it is in "
                       f"{', '.join(elsewhere)}", [evidence(record)])



def deprecated_property(session: Session, model: ClassModel | None,
                        limits: Thresholds) -> Iterator[Found]:
    if model is None:
        return
    for record in session.records:
        classname, names = named_properties(record)
        if not classname or not record.namespace:
            continue
        known = model.properties(record.namespace, classname) or {}
        for name in names:
            info = known.get(name.lower())
            if info is not None and info.deprecated_by:
                yield (f"{classname}.{info.name} is deprecated; use {info.deprecated_by}",
                       [evidence(record)])
                break
