"""Request bodies are read whole, within a limit, and never handed on when the client left."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import pytest

from emulator.request_body import BodyTooLarge, ClientGone, read_body


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
