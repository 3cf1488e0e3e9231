"""The request-log record of a CIM-XML request (see emulator/transport/request_log.py).

The outcome is read back from the head of the reply: cached replies are bytes and nothing
else, and the writer is ours (encode.py), so an in-band ERROR or a RETURNVALUE always directly
follows the (I)METHODRESPONSE start tag.
"""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from pywbem import CIMClassName, CIMInstance, CIMInstanceName

from emulator.cimxml.request import CimRequest
from emulator.transport.auth import Authenticator
from emulator.transport.request_log import (
    MAX_KEYS_CHARS,
    Exchange,
    RequestRecord,
    Scope,
    body_text,
    redact_params,
    shorten,
)

_OUTCOME = re.compile(
    rb"METHODRESPONSE NAME=(?:\"[^\"]*\"|'[^']*')>"
    rb"(?:<ERROR CODE=\"(\d+)\" DESCRIPTION=(?:\"([^\"]*)\"|'([^']*)')"
    rb"|<RETURNVALUE[^>]*>(?:<VALUE>([^<]*)</VALUE>)?)")
# Where the outcome must be: after the XML declaration, the MESSAGE start tag (its ID is the
# client's) and the response's start tag.
HEAD_BYTES = 64 * 1024
# Job instances and enumeration contexts are looked for in this much of a reply.
OBSERVED_BYTES = 256 * 1024
_INSTANCE = re.compile(rb"<INSTANCE CLASSNAME=\"([^\"]+)\">(.*?)</INSTANCE>", re.DOTALL)
_PROPERTY = re.compile(rb"<PROPERTY NAME=\"(InstanceID|JobState|ErrorCode|Cancellable)\"[^>]*>"
                       rb"(?:<VALUE>([^<]*)</VALUE>)?")
_JOB_OUTPUT = re.compile(rb"<PARAMVALUE NAME=\"Job\"[^>]*>.*?<KEYBINDING NAME=\"InstanceID\">"
                         rb"<KEYVALUE[^>]*>([^<]*)</KEYVALUE>", re.DOTALL | re.IGNORECASE)
_PULL_OUTPUT = re.compile(rb"<PARAMVALUE NAME=\"(EnumerationContext|EndOfSequence)\"[^>]*>"
                          rb"<VALUE>([^<]*)</VALUE>")
# An intrinsic operation's output parameters follow its results, at the end of the reply.
TAIL_BYTES = 4096
# Headers a replayed request must carry again.
REPLAY_HEADERS = ("content-type", "cimoperation", "cimmethod", "cimobject")
# The intrinsic parameters that name what an operation is about, most specific first.
_OBJECT_PARAMS = ("InstanceName", "ObjectName", "ClassName", "ModifiedInstance",
                  "NewInstance")


def describe(scope: Scope, exchange: Exchange, host: str, auth: Authenticator) -> RequestRecord:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    credentials = auth.credentials(headers.get("authorization"))
    request = exchange.request if isinstance(exchange.request, CimRequest) else None
    operation, namespace, target, keys, query = _subject(request, headers)
    cim_status = return_value = message = None
    reply = exchange.reply or b""
    if exchange.status == 200:
        match = _OUTCOME.search(reply, 0, HEAD_BYTES)
        if match and match.group(1):
            cim_status = int(match.group(1))
            message = html.unescape((match.group(2) or match.group(3) or b"").decode())
        elif match and match.group(4) is not None:
            return_value = html.unescape(match.group(4).decode())
    elif exchange.status is not None:
        # HTTP-level refusals answer in plain text; the CIMError header names the kind.
        text = reply[:HEAD_BYTES].decode("utf-8", "replace").strip()
        cim_error = exchange.response_header(b"cimerror")
        message = f"{cim_error}: {text}" if cim_error else text or None
    client = scope.get("client")
    body, complete = body_text(exchange.body)
    return RequestRecord(
        protocol="cim-xml", host=host,
        client=f"{client[0]}:{client[1]}" if client else None,
        user=credentials[0] if credentials else None,
        operation=operation, namespace=namespace, target=target,
        keys=shorten(keys, MAX_KEYS_CHARS), query=shorten(query),
        http_status=exchange.status, cim_status=cim_status, return_value=return_value,
        fault_subcode=None, wsman_code=None, message=shorten(message),
        duration_ms=exchange.elapsed_ms(), user_agent=headers.get("user-agent"),
        params=redact_params(_params(request)) if request is not None else {},
        observed=observed(reply) if exchange.status == 200 else {},
        body=body, body_complete=complete,
        headers={name: headers[name] for name in REPLAY_HEADERS if name in headers})


def observed(reply: bytes) -> dict[str, Any]:
    """Job instances, the job a method started and an enumeration context in the reply."""
    facts: dict[str, Any] = {}
    if b'"JobState"' in reply[:OBSERVED_BYTES]:
        jobs = []
        for match in _INSTANCE.finditer(reply, 0, OBSERVED_BYTES):
            values = {name.decode(): html.unescape(value.decode()) if value is not None
                      else None for name, value in _PROPERTY.findall(match.group(2))}
            if "JobState" in values and values.get("InstanceID"):
                jobs.append({"class": match.group(1).decode(), **values})
        if jobs:
            facts["jobs"] = jobs
    job = _JOB_OUTPUT.search(reply, 0, OBSERVED_BYTES)
    if job:
        facts["job"] = html.unescape(job.group(1).decode())
    for name, value in _PULL_OUTPUT.findall(reply[-TAIL_BYTES:]):
        if name == b"EnumerationContext":
            facts["context"] = html.unescape(value.decode())
        else:
            facts["end"] = value.strip().upper() == b"TRUE"
    return facts


def _params(request: CimRequest) -> dict[str, str]:
    return {name: param_text(value) for name, value in request.params.items()}


def param_text(value: Any) -> str:
    """A parameter as text: an instance as its CIM-XML, a path as its WBEM URI, an array as
    a JSON array of texts."""
    if isinstance(value, list | tuple):
        return json.dumps([param_text(item) for item in value], ensure_ascii=False)
    if isinstance(value, CIMInstance):
        return str(value.tocimxmlstr())
    if isinstance(value, CIMClassName):
        return value.classname
    if isinstance(value, CIMInstanceName):
        return value.to_wbem_uri()
    return str(value)


def _subject(request: CimRequest | None, headers: Mapping[str, str]
             ) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(operation, namespace, class, keys, query) from the decoded request, else the headers."""
    if request is None:
        # Not decoded (refused first, or decoded in a child process): DSP0200's headers say
        # which operation and, for extrinsic calls, which object.
        method = headers.get("cimmethod")
        cim_object = urllib.parse.unquote(headers.get("cimobject", "")).strip()
        namespace, _, path = cim_object.partition(":")
        class_text, _, key_text = path.partition(".")
        return (urllib.parse.unquote(method).strip() if method else None,
                namespace or None, class_text or None, key_text or None, None)
    if not request.intrinsic:
        return request.name, request.namespace, *_path_parts(request.target), None
    subject: Any = None
    for name in _OBJECT_PARAMS:
        subject = request.params.get(name)
        if subject is not None:
            break
    query = request.params.get("Query") or request.params.get("FilterQuery")
    classname, keys = _path_parts(subject)
    return (request.name, request.namespace, classname, keys,
            query if isinstance(query, str) else None)


def _path_parts(subject: Any) -> tuple[str | None, str | None]:
    if isinstance(subject, CIMInstance):
        return subject.classname, _path_parts(subject.path)[1] if subject.path else None
    if isinstance(subject, CIMInstanceName):
        keys = ",".join(f"{name}={value}" for name, value in subject.keybindings.items())
        return subject.classname, keys
    if isinstance(subject, CIMClassName):
        return subject.classname, None
    if isinstance(subject, str):
        return subject, None
    return None, None
