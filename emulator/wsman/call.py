"""What every WS-Management operation works with: the call, WinRM's limits, and the resolution
of resource URIs, selectors and EPRs to CIM paths (a subset of the keys names an instance when
exactly one instance matches, as the captured clients expect).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pywbem import CIMInstanceName

from emulator.core.catalog import Catalog
from emulator.core.dispatch import Dispatcher
from emulator.wsman import xmlns
from emulator.wsman.cache import ListingCache
from emulator.wsman.enumeration import Contexts
from emulator.wsman.envelope import EPR, Request, text_of
from emulator.wsman.faults import (
    AMBIGUOUS_SELECTORS,
    INSUFFICIENT_SELECTORS,
    INVALID_PARAMETER,
    INVALID_RESOURCE_URI,
    MAX_ENVELOPE_SIZE,
    RESOURCE_NOT_FOUND,
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


@dataclass
class Call:
    dispatcher: Dispatcher
    contexts: Contexts
    host: str
    request: Request
    max_envelope: int
    filtering: bool = False
    listings: ListingCache | None = None
    # The server's MaxEnvelopeSizekb (WinRM's winrm/config setting), as the config resource shows.
    max_envelope_kb: int = MAX_ENVELOPE_KB

    @property
    def catalog(self) -> Catalog:
        return self.dispatcher.catalog


Reply = tuple[str, str]  # (action, body XML)


def check_limits(request: Request, max_envelope_kb: int = MAX_ENVELOPE_KB) -> int:
    """MaxEnvelopeSize and OperationTimeout as WinRM enforces them; the reply size limit.

    `max_envelope_kb` is the server's MaxEnvelopeSizekb: the most a request may ask for, and
    the limit of a reply whose request names none."""
    limit = max_envelope_kb * 1024
    size = request.max_envelope_size
    if size is not None and not MIN_ENVELOPE_BYTES <= size <= limit:
        raise WsmanFault(MAX_ENVELOPE_SIZE,
                         f"{MAX_ENVELOPE_SIZE.message} MaxEnvelopeSize must be between "
                         f"{MIN_ENVELOPE_BYTES} and {limit} bytes (MaxEnvelopeSizekb "
                         f"is {max_envelope_kb}), not {size}.")
    timeout = request.operation_timeout
    if timeout is not None and not 0 < timeout * 1000 <= MAX_TIMEOUT_MS:
        raise WsmanFault(UNSUPPORTED_TIMEOUT,
                         f"{UNSUPPORTED_TIMEOUT.message} OperationTimeout must be more than 0 "
                         f"and at most MaxTimeoutms ({MAX_TIMEOUT_MS} ms), not "
                         f"{timeout * 1000:g} ms.")
    return size or limit


def resource_of(call: Call) -> Resource:
    return resolve(call.request.resource_uri, call.request.selectors, call.catalog)


def class_resource(call: Call, operation: str) -> Resource:
    resource = resource_of(call)
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


def child(element: Any, namespace: str, name: str) -> Any:
    return element.find(f"{{{namespace}}}{name}") if element is not None else None


def int_of(element: Any, name: str, default: int) -> int:
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


