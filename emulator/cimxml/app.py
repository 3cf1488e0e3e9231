"""POST /cimom: the CIM-XML front end (DSP0200), and the only place its errors are translated.

The endpoint is a plain ASGI application mounted in the FastAPI app: per-request framework cost
matters when the target is a few hundred microseconds of CPU per GetInstance. Single-object
operations are answered on the event loop; enumerations, queries and association traversals run
on a small executor so that one large answer does not stall every other client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from pywbem import CIM_ERR_FAILED, CIMError

from emulator.auth import Authenticator
from emulator.cimxml import intrinsic
from emulator.cimxml.encode import error_response, imethod_response, method_response
from emulator.cimxml.request import (
    MAX_BODY_BYTES,
    CimRequest,
    CimXmlHttpError,
    check_headers,
    decode,
)
from emulator.dispatch import Dispatcher, track_expiry
from emulator.endpoints import EndpointMap
from emulator.enumerations import Enumerations
from emulator.versioned_cache import VersionedCache

log = logging.getLogger("hvsim.cimxml")
CONTENT_TYPE = b'application/xml; charset="utf-8"'
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
# Answered on the event loop: each touches one object and costs well under a millisecond.
INLINE_OPERATIONS = frozenset(name.lower() for name in (
    "GetInstance", "GetClass", "GetQualifier", "GetProperty", "EnumerationCount",
    "CloseEnumeration"))
HEAVY_WORKERS = 2
# Read-only operations whose complete reply may be reused while the world is unchanged.
CACHEABLE_OPERATIONS = frozenset(name.lower() for name in (
    "GetInstance", "EnumerateInstances", "EnumerateInstanceNames", "Associators",
    "AssociatorNames", "References", "ReferenceNames", "ExecQuery", "GetClass",
    "EnumerateClasses", "EnumerateClassNames", "GetQualifier", "EnumerateQualifiers",
    "GetProperty"))
REPLY_CACHE_BYTES = 512 * 1024 * 1024


class ReplyCache(VersionedCache[bytes]):
    """Whole replies of read-only operations, each tagged with the world version it was
    computed at and the moment its clock-derived values move on.

    A reply is reused only while the store's world version is unchanged (one indexed read per
    request, so every process sharing the database agrees) and before it expires.
    """

    def __init__(self, capacity_bytes: int = REPLY_CACHE_BYTES) -> None:
        super().__init__(capacity_bytes, largest_share=4)


@lru_cache(maxsize=4096)
def decode_cached(body: bytes, method: str, cim_object: str) -> CimRequest:
    """Decoding is a pure function of the request; clients repeat identical requests often
    (polling a job, re-reading a VM). Callers must not mutate the result."""
    return decode(body, method, cim_object)


class CimXmlEndpoint:
    def __init__(self, dispatcher: Dispatcher, endpoints: EndpointMap,
                 auth: Authenticator) -> None:
        self.dispatcher = dispatcher
        self.enumerations = Enumerations(dispatcher)
        self.endpoints = endpoints
        self.auth = auth
        self.executor = ThreadPoolExecutor(HEAVY_WORKERS, thread_name_prefix="cimxml")
        self.replies = ReplyCache()

    def reply(self, host: str, request: CimRequest, cache_key: Any) -> bytes:
        """The answer, reused from the reply cache when the world has not changed since."""
        if not (request.intrinsic and request.name.lower() in CACHEABLE_OPERATIONS):
            return self.answer(host, request)
        # Read the version before computing: a change racing with this request then makes
        # the cached reply look older than it is, never newer.
        version = self.dispatcher.world_version()
        cached = self.replies.get(cache_key, version)
        if cached is not None:
            return cached
        with track_expiry() as expiry:
            payload = self.answer(host, request)
        self.replies.put(cache_key, version, expiry[0], payload)
        return payload

    def answer(self, host: str, request: CimRequest) -> bytes:
        try:
            if not request.intrinsic:
                return self.method(host, request)
            call = intrinsic.Call(self.dispatcher, self.enumerations, host, request)
            body, out_params = intrinsic.run(call)
            rendered = intrinsic.materialise(body)
            text = "".join(imethod_response(request.message_id, request.name, rendered,
                                            out_params))
        except CIMError as error:
            text = error_response(request.message_id, request.name,
                                  intrinsic=request.intrinsic, code=error.status_code,
                                  description=error.status_description)
        except Exception:
            log.exception("unexpected failure answering %s", request.name)
            text = error_response(request.message_id, request.name,
                                  intrinsic=request.intrinsic, code=CIM_ERR_FAILED,
                                  description="internal error")
        return text.encode("utf-8")

    def method(self, host: str, request: CimRequest) -> bytes:
        assert request.target is not None  # the parser gives every extrinsic call a target
        return_value, out = self.dispatcher.invoke_method(
            host, request.namespace, request.target, request.name, request.params)
        declaration = self.dispatcher.method_declaration(host, request.namespace,
                                                         request.target.classname, request.name)
        typed = {name: (declaration.parameters[name].type, value)
                 for name, value in out.items()}
        return method_response(request.message_id, declaration.name, return_value,
                               declaration.return_type, typed).encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        if scope["method"] != "POST":
            await respond(send, 405, b"only POST is accepted at /cimom\n",
                          [(b"allow", b"POST")])
            return
        denied = self.auth.check(headers.get("authorization"))
        if denied is not None:
            await respond(send, denied.status_code, bytes(denied.body),
                          [(k.encode(), v.encode()) for k, v in denied.headers.items()
                           if k.lower() == "www-authenticate"])
            return
        try:
            method, cim_object = check_headers(headers)
            body = await read_body(receive)
            request = decode_cached(body, method, cim_object)
        except CimXmlHttpError as error:
            await respond(send, error.status, (error.detail + "\n").encode(),
                          [(b"cimerror", error.cim_error.encode())])
            return
        host = self.endpoints.host_for(scope)
        cache_key = (host, body, method, cim_object)
        if request.intrinsic and request.name.lower() in INLINE_OPERATIONS:
            payload = self.reply(host, request, cache_key)
        else:
            loop = asyncio.get_running_loop()
            payload = await loop.run_in_executor(self.executor, self.reply, host, request,
                                                 cache_key)
        await respond(send, 200, payload, [(b"content-type", CONTENT_TYPE),
                                           (b"cimoperation", b"MethodResponse")])


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise CimXmlHttpError(413, "request-not-valid",
                                  f"request body exceeds {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def respond(send: Send, status: int, body: bytes,
                  headers: list[tuple[bytes, bytes]]) -> None:
    content_type = [] if any(k == b"content-type" for k, _ in headers) else [
        (b"content-type", b"text/plain; charset=utf-8")]
    await send({"type": "http.response.start", "status": status,
                "headers": [*content_type, *headers,
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
