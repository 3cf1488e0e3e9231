"""Reading a request body and writing a response over ASGI, for both protocol endpoints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
PLAIN_TEXT = b"text/plain; charset=utf-8"


class BodyTooLarge(Exception):
    """The body passed the endpoint's limit; nothing more is read."""


class ClientGone(Exception):
    """The connection closed before the body was complete: nothing may run for it."""


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def respond(send: Send, status: int, body: bytes,
                  headers: list[tuple[bytes, bytes]]) -> None:
    """A whole response; a body given without a content type is plain text."""
    typed = not body or any(name.lower() == b"content-type" for name, _ in headers)
    await send({"type": "http.response.start", "status": status,
                "headers": [*([] if typed else [(b"content-type", PLAIN_TEXT)]), *headers,
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
