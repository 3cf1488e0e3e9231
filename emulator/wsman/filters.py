"""Enumeration filters: WQL, the DMTF selector filter and the CIM binding's association filter.
"""

from __future__ import annotations

from typing import Any

from emulator.core.results import InstanceResult
from emulator.wsman import xmlns
from emulator.wsman.call import (
    Call,
    child,
    resolve_epr,
)
from emulator.wsman.envelope import EPR, parse_epr, parse_selector_set, text_of
from emulator.wsman.faults import (
    CANNOT_PROCESS_FILTER,
    FILTER_DIALECT_UNAVAILABLE,
    WsmanFault,
)
from emulator.wsman.resources import (
    NAMESPACE_SELECTOR,
    Resource,
)


def filtered(call: Call, resource: Resource, filter_element: Any) -> list[InstanceResult]:
    assert resource.namespace is not None
    namespace = resource.namespace
    if filter_element is None:
        if resource.kind == "wildcard":
            raise WsmanFault(CANNOT_PROCESS_FILTER,
                             f"{CANNOT_PROCESS_FILTER.message} Enumerating {resource.uri} needs "
                             "a WQL or association filter.", wsman_code=0x8033804F)
        assert resource.classname is not None
        return call.dispatcher.enumerate_instances(call.host, namespace, resource.classname)
    dialect = (filter_element.get("Dialect") or "").strip()
    if dialect == xmlns.WQL_DIALECT:
        if resource.kind != "wildcard":
            raise WsmanFault(CANNOT_PROCESS_FILTER,
                             f"{CANNOT_PROCESS_FILTER.message} A WQL filter needs the resource "
                             f"URI {xmlns.WMI_PREFIX}{namespace}/*, not {resource.uri}.")
        return call.dispatcher.exec_query(call.host, namespace, "WQL",
                                          text_of(filter_element).strip())
    if dialect == xmlns.ASSOCIATION_DIALECT:
        if resource.kind != "wildcard":
            raise WsmanFault(CANNOT_PROCESS_FILTER,
                             f"{CANNOT_PROCESS_FILTER.message} An association filter needs the "
                             f"resource URI {xmlns.WMI_PREFIX}{namespace}/*, not "
                             f"{resource.uri}.")
        return _association(call, namespace, filter_element)
    if dialect == xmlns.SELECTOR_DIALECT:
        if resource.kind != "class":
            raise WsmanFault(CANNOT_PROCESS_FILTER,
                             f"{CANNOT_PROCESS_FILTER.message} A selector filter needs the "
                             "resource URI of a class.")
        return _selector_filter(call, resource, filter_element)
    raise WsmanFault(FILTER_DIALECT_UNAVAILABLE,
                     f"{FILTER_DIALECT_UNAVAILABLE.message} Supported dialects: "
                     f"{xmlns.WQL_DIALECT}, {xmlns.ASSOCIATION_DIALECT}, "
                     f"{xmlns.SELECTOR_DIALECT}; not {dialect or '(none)'}.")


def _selector_filter(call: Call, resource: Resource, filter_element: Any) -> list[InstanceResult]:
    assert resource.namespace is not None and resource.classname is not None
    selector_set = child(filter_element, xmlns.WSMAN, "SelectorSet")
    if selector_set is None:
        raise WsmanFault(CANNOT_PROCESS_FILTER, f"{CANNOT_PROCESS_FILTER.message} A selector "
                                                "filter needs a SelectorSet.")
    selectors = tuple((n, v) for n, v in parse_selector_set(selector_set)
                      if n.lower() != NAMESPACE_SELECTOR)
    klass = call.catalog.get_class(resource.namespace, resource.classname)
    for name, value in selectors:
        if name not in klass.properties or isinstance(value, EPR):
            raise WsmanFault(CANNOT_PROCESS_FILTER,
                             f"{CANNOT_PROCESS_FILTER.message} {resource.classname} has no "
                             f"property {name!r} to filter on.")
    results = call.dispatcher.enumerate_instances(call.host, resource.namespace,
                                                  resource.classname)
    kept = []
    for result in results:
        values = {k.lower(): v for k, v in result.values().items()}
        if all(_selector_matches(values.get(n.lower()), str(v)) for n, v in selectors):
            kept.append(result)
    return kept


def _selector_matches(value: Any, wanted: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return wanted.strip().lower() == ("true" if value else "false")
    return str(value) == wanted


def _association(call: Call, namespace: str, filter_element: Any) -> list[InstanceResult]:
    associated = child(filter_element, xmlns.CIM_BINDING, "AssociatedInstances")
    association = child(filter_element, xmlns.CIM_BINDING, "AssociationInstances")
    spec = associated if associated is not None else association
    if spec is None:
        raise WsmanFault(CANNOT_PROCESS_FILTER,
                         f"{CANNOT_PROCESS_FILTER.message} An association filter holds "
                         "wsmb:AssociatedInstances or wsmb:AssociationInstances.")
    source_element = child(spec, xmlns.CIM_BINDING, "Object")
    if source_element is None:
        raise WsmanFault(CANNOT_PROCESS_FILTER, f"{CANNOT_PROCESS_FILTER.message} The "
                                                "association filter has no wsmb:Object.")
    source = resolve_epr(call, parse_epr(source_element), namespace)

    def option(name: str) -> str | None:
        found = child(spec, xmlns.CIM_BINDING, name)
        text = text_of(found).strip() if found is not None else ""
        return text or None

    # IncludeResultProperty (repeatable) limits the properties of each result.
    wanted = [text_of(e).strip() for e in spec.iterfind(f"{{{xmlns.CIM_BINDING}}}"
                                                         "IncludeResultProperty")]
    properties = [p for p in wanted if p] or None
    if associated is not None:
        return call.dispatcher.associators(
            call.host, source.namespace or namespace, source,
            assoc_class=option("AssociationClassName"), result_class=option("ResultClassName"),
            role=option("Role"), result_role=option("ResultRole"), property_list=properties)
    return call.dispatcher.references(call.host, source.namespace or namespace, source,
                                      result_class=option("ResultClassName"),
                                      role=option("Role"), property_list=properties)


