"""Parse a SOAP 1.2 WS-Management request envelope safely into a `Request`.

Hostile input is refused before anything runs: DTDs (and with them entity declarations) are
refused outright, entities are never expanded, libxml2's default depth and size limits stay on,
and the caller has already bounded the body's size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from emulator.wsman import xmlns
from emulator.wsman.faults import (
    DUPLICATE_SELECTORS,
    HEADER_REQUIRED,
    INVALID_HEADER,
    INVALID_XML,
    MUST_UNDERSTAND,
    SCHEMA_VALIDATION,
    VERSION_MISMATCH,
    WsmanFault,
)

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
MAX_SELECTORS = 64
MAX_EPR_DEPTH = 4
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")
_DOCTYPE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# Headers this service understands; any other with mustUnderstand="true" is refused.
_KNOWN_HEADERS = frozenset({
    (xmlns.ADDRESSING, "Action"), (xmlns.ADDRESSING, "To"), (xmlns.ADDRESSING, "MessageID"),
    (xmlns.ADDRESSING, "ReplyTo"), (xmlns.ADDRESSING, "FaultTo"),
    (xmlns.ADDRESSING, "RelatesTo"), (xmlns.WSMAN, "ResourceURI"),
    (xmlns.WSMAN, "SelectorSet"), (xmlns.WSMAN, "OptionSet"), (xmlns.WSMAN, "MaxEnvelopeSize"),
    (xmlns.WSMAN, "OperationTimeout"), (xmlns.WSMAN, "Locale"), (xmlns.WSMAN_MS, "DataLocale"),
    (xmlns.WSMAN_MS, "SessionId"), (xmlns.WSMAN_MS, "OperationID"),
    (xmlns.WSMAN_MS, "SequenceId"), (xmlns.WSMAN, "RequestEPR"),
})

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          dtd_validation=False, huge_tree=False, remove_comments=True,
                          remove_pis=True, collect_ids=False)


@dataclass(frozen=True)
class EPR:
    """An endpoint reference: a resource URI and its selectors."""

    resource_uri: str | None
    selectors: tuple[tuple[str, Any], ...]  # values are str or EPR


@dataclass
class Request:
    action: str
    message_id: str | None
    resource_uri: str | None
    to: str | None = None
    selectors: tuple[tuple[str, Any], ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    max_envelope_size: int | None = None
    operation_timeout: float | None = None  # seconds
    body: Any = None  # the first element child of s:Body, or None
    identify: bool = False


def qname(element: Any) -> tuple[str, str]:
    q = etree.QName(element)
    return q.namespace or "", q.localname


def text_of(element: Any) -> str:
    return "".join(element.itertext())


def parse_xml(data: bytes) -> Any:
    if _DOCTYPE.search(data):
        raise WsmanFault(INVALID_XML, "The WS-Management service cannot process the request "
                                      "because the XML is invalid: a DTD is not allowed.")
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as error:
        raise WsmanFault(INVALID_XML, f"{INVALID_XML.message} {error}") from None
    if root.getroottree().docinfo.doctype:
        raise WsmanFault(INVALID_XML, "The WS-Management service cannot process the request "
                                      "because the XML is invalid: a DTD is not allowed.")
    return root


def parse_duration(text: str) -> float:
    match = _DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT"):
        raise ValueError(f"{text!r} is not an xs:duration")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def _must_understand(element: Any) -> bool:
    value = element.get(f"{{{xmlns.SOAP}}}mustUnderstand", element.get("mustUnderstand"))
    return value is not None and value.strip().lower() in ("true", "1")


def parse_selector_set(element: Any, depth: int = 0) -> tuple[tuple[str, Any], ...]:
    selectors: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for child in element:
        if qname(child) != (xmlns.WSMAN, "Selector"):
            raise WsmanFault(SCHEMA_VALIDATION, "a SelectorSet may hold only Selector elements")
        name = child.get("Name")
        if not name:
            raise WsmanFault(SCHEMA_VALIDATION, "a Selector needs a Name attribute")
        if name.lower() in seen:
            raise WsmanFault(DUPLICATE_SELECTORS, f"{DUPLICATE_SELECTORS.message} ({name})")
        seen.add(name.lower())
        nested = [c for c in child if qname(c) == (xmlns.ADDRESSING, "EndpointReference")]
        if nested:
            selectors.append((name, parse_epr(nested[0], depth + 1)))
        else:
            selectors.append((name, text_of(child)))
        if len(selectors) > MAX_SELECTORS:
            raise WsmanFault(SCHEMA_VALIDATION, "too many selectors")
    return tuple(selectors)


def parse_epr(element: Any, depth: int = 0) -> EPR:
    """An EPR's content (wsa:Address + wsa:ReferenceParameters), or an EndpointReference."""
    if depth > MAX_EPR_DEPTH:
        raise WsmanFault(SCHEMA_VALIDATION, "endpoint references are nested too deeply")
    params = element.find(f"{{{xmlns.ADDRESSING}}}ReferenceParameters")
    holder = params if params is not None else element
    uri_element = holder.find(f"{{{xmlns.WSMAN}}}ResourceURI")
    selector_set = holder.find(f"{{{xmlns.WSMAN}}}SelectorSet")
    if uri_element is None and selector_set is None:
        raise WsmanFault(SCHEMA_VALIDATION, "an endpoint reference needs "
                                            "wsa:ReferenceParameters with a ResourceURI and "
                                            "a SelectorSet")
    return EPR(text_of(uri_element).strip() if uri_element is not None else None,
               parse_selector_set(selector_set, depth) if selector_set is not None else ())


def is_epr(element: Any) -> bool:
    return any(qname(c) in ((xmlns.ADDRESSING, "ReferenceParameters"),
                            (xmlns.ADDRESSING, "Address")) for c in element)


def parse_request(data: bytes) -> Request:
    root = parse_xml(data)
    namespace, local = qname(root)
    if local == "Envelope" and namespace == SOAP11:
        raise WsmanFault(VERSION_MISMATCH)
    if (namespace, local) != (xmlns.SOAP, "Envelope"):
        raise WsmanFault(SCHEMA_VALIDATION, "the request is not a SOAP 1.2 Envelope")
    header = root.find(f"{{{xmlns.SOAP}}}Header")
    body = root.find(f"{{{xmlns.SOAP}}}Body")
    if body is None:
        raise WsmanFault(SCHEMA_VALIDATION, "the SOAP Envelope has no Body")
    payload = body[0] if len(body) else None
    if payload is not None and qname(payload) == (xmlns.IDENTITY, "Identify"):
        # Identify travels with an empty header (DSP0226 §11).
        return Request(action="Identify", message_id=None, resource_uri=None, body=payload,
                       identify=True)
    if header is None:
        raise WsmanFault(HEADER_REQUIRED, f"{HEADER_REQUIRED.message} (no SOAP Header)")
    request = Request(action="", message_id=None, resource_uri=None, body=payload)
    for element in header:
        key = qname(element)
        if key not in _KNOWN_HEADERS:
            if _must_understand(element):
                raise WsmanFault(MUST_UNDERSTAND, f"{MUST_UNDERSTAND.message} "
                                                  f"(header {{{key[0]}}}{key[1]})")
            continue
        _read_header(request, key[1], element)
    if not request.action:
        raise WsmanFault(HEADER_REQUIRED, f"{HEADER_REQUIRED.message} (wsa:Action is missing)")
    if not request.message_id:
        raise WsmanFault(HEADER_REQUIRED,
                         f"{HEADER_REQUIRED.message} (wsa:MessageID is missing)")
    return request


def _read_header(request: Request, name: str, element: Any) -> None:
    if name == "Action":
        request.action = text_of(element).strip()
    elif name == "MessageID":
        request.message_id = text_of(element).strip()
    elif name == "To":
        request.to = text_of(element).strip()
    elif name == "ResourceURI":
        request.resource_uri = text_of(element).strip()
    elif name == "SelectorSet":
        request.selectors = parse_selector_set(element)
    elif name == "OptionSet":
        for option in element:
            if qname(option) == (xmlns.WSMAN, "Option") and option.get("Name"):
                request.options[option.get("Name")] = text_of(option)
    elif name == "MaxEnvelopeSize":
        try:
            request.max_envelope_size = int(text_of(element).strip())
        except ValueError:
            raise WsmanFault(INVALID_HEADER, f"{INVALID_HEADER.message} (MaxEnvelopeSize "
                                             "must be an integer)") from None
    elif name == "OperationTimeout":
        try:
            request.operation_timeout = parse_duration(text_of(element))
        except ValueError as error:
            raise WsmanFault(INVALID_HEADER,
                             f"{INVALID_HEADER.message} (OperationTimeout: {error})") from None
