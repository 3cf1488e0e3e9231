"""A bounded LRU of rendered answers, each valid for one world version and until it expires.

Front ends keep whole replies (or parts of them) computed at a world version (see
Dispatcher.world_version) together with the moment their clock-derived values move on (see
Record.expires). An entry is served only while both still hold; one that no longer does is
dropped, not kept for a version that may come back.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sized
from typing import Generic, TypeVar

V = TypeVar("V")


def _length(value: object) -> int:
    assert isinstance(value, Sized)
    return len(value)


class VersionedCache(Generic[V]):
    """`capacity_bytes` bounds the sum of `size(value)`; a value larger than
    capacity // `largest_share` is never stored, so one answer cannot evict all others."""

    def __init__(self, capacity_bytes: int, *, largest_share: int,
                 size: Callable[[V], int] = _length) -> None:
        self._entries: OrderedDict[Hashable, tuple[int, float, V, int]] = OrderedDict()
        self._used = 0
        self._capacity = capacity_bytes
        self._largest = capacity_bytes // largest_share
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: int) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] != version or entry[1] <= time.time():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry[2]

    def put(self, key: Hashable, version: int, expires: float, value: V) -> None:
        size = self._size(value)
        if size > self._largest:
            return
        with self._lock:
            self._drop(key)
            self._entries[key] = (version, expires, value, size)
            self._used += size
            while self._used > self._capacity:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._used -= entry[3]
