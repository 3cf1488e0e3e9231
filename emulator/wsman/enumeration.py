"""WS-Enumeration contexts: the rendered items of an Enumerate, handed out page by page by Pull.

Contexts live in the serving process (a client's Pulls reach the endpoint it enumerated on) and
expire when not pulled for `timeout` seconds, as WinRM's do. Each page holds at most MaxElements
items and fits the client's MaxEnvelopeSize.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.core.results import InstanceResult
from emulator.wsman import render
from emulator.wsman.cache import Listing
from emulator.wsman.faults import (
    INVALID_ENUMERATION_CONTEXT,
    MAX_ENVELOPE_SIZE_EXCEEDED,
    WsmanFault,
)

DEFAULT_TIMEOUT = 240.0  # WinRM's EnumerationTimeoutms default
MAX_CONTEXTS = 2048
MODES = {"": render.instance_xml, "enumerateepr": render.epr_item,
         "enumerateobjectandepr": render.object_and_epr_item}


def listing(results: list[InstanceResult], mode: str) -> Listing:
    """Render every result in the enumeration mode's item form."""
    writer = MODES[mode]
    items = [writer(result) for result in results]
    return Listing(items, [len(t) if t.isascii() else len(t.encode("utf-8")) for t in items])


@dataclass
class Context:
    id: str
    host: str
    resource_uri: str
    listing: Listing
    expires: float
    position: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Page:
    items: list[str]
    end_of_sequence: bool


class Contexts:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.clock = clock
        self._contexts: dict[str, Context] = {}
        self._lock = threading.Lock()

    def _sweep(self, now: float) -> None:
        for key in [k for k, c in self._contexts.items() if c.expires < now]:
            del self._contexts[key]

    def open(self, host: str, resource_uri: str, items: Listing) -> Context:
        now = self.clock()
        context = Context(f"uuid:{secrets.token_hex(16).upper()}", host, resource_uri,
                          items, now + self.timeout)
        with self._lock:
            self._sweep(now)
            if len(self._contexts) >= MAX_CONTEXTS:
                oldest = min(self._contexts.values(), key=lambda c: c.expires)
                del self._contexts[oldest.id]
            self._contexts[context.id] = context
        return context

    def find(self, context_id: str, host: str) -> Context:
        now = self.clock()
        with self._lock:
            context = self._contexts.get(context_id)
            if context is not None and context.expires < now:
                del self._contexts[context_id]
                raise WsmanFault(INVALID_ENUMERATION_CONTEXT,
                                 f"{INVALID_ENUMERATION_CONTEXT.message} The context expired "
                                 f"after {self.timeout:g} s without a Pull.")
        if context is None or context.host != host:
            raise WsmanFault(INVALID_ENUMERATION_CONTEXT)
        return context

    def release(self, context_id: str, host: str) -> None:
        context = self.find(context_id, host)
        with self._lock:
            self._contexts.pop(context.id, None)

    def next_page(self, context: Context, max_elements: int, budget: int) -> Page:
        """Up to max_elements rendered items whose total length stays within budget bytes."""
        texts, sizes = context.listing
        with context.lock:
            items: list[str] = []
            size = 0
            while context.position < len(texts) and len(items) < max_elements:
                text, length = texts[context.position], sizes[context.position]
                if size + length > budget:
                    if not items:
                        raise WsmanFault(MAX_ENVELOPE_SIZE_EXCEEDED,
                                         f"{MAX_ENVELOPE_SIZE_EXCEEDED.message} One item needs "
                                         f"{length} bytes; raise MaxEnvelopeSize.")
                    break
                items.append(text)
                size += length
                context.position += 1
            done = context.position >= len(texts)
            context.expires = self.clock() + self.timeout
        if done:
            with self._lock:
                self._contexts.pop(context.id, None)
        return Page(items, done)

    def __len__(self) -> int:
        return len(self._contexts)

    def snapshot(self) -> dict[str, Any]:
        return {k: (c.position, len(c.listing.items)) for k, c in self._contexts.items()}
