"""The request-log record of a WS-Management request (see emulator/transport/request_log.py).

The outcome is read back from the reply as it was before sealing: every fault, from
whichever layer, is written by faults.render, and a method's ReturnValue by methods.py, so
their shapes are fixed.
"""

from __future__ import annotations

import html
import re
from typing import Any

from emulator.transport.auth import Authenticator
from emulator.transport.request_log import (
    MAX_KEYS_CHARS,
    Exchange,
    RequestRecord,
    Scope,
    shorten,
)
from emulator.wsman import xmlns
from emulator.wsman.connection import connection_of
from emulator.wsman.envelope import Request, qname, text_of
from emulator.wsman.resources import NAMESPACE_SELECTOR

_ACTIONS = {xmlns.GET: "Get", xmlns.PUT: "Put", xmlns.CREATE: "Create",
            xmlns.DELETE: "Delete", xmlns.ENUMERATE: "Enumerate", xmlns.PULL: "Pull",
            xmlns.RELEASE: "Release", xmlns.RENEW: "Renew", xmlns.GET_STATUS: "GetStatus"}
_SUBCODE = re.compile(rb"<s:Subcode><s:Value>([^<]*)</s:Value>")
_REASON = re.compile(rb"<s:Reason><s:Text[^>]*>([^<]*)</s:Text>")
_WSMAN_CODE = re.compile(rb"<f:WSManFault [^>]*Code=\"(\d+)\"")
_CIM_STATUS = re.compile(rb"<p:CIMStatusCode[^>]*>(\d+)</p:CIMStatusCode>")
_RETURN_VALUE = re.compile(rb"<p:ReturnValue[^>]*>([^<]*)</p:ReturnValue>")


def describe(scope: Scope, exchange: Exchange, host: str, auth: Authenticator) -> RequestRecord:
    request = exchange.request if isinstance(exchange.request, Request) else None
    reply = exchange.reply or b""
    cim_status = wsman_code = None
    return_value = subcode = message = None
    if b"<s:Fault>" in reply:
        subcode = _text(_SUBCODE.search(reply))
        message = _text(_REASON.search(reply))
        wsman_code = _number(_WSMAN_CODE.search(reply))
        cim_status = _number(_CIM_STATUS.search(reply))
    elif request is not None and _operation(request).startswith("Invoke "):
        return_value = _text(_RETURN_VALUE.search(reply))
    client = scope.get("client")
    selectors = request.selectors if request is not None else ()
    return RequestRecord(
        protocol="ws-man", host=host,
        client=f"{client[0]}:{client[1]}" if client else None,
        user=_user(scope, auth),
        operation=_operation(request) if request is not None else exchange.operation,
        namespace=_namespace(request) if request is not None else None,
        target=request.resource_uri if request is not None else None,
        keys=shorten(",".join(f"{name}={value}" for name, value in selectors
                              if name.lower() != NAMESPACE_SELECTOR) or None, MAX_KEYS_CHARS),
        query=shorten(_filter(request)) if request is not None else None,
        http_status=exchange.status, cim_status=cim_status, return_value=return_value,
        fault_subcode=subcode, wsman_code=wsman_code, message=shorten(message),
        duration_ms=exchange.elapsed_ms())


def _operation(request: Request) -> str:
    if request.identify:
        return "Identify"
    name = _ACTIONS.get(request.action)
    if name is not None:
        return name
    return f"Invoke {request.action.rpartition('/')[2]}"


def _namespace(request: Request) -> str | None:
    for name, value in request.selectors:
        if name.lower() == NAMESPACE_SELECTOR:
            return str(value)
    uri = request.resource_uri or ""
    if uri.lower().startswith(xmlns.WMI_PREFIX.lower()):
        namespace = uri[len(xmlns.WMI_PREFIX):].rpartition("/")[0]
        return namespace or None
    return None


def _filter(request: Request) -> str | None:
    """An Enumerate's filter text (WQL, or a selector or association filter's own text)."""
    if request.action != xmlns.ENUMERATE or request.body is None:
        return None
    for element in request.body.iter():
        if isinstance(element.tag, str) and qname(element)[1] == "Filter":
            text: str = " ".join(text_of(element).split())
            return text or None
    return None


def _user(scope: Scope, auth: Authenticator) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == b"authorization":
            credentials = auth.credentials(value.decode("latin-1"))
            if credentials is not None:
                return credentials[0]
    connection = connection_of(scope)
    security: Any = connection.security if connection is not None else None
    user = getattr(security, "user", None)
    return user if isinstance(user, str) else None


def _text(match: re.Match[bytes] | None) -> str | None:
    return html.unescape(match.group(1).decode("utf-8", "replace")) if match else None


def _number(match: re.Match[bytes] | None) -> int | None:
    return int(match.group(1)) if match else None
