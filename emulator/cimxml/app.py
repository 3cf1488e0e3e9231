"""POST /cimom: the CIM-XML front end (DSP0200), and the only place its errors are translated.

The endpoint is a plain ASGI application mounted in the FastAPI app: per-request framework cost
matters when the target is a few hundred microseconds of CPU per GetInstance. The event loop
only reads requests, decodes small ones (bounded work, usually from the request cache) and
writes replies: everything that reads the state store runs on worker threads, so a slow
database or a large request delays only the requests that need them. Single-object operations
go to the light pool; enumerations, queries, association traversals and large requests
(decoded in a child process, see isolated_decode) to the heavy pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pywbem import CIM_ERR_FAILED, CIMError

from emulator.caching.cache_budget import DEFAULT_BUDGET, CacheBudget
from emulator.caching.versioned_cache import BoundedLRU, VersionedCache
from emulator.cimxml import encode, intrinsic, request_record
from emulator.cimxml.encode import error_response, imethod_response, method_response
from emulator.cimxml.isolated_decode import ISOLATED_REQUEST_BYTES, IsolatedDecoder
from emulator.cimxml.request import (
    MAX_BODY_BYTES,
    CimRequest,
    CimXmlHttpError,
    check_headers,
    decode,
)
from emulator.core.dispatch import Dispatcher
from emulator.core.enumerations import Enumerations
from emulator.core.faults import FaultSlot, RequestFacts
from emulator.core.results import track_expiry
from emulator.core.unavailable import ServiceUnavailable
from emulator.transport import request_log
from emulator.transport.auth import REALM, Authenticator
from emulator.transport.connection_drop import drop_connection
from emulator.transport.endpoints import EndpointMap
from emulator.transport.http_exchange import BodyTooLarge, ClientGone, read_body, respond

log = logging.getLogger("hvsim.cimxml")
CONTENT_TYPE = b'application/xml; charset="utf-8"'
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
# Answered on the light pool: each touches one object and costs well under a millisecond.
LIGHT_OPERATIONS = frozenset(name.lower() for name in (
    "GetInstance", "GetClass", "GetQualifier", "GetProperty", "EnumerationCount",
    "CloseEnumeration"))
LIGHT_WORKERS = 8
HEAVY_WORKERS = 2
# Read-only operations whose complete reply may be reused while the world is unchanged.
CACHEABLE_OPERATIONS = frozenset(name.lower() for name in (
    "GetInstance", "EnumerateInstances", "EnumerateInstanceNames", "Associators",
    "AssociatorNames", "References", "ReferenceNames", "ExecQuery", "GetClass",
    "EnumerateClasses", "EnumerateClassNames", "GetQualifier", "EnumerateQualifiers",
    "GetProperty"))
# A decoded request holds its text several times over (tuple tree, CIM objects).
DECODED_BYTES_PER_BODY_BYTE = 6


class ReplyCache(VersionedCache[bytes]):
    """Whole replies of read-only operations, each tagged with the world version it was
    computed at and the moment its clock-derived values move on.

    A reply is reused only while the store's world version is unchanged (one indexed read per
    request, so every process sharing the database agrees) and before it expires.
    """

    def __init__(self, capacity_bytes: int = DEFAULT_BUDGET.share("cimxml.replies"),
                 now: Callable[[], float] = time.time) -> None:
        super().__init__(capacity_bytes, largest_share=4, name="cimxml.replies", now=now)


class RequestCache:
    """Decoded small requests by a digest of their body: clients repeat identical requests
    often (polling a job, re-reading a VM). Callers must not mutate what it returns."""

    def __init__(self, capacity_bytes: int = DEFAULT_BUDGET.share("cimxml.requests")) -> None:
        self._lru: BoundedLRU[tuple[CimRequest, int]] = BoundedLRU(
            capacity_bytes, largest_share=64, size=lambda entry: entry[1],
            name="cimxml.requests")

    def decode(self, key: Hashable, body: bytes, method: str, cim_object: str) -> CimRequest:
        entry = self._lru.get(key)
        if entry is not None:
            return entry[0]
        request = decode(body, method, cim_object)
        self._lru.put(key, (request, len(body) * DECODED_BYTES_PER_BODY_BYTE))
        return request


def request_key(body: bytes, method: str, cim_object: str) -> tuple[str, str, bytes]:
    """A request's identity without keeping its body: the digest is collision resistant."""
    return method, cim_object, hashlib.blake2b(body, digest_size=20).digest()


class CimXmlEndpoint:
    def __init__(self, dispatcher: Dispatcher, endpoints: EndpointMap,
                 auth: Authenticator, budget: CacheBudget = DEFAULT_BUDGET,
                 recorder: request_log.RequestRecorder | None = None) -> None:
        self.dispatcher = dispatcher
        self.recorder = recorder or request_log.RequestRecorder()
        self.enumerations = Enumerations(dispatcher)
        self.endpoints = endpoints
        self.auth = auth
        self.light = ThreadPoolExecutor(LIGHT_WORKERS, thread_name_prefix="cimxml")
        self.heavy = ThreadPoolExecutor(HEAVY_WORKERS, thread_name_prefix="cimxml-heavy")
        self.replies = ReplyCache(budget.share("cimxml.replies"), now=self.world_time)
        self.requests = RequestCache(budget.share("cimxml.requests"))
        self.isolated = IsolatedDecoder()
        encode.CACHE.resize(budget.share("cimxml.fragments"))

    def close(self) -> None:
        self.isolated.shutdown()

    def world_time(self) -> float:
        """The world clock in epoch seconds: what cached replies expire by (Record.expires)."""
        return self.dispatcher.clock.now().timestamp()

    def reply(self, host: str, request: CimRequest, cache_key: Hashable | None,
              deadline: float | None = None, slot: FaultSlot | None = None,
              user: str | None = None) -> bytes:
        """The answer, reused from the reply cache when the world has not changed since.

        All database waits of the request share one bound (see Dispatcher.wait_budget). A
        fault rule that fires for the request is noted in `slot` for the event loop to carry
        out (latency, a dropped connection, 401); its CIM error is the answer."""
        with self.dispatcher.wait_budget(deadline), contextlib.ExitStack() as stack:
            try:
                # Read the version before computing: a change racing with this request then
                # makes the cached reply look older than it is, never newer.
                version = self.dispatcher.world_version()
                fault = stack.enter_context(self.dispatcher.faults.request(
                    _facts(host, request, user), version))
            except Exception as error:
                return self.failure(request, error)
            if fault is not None:
                if slot is not None:
                    slot.fault = fault
                if fault.stops_request:
                    return b""
                if fault.cim_error is not None:
                    return self.failure(request, fault.cim_error)
            return self._reply(host, request, cache_key, version)

    def _reply(self, host: str, request: CimRequest, cache_key: Hashable | None,
               version: int) -> bytes:
        if cache_key is None or not (request.intrinsic
                                     and request.name.lower() in CACHEABLE_OPERATIONS):
            return self.outcome(host, request)[0]
        cached = self.replies.get(cache_key, version)
        if cached is not None:
            return cached
        with track_expiry() as expiry:
            payload, lasting = self.outcome(host, request)
        if lasting:
            self.replies.put(cache_key, version, expiry[0], payload)
        return payload

    def outcome(self, host: str, request: CimRequest) -> tuple[bytes, bool]:
        """The reply, and whether it holds for as long as the world is unchanged: not when
        the state store could not serve (a retry may succeed) or an internal error struck."""
        try:
            if not request.intrinsic:
                return self.method(host, request), True
            call = intrinsic.Call(self.dispatcher, self.enumerations, host, request)
            body, out_params = intrinsic.run(call)
            rendered = intrinsic.materialise(body)
            text = "".join(imethod_response(request.message_id, request.name, rendered,
                                            out_params))
        except Exception as error:
            lasting = isinstance(error, CIMError) and not isinstance(error, ServiceUnavailable)
            return self.failure(request, error), lasting
        return text.encode("utf-8"), True

    @staticmethod
    def failure(request: CimRequest, error: Exception) -> bytes:
        """The one translation of a failed operation into an in-band CIM-XML ERROR."""
        if isinstance(error, CIMError):
            code, description = error.status_code, error.status_description
        else:
            log.exception("unexpected failure answering %s", request.name, exc_info=error)
            code, description = CIM_ERR_FAILED, "internal error"
        return error_response(request.message_id, request.name, intrinsic=request.intrinsic,
                              code=code, description=description).encode("utf-8")

    def method(self, host: str, request: CimRequest) -> bytes:
        assert request.target is not None  # the parser gives every extrinsic call a target
        outcome = self.dispatcher.invoke_method(
            host, request.namespace, request.target, request.name, request.params)
        typed = {out.name: (out.cim_type, out.value) for out in outcome.outputs}
        return method_response(request.message_id, outcome.method, outcome.return_value,
                               outcome.return_type, typed).encode("utf-8")

    def decode_and_answer(self, host: str, body: bytes, method: str, cim_object: str,
                          deadline: float | None = None, slot: FaultSlot | None = None,
                          user: str | None = None) -> bytes | CimXmlHttpError:
        """A large request, decoded in a child process and answered on the heavy pool."""
        try:
            request = self.isolated.decode(body, method, cim_object)
        except CimXmlHttpError as error:
            # Handed back as a value: its traceback would keep this frame, and the body in it,
            # alive for as long as the answer is.
            return error.with_traceback(None)
        return self.reply(host, request, None, deadline, slot, user)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if self.recorder.active():
            describe = functools.partial(request_record.describe,
                                         host=self.endpoints.host_for(scope), auth=self.auth)
            await self.recorder.observe(self.handle, scope, receive, send, describe)
        else:
            await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
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
        host = self.endpoints.host_for(scope)
        loop = asyncio.get_running_loop()
        credentials = self.auth.credentials(headers.get("authorization"))
        user = credentials[0] if credentials is not None else None
        slot = FaultSlot()
        outcome: bytes | CimXmlHttpError
        try:
            method, cim_object = check_headers(headers)
            body = await read_body(receive, MAX_BODY_BYTES)
            if (exchange := request_log.current()) is not None:
                exchange.body = body
            # Small requests are decoded here (a few milliseconds at worst) and their decoding
            # and replies cached; larger ones in a child process, never cached.
            if len(body) <= ISOLATED_REQUEST_BYTES:
                key = request_key(body, method, cim_object)
                request = self.requests.decode(key, body, method, cim_object)
                if exchange is not None:
                    exchange.request = request
                light = request.intrinsic and request.name.lower() in LIGHT_OPERATIONS
                outcome = await loop.run_in_executor(self.light if light else self.heavy,
                                                     self.reply, host, request, (host, *key),
                                                     self.dispatcher.wait_deadline(), slot,
                                                     user)
            else:
                outcome = await loop.run_in_executor(self.heavy, self.decode_and_answer,
                                                     host, body, method, cim_object,
                                                     self.dispatcher.wait_deadline(), slot,
                                                     user)
        except CimXmlHttpError as error:
            outcome = error.with_traceback(None)  # a value: see decode_and_answer
        except BodyTooLarge:
            outcome = CimXmlHttpError(413, "request-not-valid",
                                      f"request body exceeds {MAX_BODY_BYTES} bytes")
        except ClientGone:
            return
        fault = slot.fault
        if fault is not None:
            if fault.delay_seconds:
                await asyncio.sleep(fault.delay_seconds)
            if fault.drop:
                await drop_connection(scope, send)
                return
            if fault.unauthorized:
                await respond(send, 401, b"authentication required\n",
                              [(b"www-authenticate", f'Basic realm="{REALM}"'.encode())])
                return
        if isinstance(outcome, CimXmlHttpError):
            await respond(send, outcome.status, (outcome.detail + "\n").encode(),
                          [(b"cimerror", outcome.cim_error.encode())])
            return
        await respond(send, 200, outcome, [(b"content-type", CONTENT_TYPE),
                                           (b"cimoperation", b"MethodResponse")])


def _facts(host: str, request: CimRequest, user: str | None) -> RequestFacts:
    """What fault rules may match in a CIM-XML request."""
    subject: object = request.target
    if request.intrinsic:
        params = request.params
        subject = next((params[name] for name in ("ClassName", "InstanceName", "ObjectName",
                                                   "Instance", "NewInstance")
                        if name in params), None)
    classname = subject if isinstance(subject, str) else getattr(subject, "classname", None)
    return RequestFacts("cim-xml", host, (request.name,), classname, user)
