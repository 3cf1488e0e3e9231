"""The request-log record of a WS-Management request (see emulator/transport/request_log.py).

The outcome is read back from the reply as it was before sealing: every fault, from
whichever layer, is written by faults.render, and a method's ReturnValue by methods.py, so
their shapes are fixed.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from emulator.transport.auth import Authenticator
from emulator.transport.request_log import (
    MAX_KEYS_CHARS,
    Exchange,
    RequestRecord,
    Scope,
    body_text,
    header_value,
    redact_params,
    shorten,
)
from emulator.wsman import xmlns
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
# Job instances and enumeration contexts are looked for in this much of a reply.
OBSERVED_BYTES = 256 * 1024
_JOB_INSTANCE = re.compile(rb"<p:(\w+) [^>]*>(.*?)</p:\1>", re.DOTALL)
_JOB_PROPERTY = re.compile(rb"<p:(InstanceID|JobState|ErrorCode|Cancellable)>([^<]*)</p:\1>")
_JOB_OUTPUT = re.compile(rb"<p:Job>.*?<w:Selector Name=\"InstanceID\">([^<]*)</w:Selector>",
                         re.DOTALL)
_CONTEXT = re.compile(rb"<n:EnumerationContext>([^<]+)</n:EnumerationContext>")
# Headers a replayed request must carry again (its body is the unsealed one).
REPLAY_HEADERS = ("content-type",)


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
    body, complete = body_text(exchange.body)
    return RequestRecord(
        protocol="ws-man", host=host,
        client=f"{client[0]}:{client[1]}" if client else None,
        user=_user(scope, exchange, auth),
        operation=_operation(request) if request is not None else exchange.operation,
        namespace=_namespace(request) if request is not None else None,
        target=request.resource_uri if request is not None else None,
        keys=shorten(",".join(f"{name}={value}" for name, value in selectors
                              if name.lower() != NAMESPACE_SELECTOR) or None, MAX_KEYS_CHARS),
        query=shorten(_filter(request)) if request is not None else None,
        http_status=exchange.status, cim_status=cim_status, return_value=return_value,
        fault_subcode=subcode, wsman_code=wsman_code, message=shorten(message),
        duration_ms=exchange.elapsed_ms(), user_agent=header_value(scope, b"user-agent"),
        params=redact_params(_params(request)) if request is not None else {},
        observed=observed(reply) if exchange.status == 200 else {},
        body=body, body_complete=complete,
        # The body kept is the unsealed one: a replay sends it as plain SOAP.
        headers={"content-type": "application/soap+xml;charset=UTF-8"} if body else {})


def observed(reply: bytes) -> dict[str, Any]:
    """Job instances, the job a method started and an enumeration context in the reply."""
    facts: dict[str, Any] = {}
    head = reply[:OBSERVED_BYTES]
    if b"<p:JobState>" in head:
        jobs = []
        for match in _JOB_INSTANCE.finditer(head):
            values = {name.decode(): html.unescape(value.decode())
                      for name, value in _JOB_PROPERTY.findall(match.group(2))}
            if "JobState" in values and values.get("InstanceID"):
                jobs.append({"class": match.group(1).decode(), **values})
        if jobs:
            facts["jobs"] = jobs
    job = _JOB_OUTPUT.search(head)
    if job:
        facts["job"] = html.unescape(job.group(1).decode())
    context = _CONTEXT.search(head)
    if context:
        facts["context"] = html.unescape(context.group(1).decode())
    if b":EndOfSequence" in head:
        facts["end"] = True
    return facts


def _params(request: Request) -> dict[str, str]:
    """WS-Man options and the body's parameters (method inputs, enumeration settings)."""
    params: dict[str, str] = {}
    if request.max_envelope_size is not None:
        params["MaxEnvelopeSize"] = str(request.max_envelope_size)
    if request.operation_timeout is not None:
        params["OperationTimeout"] = f"{request.operation_timeout:g}"
    params.update({f"Option.{name}": value for name, value in request.options.items()})
    if request.body is None:
        return params
    values: dict[str, list[str]] = {}
    for child in request.body:
        if not isinstance(child.tag, str):
            continue
        name = qname(child)[1]
        values.setdefault(name, []).append(_element_text(child))
    for name, texts in values.items():
        params[name] = texts[0] if len(texts) == 1 else json.dumps(texts, ensure_ascii=False)
    return params


def _element_text(element: Any) -> str:
    """A leaf's text; an endpoint reference as its selectors."""
    if len(element) == 0:
        return text_of(element)
    selectors = [f"{s.get('Name')}={text_of(s)}" for s in element.iter()
                 if isinstance(s.tag, str) and qname(s)[1] == "Selector"]
    if selectors:
        return ",".join(selectors)
    return " ".join(text_of(element).split())


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


def _user(scope: Scope, exchange: Exchange, auth: Authenticator) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == b"authorization":
            credentials = auth.credentials(value.decode("latin-1"))
            if credentials is not None:
                return credentials[0]
    return exchange.user


def _text(match: re.Match[bytes] | None) -> str | None:
    return html.unescape(match.group(1).decode("utf-8", "replace")) if match else None


def _number(match: re.Match[bytes] | None) -> int | None:
    return int(match.group(1)) if match else None
