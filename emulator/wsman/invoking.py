"""Invoke: `<ResourceURI>/<Method>` on an instance (selectors) or a class (static methods).
"""

from __future__ import annotations

from pywbem import CIMClass, CIMClassName, CIMInstanceName

from emulator.wsman import methods
from emulator.wsman.call import (
    Call,
    Reply,
    class_resource,
    resolve_epr,
    target_path,
)
from emulator.wsman.faults import (
    ACTION_NOT_SUPPORTED,
    WsmanFault,
)
from emulator.wsman.resources import (
    NAMESPACE_SELECTOR,
)


def invoke(call: Call) -> Reply:
    resource = class_resource(call, "Invoke")
    assert resource.namespace is not None and resource.classname is not None
    action = call.request.action
    base, _, method_name = action.rpartition("/")
    if base.lower() != (call.request.resource_uri or "").lower().rstrip("/"):
        raise WsmanFault(ACTION_NOT_SUPPORTED,
                         f"{ACTION_NOT_SUPPORTED.message} The action {action} does not name a "
                         f"method of {call.request.resource_uri}.")
    klass = call.catalog.get_class(resource.namespace, resource.classname)
    method = methods.method_of(klass, method_name)
    selectors = tuple((n, v) for n, v in call.request.selectors
                      if n.lower() != NAMESPACE_SELECTOR)
    target: CIMInstanceName | CIMClassName
    if selectors:
        target = target_path(call, resource, call.request.selectors)
    else:
        target = CIMClassName(resource.classname, namespace=resource.namespace)
    namespace = resource.namespace
    params = methods.read_input(call.request.body, method,
                                lambda epr: resolve_epr(call, epr, namespace))
    outcome = call.dispatcher.invoke_method(
        call.host, resource.namespace, target, method.name, params)
    catalog = call.catalog

    def class_of(name: str) -> CIMClass | None:
        return catalog.get_class(namespace, name) if catalog.has_class(namespace, name) else None

    body = methods.write_output(method, resource.classname, resource.namespace, call.host,
                                outcome.return_value, outcome.output_values(), class_of)
    return f"{base}/{method.name}Response", body


