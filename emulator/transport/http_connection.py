"""HTTP connections of `hvsim serve`: per-connection state, read deadlines, a connection cap.

uvicorn builds one protocol object per TCP connection, for every port and both endpoints. The
subclass made here adds to uvicorn's httptools protocol:

- per-connection objects in every request's `scope["state"]` (NTLM and Negotiate authenticate
  a connection), closed when the connection is lost, so none outlives its connection;
- a header deadline: from connection open, or from the first byte of a later request, until
  the request's headers are complete; then 408 and close;
- a body rate floor: a request body must bring at least `body_min_rate` bytes per second in
  every window of `body_timeout` seconds (the first window is the grace period); then 408 and
  close;
- a bound on the request line and headers (`MAX_HEADER_BYTES`; httptools has none, so a client
  could otherwise fill memory within the header deadline); then 400 and close;
- a cap on open connections per process: a connection beyond it gets 503 to its first request
  and is closed, as WinRM answers when it has more than MaxConnections.

A request that arrives in one piece arms no timer: deadlines are armed after the parser has
consumed what arrived, only if the request is still incomplete, and re-armed only when a
window ends. The per-request cost is a few attribute updates in parser callbacks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("hvsim.http")

DEFAULT_HEADER_TIMEOUT = 30.0
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_BODY_MIN_RATE = 1024
DEFAULT_MAX_CONNECTIONS = 300  # WinRM's MaxConnections default
# HTTP.sys allows 16 KB and is commonly raised for large Kerberos tickets; 64 KB fits those.
MAX_HEADER_BYTES = 65536

# What the connection is reading; deadlines exist only in the two reading phases.
_IDLE, _HEADERS, _BODY = 0, 1, 2


@dataclass(frozen=True)
class ConnectionLimits:
    """Read deadlines and the connection cap; 0 switches one off."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    # Why a rate floor over windows rather than a total body timeout: a total timeout either
    # cuts off a large body on a slow but honest link or lets a trickle hold a connection for
    # as long as the timeout; a floor per window closes a stalled or trickling body within one
    # window, whatever it sent before, and lets any body that keeps coming finish.
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    body_min_rate: int = DEFAULT_BODY_MIN_RATE
    max_connections: int = DEFAULT_MAX_CONNECTIONS


class Closable(Protocol):
    def close(self) -> None: ...


class ConnectionGate:
    """Open connections admitted under the cap, shared by every connection of one server."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.admitted = 0
        self.refusing = False

    def admit(self) -> bool:
        if self.limit and self.admitted >= self.limit:
            if not self.refusing:  # once per episode, not once per refused connection
                log.warning("%d connections open (--max-connections): refusing new ones with "
                            "503 until one closes", self.admitted)
                self.refusing = True
            return False
        self.admitted += 1
        self.refusing = False
        return True

    def release(self) -> None:
        self.admitted -= 1


def _plain_response(status: bytes, text: str, extra: bytes = b"") -> bytes:
    body = text.encode() + b"\n"
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n"
            + extra + b"\r\n" + body)


# Before routing the endpoint is unknown: DSP0200 clients need the header on a 400, and
# WS-Management clients ignore it.
CIM_REQUEST_NOT_VALID = (b"cimerror", b"request-not-valid")


async def headers_too_large(scope: Scope, receive: Receive, send: Send) -> None:
    """The application a request with oversized headers gets: 400, then the connection closes."""
    body = f"hvsim: request line and headers exceed {MAX_HEADER_BYTES} bytes\n".encode()
    await send({"type": "http.response.start", "status": 400,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), CIM_REQUEST_NOT_VALID]})
    await send({"type": "http.response.body", "body": body})


async def refuse_connection(scope: Scope, receive: Receive, send: Send) -> None:
    """The application a connection beyond the cap gets: 503 with `connection: close`."""
    body = b"hvsim: too many open connections; retry later\n"
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"retry-after", b"1"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class HvsimHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the additions above; made by `protocol_class`."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    gate: ClassVar[ConnectionGate] = ConnectionGate(0)
    per_connection: ClassVar[Mapping[str, Callable[[], Closable]]] = {}

    def __init__(self, *args: Any, app_state: dict[str, Any], **kwargs: Any) -> None:
        self.hvsim_state = {key: make() for key, make in self.per_connection.items()}
        # app_state is keyword-only in uvicorn, so *args cannot hold it a second time.
        super().__init__(*args, app_state={**app_state, **self.hvsim_state},  # type: ignore[misc]
                         **kwargs)
        self.hvsim_admitted = False
        self._phase = _IDLE
        self._since = 0.0  # when the current header wait began
        # _received at the end and at the start of the chunk the current header wait began in:
        # header bytes are at least _received - _header_mark, at most _received - _header_floor.
        self._header_mark = 0
        self._header_floor = 0
        self._chunk_start = 0
        self._received = 0  # bytes received on this connection
        self._window_mark = 0  # _received when the current body window began
        self._messages = 0  # requests begun on this connection
        self._deadline: asyncio.TimerHandle | None = None

    # -- connection --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.gate.admit():
            self.hvsim_admitted = True
        else:
            self.app = refuse_connection
        for state in self.hvsim_state.values():
            attach = getattr(state, "attach", None)
            if attach is not None:
                attach(self._abort_connection)
        # A connection that never sends a byte is a header wait too.
        self._start_header_wait()
        self._arm_deadline()

    def _abort_connection(self) -> None:
        """Close without a word: what the application sends afterwards goes nowhere."""
        self._cancel_deadline()
        if self.cycle is not None:
            self.cycle.disconnected = True
        self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        if self.hvsim_admitted:
            self.hvsim_admitted = False
            self.gate.release()
        for state in self.hvsim_state.values():
            state.close()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._chunk_start = self._received
        self._received += len(data)
        ends_keep_alive_wait = self.timeout_keep_alive_task is not None
        messages = self._messages
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._phase == _HEADERS and self._received - self._header_mark > MAX_HEADER_BYTES:
            # Never too early, and memory stays bounded; on_headers_complete checks exactly.
            self._refuse(b"400 Bad Request",
                         f"request line and headers exceed {MAX_HEADER_BYTES} bytes",
                         b"cimerror: request-not-valid\r\n")
            return
        if self._deadline is not None:
            return
        if self._phase == _IDLE and ends_keep_alive_wait and self._messages == messages:
            # Bytes after a keep-alive wait that begin no request (blank lines): without this
            # they would reset the keep-alive timer forever.
            self._start_header_wait()
        self._arm_deadline()

    # -- parser callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._messages += 1
        if self._phase != _HEADERS:
            self._start_header_wait()

    def on_headers_complete(self) -> None:
        self._cancel_deadline()
        self._phase = _BODY
        if self._received - self._header_floor > MAX_HEADER_BYTES and (
                len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
                > MAX_HEADER_BYTES):
            self.app = headers_too_large
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel_deadline()
        self._phase = _IDLE
        super().on_message_complete()

    def _unsupported_upgrade_warning(self) -> None:
        # hvsim serves no WebSockets (ws="none", so every connection stays under this class's
        # deadlines and cap); uvicorn's advice to install a WebSocket library would mislead.
        log.debug("Upgrade header ignored: the request is served as plain HTTP")

    # -- deadlines ---------------------------------------------------------------------------

    def _start_header_wait(self) -> None:
        self._phase = _HEADERS
        self._since = self.loop.time()
        self._header_mark = self._received
        self._header_floor = self._chunk_start

    def _arm_deadline(self) -> None:
        if self._phase == _HEADERS and self.limits.header_timeout:
            delay = self._since + self.limits.header_timeout - self.loop.time()
            self._deadline = self.loop.call_later(delay, self._deadline_reached)
        elif self._phase == _BODY and self.limits.body_timeout:
            self._window_mark = self._received
            self._deadline = self.loop.call_later(self.limits.body_timeout,
                                                  self._deadline_reached)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_reached(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:
            # Reading is paused by this server (a pipelined request, or a body the application
            # has not consumed yet): the client is not the slow one. Start the clock again.
            self._since = self.loop.time()
            self._arm_deadline()
            return
        limits = self.limits
        if self._phase == _HEADERS:
            self._refuse(b"408 Request Timeout",
                         f"request headers not complete within {limits.header_timeout:g} s")
        elif self._phase == _BODY:
            needed = max(1, round(limits.body_min_rate * limits.body_timeout))
            if self._received - self._window_mark >= needed:
                self._arm_deadline()
            else:
                self._refuse(b"408 Request Timeout",
                             f"request body slower than {limits.body_min_rate} bytes/s over "
                             f"{limits.body_timeout:g} s")

    def _refuse(self, status: bytes, reason: str, extra: bytes = b"") -> None:
        """Answer `status` if no reply is under way, and close the connection."""
        self._cancel_deadline()
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.info("closing the connection of %s: %s", client, reason)
        cycle = self.cycle
        if self._phase == _HEADERS:
            # A 408 must not interleave with a reply still being written.
            answer = cycle is None or cycle.response_complete
        else:
            answer = cycle is not None and not self.pipeline and not cycle.response_started
            if cycle is not None:
                # Whatever the application still sends for this request goes nowhere.
                cycle.disconnected = True
        if answer:
            self.transport.write(_plain_response(status, f"hvsim: {reason}", extra))
        self.transport.close()


def protocol_class(limits: ConnectionLimits,
                   per_connection: Mapping[str, Callable[[], Closable]] | None = None,
                   ) -> type[HvsimHttpProtocol]:
    """A protocol class for one server: its limits, its gate, its per-connection objects.

    `per_connection` maps `scope["state"]` keys to factories called once per connection.
    """
    attributes = {"limits": limits, "gate": ConnectionGate(limits.max_connections),
                  "per_connection": dict(per_connection or {})}
    return type("HvsimHttpProtocol", (HvsimHttpProtocol,), attributes)
