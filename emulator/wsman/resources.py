"""Resource URIs and selectors ↔ CIM namespaces, classes and instance paths.

WinRM's two URI forms for WMI classes:
  http://schemas.microsoft.com/wbem/wsman/1/wmi/<namespace>/<Class>   (namespace in the path)
  http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/<Class>            (+ __cimnamespace selector)
and the enumeration-only wildcards `.../wmi/<namespace>/*` and `http://schemas.dmtf.org/wbem/
wscim/1/*`. Replies always name classes in the WMI form.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from pywbem import CIM_ERR_INVALID_NAMESPACE, CIMError, CIMInstanceName

from emulator.core.catalog import Catalog
from emulator.wsman import xmlns
from emulator.wsman.envelope import EPR
from emulator.wsman.faults import (
    INSUFFICIENT_SELECTORS,
    INVALID_RESOURCE_URI,
    INVALID_SELECTORS,
    SELECTOR_TYPE_MISMATCH,
    FaultKind,
    WsmanFault,
)

NAMESPACE_SELECTOR = "__cimnamespace"
DEFAULT_DMTF_NAMESPACE = "root/cimv2"
INTEGER_TYPES = frozenset(("uint8", "uint16", "uint32", "uint64", "sint8", "sint16", "sint32",
                           "sint64"))
# Shell and PowerShell endpoints answer as on a host where those plugins are not registered.
SHELL_NOT_REGISTERED = FaultKind(
    "s:Sender", "a:DestinationUnreachable", 0x80338000,
    "The WS-Management service cannot process the request.", action=xmlns.ADDRESSING_FAULT,
    detail="http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidResourceURI")


@dataclass(frozen=True)
class Resource:
    uri: str
    kind: str  # "class", "wildcard" or "config"
    namespace: str | None = None
    classname: str | None = None


def class_uri(namespace: str, classname: str) -> str:
    return f"{xmlns.WMI_PREFIX}{namespace}/{classname}"


def resolve(uri: str | None, selectors: tuple[tuple[str, Any], ...],
            catalog: Catalog) -> Resource:
    """Map a ResourceURI (and its __cimnamespace selector) to what it names."""
    if not uri:
        raise WsmanFault(INVALID_RESOURCE_URI, "The WS-Management service cannot process the "
                                               "request. The resource URI is missing.")
    lowered = uri.lower()
    if lowered.rstrip("/") == xmlns.CONFIG.lower():
        return Resource(uri, "config")
    if lowered.startswith(xmlns.SHELL_PREFIX.lower()) or \
            lowered.startswith(xmlns.POWERSHELL_PREFIX.lower()):
        raise WsmanFault(SHELL_NOT_REGISTERED,
                         f"The WS-Management service cannot process the request. The resource "
                         f"URI ({uri}) was not found in the WS-Management catalog. The catalog "
                         "contains the metadata that describes resources, or logical "
                         "endpoints.")
    if lowered.startswith(xmlns.WMI_PREFIX.lower()):
        rest = uri[len(xmlns.WMI_PREFIX):]
        namespace_text, _, classname = rest.rpartition("/")
        namespace = _namespace(namespace_text, uri, catalog)
        if selector_value(selectors, NAMESPACE_SELECTOR) not in (None, ""):
            given = _namespace(str(selector_value(selectors, NAMESPACE_SELECTOR)), uri, catalog)
            if given.lower() != namespace.lower():
                raise WsmanFault(INVALID_SELECTORS,
                                 f"{INVALID_SELECTORS.message} The __cimnamespace selector "
                                 f"({given}) does not match the namespace of the resource URI "
                                 f"({namespace}).")
        if classname == "*":
            return Resource(uri, "wildcard", namespace)
        return Resource(uri, "class", namespace, _classname(classname, namespace, uri, catalog))
    if lowered in (xmlns.DMTF_WILDCARD.lower(), xmlns.DMTF_PREFIX.lower() + "*"):
        return Resource(uri, "wildcard", _dmtf_namespace(selectors, uri, catalog))
    if lowered.startswith(xmlns.DMTF_PREFIX.lower()):
        namespace = _dmtf_namespace(selectors, uri, catalog)
        classname = uri[len(xmlns.DMTF_PREFIX):]
        return Resource(uri, "class", namespace, _classname(classname, namespace, uri, catalog))
    raise WsmanFault(INVALID_RESOURCE_URI,
                     f"The WS-Management service cannot process the request. The resource URI "
                     f"({uri}) was not found in the WS-Management catalog. The catalog contains "
                     "the metadata that describes resources, or logical endpoints.")


def _dmtf_namespace(selectors: tuple[tuple[str, Any], ...], uri: str, catalog: Catalog) -> str:
    given = selector_value(selectors, NAMESPACE_SELECTOR)
    return _namespace(str(given) if given else DEFAULT_DMTF_NAMESPACE, uri, catalog)


def _namespace(text: str, uri: str, catalog: Catalog) -> str:
    served = catalog.canonical_namespace(text) if text else None
    if served is None:
        # WMI's own error, translated in faults.from_cim_error: a namespace Hyper-V retired
        # (root/virtualization, v1) is a WMI error to the clients that probe it, not a URI error.
        raise CIMError(CIM_ERR_INVALID_NAMESPACE,
                       f"The WMI namespace {text or '(none)'!r} of resource URI {uri} does not "
                       f"exist on this host; it serves {', '.join(catalog.namespaces)}.")
    return served


def _classname(name: str, namespace: str, uri: str, catalog: Catalog) -> str:
    if not name or not catalog.has_class(namespace, name):
        raise WsmanFault(INVALID_RESOURCE_URI,
                         f"The WS-Management service cannot process the request. The class "
                         f"{name or '(none)'!r} of resource URI {uri} does not exist in "
                         f"namespace {namespace}.")
    return str(catalog.get_class(namespace, name).classname)


def selector_value(selectors: tuple[tuple[str, Any], ...], name: str) -> Any:
    for key, value in selectors:
        if key.lower() == name.lower():
            return value
    return None


@lru_cache(maxsize=1024)
def _key_types(catalog: Catalog, namespace: str, classname: str) -> tuple[tuple[str, str], ...]:
    klass = catalog.get_class(namespace, classname)
    return tuple((name, klass.properties[name].type)
                 for name in catalog.key_names(namespace, classname))


def instance_path(resource: Resource, selectors: tuple[tuple[str, Any], ...],
                  catalog: Catalog, *, partial: bool = False) -> CIMInstanceName:
    """The instance path the selectors name; with partial=True missing keys are allowed."""
    assert resource.namespace is not None and resource.classname is not None
    keys = _key_types(catalog, resource.namespace, resource.classname)
    wanted = {name.lower(): (name, cim_type) for name, cim_type in keys}
    bindings: dict[str, Any] = {}
    for name, value in selectors:
        if name.lower() == NAMESPACE_SELECTOR:
            continue
        if name.lower() not in wanted:
            raise WsmanFault(INVALID_SELECTORS,
                             f"{INVALID_SELECTORS.message} {name!r} is not a key of "
                             f"{resource.classname}; its keys are "
                             f"{', '.join(n for n, _ in keys) or '(none)'}.")
        key_name, cim_type = wanted[name.lower()]
        bindings[key_name] = _typed(value, cim_type, key_name, catalog, resource.namespace)
    missing = [n for n, _ in keys if n not in bindings]
    if missing and not partial:
        raise WsmanFault(INSUFFICIENT_SELECTORS,
                         f"{INSUFFICIENT_SELECTORS.message} Missing: {', '.join(missing)}.")
    return CIMInstanceName(resource.classname, keybindings=bindings,
                           namespace=resource.namespace)


def epr_path(epr: EPR, catalog: Catalog, default_namespace: str,
             *, partial: bool = False) -> CIMInstanceName:
    """The instance path of an endpoint reference."""
    selectors = epr.selectors
    uri = epr.resource_uri
    if not uri:
        raise WsmanFault(INVALID_RESOURCE_URI, "an endpoint reference has no ResourceURI")
    if uri.lower().startswith(xmlns.DMTF_PREFIX.lower()) and \
            selector_value(selectors, NAMESPACE_SELECTOR) is None:
        selectors = (*selectors, (NAMESPACE_SELECTOR, default_namespace))
    resource = resolve(uri, selectors, catalog)
    if resource.kind != "class":
        raise WsmanFault(INVALID_RESOURCE_URI,
                         f"an endpoint reference must name a class, not {uri}")
    return instance_path(resource, selectors, catalog, partial=partial)


def _typed(value: Any, cim_type: str, name: str, catalog: Catalog, namespace: str) -> Any:
    if isinstance(value, EPR):
        if cim_type != "reference":
            raise WsmanFault(SELECTOR_TYPE_MISMATCH,
                             f"{SELECTOR_TYPE_MISMATCH.message} {name} is a {cim_type}, "
                             "not a reference.")
        return epr_path(value, catalog, namespace)
    text = str(value)
    if cim_type in INTEGER_TYPES:
        try:
            return int(text.strip())
        except ValueError:
            raise WsmanFault(SELECTOR_TYPE_MISMATCH,
                             f"{SELECTOR_TYPE_MISMATCH.message} {name} must be a {cim_type}, "
                             f"not {text!r}.") from None
    if cim_type == "boolean":
        if text.strip().lower() not in ("true", "false"):
            raise WsmanFault(SELECTOR_TYPE_MISMATCH,
                             f"{SELECTOR_TYPE_MISMATCH.message} {name} must be true or false.")
        return text.strip().lower() == "true"
    if cim_type == "reference":
        raise WsmanFault(SELECTOR_TYPE_MISMATCH,
                         f"{SELECTOR_TYPE_MISMATCH.message} {name} is a reference: give an "
                         "EndpointReference.")
    return text


def _selector_text(value: Any, host: str, namespace: str) -> str:
    if isinstance(value, CIMInstanceName):
        return (f'<a:EndpointReference xmlns:a="{xmlns.ADDRESSING}">'
                f"{epr_xml(value, host, namespace)}</a:EndpointReference>")
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def epr_xml(path: CIMInstanceName, host: str, namespace: str) -> str:
    """The content of an EPR for `path`, each element declaring its own prefixes.

    Self-contained on purpose: wsl copies the SelectorSet lines of a reply verbatim into its
    next request.
    """
    ns = path.namespace or namespace
    selectors = "".join(
        f"<w:Selector Name={quoteattr(name)}>{_selector_text(value, host, ns)}</w:Selector>"
        for name, value in path.keybindings.items())
    return (f'<a:Address xmlns:a="{xmlns.ADDRESSING}">{xmlns.ANONYMOUS}</a:Address>'
            f'<a:ReferenceParameters xmlns:a="{xmlns.ADDRESSING}" xmlns:w="{xmlns.WSMAN}">'
            f"<w:ResourceURI>{class_uri(ns, path.classname)}</w:ResourceURI>"
            f'<w:SelectorSet xmlns:w="{xmlns.WSMAN}">{selectors}'
            f'<w:Selector Name="{NAMESPACE_SELECTOR}">{escape(ns)}</w:Selector>'
            f"</w:SelectorSet></a:ReferenceParameters>")
