"""WS-Enumeration: Enumerate (optimized or not, in every EnumerationMode, filtered or not), Pull
and Release. Rendered listings are reused while the world is unchanged.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from emulator.core.results import track_expiry
from emulator.wsman import xmlns
from emulator.wsman.call import (
    DEFAULT_OPTIMIZED_ITEMS,
    MAX_BATCH_ITEMS,
    PAGE_OVERHEAD,
    Call,
    Reply,
    child,
    int_of,
    resource_of,
)
from emulator.wsman.enumeration import MODES, Page, listing
from emulator.wsman.envelope import qname, text_of
from emulator.wsman.faults import (
    ACTION_NOT_SUPPORTED,
    INVALID_PARAMETER,
    SCHEMA_VALIDATION,
    UNSUPPORTED_FEATURE,
    WsmanFault,
)
from emulator.wsman.filters import filtered


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
    body = call.request.body
    filter_element = child(body, xmlns.WSMAN, "Filter")
    if filter_element is None:
        filter_element = child(body, xmlns.ENUMERATION, "Filter")
    # A CIM error while the filter runs is the filter's fault (faults.from_cim_error); that
    # includes the namespace of the resource URI the filter runs in.
    call.filtering = filter_element is not None
    resource = resource_of(call)
    if resource.kind == "config":
        raise WsmanFault(ACTION_NOT_SUPPORTED, f"{ACTION_NOT_SUPPORTED.message} The "
                                               "configuration resource cannot be enumerated.")
    if body is None or qname(body) != (xmlns.ENUMERATION, "Enumerate"):
        raise WsmanFault(SCHEMA_VALIDATION, f"{SCHEMA_VALIDATION.message} The body of an "
                                            "Enumerate must be wsen:Enumerate.")
    for unsupported in ("Expires", "EndTo"):
        if child(body, xmlns.ENUMERATION, unsupported) is not None:
            raise WsmanFault(UNSUPPORTED_FEATURE,
                             f"{UNSUPPORTED_FEATURE.message} ({unsupported} is not supported "
                             "for enumerations.)")
    mode_element = child(body, xmlns.WSMAN, "EnumerationMode")
    mode = text_of(mode_element).strip().lower() if mode_element is not None else ""
    if mode not in MODES:
        raise WsmanFault(INVALID_PARAMETER, f"{INVALID_PARAMETER.message} EnumerationMode must "
                                            "be EnumerateEPR or EnumerateObjectAndEPR.")
    optimized = child(body, xmlns.WSMAN, "OptimizeEnumeration") is not None
    max_elements = min(int_of(child(body, xmlns.WSMAN, "MaxElements"), "MaxElements",
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
            results = filtered(call, resource, filter_element)
            items = listing(results, mode)
        if call.listings is not None:
            call.listings.put(key, version, expiry[0], items)
    call.filtering = False
    context = call.contexts.open(call.host, call.request.resource_uri, items)
    action = xmlns.ENUMERATE + "Response"
    if not optimized:
        return action, (f"<n:EnumerateResponse><n:EnumerationContext>{context.id}"
                        "</n:EnumerationContext></n:EnumerateResponse>")
    page = call.contexts.next_page(context, max_elements, call.max_envelope - PAGE_OVERHEAD)
    return action, _page_reply(call, page, context.id, "EnumerateResponse", "w:Items")


def _context_id(body: Any, operation: str) -> str:
    element = child(body, xmlns.ENUMERATION, "EnumerationContext")
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
    max_elements = min(int_of(child(body, xmlns.ENUMERATION, "MaxElements"), "MaxElements", 1),
                       MAX_BATCH_ITEMS)
    budget = call.max_envelope - PAGE_OVERHEAD
    max_characters = child(body, xmlns.ENUMERATION, "MaxCharacters")
    if max_characters is not None:
        budget = min(budget, int_of(max_characters, "MaxCharacters", budget))
    page = call.contexts.next_page(context, max_elements, budget)
    return xmlns.PULL + "Response", _page_reply(call, page, context.id, "PullResponse",
                                                "n:Items")


def release(call: Call) -> Reply:
    call.contexts.release(_context_id(call.request.body, "Release"), call.host)
    return xmlns.RELEASE + "Response", ""


