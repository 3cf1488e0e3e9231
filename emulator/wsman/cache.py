"""Caches of the Get hot path: parsed requests and reply bodies.

Clients repeat identical requests (polling a job, re-reading a VM) that differ only in their
wsa:MessageID. `RequestCache` keys a parsed request by the body with its MessageID text masked
out; an entry is stored only when the MessageID the parser found is exactly the masked text, so a
hit parses to the same request. `BodyCache` keeps the body of a Get reply while the world version
is unchanged and its clock-derived values have not moved on (as the CIM-XML reply cache does);
`ListingCache` does the same for the rendered items of an enumeration.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

from emulator.caching.cache_budget import DEFAULT_BUDGET
from emulator.caching.versioned_cache import BoundedLRU, VersionedCache
from emulator.wsman.envelope import Request, parse_request

_MESSAGE_ID = re.compile(rb"(<(?:[\w.-]+:)?MessageID\b[^>]*>)([^<]*)(</)")
MAX_CACHED_REQUEST = 8192


class RequestCache:
    def __init__(self, capacity_bytes: int = DEFAULT_BUDGET.share("wsman.requests")) -> None:
        # A parsed request (without a body element) costs a few times its masked text.
        self._lru: BoundedLRU[Request] = BoundedLRU(
            capacity_bytes, largest_share=64, size=lambda _request: 4 * MAX_CACHED_REQUEST,
            name="wsman.requests")

    def parse(self, data: bytes) -> Request:
        match = _MESSAGE_ID.search(data) if len(data) <= MAX_CACHED_REQUEST else None
        if match is None:
            return parse_request(data)
        key = data[:match.start(2)] + data[match.end(2):]
        text = match.group(2).decode("utf-8", "replace").strip()
        cached = self._lru.get(key)
        if cached is not None:
            return replace(cached, message_id=text)
        request = parse_request(data)
        # Only requests without a body element: lxml trees are not shared between threads.
        if request.body is None and request.message_id == text and not request.identify:
            self._lru.put(key, request)
        return request


class BodyCache(VersionedCache[str]):
    def __init__(self, capacity_bytes: int = DEFAULT_BUDGET.share("wsman.bodies"),
                 now: Callable[[], float] = time.time) -> None:
        super().__init__(capacity_bytes, largest_share=16, name="wsman.bodies", now=now)


class Listing(NamedTuple):
    """The rendered items of an enumeration and their sizes in bytes."""

    items: list[str]
    sizes: list[int]


class ListingCache(VersionedCache[Listing]):
    """Rendered enumeration results, reused while the world version is unchanged."""

    def __init__(self, capacity_bytes: int = DEFAULT_BUDGET.share("wsman.listings"),
                 now: Callable[[], float] = time.time) -> None:
        super().__init__(capacity_bytes, largest_share=2,
                         size=lambda listing: sum(listing.sizes), name="wsman.listings",
                         now=now)
