"""Intrinsic CIM-XML operations: an explicit table from operation name to handler.

Each handler checks the IPARAMVALUEs it accepts (names and types, DSP0200 §5.3.2), calls the
dispatcher and returns the response body fragments plus output parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from nocasedict import NocaseDict
from pywbem import (
    CIM_ERR_FILTERED_ENUMERATION_NOT_SUPPORTED,
    CIM_ERR_INVALID_PARAMETER,
    CIM_ERR_NOT_SUPPORTED,
    CIMClassName,
    CIMError,
    CIMInstance,
    CIMInstanceName,
)

from emulator.cimxml import encode
from emulator.cimxml.request import CimRequest
from emulator.core.dispatch import Dispatcher
from emulator.core.enumerations import Batch, Enumerations
from emulator.core.instances import View

Body = Iterable[str] | None
OutParams = dict[str, tuple[str, str]]


@dataclass
class Call:
    dispatcher: Dispatcher
    enumerations: Enumerations
    host: str
    request: CimRequest

    @property
    def namespace(self) -> str:
        return self.request.namespace


def _as_bool(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value if isinstance(value, bool) else None


def _as_uint32(value: Any) -> int | None:
    return int(value.strip()) if isinstance(value, str) and value.strip().isdigit() else None


# IPARAMVALUE kinds: each converts the parsed value, or gives None when it has the wrong type.
_KINDS: dict[str, Callable[[Any], Any]] = {
    "bool": _as_bool,
    "uint32": _as_uint32,
    "string": lambda v: v if isinstance(v, str) else None,
    "classname": lambda v: v.classname if isinstance(v, CIMClassName) else None,
    "instancename": lambda v: v if isinstance(v, CIMInstanceName) else None,
    "objectname": lambda v: v if isinstance(v, CIMInstanceName | CIMClassName) else None,
    "stringlist": lambda v: v if isinstance(v, list) and all(isinstance(i, str) for i in v)
    else None,
    "instance": lambda v: v if isinstance(v, CIMInstance) else None,
}


def _param(params: NocaseDict, name: str, kind: str, default: Any = None,
           *, required: bool = False) -> Any:
    if name not in params or params[name] is None:
        if required:
            raise CIMError(CIM_ERR_INVALID_PARAMETER, f"parameter {name} is required")
        return default
    converted = _KINDS[kind](params[name])
    if converted is None:
        raise CIMError(CIM_ERR_INVALID_PARAMETER,
                       f"parameter {name} has the wrong type for {kind}: "
                       f"{type(params[name]).__name__}")
    return converted


def _accept(params: NocaseDict, allowed: tuple[str, ...], operation: str) -> None:
    allowed_lower = {a.lower() for a in allowed}
    for name in params:
        # nocasedict types keys as Optional; the request parser only ever stores names.
        if name.lower() not in allowed_lower:  # type: ignore[union-attr]
            raise CIMError(CIM_ERR_INVALID_PARAMETER,
                           f"{operation} has no parameter {name!r}")


def _local_path(path: CIMInstanceName, namespace: str) -> CIMInstanceName:
    return CIMInstanceName(path.classname, keybindings=path.keybindings,
                           namespace=path.namespace or namespace)


# ------------------------------------------------------------------------------- handlers

def get_class(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("ClassName", "LocalOnly", "IncludeQualifiers", "IncludeClassOrigin",
                "PropertyList"), "GetClass")
    klass = call.dispatcher.get_class(
        call.host, call.namespace, _param(p, "ClassName", "classname", required=True),
        local_only=_param(p, "LocalOnly", "bool", True),
        include_qualifiers=_param(p, "IncludeQualifiers", "bool", True),
        include_class_origin=_param(p, "IncludeClassOrigin", "bool", False),
        property_list=_param(p, "PropertyList", "stringlist"))
    return [encode.class_xml(klass)], {}


def enumerate_classes(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("ClassName", "DeepInheritance", "LocalOnly", "IncludeQualifiers",
                "IncludeClassOrigin"), "EnumerateClasses")
    classes = call.dispatcher.enumerate_classes(
        call.host, call.namespace, _param(p, "ClassName", "classname"),
        deep_inheritance=_param(p, "DeepInheritance", "bool", False),
        local_only=_param(p, "LocalOnly", "bool", True),
        include_qualifiers=_param(p, "IncludeQualifiers", "bool", True),
        include_class_origin=_param(p, "IncludeClassOrigin", "bool", False))
    return (encode.class_xml(c) for c in classes), {}


def enumerate_class_names(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("ClassName", "DeepInheritance"), "EnumerateClassNames")
    names = call.dispatcher.enumerate_class_names(
        call.host, call.namespace, _param(p, "ClassName", "classname"),
        deep_inheritance=_param(p, "DeepInheritance", "bool", False))
    return (encode.classname_xml(n) for n in names), {}


def get_instance(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("InstanceName", "LocalOnly", "IncludeQualifiers", "IncludeClassOrigin",
                "PropertyList"), "GetInstance")
    result = call.dispatcher.get_instance(
        call.host, call.namespace,
        _local_path(_param(p, "InstanceName", "instancename", required=True), call.namespace),
        local_only=_param(p, "LocalOnly", "bool", False),
        include_qualifiers=_param(p, "IncludeQualifiers", "bool", False),
        include_class_origin=_param(p, "IncludeClassOrigin", "bool", False),
        property_list=_param(p, "PropertyList", "stringlist"))
    return [encode.instance_xml(result)], {}


def enumerate_instances(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("ClassName", "LocalOnly", "DeepInheritance", "IncludeQualifiers",
                "IncludeClassOrigin", "PropertyList"), "EnumerateInstances")
    results = call.dispatcher.enumerate_instances(
        call.host, call.namespace, _param(p, "ClassName", "classname", required=True),
        local_only=_param(p, "LocalOnly", "bool", False),
        deep_inheritance=_param(p, "DeepInheritance", "bool", True),
        include_qualifiers=_param(p, "IncludeQualifiers", "bool", False),
        include_class_origin=_param(p, "IncludeClassOrigin", "bool", False),
        property_list=_param(p, "PropertyList", "stringlist"))
    return (encode.named_instance(r) for r in results), {}


def enumerate_instance_names(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("ClassName",), "EnumerateInstanceNames")
    paths = call.dispatcher.enumerate_instance_names(
        call.host, call.namespace, _param(p, "ClassName", "classname", required=True))
    return (encode.path_xml(path, form="name") for path in paths), {}


ASSOCIATOR_FILTERS = ("AssocClass", "ResultClass", "Role", "ResultRole")
REFERENCE_FILTERS = ("ResultClass", "Role")


def _filters(p: NocaseDict, names: tuple[str, ...]) -> dict[str, Any]:
    keys = {"AssocClass": "assoc_class", "ResultClass": "result_class", "Role": "role",
            "ResultRole": "result_role"}
    result: dict[str, Any] = {}
    for name in names:
        kind = "classname" if name.endswith("Class") else "string"
        result[keys[name]] = _param(p, name, kind)
    return result


def _association_op(call: Call, p: NocaseDict, *, references: bool,
                    names_only: bool) -> tuple[Body, OutParams]:
    filters = REFERENCE_FILTERS if references else ASSOCIATOR_FILTERS
    operation = ("Reference" if references else "Associator") + ("Names" if names_only else "s")
    extra = () if names_only else ("IncludeQualifiers", "IncludeClassOrigin", "PropertyList")
    _accept(p, ("ObjectName", *filters, *extra), operation)
    source = _param(p, "ObjectName", "objectname", required=True)
    kwargs = _filters(p, filters)
    if isinstance(source, CIMClassName):
        classes = call.dispatcher.class_associators(call.host, call.namespace, source,
                                                    references=references, **kwargs)
        if names_only:
            return (encode.class_path_xml(c.classname, call.host, call.namespace)
                    for c in classes), {}
        return (encode.class_with_path(c, call.host, call.namespace) for c in classes), {}
    source = _local_path(source, call.namespace)
    if names_only:
        names = call.dispatcher.reference_names if references \
            else call.dispatcher.associator_names
        return (encode.full_path_xml(path) for path in names(call.host, call.namespace, source,
                                                              **kwargs)), {}
    kwargs.update(include_qualifiers=_param(p, "IncludeQualifiers", "bool", False),
                  include_class_origin=_param(p, "IncludeClassOrigin", "bool", False),
                  property_list=_param(p, "PropertyList", "stringlist"))
    method = call.dispatcher.references if references else call.dispatcher.associators
    return (encode.object_with_path(r) for r in method(call.host, call.namespace, source,
                                                       **kwargs)), {}


def exec_query(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("QueryLanguage", "Query"), "ExecQuery")
    results = call.dispatcher.exec_query(
        call.host, call.namespace, _param(p, "QueryLanguage", "string", required=True),
        _param(p, "Query", "string", required=True))
    return (encode.object_with_path(r) for r in results), {}


def get_qualifier(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("QualifierName",), "GetQualifier")
    declaration = call.dispatcher.get_qualifier(
        call.host, call.namespace, _param(p, "QualifierName", "string", required=True))
    return [encode.qualifier_xml(declaration)], {}


def enumerate_qualifiers(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, (), "EnumerateQualifiers")
    return (encode.qualifier_xml(q)
            for q in call.dispatcher.enumerate_qualifiers(call.host, call.namespace)), {}


def get_property(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("InstanceName", "PropertyName"), "GetProperty")
    prop = call.dispatcher.get_property(
        call.host, call.namespace,
        _local_path(_param(p, "InstanceName", "instancename", required=True), call.namespace),
        _param(p, "PropertyName", "string", required=True))
    if prop.value is None:
        return None, {}
    fragment = encode.xml_text(prop.tocimxml())
    # Keep only the VALUE / VALUE.ARRAY / VALUE.REFERENCE inside the PROPERTY element.
    inner = fragment[fragment.index(">") + 1:fragment.rindex("</")]
    return [inner], {}


def create_instance(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("NewInstance",), "CreateInstance")
    instance = _param(p, "NewInstance", "instance", required=True)
    call.dispatcher.refuse_instance_write(call.host, call.namespace, "CreateInstance",
                                          instance=instance)
    return None, {}


def modify_instance(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("ModifiedInstance", "IncludeQualifiers", "PropertyList"), "ModifyInstance")
    instance = _param(p, "ModifiedInstance", "instance", required=True)
    if instance.path is None:
        raise CIMError(CIM_ERR_INVALID_PARAMETER, "ModifiedInstance needs an instance name")
    call.dispatcher.refuse_instance_write(call.host, call.namespace, "ModifyInstance",
                                          path=_local_path(instance.path, call.namespace),
                                          instance=instance)
    return None, {}


def delete_instance(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("InstanceName",), "DeleteInstance")
    path = _param(p, "InstanceName", "instancename", required=True)
    call.dispatcher.refuse_instance_write(call.host, call.namespace, "DeleteInstance",
                                          path=_local_path(path, call.namespace))
    return None, {}


def refuse_schema(operation: str) -> Callable[[Call, NocaseDict], tuple[Body, OutParams]]:
    def handler(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
        call.dispatcher.refuse_schema_change(call.host, call.namespace, operation)
        return None, {}
    return handler


def set_property(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    path = _param(p, "InstanceName", "instancename", required=True)
    call.dispatcher.refuse_instance_write(call.host, call.namespace, "SetProperty",
                                          path=_local_path(path, call.namespace))
    return None, {}


# --------------------------------------------------------------------- pull operations

OPEN_COMMON = ("FilterQueryLanguage", "FilterQuery", "OperationTimeout", "ContinueOnError",
               "MaxObjectCount")


def _open_args(p: NocaseDict) -> dict[str, Any]:
    if _param(p, "FilterQueryLanguage", "string") or _param(p, "FilterQuery", "string"):
        raise CIMError(CIM_ERR_FILTERED_ENUMERATION_NOT_SUPPORTED,
                       "filtered enumerations are not supported; use OpenQueryInstances")
    return {"operation_timeout": _param(p, "OperationTimeout", "uint32"),
            "max_object_count": _param(p, "MaxObjectCount", "uint32"),
            "continue_on_error": _param(p, "ContinueOnError", "bool", False)}


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
    _accept(p, ("ClassName", "DeepInheritance", "IncludeClassOrigin", "PropertyList",
                *OPEN_COMMON), "OpenEnumerateInstances")
    args = _open_args(p)
    view = View.of(_param(p, "PropertyList", "stringlist"), False,
                   _param(p, "IncludeClassOrigin", "bool", False))
    results = call.dispatcher.enumerate_instances(
        call.host, call.namespace, _param(p, "ClassName", "classname", required=True),
        deep_inheritance=_param(p, "DeepInheritance", "bool", True),
        include_class_origin=view.include_class_origin,
        property_list=_param(p, "PropertyList", "stringlist"))
    batch = call.enumerations.open(call.host, call.namespace, "instances", results=results,
                                   view=view, **args)
    return _batch_response(batch, with_path=True)


def open_enumerate_instance_paths(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("ClassName", *OPEN_COMMON), "OpenEnumerateInstancePaths")
    args = _open_args(p)
    paths = call.dispatcher.enumerate_instance_names(
        call.host, call.namespace, _param(p, "ClassName", "classname", required=True))
    return _batch_response(call.enumerations.open(call.host, call.namespace, "paths",
                                                  paths=paths, **args), with_path=True)


def _open_association(call: Call, p: NocaseDict, *, references: bool,
                      paths_only: bool) -> tuple[Body, OutParams]:
    filters = REFERENCE_FILTERS if references else ASSOCIATOR_FILTERS
    extra = () if paths_only else ("IncludeClassOrigin", "PropertyList")
    name = ("OpenReference" if references else "OpenAssociator") + \
        ("InstancePaths" if paths_only else "Instances")
    _accept(p, ("InstanceName", *filters, *extra, *OPEN_COMMON), name)
    args = _open_args(p)
    source = _local_path(_param(p, "InstanceName", "instancename", required=True),
                         call.namespace)
    kwargs = _filters(p, filters)
    method = call.dispatcher.references if references else call.dispatcher.associators
    view = View()
    if not paths_only:
        view = View.of(_param(p, "PropertyList", "stringlist"), False,
                       _param(p, "IncludeClassOrigin", "bool", False))
        kwargs.update(include_class_origin=view.include_class_origin,
                      property_list=_param(p, "PropertyList", "stringlist"))
    results = method(call.host, call.namespace, source, **kwargs)
    if paths_only:
        batch = call.enumerations.open(call.host, call.namespace, "paths",
                                       paths=[r.path for r in results], **args)
    else:
        batch = call.enumerations.open(call.host, call.namespace, "instances",
                                       results=results, view=view, **args)
    return _batch_response(batch, with_path=True)


def open_query_instances(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("FilterQuery", "FilterQueryLanguage", "ReturnQueryResultClass",
                "OperationTimeout", "ContinueOnError", "MaxObjectCount"), "OpenQueryInstances")
    if _param(p, "ReturnQueryResultClass", "bool", False):
        raise CIMError(CIM_ERR_NOT_SUPPORTED, "ReturnQueryResultClass is not supported")
    results = call.dispatcher.exec_query(
        call.host, call.namespace, _param(p, "FilterQueryLanguage", "string", required=True),
        _param(p, "FilterQuery", "string", required=True))
    batch = call.enumerations.open(
        call.host, call.namespace, "instances", results=results,
        operation_timeout=_param(p, "OperationTimeout", "uint32"),
        max_object_count=_param(p, "MaxObjectCount", "uint32"),
        continue_on_error=_param(p, "ContinueOnError", "bool", False))
    return _batch_response(batch, with_path=False)


def _pull(family: str, with_path: bool, name: str) -> Callable[[Call, NocaseDict],
                                                               tuple[Body, OutParams]]:
    def handler(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
        _accept(p, ("EnumerationContext", "MaxObjectCount"), name)
        batch = call.enumerations.pull(
            call.host, call.namespace, _param(p, "EnumerationContext", "string", required=True),
            _param(p, "MaxObjectCount", "uint32", required=True), family)
        return _batch_response(batch, with_path=with_path)
    return handler


def close_enumeration(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("EnumerationContext",), "CloseEnumeration")
    call.enumerations.close(call.host, call.namespace,
                            _param(p, "EnumerationContext", "string", required=True))
    return None, {}


def enumeration_count(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    _accept(p, ("EnumerationContext",), "EnumerationCount")
    remaining = call.enumerations.count(call.host, call.namespace,
                                        _param(p, "EnumerationContext", "string", required=True))
    return [f"<VALUE>{remaining}</VALUE>"], {}


def _assoc(references: bool, names_only: bool) -> Callable[[Call, NocaseDict],
                                                             tuple[Body, OutParams]]:
    return lambda call, p: _association_op(call, p, references=references,
                                           names_only=names_only)


def _open_assoc(references: bool, paths_only: bool) -> Callable[[Call, NocaseDict],
                                                                 tuple[Body, OutParams]]:
    return lambda call, p: _open_association(call, p, references=references,
                                             paths_only=paths_only)


OPERATIONS: NocaseDict = NocaseDict({
    "GetClass": get_class,
    "EnumerateClasses": enumerate_classes,
    "EnumerateClassNames": enumerate_class_names,
    "GetInstance": get_instance,
    "EnumerateInstances": enumerate_instances,
    "EnumerateInstanceNames": enumerate_instance_names,
    "Associators": _assoc(False, False),
    "AssociatorNames": _assoc(False, True),
    "References": _assoc(True, False),
    "ReferenceNames": _assoc(True, True),
    "ExecQuery": exec_query,
    "GetQualifier": get_qualifier,
    "EnumerateQualifiers": enumerate_qualifiers,
    "SetQualifier": refuse_schema("SetQualifier"),
    "DeleteQualifier": refuse_schema("DeleteQualifier"),
    "CreateClass": refuse_schema("CreateClass"),
    "ModifyClass": refuse_schema("ModifyClass"),
    "DeleteClass": refuse_schema("DeleteClass"),
    "CreateInstance": create_instance,
    "ModifyInstance": modify_instance,
    "DeleteInstance": delete_instance,
    "GetProperty": get_property,
    "SetProperty": set_property,
    "OpenEnumerateInstances": open_enumerate_instances,
    "OpenEnumerateInstancePaths": open_enumerate_instance_paths,
    "OpenAssociatorInstances": _open_assoc(False, False),
    "OpenAssociatorInstancePaths": _open_assoc(False, True),
    "OpenReferenceInstances": _open_assoc(True, False),
    "OpenReferenceInstancePaths": _open_assoc(True, True),
    "OpenQueryInstances": open_query_instances,
    "PullInstancesWithPath": _pull("instances", True, "PullInstancesWithPath"),
    "PullInstancePaths": _pull("paths", True, "PullInstancePaths"),
    "PullInstances": _pull("instances", False, "PullInstances"),
    "CloseEnumeration": close_enumeration,
    "EnumerationCount": enumeration_count,
})


def run(call: Call) -> tuple[Body, OutParams]:
    handler = OPERATIONS.get(call.request.name)
    if handler is None:
        raise CIMError(CIM_ERR_NOT_SUPPORTED,
                       f"intrinsic operation {call.request.name!r} is not supported")
    return handler(call, call.request.params)


def materialise(body: Body) -> list[str] | None:
    """Render every fragment now, so errors surface before the response starts."""
    return None if body is None else list(body)


__all__ = ["OPERATIONS", "Call", "materialise", "run"]
