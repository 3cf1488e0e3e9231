"""The request log: one `RequestRecord` per HTTP request, kept by a `RequestRecorder`.

Each front end wraps its ASGI handler in `RequestRecorder.observe` when the recorder is active
(a JSON-lines file is configured, or `hvsim.requests` is enabled for DEBUG; one check per
request, nothing else is built otherwise). `observe` times the request and notes the reply's
status and body through an `Exchange`; the front end's hooks add what only it knows (the raw or
unsealed request body, the decoded request, the unsealed reply, the user of an NTLM login) to
`current()`. The front end's `describe` function turns the finished exchange into a record -
on the log's writer thread when there is a file, so the request's own path only pays for the
exchange. Records are plain values; `format_record` is the one line the debug log shows and
`to_json`/`from_json` the file's lines.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from typing import Any, Protocol

from pywbem import CIMError

REQUEST_LOG = logging.getLogger("hvsim.requests")
MAX_KEYS_CHARS = 160
MAX_TEXT_CHARS = 240
MAX_PARAM_CHARS = 4096
# A request body is kept whole up to this size (WinRM's MaxEnvelopeSizekb plus its framing);
# beyond it only its head is kept, and the record cannot be replayed.
MAX_BODY_CHARS = 512 * 1024 + 4096
REDACTED = "***"
CONNECTION_TAG_KEY = "hvsim.connection_tag"
_PLAIN = re.compile(r'[^\s"\\]+')
_SECRET_NAME = re.compile(r"passw|secret|credential|token", re.IGNORECASE)
# An element or CIM-XML PARAMVALUE/PROPERTY whose name says it carries a secret.
_SECRET_ELEMENT = re.compile(
    r"(<(?P<tag>[\w.:-]*(?:passw|secret|credential|token)[\w.:-]*)\b[^>]*>)[^<]*(</(?P=tag)>)",
    re.IGNORECASE)
_SECRET_VALUE = re.compile(
    r"(NAME=\"[^\"]*(?:passw|secret|credential|token)[^\"]*\"[^>]*>\s*<VALUE[^>]*>)[^<]*",
    re.IGNORECASE)

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
    time: float = 0.0  # when the request began, seconds since the epoch
    user_agent: str | None = None
    connection: int | None = None  # the TCP connection's serial number in its process
    # Parameters as text (method inputs, intrinsic parameters, WS-Man options), secrets
    # redacted; an embedded instance is its CIM-XML text.
    params: Mapping[str, str] = field(default_factory=dict)
    # What the reply showed that a conformance rule needs: "job" (the job a method started),
    # "jobs" (job instances read: InstanceID, JobState, ErrorCode, Cancellable), "context"
    # and "end" (an enumeration context handed out, and whether the sequence ended).
    observed: Mapping[str, Any] = field(default_factory=dict)
    # For replay: the request body as the service read it (unsealed), secrets redacted, and
    # the protocol headers that go with it; None when the log kept no body.
    body: str | None = None
    body_complete: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    id: str = ""  # "<process id>-<serial>", unique among the records of one log

    @property
    def cim_status_name(self) -> str | None:
        if self.cim_status is None:
            return None
        return CIMError(self.cim_status).status_code_name

    @property
    def address(self) -> str | None:
        """The client's address without its port."""
        if self.client is None:
            return None
        return self.client.rpartition(":")[0] or self.client


_FIELD_ORDER = tuple(f.name for f in fields(RequestRecord))
_FIELD_NAMES = frozenset(_FIELD_ORDER)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=dict)


def as_dict(record: RequestRecord) -> dict[str, Any]:
    """The record's fields, shallow: dataclasses.asdict deep-copies, several times slower."""
    return {name: getattr(record, name) for name in _FIELD_ORDER}


def to_json(record: RequestRecord) -> str:
    """One line of the JSON-lines log."""
    return _ENCODER.encode(as_dict(record))


def from_json(line: str | Mapping[str, Any]) -> RequestRecord:
    """A record from a log line or its parsed object; unknown fields (a newer writer) are
    ignored. Raises ValueError for what is not a record."""
    data = json.loads(line) if isinstance(line, str) else line
    if not isinstance(data, Mapping) or "protocol" not in data or "host" not in data:
        raise ValueError("not a request record")
    known = {key: value for key, value in data.items() if key in _FIELD_NAMES}
    for name in ("client", "user", "operation", "namespace", "target", "keys", "query",
                 "http_status", "cim_status", "return_value", "fault_subcode", "wsman_code",
                 "message"):
        known.setdefault(name, None)
    known.setdefault("duration_ms", 0.0)
    try:
        return RequestRecord(**known)
    except TypeError as error:
        raise ValueError(f"not a request record: {error}") from None


def redact_body(text: str) -> str:
    """The body with the values of elements and parameters named like secrets replaced."""
    if not _SECRET_NAME.search(text):
        return text
    text = _SECRET_ELEMENT.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)
    return _SECRET_VALUE.sub(lambda m: f"{m.group(1)}{REDACTED}", text)


def redact_params(params: Mapping[str, str]) -> dict[str, str]:
    return {name: REDACTED if _SECRET_NAME.search(name) else shorten(value, MAX_PARAM_CHARS)
            or "" for name, value in params.items()}


def body_text(body: bytes | None) -> tuple[str | None, bool]:
    """(the body as logged, whether it is complete)."""
    if body is None:
        return None, True
    complete = len(body) <= MAX_BODY_CHARS
    text = body[:MAX_BODY_CHARS].decode("utf-8", "replace")
    return redact_body(text), complete


class ConnectionTag:
    """A TCP connection's serial number, kept in `scope["state"]` for the request log."""

    __slots__ = ("serial",)
    _serials = itertools.count(1)

    def __init__(self) -> None:
        self.serial = next(self._serials)

    def close(self) -> None:
        """Nothing to release; the per-connection state protocol wants it."""


class Exchange:
    """What a request's handling noted as it went: filled by `observe` and front-end hooks."""

    __slots__ = ("body", "connection", "duration_ms", "operation", "reply", "request",
                 "response_headers", "started", "status", "user", "wall")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.wall = time.time()
        self.status: int | None = None
        self.response_headers: list[tuple[bytes, bytes]] = []
        self.reply: bytes | None = None  # kept by reference, never copied
        self.request: Any = None  # the front end's decoded request
        self.body: bytes | None = None  # the request body as read (unsealed), by reference
        self.operation: str | None = None  # what a request without a message did (log-in)
        self.user: str | None = None  # the user of the connection's login, when not Basic
        self.connection: int | None = None
        self.duration_ms: float | None = None

    def note_reply(self, payload: bytes) -> None:
        """The reply as written before transport framing (sealing); first one wins."""
        if self.reply is None:
            self.reply = payload

    def elapsed_ms(self) -> float:
        if self.duration_ms is not None:
            return self.duration_ms
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


def current() -> Exchange | None:
    """The exchange of the request being handled, when the request log is on."""
    return _CURRENT.get()


class RecordSink(Protocol):
    """Where finished exchanges go: `submit` must return at once; `make` builds the record."""

    def submit(self, make: Callable[[], RequestRecord]) -> None: ...


class RequestRecorder:
    """Watches requests for the front ends and hands their records to a sink (the JSON-lines
    file) and, when enabled for DEBUG, to the `hvsim.requests` logger. `observers` (the
    metrics) see each record where it is built, on the sink's thread."""

    def __init__(self, sink: RecordSink | None = None,
                 observers: Sequence[Callable[[RequestRecord], None]] = ()) -> None:
        self.sink = sink
        self.observers = tuple(observers)
        self._serials = itertools.count(1)
        self._prefix = f"{os.getpid()}-"

    def active(self) -> bool:
        return self.sink is not None or REQUEST_LOG.isEnabledFor(logging.DEBUG)

    async def observe(self, handle: Handler, scope: Scope, receive: Receive, send: Send,
                      describe: Callable[[Scope, Exchange], RequestRecord]) -> None:
        """Run `handle` and record what `describe` makes of it, however it ends."""
        exchange = Exchange()
        tag = (scope.get("state") or {}).get(CONNECTION_TAG_KEY)
        if isinstance(tag, ConnectionTag):
            exchange.connection = tag.serial
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
            exchange.duration_ms = exchange.elapsed_ms()
            record_id = self._prefix + str(next(self._serials))
            self._submit(lambda: self._observed(
                self._describe(describe, scope, exchange, record_id)))

    def _submit(self, make: Callable[[], RequestRecord | None]) -> None:
        if self.sink is not None:
            self.sink.submit(make)  # type: ignore[arg-type]  # None records are dropped there
            return
        record = make()
        if record is not None:
            emit(record)

    def _observed(self, record: RequestRecord | None) -> RequestRecord | None:
        if record is not None:
            for observer in self.observers:
                try:
                    observer(record)
                except Exception:
                    REQUEST_LOG.exception("a request log observer failed")
        return record

    @staticmethod
    def _describe(describe: Callable[[Scope, Exchange], RequestRecord], scope: Scope,
                  exchange: Exchange, record_id: str) -> RequestRecord | None:
        try:
            record = describe(scope, exchange)
        except Exception:
            # The answer is out already; a flaw in the description must not hide the request.
            REQUEST_LOG.exception("cannot describe a request to %s", scope.get("path"))
            return None
        return record_with(record, exchange, record_id)


def record_with(record: RequestRecord, exchange: Exchange, record_id: str) -> RequestRecord:
    """The record completed with what `observe` knows whatever the protocol."""
    return replace(record, time=round(exchange.wall, 3), connection=exchange.connection,
                   id=record_id)


def client_text(scope: Scope) -> str | None:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None


def header_value(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def emit(record: RequestRecord) -> None:
    REQUEST_LOG.debug(format_record(record), extra={"request_record": record})


def format_record(record: RequestRecord) -> str:
    """One line: `protocol host field=value ...`, fields left out when they are None."""
    fields_: list[tuple[str, object]] = [
        ("client", record.client), ("user", record.user), ("op", record.operation),
        ("ns", record.namespace),
        ("resource" if record.protocol == "ws-man" else "class", record.target),
        ("keys", record.keys), ("query", record.query),
        ("status", record.http_status if record.http_status is not None else "client-gone"),
    ]
    if record.cim_status is not None:
        fields_.append(("cim", f"{record.cim_status_name}({record.cim_status})"))
    fields_ += [("return", record.return_value), ("fault", record.fault_subcode),
                ("wsman_code", record.wsman_code), ("msg", record.message),
                ("ms", f"{record.duration_ms:.1f}")]
    parts = [record.protocol, quoted(record.host)]
    parts += [f"{name}={quoted(str(value))}" for name, value in fields_ if value is not None]
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
