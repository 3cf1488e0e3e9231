"""The pull operations of CIM-XML (DSP0200 §5.3.2.25 ff.): Open*, Pull*, CloseEnumeration and
EnumerationCount, over the dispatcher's answers and the core's enumeration contexts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from nocasedict import NocaseDict
from pywbem import CIM_ERR_FILTERED_ENUMERATION_NOT_SUPPORTED, CIM_ERR_NOT_SUPPORTED, CIMError

from emulator.cimxml import encode
from emulator.cimxml.intrinsic_params import (
    ASSOCIATOR_FILTERS,
    REFERENCE_FILTERS,
    Body,
    Call,
    OutParams,
    accept,
    association_filters,
    local_path,
    param,
)
from emulator.core.enumerations import Batch
from emulator.core.instances import View

OPEN_COMMON = ("FilterQueryLanguage", "FilterQuery", "OperationTimeout", "ContinueOnError",
               "MaxObjectCount")


def _open_args(p: NocaseDict) -> dict[str, Any]:
    if param(p, "FilterQueryLanguage", "string") or param(p, "FilterQuery", "string"):
        raise CIMError(CIM_ERR_FILTERED_ENUMERATION_NOT_SUPPORTED,
                       "filtered enumerations are not supported; use OpenQueryInstances")
    return {"operation_timeout": param(p, "OperationTimeout", "uint32"),
            "max_object_count": param(p, "MaxObjectCount", "uint32"),
            "continue_on_error": param(p, "ContinueOnError", "bool", False)}


def _batch_response(batch: Batch, *, with_path: bool) -> tuple[Body, OutParams]:
    if batch.results:
        body: Iterable[str] = (encode.instance_with_path(r) if with_path
                               else encode.instance_xml(r) for r in batch.results)
    else:
        body = (encode.path_xml(path, form="full") for path in batch.paths)
    out = {"EndOfSequence": ("boolean", "TRUE" if batch.end_of_sequence else "FALSE"),
           "EnumerationContext": ("string", batch.context or "")}
    return body, out


def open_enumerate_instances(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("ClassName", "DeepInheritance", "IncludeClassOrigin", "PropertyList",
               *OPEN_COMMON), "OpenEnumerateInstances")
    args = _open_args(p)
    view = View.of(param(p, "PropertyList", "stringlist"), False,
                   param(p, "IncludeClassOrigin", "bool", False))
    results = call.dispatcher.enumerate_instances(
        call.host, call.namespace, param(p, "ClassName", "classname", required=True),
        deep_inheritance=param(p, "DeepInheritance", "bool", True),
        include_class_origin=view.include_class_origin,
        property_list=param(p, "PropertyList", "stringlist"))
    batch = call.enumerations.open(call.host, call.namespace, "instances", results=results,
                                   view=view, **args)
    return _batch_response(batch, with_path=True)


def open_enumerate_instance_paths(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("ClassName", *OPEN_COMMON), "OpenEnumerateInstancePaths")
    args = _open_args(p)
    paths = call.dispatcher.enumerate_instance_names(
        call.host, call.namespace, param(p, "ClassName", "classname", required=True))
    return _batch_response(call.enumerations.open(call.host, call.namespace, "paths",
                                                  paths=paths, **args), with_path=True)


def _open_association(call: Call, p: NocaseDict, *, references: bool,
                      paths_only: bool) -> tuple[Body, OutParams]:
    filters = REFERENCE_FILTERS if references else ASSOCIATOR_FILTERS
    extra = () if paths_only else ("IncludeClassOrigin", "PropertyList")
    name = ("OpenReference" if references else "OpenAssociator") + \
        ("InstancePaths" if paths_only else "Instances")
    accept(p, ("InstanceName", *filters, *extra, *OPEN_COMMON), name)
    args = _open_args(p)
    source = local_path(param(p, "InstanceName", "instancename", required=True),
                       call.namespace)
    kwargs = association_filters(p, filters)
    method = call.dispatcher.references if references else call.dispatcher.associators
    view = View()
    if not paths_only:
        view = View.of(param(p, "PropertyList", "stringlist"), False,
                       param(p, "IncludeClassOrigin", "bool", False))
        kwargs.update(include_class_origin=view.include_class_origin,
                      property_list=param(p, "PropertyList", "stringlist"))
    results = method(call.host, call.namespace, source, **kwargs)
    if paths_only:
        batch = call.enumerations.open(call.host, call.namespace, "paths",
                                       paths=[r.path for r in results], **args)
    else:
        batch = call.enumerations.open(call.host, call.namespace, "instances",
                                       results=results, view=view, **args)
    return _batch_response(batch, with_path=True)


def open_query_instances(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("FilterQuery", "FilterQueryLanguage", "ReturnQueryResultClass",
               "OperationTimeout", "ContinueOnError", "MaxObjectCount"), "OpenQueryInstances")
    if param(p, "ReturnQueryResultClass", "bool", False):
        raise CIMError(CIM_ERR_NOT_SUPPORTED, "ReturnQueryResultClass is not supported")
    results = call.dispatcher.exec_query(
        call.host, call.namespace, param(p, "FilterQueryLanguage", "string", required=True),
        param(p, "FilterQuery", "string", required=True))
    batch = call.enumerations.open(
        call.host, call.namespace, "instances", results=results,
        operation_timeout=param(p, "OperationTimeout", "uint32"),
        max_object_count=param(p, "MaxObjectCount", "uint32"),
        continue_on_error=param(p, "ContinueOnError", "bool", False))
    return _batch_response(batch, with_path=False)


def pull(family: str, with_path: bool, name: str) -> Callable[[Call, NocaseDict],
                                                              tuple[Body, OutParams]]:
    def handler(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
        accept(p, ("EnumerationContext", "MaxObjectCount"), name)
        batch = call.enumerations.pull(
            call.host, call.namespace, param(p, "EnumerationContext", "string", required=True),
            param(p, "MaxObjectCount", "uint32", required=True), family)
        return _batch_response(batch, with_path=with_path)
    return handler


def close_enumeration(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("EnumerationContext",), "CloseEnumeration")
    call.enumerations.close(call.host, call.namespace,
                            param(p, "EnumerationContext", "string", required=True))
    return None, {}


def enumeration_count(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("EnumerationContext",), "EnumerationCount")
    remaining = call.enumerations.count(call.host, call.namespace,
                                        param(p, "EnumerationContext", "string", required=True))
    return [f"<VALUE>{remaining}</VALUE>"], {}


def open_association(references: bool, paths_only: bool
                     ) -> Callable[[Call, NocaseDict], tuple[Body, OutParams]]:
    return lambda call, p: _open_association(call, p, references=references,
                                             paths_only=paths_only)
