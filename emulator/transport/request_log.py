"""The request log: one `RequestRecord` per HTTP request, logged at DEBUG on `hvsim.requests`.

Each front end wraps its ASGI handler in `observe` when the logger is enabled for DEBUG (one
`isEnabledFor` per request; nothing else is built otherwise). `observe` times the request and
notes the reply's status and body through an `Exchange`; the front end's hooks add what only it
knows (the decoded request, the unsealed reply) to `current()`, and its `describe` function
turns the exchange into a record. Records are plain values so that other consumers (a
conformance log) can keep them; `format_record` is the one line the debug log shows.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pywbem import CIMError

REQUEST_LOG = logging.getLogger("hvsim.requests")
MAX_KEYS_CHARS = 160
MAX_TEXT_CHARS = 240
_PLAIN = re.compile(r'[^\s"\\]+')

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """What one request asked and how it was answered; None where it does not apply or the
    request was refused before it was known."""

    protocol: str  # "cim-xml" or "ws-man"
    host: str  # the emulated host the port belongs to
    client: str | None  # "address:port"
    user: str | None  # as the client presented it, also on a refused login
    operation: str | None  # GetInstance, an extrinsic method's name; Get, Invoke <method>, ...
    namespace: str | None
    target: str | None  # class name (CIM-XML) or resource URI (WS-Man)
    keys: str | None  # instance keys or selectors, shortened
    query: str | None  # query text of ExecQuery or of an enumeration filter, shortened
    http_status: int | None  # None: the client went away before an answer
    cim_status: int | None  # CIM-XML in-band ERROR, or the CIM error behind a WS-Man fault
    return_value: str | None  # an extrinsic method's ReturnValue
    fault_subcode: str | None  # WS-Man fault subcode, e.g. w:InvalidSelectors
    wsman_code: int | None  # the WSManFault Code
    message: str | None  # error description, fault reason or HTTP refusal text, shortened
    duration_ms: float

    @property
    def cim_status_name(self) -> str | None:
        if self.cim_status is None:
            return None
        return CIMError(self.cim_status).status_code_name


class Exchange:
    """What a request's handling noted as it went: filled by `observe` and front-end hooks."""

    __slots__ = ("operation", "reply", "request", "response_headers", "started", "status")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.status: int | None = None
        self.response_headers: list[tuple[bytes, bytes]] = []
        self.reply: bytes | None = None  # kept by reference, never copied
        self.request: Any = None  # the front end's decoded request
        self.operation: str | None = None  # what a request without a message did (log-in)

    def note_reply(self, payload: bytes) -> None:
        """The reply as written before transport framing (sealing); first one wins."""
        if self.reply is None:
            self.reply = payload

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0

    def watch(self, send: Send) -> Send:
        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self.response_headers = list(message.get("headers", ()))
            elif message["type"] == "http.response.body":
                self.note_reply(message.get("body", b""))
            await send(message)
        return watched

    def response_header(self, name: bytes) -> str | None:
        for key, value in self.response_headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None


_CURRENT: ContextVar[Exchange | None] = ContextVar("hvsim_request_exchange", default=None)


def enabled() -> bool:
    return REQUEST_LOG.isEnabledFor(logging.DEBUG)


def current() -> Exchange | None:
    """The exchange of the request being handled, when the request log is on."""
    return _CURRENT.get()


async def observe(handle: Handler, scope: Scope, receive: Receive, send: Send,
                  describe: Callable[[Scope, Exchange], RequestRecord]) -> None:
    """Run `handle` and log the record `describe` makes of it, however it ends."""
    exchange = Exchange()
    token = _CURRENT.set(exchange)
    try:
        await handle(scope, receive, exchange.watch(send))
    except Exception:
        # The server answers what escapes the handler with a bare 500.
        if exchange.status is None:
            exchange.status = 500
        raise
    finally:
        _CURRENT.reset(token)
        try:
            record = describe(scope, exchange)
        except Exception:
            # The answer is out already; a flaw in the description must not hide the request.
            REQUEST_LOG.exception("cannot describe a request to %s", scope.get("path"))
        else:
            emit(record)


def emit(record: RequestRecord) -> None:
    REQUEST_LOG.debug(format_record(record), extra={"request_record": record})


def format_record(record: RequestRecord) -> str:
    """One line: `protocol host field=value ...`, fields left out when they are None."""
    fields: list[tuple[str, object]] = [
        ("client", record.client), ("user", record.user), ("op", record.operation),
        ("ns", record.namespace),
        ("resource" if record.protocol == "ws-man" else "class", record.target),
        ("keys", record.keys), ("query", record.query),
        ("status", record.http_status if record.http_status is not None else "client-gone"),
    ]
    if record.cim_status is not None:
        fields.append(("cim", f"{record.cim_status_name}({record.cim_status})"))
    fields += [("return", record.return_value), ("fault", record.fault_subcode),
               ("wsman_code", record.wsman_code), ("msg", record.message),
               ("ms", f"{record.duration_ms:.1f}")]
    parts = [record.protocol, quoted(record.host)]
    parts += [f"{name}={quoted(str(value))}" for name, value in fields if value is not None]
    return " ".join(parts)


def quoted(text: str) -> str:
    """The text as one token: JSON-quoted when it has spaces, quotes or control characters,
    so a client-supplied value can never split or forge a line."""
    if _PLAIN.fullmatch(text) and text.isprintable():
        return text
    return json.dumps(text, ensure_ascii=False)


def shorten(text: str | None, limit: int = MAX_TEXT_CHARS) -> str | None:
    """At most `limit` characters, keeping both ends: WinRM's messages put the detail last,
    and the last key of a path is often the one that tells instances apart."""
    if text is None or len(text) <= limit:
        return text
    head = limit // 3
    return f"{text[:head]}...{text[len(text) - (limit - head - 3):]}"
