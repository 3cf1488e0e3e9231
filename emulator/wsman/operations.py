"""The WS-Management operations: an explicit table from action URI to handler.

Each handler reads the request's body, calls the dispatcher and returns the reply's action and
body. CIM errors travel up as `pywbem.CIMError` and are translated by the endpoint, in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree
from pywbem import CIMClassName, CIMInstance, CIMInstanceName

from emulator.catalog import Catalog
from emulator.dispatch import Dispatcher, InstanceResult, track_expiry
from emulator.wsman import methods, render, xmlns
from emulator.wsman.cache import ListingCache
from emulator.wsman.enumeration import MODES, Contexts, Page, listing
from emulator.wsman.envelope import EPR, Request, parse_epr, parse_selector_set, qname, text_of
from emulator.wsman.faults import (
    ACTION_NOT_SUPPORTED,
    AMBIGUOUS_SELECTORS,
    CANNOT_PROCESS_FILTER,
    FILTER_DIALECT_UNAVAILABLE,
    INSUFFICIENT_SELECTORS,
    INVALID_PARAMETER,
    INVALID_REPRESENTATION,
    INVALID_RESOURCE_URI,
    MAX_ENVELOPE_SIZE,
    RESOURCE_NOT_FOUND,
    SCHEMA_VALIDATION,
    UNSUPPORTED_FEATURE,
    UNSUPPORTED_TIMEOUT,
    WsmanFault,
)
from emulator.wsman.resources import (
    NAMESPACE_SELECTOR,
    Resource,
    instance_path,
    resolve,
)

MAX_ENVELOPE_KB = 500
MAX_ENVELOPE_BYTES = MAX_ENVELOPE_KB * 1024
MIN_ENVELOPE_BYTES = 8192
MAX_TIMEOUT_MS = 60_000
MAX_BATCH_ITEMS = 32_000
DEFAULT_OPTIMIZED_ITEMS = 20
# Room for the envelope around an enumeration page's items.
PAGE_OVERHEAD = 1536
PRODUCT_VERSION = "OS: 10.0.20348 SP: 0.0 Stack: 3.0"
ANONYMOUS_PRODUCT_VERSION = "OS: 0.0.0 SP: 0.0 Stack: 3.0"
SECURITY_PROFILES = (
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/basic",
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/spnego-kerberos",
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/basic",
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/spnego-kerberos",
)


@dataclass
class Call:
    dispatcher: Dispatcher
    contexts: Contexts
    host: str
    request: Request
    max_envelope: int
    filtering: bool = False
    listings: ListingCache | None = None

    @property
    def catalog(self) -> Catalog:
        return self.dispatcher.catalog


Reply = tuple[str, str]  # (action, body XML)


# ------------------------------------------------------------------------------ identify

def identify(authenticated: bool) -> bytes:
    version = PRODUCT_VERSION if authenticated else ANONYMOUS_PRODUCT_VERSION
    profiles = "".join(f"<wsmid:SecurityProfileName>{p}</wsmid:SecurityProfileName>"
                       for p in SECURITY_PROFILES)
    security = f"<wsmid:SecurityProfiles>{profiles}</wsmid:SecurityProfiles>" \
        if authenticated else ""
    return (f'<s:Envelope xmlns:s="{xmlns.SOAP}" xmlns:wsmid="{xmlns.IDENTITY}"><s:Header/>'
            f"<s:Body><wsmid:IdentifyResponse>"
            f"<wsmid:ProtocolVersion>{xmlns.WSMAN}</wsmid:ProtocolVersion>"
            f"<wsmid:ProductVendor>Microsoft Corporation</wsmid:ProductVendor>"
            f"<wsmid:ProductVersion>{version}</wsmid:ProductVersion>{security}"
            f"</wsmid:IdentifyResponse></s:Body></s:Envelope>").encode()


# ------------------------------------------------------------------------------ helpers

def check_limits(request: Request) -> int:
    """MaxEnvelopeSize and OperationTimeout as WinRM enforces them; the reply size limit."""
    size = request.max_envelope_size
    if size is not None and not MIN_ENVELOPE_BYTES <= size <= MAX_ENVELOPE_BYTES:
        raise WsmanFault(MAX_ENVELOPE_SIZE,
                         f"{MAX_ENVELOPE_SIZE.message} MaxEnvelopeSize must be between "
                         f"{MIN_ENVELOPE_BYTES} and {MAX_ENVELOPE_BYTES} bytes (MaxEnvelopeSizekb "
                         f"is {MAX_ENVELOPE_KB}), not {size}.")
    timeout = request.operation_timeout
    if timeout is not None and not 0 < timeout * 1000 <= MAX_TIMEOUT_MS:
        raise WsmanFault(UNSUPPORTED_TIMEOUT,
                         f"{UNSUPPORTED_TIMEOUT.message} OperationTimeout must be more than 0 "
                         f"and at most MaxTimeoutms ({MAX_TIMEOUT_MS} ms), not "
                         f"{timeout * 1000:g} ms.")
    return size or MAX_ENVELOPE_BYTES


def _resource(call: Call) -> Resource:
    return resolve(call.request.resource_uri, call.request.selectors, call.catalog)


def _class_resource(call: Call, operation: str) -> Resource:
    resource = _resource(call)
    if resource.kind != "class":
        raise WsmanFault(INVALID_RESOURCE_URI,
                         f"{INVALID_RESOURCE_URI.message} {operation} needs the resource URI of "
                         f"a class, not {resource.uri}.")
    return resource


def target_path(call: Call, resource: Resource,
                selectors: tuple[tuple[str, Any], ...]) -> CIMInstanceName:
    """The instance the selectors name; a subset of the keys is accepted when it names one."""
    try:
        return instance_path(resource, selectors, call.catalog)
    except WsmanFault as fault:
        if fault.kind is not INSUFFICIENT_SELECTORS:
            raise
    partial = instance_path(resource, selectors, call.catalog, partial=True)
    if not partial.keybindings:
        raise WsmanFault(INSUFFICIENT_SELECTORS,
                         f"{INSUFFICIENT_SELECTORS.message} Give the keys of "
                         f"{resource.classname}.")
    assert resource.namespace is not None and resource.classname is not None
    given = {k.lower(): v for k, v in partial.keybindings.items()}
    matches = [p for p in call.dispatcher.enumerate_instance_names(
        call.host, resource.namespace, resource.classname)
        if all(_same(p.keybindings.get(k), v) for k, v in given.items())]
    if not matches:
        raise WsmanFault(RESOURCE_NOT_FOUND)
    if len(matches) > 1:
        raise WsmanFault(AMBIGUOUS_SELECTORS,
                         f"{AMBIGUOUS_SELECTORS.message} {len(matches)} instances of "
                         f"{resource.classname} match; give more keys.")
    return matches[0]


def resolve_epr(call: Call, epr: EPR, namespace: str) -> CIMInstanceName:
    """The instance an EPR names (a subset of the keys will do, as for the target)."""
    selectors = epr.selectors
    if (epr.resource_uri or "").lower().startswith(xmlns.DMTF_PREFIX.lower()) and \
            not any(n.lower() == NAMESPACE_SELECTOR for n, _ in selectors):
        selectors = (*selectors, (NAMESPACE_SELECTOR, namespace))
    resource = resolve(epr.resource_uri, selectors, call.catalog)
    if resource.kind != "class":
        raise WsmanFault(INVALID_RESOURCE_URI, f"{INVALID_RESOURCE_URI.message} An endpoint "
                                               f"reference must name a class, not "
                                               f"{epr.resource_uri}.")
    return target_path(call, resource, selectors)


def _same(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, str) and isinstance(wanted, str):
        return actual.lower() == wanted.lower()
    return bool(actual == wanted)


def _child(element: Any, namespace: str, name: str) -> Any:
    return element.find(f"{{{namespace}}}{name}") if element is not None else None


def _int(element: Any, name: str, default: int) -> int:
    if element is None:
        return default
    try:
        value = int(text_of(element).strip())
    except ValueError:
        raise WsmanFault(INVALID_PARAMETER,
                         f"{INVALID_PARAMETER.message} {name} must be an integer.") from None
    if value < 1:
        raise WsmanFault(INVALID_PARAMETER,
                         f"{INVALID_PARAMETER.message} {name} must be at least 1.")
    return value


# --------------------------------------------------------------------------- transfer

CONFIG_BODY = (
    f'<cfg:Config xmlns:cfg="{xmlns.CONFIG}">'
    f"<cfg:MaxEnvelopeSizekb>{MAX_ENVELOPE_KB}</cfg:MaxEnvelopeSizekb>"
    f"<cfg:MaxTimeoutms>{MAX_TIMEOUT_MS}</cfg:MaxTimeoutms>"
    f"<cfg:MaxBatchItems>{MAX_BATCH_ITEMS}</cfg:MaxBatchItems>"
    "<cfg:MaxProviderRequests>4294967295</cfg:MaxProviderRequests>"
    "<cfg:Service><cfg:RootSDDL>O:NSG:BAD:P(A;;GA;;;BA)(A;;GR;;;IU)S:P(AU;FA;GA;;;WD)"
    "(AU;SA;GXGW;;;WD)</cfg:RootSDDL><cfg:MaxConcurrentOperations>4294967295"
    "</cfg:MaxConcurrentOperations><cfg:MaxConcurrentOperationsPerUser>1500"
    "</cfg:MaxConcurrentOperationsPerUser><cfg:EnumerationTimeoutms>240000"
    "</cfg:EnumerationTimeoutms><cfg:MaxConnections>300</cfg:MaxConnections>"
    "<cfg:MaxPacketRetrievalTimeSeconds>120</cfg:MaxPacketRetrievalTimeSeconds>"
    "<cfg:AllowUnencrypted>true</cfg:AllowUnencrypted><cfg:Auth><cfg:Basic>true</cfg:Basic>"
    "<cfg:Kerberos>false</cfg:Kerberos><cfg:Negotiate>true</cfg:Negotiate>"
    "<cfg:Certificate>false</cfg:Certificate><cfg:CredSSP>false</cfg:CredSSP>"
    "<cfg:CbtHardeningLevel>Relaxed</cfg:CbtHardeningLevel></cfg:Auth>"
    "<cfg:DefaultPorts><cfg:HTTP>5985</cfg:HTTP><cfg:HTTPS>5986</cfg:HTTPS></cfg:DefaultPorts>"
    "</cfg:Service></cfg:Config>"
)


def get(call: Call) -> Reply:
    resource = _resource(call)
    if resource.kind == "config":
        return "http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse", CONFIG_BODY
    if resource.kind != "class":
        raise WsmanFault(INVALID_RESOURCE_URI,
                         f"{INVALID_RESOURCE_URI.message} Get needs the resource URI of a class, "
                         f"not {resource.uri}.")
    assert resource.namespace is not None
    path = target_path(call, resource, call.request.selectors)
    result = call.dispatcher.get_instance(call.host, resource.namespace, path)
    return xmlns.GET + "Response", render.instance_xml(result)


def _representation(call: Call, resource: Resource) -> dict[str, str | None]:
    """Property values of the instance a Put or Create carries."""
    body = call.request.body
    if body is None:
        raise WsmanFault(INVALID_REPRESENTATION, f"{INVALID_REPRESENTATION.message} The body is "
                                                 "empty.")
    _, local = qname(body)
    if local.lower() != (resource.classname or "").lower():
        raise WsmanFault(INVALID_REPRESENTATION,
                         f"{INVALID_REPRESENTATION.message} Expected a {resource.classname} "
                         f"element, not {local}.")
    nil = f"{{{xmlns.XSI}}}nil"
    return {qname(child)[1]: None if child.get(nil) == "true" else text_of(child)
            for child in body}


def put(call: Call) -> Reply:
    resource = _resource(call)
    if resource.kind == "config":
        raise WsmanFault(ACTION_NOT_SUPPORTED, f"{ACTION_NOT_SUPPORTED.message} The WinRM "
                                               "configuration of this host is fixed.")
    resource = _class_resource(call, "Put")
    assert resource.namespace is not None and resource.classname is not None
    path = target_path(call, resource, call.request.selectors)
    values = _representation(call, resource)
    klass = call.catalog.get_class(resource.namespace, resource.classname)
    for name in values:
        if name not in klass.properties:
            raise WsmanFault(INVALID_REPRESENTATION,
                             f"{INVALID_REPRESENTATION.message} Class {klass.classname} has no "
                             f"property {name!r}.")
    call.dispatcher.refuse_instance_write(call.host, resource.namespace, "ModifyInstance",
                                          path=path)
    raise AssertionError("refuse_instance_write returned")  # pragma: no cover


def create(call: Call) -> Reply:
    resource = _class_resource(call, "Create")
    assert resource.namespace is not None and resource.classname is not None
    values = _representation(call, resource)
    instance = CIMInstance(resource.classname)
    for name, value in values.items():
        instance[name] = value
    call.dispatcher.refuse_instance_write(call.host, resource.namespace, "CreateInstance",
                                          instance=instance)
    raise AssertionError("refuse_instance_write returned")  # pragma: no cover


def delete(call: Call) -> Reply:
    resource = _class_resource(call, "Delete")
    assert resource.namespace is not None
    path = target_path(call, resource, call.request.selectors)
    call.dispatcher.refuse_instance_write(call.host, resource.namespace, "DeleteInstance",
                                          path=path)
    raise AssertionError("refuse_instance_write returned")  # pragma: no cover


# ------------------------------------------------------------------------ enumeration

def _filtered(call: Call, resource: Resource, filter_element: Any) -> list[InstanceResult]:
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
    selector_set = _child(filter_element, xmlns.WSMAN, "SelectorSet")
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
    associated = _child(filter_element, xmlns.CIM_BINDING, "AssociatedInstances")
    association = _child(filter_element, xmlns.CIM_BINDING, "AssociationInstances")
    spec = associated if associated is not None else association
    if spec is None:
        raise WsmanFault(CANNOT_PROCESS_FILTER,
                         f"{CANNOT_PROCESS_FILTER.message} An association filter holds "
                         "wsmb:AssociatedInstances or wsmb:AssociationInstances.")
    source_element = _child(spec, xmlns.CIM_BINDING, "Object")
    if source_element is None:
        raise WsmanFault(CANNOT_PROCESS_FILTER, f"{CANNOT_PROCESS_FILTER.message} The "
                                                "association filter has no wsmb:Object.")
    source = resolve_epr(call, parse_epr(source_element), namespace)

    def option(name: str) -> str | None:
        found = _child(spec, xmlns.CIM_BINDING, name)
        text = text_of(found).strip() if found is not None else ""
        return text or None

    if associated is not None:
        return call.dispatcher.associators(
            call.host, source.namespace or namespace, source,
            assoc_class=option("AssociationClassName"), result_class=option("ResultClassName"),
            role=option("Role"), result_role=option("ResultRole"))
    return call.dispatcher.references(call.host, source.namespace or namespace, source,
                                      result_class=option("ResultClassName"),
                                      role=option("Role"))


def _page_reply(call: Call, page: Page, context_id: str, response: str,
                items_tag: str) -> str:
    items = "".join(page.items)
    if page.end_of_sequence:
        context = "<n:EnumerationContext/>" if response == "EnumerateResponse" else ""
        end = f"<{items_tag[0]}:EndOfSequence/>"
    else:
        context = f"<n:EnumerationContext>{context_id}</n:EnumerationContext>"
        end = ""
    return (f"<n:{response}>{context}<{items_tag}>{items}</{items_tag}>{end}"
            f"</n:{response}>")


def enumerate_(call: Call) -> Reply:
    resource = _resource(call)
    if resource.kind == "config":
        raise WsmanFault(ACTION_NOT_SUPPORTED, f"{ACTION_NOT_SUPPORTED.message} The "
                                               "configuration resource cannot be enumerated.")
    body = call.request.body
    if body is None or qname(body) != (xmlns.ENUMERATION, "Enumerate"):
        raise WsmanFault(SCHEMA_VALIDATION, f"{SCHEMA_VALIDATION.message} The body of an "
                                            "Enumerate must be wsen:Enumerate.")
    for unsupported in ("Expires", "EndTo"):
        if _child(body, xmlns.ENUMERATION, unsupported) is not None:
            raise WsmanFault(UNSUPPORTED_FEATURE,
                             f"{UNSUPPORTED_FEATURE.message} ({unsupported} is not supported "
                             "for enumerations.)")
    mode_element = _child(body, xmlns.WSMAN, "EnumerationMode")
    mode = text_of(mode_element).strip().lower() if mode_element is not None else ""
    if mode not in MODES:
        raise WsmanFault(INVALID_PARAMETER, f"{INVALID_PARAMETER.message} EnumerationMode must "
                                            "be EnumerateEPR or EnumerateObjectAndEPR.")
    filter_element = _child(body, xmlns.WSMAN, "Filter")
    if filter_element is None:
        filter_element = _child(body, xmlns.ENUMERATION, "Filter")
    optimized = _child(body, xmlns.WSMAN, "OptimizeEnumeration") is not None
    max_elements = min(_int(_child(body, xmlns.WSMAN, "MaxElements"), "MaxElements",
                            DEFAULT_OPTIMIZED_ITEMS), MAX_BATCH_ITEMS)
    assert call.request.resource_uri is not None
    filter_key = None if filter_element is None else etree.tostring(filter_element, method="c14n")
    key = (call.host, resource.uri.lower(), resource.namespace, call.request.selectors,
           filter_key, mode)
    # Read the version before computing: a change racing with this request then makes the
    # cached listing look older than it is, never newer.
    version = call.dispatcher.world_version()
    items = call.listings.get(key, version) if call.listings is not None else None
    if items is None:
        with track_expiry() as expiry:
            # A CIM error while the filter runs is the filter's fault (faults.from_cim_error).
            call.filtering = filter_element is not None
            results = _filtered(call, resource, filter_element)
            call.filtering = False
            items = listing(results, mode)
        if call.listings is not None:
            call.listings.put(key, version, expiry[0], items)
    context = call.contexts.open(call.host, call.request.resource_uri, items)
    action = xmlns.ENUMERATE + "Response"
    if not optimized:
        return action, (f"<n:EnumerateResponse><n:EnumerationContext>{context.id}"
                        "</n:EnumerationContext></n:EnumerateResponse>")
    page = call.contexts.next_page(context, max_elements, call.max_envelope - PAGE_OVERHEAD)
    return action, _page_reply(call, page, context.id, "EnumerateResponse", "w:Items")


def _context_id(body: Any, operation: str) -> str:
    element = _child(body, xmlns.ENUMERATION, "EnumerationContext")
    if body is None or element is None or not text_of(element).strip():
        raise WsmanFault(SCHEMA_VALIDATION, f"{SCHEMA_VALIDATION.message} A {operation} needs "
                                            "a wsen:EnumerationContext.")
    return text_of(element).strip()


def pull(call: Call) -> Reply:
    body = call.request.body
    if body is None or qname(body) != (xmlns.ENUMERATION, "Pull"):
        raise WsmanFault(SCHEMA_VALIDATION, f"{SCHEMA_VALIDATION.message} The body of a Pull "
                                            "must be wsen:Pull.")
    context = call.contexts.find(_context_id(body, "Pull"), call.host)
    max_elements = min(_int(_child(body, xmlns.ENUMERATION, "MaxElements"), "MaxElements", 1),
                       MAX_BATCH_ITEMS)
    budget = call.max_envelope - PAGE_OVERHEAD
    max_characters = _child(body, xmlns.ENUMERATION, "MaxCharacters")
    if max_characters is not None:
        budget = min(budget, _int(max_characters, "MaxCharacters", budget))
    page = call.contexts.next_page(context, max_elements, budget)
    return xmlns.PULL + "Response", _page_reply(call, page, context.id, "PullResponse",
                                                "n:Items")


def release(call: Call) -> Reply:
    call.contexts.release(_context_id(call.request.body, "Release"), call.host)
    return xmlns.RELEASE + "Response", ""


# ----------------------------------------------------------------------------- invoke

def invoke(call: Call) -> Reply:
    resource = _class_resource(call, "Invoke")
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
    return_value, out_params = call.dispatcher.invoke_method(
        call.host, resource.namespace, target, method.name, params)
    body = methods.write_output(method, resource.classname, resource.namespace, call.host,
                                return_value, out_params)
    return f"{base}/{method.name}Response", body


OPERATIONS: dict[str, Callable[[Call], Reply]] = {
    xmlns.GET: get,
    xmlns.PUT: put,
    xmlns.CREATE: create,
    xmlns.DELETE: delete,
    xmlns.ENUMERATE: enumerate_,
    xmlns.PULL: pull,
    xmlns.RELEASE: release,
}
# WS-Transfer and WS-Enumeration actions that exist but that this service does not offer.
UNSUPPORTED = frozenset({xmlns.RENEW, xmlns.GET_STATUS,
                         "http://schemas.xmlsoap.org/ws/2004/08/eventing/Subscribe"})


def run(call: Call) -> Reply:
    action = call.request.action
    handler = OPERATIONS.get(action)
    if handler is not None:
        return handler(call)
    if action in UNSUPPORTED or action.startswith((xmlns.TRANSFER, xmlns.ENUMERATION)):
        _resource(call)
        raise WsmanFault(ACTION_NOT_SUPPORTED, f"{ACTION_NOT_SUPPORTED.message} ({action})")
    # Anything else is an extrinsic method (or a shell action, refused by the resource URI).
    return invoke(call)
