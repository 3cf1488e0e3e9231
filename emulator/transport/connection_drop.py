"""Dropping a connection without an answer, as a host that went away does (fault rules).

`hvsim serve` gives every connection a `ConnectionDropper` under `DROP_KEY` in
`scope["state"]`; the connection's protocol attaches its abort to it when the connection opens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from emulator.transport.http_exchange import respond

DROP_KEY = "hvsim.drop"
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class ConnectionDropper:
    __slots__ = ("_abort",)

    def __init__(self) -> None:
        self._abort: Callable[[], None] | None = None

    def attach(self, abort: Callable[[], None]) -> None:
        self._abort = abort

    def drop(self) -> bool:
        if self._abort is None:
            return False
        self._abort()
        return True

    def close(self) -> None:
        self._abort = None


async def drop_connection(scope: Mapping[str, Any], send: Send) -> None:
    """Close the request's connection at once, no status line sent; where the server gives no
    dropper (an in-process test client), the closest thing: 503 and `connection: close`."""
    state = scope.get("state") or {}
    dropper = state.get(DROP_KEY)
    if isinstance(dropper, ConnectionDropper) and dropper.drop():
        return
    await respond(send, 503, b"hvsim: connection dropped by a fault rule\n",
                  [(b"connection", b"close")])
