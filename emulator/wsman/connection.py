"""Per-TCP-connection state for the ASGI app: NTLM and Negotiate authenticate a connection.

`hvsim serve` gives every connection a fresh `ConnectionState` under `CONNECTION_KEY` in
`scope["state"]` (emulator/transport/http_connection.py), so every request on one connection
sees the same object, and closes it when the connection is lost, so an authenticated context
can never outlive its connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CONNECTION_KEY = "hvsim.connection"


class ConnectionState:
    __slots__ = ("closed", "security")

    def __init__(self) -> None:
        self.security: Any = None
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self.security = None


def connection_of(scope: Mapping[str, Any]) -> ConnectionState | None:
    state = scope.get("state")
    if not state:
        return None
    connection = state.get(CONNECTION_KEY)
    return connection if isinstance(connection, ConnectionState) else None
