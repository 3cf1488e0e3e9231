"""Per-TCP-connection state for the ASGI app: NTLM and Negotiate authenticate a connection.

uvicorn builds one protocol object per connection and copies its `app_state` into every
request's `scope["state"]`. The protocol class made here puts a fresh `ConnectionState` into
that state, so every request on one connection sees the same object, and marks it closed when
the connection is lost, so an authenticated context can never outlive its connection.
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


def protocol_class() -> type:
    """uvicorn's HTTP protocol (httptools when installed, else h11) with connection state."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:  # pragma: no cover - uvicorn[standard] brings httptools
        # Both take the same constructor arguments, and the subclass relies on nothing more.
        from uvicorn.protocols.http.h11_impl import H11Protocol as base  # type: ignore[assignment]

    class ConnectionTrackingProtocol(base):
        def __init__(self, *args: Any, app_state: dict[str, Any], **kwargs: Any) -> None:
            self.hvsim_connection = ConnectionState()
            # app_state is keyword-only here, so *args cannot hold it a second time.
            super().__init__(*args, app_state={**app_state,  # type: ignore[misc]
                                               CONNECTION_KEY: self.hvsim_connection}, **kwargs)

        def connection_lost(self, exc: Exception | None) -> None:
            self.hvsim_connection.close()
            super().connection_lost(exc)

    return ConnectionTrackingProtocol
