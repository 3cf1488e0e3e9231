"""Decode a CIM-XML request (DSP0200 headers, DSP0201 body) with pywbem's parser.

Two error levels, as DSP0200 defines them: a request that is not a well-formed, valid CIM-XML
message gets an HTTP error with a `CIMError` header (`CimXmlHttpError`); a valid message whose
operation fails gets an in-band `<ERROR>` (a `pywbem.CIMError` raised later).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nocasedict import NocaseDict
from pywbem import CIMClassName, CIMInstanceName, Error
from pywbem._tupleparse import TupleParser
from pywbem._tupletree import xml_to_tupletree_sax

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_DETAIL_CHARS = 1024
# A DTD may declare entities; CIM-XML needs none, so any DOCTYPE is refused before parsing.
_DOCTYPE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class CimXmlHttpError(Exception):
    """A request rejected at the HTTP level: status code plus DSP0200 CIMError header value."""

    def __init__(self, status: int, cim_error: str, detail: str) -> None:
        # Parser messages can quote a request at length; the reply needs only the start.
        if len(detail) > MAX_DETAIL_CHARS:
            detail = detail[:MAX_DETAIL_CHARS] + "..."
        super().__init__(detail)
        self.status = status
        self.cim_error = cim_error
        self.detail = detail


@dataclass
class CimRequest:
    message_id: str
    intrinsic: bool
    name: str
    namespace: str
    params: NocaseDict = field(default_factory=NocaseDict)
    # Extrinsic calls: the target object; params map name → (paramtype, value).
    target: CIMInstanceName | CIMClassName | None = None
    param_types: dict[str, str | None] = field(default_factory=dict)


def check_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    """DSP0200 §7 checks; returns (CIMMethod, CIMObject) header values."""
    content_type = headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in ("application/xml", "text/xml"):
        raise CimXmlHttpError(400, "request-not-valid",
                              f"Content-Type must be application/xml or text/xml, "
                              f"not {content_type!r}")
    charset = re.search(r"charset\s*=\s*\"?([\w-]+)", content_type, re.IGNORECASE)
    if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
        raise CimXmlHttpError(400, "request-not-valid", "only the utf-8 charset is supported")
    operation = headers.get("cimoperation")
    if operation is None or operation.strip().lower() != "methodcall":
        raise CimXmlHttpError(400, "request-not-valid",
                              "the CIMOperation header must be 'MethodCall'")
    protocol = headers.get("cimprotocolversion")
    if protocol is not None and not protocol.strip().startswith("1."):
        raise CimXmlHttpError(501, "unsupported-protocol-version",
                              f"CIMProtocolVersion {protocol!r} is not supported; use 1.x")
    method = headers.get("cimmethod")
    if not method:
        raise CimXmlHttpError(400, "header-mismatch", "the CIMMethod header is missing")
    cim_object = urllib.parse.unquote(headers.get("cimobject", ""))
    return urllib.parse.unquote(method).strip(), cim_object.strip()


def decode(body: bytes, cim_method: str, cim_object: str) -> CimRequest:
    if len(body) > MAX_BODY_BYTES:
        raise CimXmlHttpError(413, "request-not-valid",
                              f"request body exceeds {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CimXmlHttpError(400, "request-not-well-formed",
                              f"request body is not UTF-8: {error}") from None
    if _DOCTYPE.search(text):
        raise CimXmlHttpError(400, "request-not-well-formed",
                              "DTDs and entity declarations are not accepted")
    parser = TupleParser()
    try:
        tree = xml_to_tupletree_sax(body, "CIM-XML request")
        _cim, _attrs, message = parser.parse_cim(tree)
        _name, message_attrs, simplereq = message
        if _name != "MESSAGE" or simplereq[0] != "SIMPLEREQ":
            raise CimXmlHttpError(501, "multiple-requests-unsupported",
                                  "only SIMPLEREQ messages are supported")
        call = simplereq[2]
    except CimXmlHttpError:
        raise
    except Error as error:
        raise CimXmlHttpError(400, "request-not-well-formed", _first_line(str(error))) from None
    except LookupError as error:
        # expat looks up the encoding an XML declaration names; an unknown one lands here.
        raise CimXmlHttpError(400, "request-not-well-formed", f"bad XML declaration: {error}") \
            from None
    except (ValueError, TypeError, IndexError, AttributeError, RecursionError) as error:
        raise CimXmlHttpError(400, "request-not-valid",
                              f"not a valid CIM-XML request: {error}") from None
    message_id = message_attrs.get("ID", "")
    kind = call[0]
    name = call[1].get("NAME", "")
    if name.lower() != cim_method.lower():
        raise CimXmlHttpError(400, "header-mismatch",
                              f"CIMMethod header {cim_method!r} does not match {kind} "
                              f"NAME {name!r}")
    if kind == "IMETHODCALL":
        namespace = call[2]
        if cim_object and cim_object.strip("/").lower() != namespace.strip("/").lower():
            raise CimXmlHttpError(400, "header-mismatch",
                                  f"CIMObject header {cim_object!r} does not match namespace "
                                  f"{namespace!r}")
        params = NocaseDict()
        for param_name, value in call[3]:
            if param_name in params:
                raise CimXmlHttpError(400, "request-not-valid",
                                      f"parameter {param_name} appears twice")
            params[param_name] = value
        return CimRequest(message_id, True, name, namespace, params)
    path = call[2]
    target: Any = path
    if isinstance(path, CIMInstanceName | CIMClassName):
        namespace = path.namespace or ""
    else:
        raise CimXmlHttpError(400, "request-not-valid", "METHODCALL needs a local path")
    params = NocaseDict()
    types: dict[str, str | None] = {}
    for param_name, param_type, value in call[3]:
        if param_name in params:
            raise CimXmlHttpError(400, "request-not-valid",
                                  f"parameter {param_name} appears twice")
        params[param_name] = value
        types[param_name.lower()] = param_type
    return CimRequest(message_id, False, name, namespace, params, target, types)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "malformed XML"
