"""Request bodies are read whole, within a limit, and never handed on when the client left."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import pytest

from emulator.transport.http_exchange import BodyTooLarge, ClientGone, read_body, respond


def receiver(*messages: dict[str, Any]) -> Any:
    queue = list(messages)

    async def receive() -> MutableMapping[str, Any]:
        return queue.pop(0)
    return receive


def body(chunk: bytes, more: bool) -> dict[str, Any]:
    return {"type": "http.request", "body": chunk, "more_body": more}


def test_chunks_are_joined() -> None:
    receive = receiver(body(b"<a>", True), body(b"</a>", False))
    assert asyncio.run(read_body(receive, 100)) == b"<a></a>"


def test_a_body_past_the_limit_is_refused() -> None:
    receive = receiver(body(b"x" * 60, True), body(b"x" * 60, False))
    with pytest.raises(BodyTooLarge):
        asyncio.run(read_body(receive, 100))


def test_a_complete_document_cut_off_by_a_disconnect_is_not_handed_on() -> None:
    receive = receiver(body(b"<a></a>", True), {"type": "http.disconnect"})
    with pytest.raises(ClientGone):
        asyncio.run(read_body(receive, 100))


def sent_headers(body: bytes, headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    messages: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(message)

    asyncio.run(respond(send, 200, body, headers))
    assert messages[1]["body"] == body
    return dict(messages[0]["headers"])


def test_a_body_without_a_type_is_plain_text_and_an_empty_one_has_none() -> None:
    assert sent_headers(b"text\n", [])[b"content-type"] == b"text/plain; charset=utf-8"
    assert sent_headers(b"<x/>", [(b"content-type", b"application/xml")])[
        b"content-type"] == b"application/xml"
    empty = sent_headers(b"", [(b"www-authenticate", b"Negotiate")])
    assert b"content-type" not in empty and empty[b"content-length"] == b"0"
