"""Intrinsic CIM-XML operations: an explicit table from operation name to handler.

Each handler checks the IPARAMVALUEs it accepts (intrinsic_params.py), calls the dispatcher and
returns the response body fragments plus output parameters. The pull operations are in
pull_operations.py.
"""

from __future__ import annotations

from collections.abc import Callable

from nocasedict import NocaseDict
from pywbem import CIM_ERR_INVALID_PARAMETER, CIM_ERR_NOT_SUPPORTED, CIMClassName, CIMError

from emulator.cimxml import encode, pull_operations
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

# ------------------------------------------------------------------------------- handlers

def get_class(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("ClassName", "LocalOnly", "IncludeQualifiers", "IncludeClassOrigin",
               "PropertyList"), "GetClass")
    klass = call.dispatcher.get_class(
        call.host, call.namespace, param(p, "ClassName", "classname", required=True),
        local_only=param(p, "LocalOnly", "bool", True),
        include_qualifiers=param(p, "IncludeQualifiers", "bool", True),
        include_class_origin=param(p, "IncludeClassOrigin", "bool", False),
        property_list=param(p, "PropertyList", "stringlist"))
    return [encode.class_xml(klass)], {}


def enumerate_classes(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("ClassName", "DeepInheritance", "LocalOnly", "IncludeQualifiers",
               "IncludeClassOrigin"), "EnumerateClasses")
    classes = call.dispatcher.enumerate_classes(
        call.host, call.namespace, param(p, "ClassName", "classname"),
        deep_inheritance=param(p, "DeepInheritance", "bool", False),
        local_only=param(p, "LocalOnly", "bool", True),
        include_qualifiers=param(p, "IncludeQualifiers", "bool", True),
        include_class_origin=param(p, "IncludeClassOrigin", "bool", False))
    return (encode.class_xml(c) for c in classes), {}


def enumerate_class_names(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("ClassName", "DeepInheritance"), "EnumerateClassNames")
    names = call.dispatcher.enumerate_class_names(
        call.host, call.namespace, param(p, "ClassName", "classname"),
        deep_inheritance=param(p, "DeepInheritance", "bool", False))
    return (encode.classname_xml(n) for n in names), {}


def get_instance(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("InstanceName", "LocalOnly", "IncludeQualifiers", "IncludeClassOrigin",
               "PropertyList"), "GetInstance")
    result = call.dispatcher.get_instance(
        call.host, call.namespace,
        local_path(param(p, "InstanceName", "instancename", required=True), call.namespace),
        local_only=param(p, "LocalOnly", "bool", False),
        include_qualifiers=param(p, "IncludeQualifiers", "bool", False),
        include_class_origin=param(p, "IncludeClassOrigin", "bool", False),
        property_list=param(p, "PropertyList", "stringlist"))
    return [encode.instance_xml(result)], {}


def enumerate_instances(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("ClassName", "LocalOnly", "DeepInheritance", "IncludeQualifiers",
               "IncludeClassOrigin", "PropertyList"), "EnumerateInstances")
    results = call.dispatcher.enumerate_instances(
        call.host, call.namespace, param(p, "ClassName", "classname", required=True),
        local_only=param(p, "LocalOnly", "bool", False),
        deep_inheritance=param(p, "DeepInheritance", "bool", True),
        include_qualifiers=param(p, "IncludeQualifiers", "bool", False),
        include_class_origin=param(p, "IncludeClassOrigin", "bool", False),
        property_list=param(p, "PropertyList", "stringlist"))
    return (encode.named_instance(r) for r in results), {}


def enumerate_instance_names(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("ClassName",), "EnumerateInstanceNames")
    paths = call.dispatcher.enumerate_instance_names(
        call.host, call.namespace, param(p, "ClassName", "classname", required=True))
    return (encode.path_xml(path, form="name") for path in paths), {}


def _association_op(call: Call, p: NocaseDict, *, references: bool,
                    names_only: bool) -> tuple[Body, OutParams]:
    filters = REFERENCE_FILTERS if references else ASSOCIATOR_FILTERS
    operation = ("Reference" if references else "Associator") + ("Names" if names_only else "s")
    extra = () if names_only else ("IncludeQualifiers", "IncludeClassOrigin", "PropertyList")
    accept(p, ("ObjectName", *filters, *extra), operation)
    source = param(p, "ObjectName", "objectname", required=True)
    kwargs = association_filters(p, filters)
    if isinstance(source, CIMClassName):
        classes = call.dispatcher.class_associators(call.host, call.namespace, source,
                                                    references=references, **kwargs)
        if names_only:
            return (encode.class_path_xml(c.classname, call.host, call.namespace)
                    for c in classes), {}
        return (encode.class_with_path(c, call.host, call.namespace) for c in classes), {}
    source = local_path(source, call.namespace)
    if names_only:
        names = call.dispatcher.reference_names if references \
            else call.dispatcher.associator_names
        return (encode.full_path_xml(path) for path in names(call.host, call.namespace, source,
                                                              **kwargs)), {}
    kwargs.update(include_qualifiers=param(p, "IncludeQualifiers", "bool", False),
                  include_class_origin=param(p, "IncludeClassOrigin", "bool", False),
                  property_list=param(p, "PropertyList", "stringlist"))
    method = call.dispatcher.references if references else call.dispatcher.associators
    return (encode.object_with_path(r) for r in method(call.host, call.namespace, source,
                                                       **kwargs)), {}


def exec_query(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("QueryLanguage", "Query"), "ExecQuery")
    results = call.dispatcher.exec_query(
        call.host, call.namespace, param(p, "QueryLanguage", "string", required=True),
        param(p, "Query", "string", required=True))
    return (encode.object_with_path(r) for r in results), {}


def get_qualifier(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("QualifierName",), "GetQualifier")
    declaration = call.dispatcher.get_qualifier(
        call.host, call.namespace, param(p, "QualifierName", "string", required=True))
    return [encode.qualifier_xml(declaration)], {}


def enumerate_qualifiers(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, (), "EnumerateQualifiers")
    return (encode.qualifier_xml(q)
            for q in call.dispatcher.enumerate_qualifiers(call.host, call.namespace)), {}


def get_property(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("InstanceName", "PropertyName"), "GetProperty")
    prop = call.dispatcher.get_property(
        call.host, call.namespace,
        local_path(param(p, "InstanceName", "instancename", required=True), call.namespace),
        param(p, "PropertyName", "string", required=True))
    if prop.value is None:
        return None, {}
    fragment = encode.xml_text(prop.tocimxml())
    # Keep only the VALUE / VALUE.ARRAY / VALUE.REFERENCE inside the PROPERTY element.
    inner = fragment[fragment.index(">") + 1:fragment.rindex("</")]
    return [inner], {}


def create_instance(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("NewInstance",), "CreateInstance")
    instance = param(p, "NewInstance", "instance", required=True)
    call.dispatcher.refuse_instance_write(call.host, call.namespace, "CreateInstance",
                                          instance=instance)
    return None, {}


def modify_instance(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("ModifiedInstance", "IncludeQualifiers", "PropertyList"), "ModifyInstance")
    instance = param(p, "ModifiedInstance", "instance", required=True)
    if instance.path is None:
        raise CIMError(CIM_ERR_INVALID_PARAMETER, "ModifiedInstance needs an instance name")
    call.dispatcher.refuse_instance_write(call.host, call.namespace, "ModifyInstance",
                                          path=local_path(instance.path, call.namespace),
                                          instance=instance)
    return None, {}


def delete_instance(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    accept(p, ("InstanceName",), "DeleteInstance")
    path = param(p, "InstanceName", "instancename", required=True)
    call.dispatcher.refuse_instance_write(call.host, call.namespace, "DeleteInstance",
                                          path=local_path(path, call.namespace))
    return None, {}


def refuse_schema(operation: str) -> Callable[[Call, NocaseDict], tuple[Body, OutParams]]:
    def handler(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
        call.dispatcher.refuse_schema_change(call.host, call.namespace, operation)
        return None, {}
    return handler


def set_property(call: Call, p: NocaseDict) -> tuple[Body, OutParams]:
    path = param(p, "InstanceName", "instancename", required=True)
    call.dispatcher.refuse_instance_write(call.host, call.namespace, "SetProperty",
                                          path=local_path(path, call.namespace))
    return None, {}


def _assoc(references: bool, names_only: bool) -> Callable[[Call, NocaseDict],
                                                             tuple[Body, OutParams]]:
    return lambda call, p: _association_op(call, p, references=references,
                                           names_only=names_only)


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
    "OpenEnumerateInstances": pull_operations.open_enumerate_instances,
    "OpenEnumerateInstancePaths": pull_operations.open_enumerate_instance_paths,
    "OpenAssociatorInstances": pull_operations.open_association(False, False),
    "OpenAssociatorInstancePaths": pull_operations.open_association(False, True),
    "OpenReferenceInstances": pull_operations.open_association(True, False),
    "OpenReferenceInstancePaths": pull_operations.open_association(True, True),
    "OpenQueryInstances": pull_operations.open_query_instances,
    "PullInstancesWithPath": pull_operations.pull("instances", True, "PullInstancesWithPath"),
    "PullInstancePaths": pull_operations.pull("paths", True, "PullInstancePaths"),
    "PullInstances": pull_operations.pull("instances", False, "PullInstances"),
    "CloseEnumeration": pull_operations.close_enumeration,
    "EnumerationCount": pull_operations.enumeration_count,
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
