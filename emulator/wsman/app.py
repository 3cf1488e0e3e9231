"""POST /wsman: the WS-Management front end, and the only place its errors are translated.

A plain ASGI application, like the CIM-XML endpoint. Authentication comes first (Basic on every
request, or NTLM/Negotiate once per connection), then the body is unsealed if the client sealed
it, parsed, run and answered - sealed again when it came sealed. Every failure after
authentication is a SOAP fault: a CIM error from the dispatcher through `faults.from_cim_error`,
anything unexpected as an internal-error fault, never a bare 500.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from xml.sax.saxutils import escape

from pywbem import CIMError

from emulator.caching.cache_budget import DEFAULT_BUDGET, CacheBudget
from emulator.core.dispatch import Dispatcher
from emulator.core.faults import FaultSlot
from emulator.core.results import track_expiry
from emulator.transport import request_log
from emulator.transport.auth import Authenticator
from emulator.transport.connection_drop import drop_connection
from emulator.transport.endpoints import EndpointMap
from emulator.transport.http_exchange import BodyTooLarge, ClientGone, read_body, respond
from emulator.wsman import faults, operations, render, request_record, xmlns
from emulator.wsman.cache import BodyCache, ListingCache, RequestCache
from emulator.wsman.connection import ConnectionState, connection_of
from emulator.wsman.enumeration import Contexts
from emulator.wsman.envelope import Request, parse_request
from emulator.wsman.fault_facts import request_facts
from emulator.wsman.faults import (
    ENCODING_LIMIT,
    INTERNAL_ERROR,
    MAX_ENVELOPE_SIZE_EXCEEDED,
    SCHEMA_VALIDATION,
    TIMED_OUT,
    WsmanFault,
)
from emulator.wsman.security import (
    DEFAULT_NTLM_PASSWORD,
    ENCRYPTED_CONTENT_TYPE,
    SOAP_CONTENT_TYPE,
    Authentication,
    AuthFailed,
    SealError,
    SecurityContext,
    seal,
    unseal,
)

log = logging.getLogger("hvsim.wsman")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
# The largest request accepted: MaxEnvelopeSizekb plus room for the encryption framing.
MAX_REQUEST_BYTES = operations.MAX_ENVELOPE_BYTES + 4096
HEAVY_WORKERS = 4
LIGHT_WORKERS = 8
DEFAULT_TIMEOUT = 60.0
# Answered on the light pool: each touches one object. Everything that may read the state
# store runs on a worker thread, so a slow database delays only the requests that need it.
LIGHT_ACTIONS = frozenset({xmlns.GET})
# Answered on the event loop: no database work.
INLINE_ACTIONS = frozenset({xmlns.RELEASE})
CHALLENGE = [(b"www-authenticate", b"Negotiate"),
             (b"www-authenticate", b'Basic realm="WSMAN"')]


class WsmanEndpoint:
    def __init__(self, dispatcher: Dispatcher, endpoints: EndpointMap,
                 authenticator: Authenticator,
                 ntlm_password: str = DEFAULT_NTLM_PASSWORD, *,
                 allow_unencrypted: bool = False, budget: CacheBudget = DEFAULT_BUDGET,
                 recorder: request_log.RequestRecorder | None = None,
                 max_envelope_kb: int = operations.MAX_ENVELOPE_KB) -> None:
        self.dispatcher = dispatcher
        # WinRM's MaxEnvelopeSizekb; a request body may be that large, plus its framing.
        self.max_envelope_kb = max_envelope_kb
        self.max_request_bytes = max(MAX_REQUEST_BYTES, max_envelope_kb * 1024 + 4096)
        self.recorder = recorder or request_log.RequestRecorder()
        self.endpoints = endpoints
        self.auth = Authentication(authenticator, ntlm_password)
        # WinRM's AllowUnencrypted: may a connection that logged in with NTLM/Negotiate over
        # http send messages without sealing them?
        self.allow_unencrypted = allow_unencrypted
        self.contexts = Contexts()
        self.light = ThreadPoolExecutor(LIGHT_WORKERS, thread_name_prefix="wsman")
        self.heavy = ThreadPoolExecutor(HEAVY_WORKERS, thread_name_prefix="wsman-heavy")
        self.requests = RequestCache(budget.share("wsman.requests"))
        self.bodies = BodyCache(budget.share("wsman.bodies"), now=self.world_time)
        self.listings = ListingCache(budget.share("wsman.listings"), now=self.world_time)
        render.CACHE.resize(budget.share("wsman.fragments"))

    def world_time(self) -> float:
        """The world clock in epoch seconds: what cached bodies expire by (Record.expires)."""
        return self.dispatcher.clock.now().timestamp()

    # ------------------------------------------------------------------ SOAP processing

    def answer(self, host: str, request: Request, deadline: float | None = None,
               slot: FaultSlot | None = None, user: str | None = None) -> bytes:
        """The reply envelope for a parsed request; raises WsmanFault.

        All database waits of the request share one bound (see Dispatcher.wait_budget). With
        a `slot`, the fault rules are asked first: what fires is noted there for the event loop
        to carry out (latency, a dropped connection, 401); a CIM error becomes the fault."""
        with self.dispatcher.wait_budget(deadline):
            return self._answer(host, request, slot, user)

    def _answer(self, host: str, request: Request, slot: FaultSlot | None = None,
                user: str | None = None) -> bytes:
        max_envelope = operations.check_limits(request, self.max_envelope_kb)
        call = operations.Call(self.dispatcher, self.contexts, host, request, max_envelope,
                               listings=self.listings, max_envelope_kb=self.max_envelope_kb)
        try:
            with contextlib.ExitStack() as stack:
                version = None
                if slot is not None:
                    version = self.dispatcher.world_version()
                    fault = stack.enter_context(self.dispatcher.faults.request(
                        request_facts(host, request, user), version))
                    if fault is not None:
                        slot.fault = fault
                        if fault.stops_request:
                            return b""
                        if fault.cim_error is not None:
                            raise fault.cim_error
                if request.action == xmlns.GET:
                    action, body = self.get(call, version)
                else:
                    action, body = operations.run(call)
        except CIMError as error:
            raise faults.from_cim_error(error, filtering=call.filtering) from error
        reply = envelope(action, body, request.message_id)
        if len(reply) > max_envelope:
            raise WsmanFault(MAX_ENVELOPE_SIZE_EXCEEDED,
                             f"{MAX_ENVELOPE_SIZE_EXCEEDED.message} The reply needs "
                             f"{len(reply)} bytes; MaxEnvelopeSize is {max_envelope}.")
        return reply

    def get(self, call: operations.Call, version: int | None = None) -> operations.Reply:
        """A Get, its reply body reused while the world has not changed since."""
        request = call.request
        key = (call.host, request.resource_uri, request.selectors)
        # Read the version before computing: a change racing with this request then makes
        # the cached body look older than it is, never newer.
        if version is None:
            version = self.dispatcher.world_version()
        body = self.bodies.get(key, version)
        if body is None:
            with track_expiry() as expiry:
                _, body = operations.run(call)
            self.bodies.put(key, version, expiry[0], body)
        return xmlns.GET + "Response", body

    async def process(self, host: str, data: bytes, slot: FaultSlot | None = None,
                      user: str | None = None) -> tuple[int, bytes]:
        request: Request | None = None
        try:
            request = self.requests.parse(data)
            if (exchange := request_log.current()) is not None:
                exchange.request = request
            if request.identify:
                return 200, operations.identify(authenticated=True)
            if request.action in INLINE_ACTIONS:
                return 200, self.answer(host, request)
            loop = asyncio.get_running_loop()
            timeout = request.operation_timeout or DEFAULT_TIMEOUT
            pool = self.light if request.action in LIGHT_ACTIONS else self.heavy
            future = loop.run_in_executor(pool, self.answer, host, request,
                                          self.dispatcher.wait_deadline(), slot, user)
            try:
                return 200, await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise WsmanFault(TIMED_OUT) from None
        except WsmanFault as fault:
            return 500, faults.render(fault, request.message_id if request else None, host)
        except Exception:
            log.exception("unexpected failure answering a WS-Management request")
            internal = WsmanFault(INTERNAL_ERROR, "The WS-Management service cannot process the "
                                                  "request: internal error.")
            return 500, faults.render(internal, request.message_id if request else None, host)

    # ------------------------------------------------------------------------ HTTP layer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if self.recorder.active():
            describe = functools.partial(request_record.describe,
                                         host=self.endpoints.host_for(scope),
                                         auth=self.auth.authenticator)
            await self.recorder.observe(self.serve, scope, receive, send, describe)
        else:
            await self.serve(scope, receive, send)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.handle(scope, receive, tracked)
        except Exception:
            # Errors in SOAP processing are faults already; this is the HTTP layer's net.
            log.exception("unexpected failure in the WS-Management endpoint")
            if not started:
                fault = WsmanFault(INTERNAL_ERROR, "The WS-Management service cannot process "
                                                   "the request: internal error.")
                await respond(send, 500, faults.render(fault, None, "hvsim"),
                              [(b"content-type", SOAP_CONTENT_TYPE.encode()),
                               (b"connection", b"close")])

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await respond(send, 405, b"only POST is accepted at /wsman\n",
                          [(b"allow", b"POST"), (b"content-type", b"text/plain")])
            return
        host = self.endpoints.host_for(scope)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        connection = connection_of(scope)
        try:
            body = await read_body(receive, self.max_request_bytes)
        except ClientGone:
            return
        except BodyTooLarge:
            fault = WsmanFault(ENCODING_LIMIT, f"{ENCODING_LIMIT.message} The request exceeds "
                                               f"{self.max_request_bytes} bytes.")
            await respond(send, 500, faults.render(fault, None, host),
                          [(b"content-type", SOAP_CONTENT_TYPE.encode()),
                           (b"connection", b"close")])
            return
        extra: list[tuple[bytes, bytes]] = []
        user: str | None = None
        handshake = False
        basic = False
        authorization = headers.get("authorization", "").strip()
        security = connection.security if connection is not None else None
        if authorization:
            scheme, _, token = authorization.partition(" ")
            try:
                if scheme.lower() == "basic":
                    user = self.auth.basic(token)
                    basic = True
                elif scheme.lower() in ("negotiate", "ntlm") and connection is not None:
                    if (exchange := request_log.current()) is not None:
                        exchange.operation = f"{scheme} log-in"
                    security, out = self.auth.step(connection.security, scheme, token)
                    connection.security = security
                    if exchange is not None:
                        exchange.user = _user_of(security)
                    handshake = True
                    value = f"{scheme} {base64.b64encode(out).decode()}" if out else None
                    if not security.complete:
                        await respond(send, 401, b"", [(b"www-authenticate",
                                                        (value or scheme).encode())])
                        return
                    if value:
                        extra.append((b"www-authenticate", value.encode()))
                else:
                    raise AuthFailed(f"unsupported authentication scheme {scheme!r}")
            except AuthFailed as error:
                log.info("authentication refused on %s: %s", host, error)
                if connection is not None:
                    connection.security = None
                await respond(send, 401, b"", CHALLENGE)
                return
        elif security is None or not security.complete:
            if headers.get("wsmanidentify", "").strip().lower() == "unauthenticated" and body:
                await self.anonymous_identify(send, host, body)
                return
            await respond(send, 401, b"", CHALLENGE)
            return
        if not basic:
            user = _user_of(security)
        if (exchange := request_log.current()) is not None and not basic:
            # The connection's login may be gone by the time the record is written.
            exchange.user = user
        if not body and handshake:
            # pypsrp and pywinrm authenticate with empty POSTs before the first message.
            await respond(send, 200, b"", extra)
            return
        # Over http, a session key from NTLM/Negotiate is the message's only integrity
        # protection: WinRM (AllowUnencrypted=false) serves such a connection only sealed.
        seal_required = (not basic and scope.get("scheme") == "http"
                         and not self.allow_unencrypted)
        await self.dispatch_body(send, host, headers, body, connection, extra,
                                 seal_required=seal_required, scope=scope, user=user)

    async def dispatch_body(self, send: Send, host: str, headers: dict[str, str], body: bytes,
                            connection: ConnectionState | None,
                            extra: list[tuple[bytes, bytes]], *, seal_required: bool,
                            scope: Scope | None = None, user: str | None = None) -> None:
        content_type = headers.get("content-type", "")
        media = content_type.split(";", 1)[0].strip().lower()
        security = connection.security if connection is not None else None
        sealed = media == "multipart/encrypted"
        if not sealed and seal_required and isinstance(security, SecurityContext):
            log.info("unencrypted message refused on %s: the connection logged in with %s "
                     "over http (start with --allow-unencrypted to accept)", host,
                     security.scheme)
            await respond(send, 401, b"", CHALLENGE)
            return
        if sealed:
            if not isinstance(security, SecurityContext) or not security.complete:
                await respond(send, 401, b"", CHALLENGE)
                return
            try:
                body = unseal(security, body, content_type)
            except SealError as error:
                log.info("sealed message refused on %s: %s", host, error)
                assert connection is not None
                connection.security = None
                await respond(send, 401, b"", [*CHALLENGE, (b"connection", b"close")])
                return
        elif media not in ("application/soap+xml", "text/xml", "application/xml", ""):
            fault = WsmanFault(SCHEMA_VALIDATION, f"{SCHEMA_VALIDATION.message} Content-Type "
                                                  f"{content_type!r} is not application/"
                                                  "soap+xml.")
            await respond(send, 415, faults.render(fault, None, host),
                          [(b"content-type", SOAP_CONTENT_TYPE.encode())])
            return
        exchange = request_log.current()
        if exchange is not None:
            exchange.body = body
        slot = FaultSlot()
        status, payload = await self.process(host, body, slot, user)
        injected = slot.fault
        if injected is not None:
            if injected.delay_seconds:
                await asyncio.sleep(injected.delay_seconds)
            if injected.drop:
                await drop_connection(scope or {}, send)
                return
            if injected.unauthorized:
                if connection is not None:
                    connection.security = None
                await respond(send, 401, b"", CHALLENGE)
                return
        if exchange is not None:
            exchange.note_reply(payload)
        if sealed:
            assert isinstance(security, SecurityContext)
            payload = seal(security, payload)
            kind = ENCRYPTED_CONTENT_TYPE
        else:
            kind = SOAP_CONTENT_TYPE
        await respond(send, status, payload, [(b"content-type", kind.encode()), *extra])

    async def anonymous_identify(self, send: Send, host: str, body: bytes) -> None:
        """WinRM answers an unauthenticated Identify (header WSMANIDENTIFY: unauthenticated)."""
        if (exchange := request_log.current()) is not None:
            exchange.body = body
        try:
            request = parse_request(body)
            if exchange is not None:
                exchange.request = request
        except WsmanFault as fault:
            await respond(send, 500, faults.render(fault, None, host),
                          [(b"content-type", SOAP_CONTENT_TYPE.encode())])
            return
        if not request.identify:
            await respond(send, 401, b"", CHALLENGE)
            return
        await respond(send, 200, operations.identify(authenticated=False),
                      [(b"content-type", SOAP_CONTENT_TYPE.encode())])


def _user_of(security: object) -> str | None:
    user = getattr(security, "user", None)
    return user if isinstance(user, str) else None


def envelope(action: str, body: str, relates_to: str | None) -> bytes:
    relates = f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>" if relates_to else ""
    return (f"{xmlns.ENVELOPE_OPEN}<s:Header><a:Action>{action}</a:Action>"
            f"<a:MessageID>{faults.new_message_id()}</a:MessageID>"
            f"<a:To>{xmlns.ANONYMOUS}</a:To>{relates}</s:Header>"
            f"<s:Body>{body}</s:Body></s:Envelope>").encode()
