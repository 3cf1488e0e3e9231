"""Bounded LRU caches, counted in bytes with their keys, and the versioned variant for answers.

`BoundedLRU` is the one LRU of the process: every cache a front end keeps (parsed requests,
serialised fragments, whole replies) is one, sized from the process's cache budget (see
emulator/caching/cache_budget.py), so no stream of distinct requests can grow memory past it.
Entries nobody read for `idle_seconds` leave as well: while migrations run, most keys (a job's
progress, a VM's previous state) are never asked for again, and without this the caches would
fill their budget with them however small the working set is.

`VersionedCache` keeps rendered answers computed at a world version (see
Dispatcher.world_version) together with the moment their clock-derived values move on (see
Record.expires). An entry is served only while both still hold; one that no longer does is
dropped, not kept for a version that may come back.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sized
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")
# What an entry costs besides its key's and value's payload: the dict slot, the list node
# of the order, the entry tuple and the objects' headers (measured: ~300 bytes on CPython 3.11).
ENTRY_OVERHEAD = 320
DEFAULT_IDLE_SECONDS = 120.0
# Idle entries removed per put at most: the sweep's cost stays constant per request.
SWEEP_PER_PUT = 8


def payload_size(value: object) -> int:
    """Bytes of the text a value holds: strings and bytes by length, containers summed.

    An estimate that errs high for small objects; what matters is that it grows with what a
    client can make large (request bodies, query text, rendered answers).
    """
    if isinstance(value, str | bytes | bytearray):
        return len(value) + 48
    if isinstance(value, tuple | list | frozenset | set):
        return 56 + sum(8 + payload_size(item) for item in value)
    return 32


def _length(value: object) -> int:
    assert isinstance(value, Sized)
    return len(value)


@dataclass(frozen=True)
class CacheStats:
    name: str
    hits: int
    misses: int
    entries: int
    used_bytes: int
    capacity_bytes: int


# Every named cache of the process, for the metrics; weak, so a cache that is dropped (a test's
# endpoint) leaves with it.
_NAMED: weakref.WeakSet[BoundedLRU[object]] = weakref.WeakSet()


def cache_stats() -> list[CacheStats]:
    """Each named cache's counters, caches of one name (several endpoints) added up."""
    totals: dict[str, list[int]] = {}
    for cache in list(_NAMED):
        total = totals.setdefault(cache.name, [0, 0, 0, 0, 0])
        for index, value in enumerate((cache.hits, cache.misses, len(cache), cache.used_bytes,
                                       cache.capacity_bytes)):
            total[index] += value
    return [CacheStats(name, *values) for name, values in sorted(totals.items())]


class BoundedLRU(Generic[V]):
    """`capacity_bytes` bounds the sum of entry costs: `size(value)` + the key's payload +
    ENTRY_OVERHEAD. An entry costing more than capacity // `largest_share` is never stored,
    so one entry cannot evict all others. A cache given a `name` (its share of the budget)
    counts its hits and misses for the metrics."""

    def __init__(self, capacity_bytes: int, *, largest_share: int,
                 size: Callable[[V], int] = _length,
                 key_size: Callable[[Hashable], int] = payload_size,
                 idle_seconds: float = DEFAULT_IDLE_SECONDS,
                 clock: Callable[[], float] = time.monotonic, name: str = "") -> None:
        # key -> (value, cost, last used); least recently used first.
        self._entries: OrderedDict[Hashable, tuple[V, int, float]] = OrderedDict()
        self._used = 0
        self._idle = idle_seconds
        self._clock = clock
        self._largest_share = largest_share
        self._capacity = capacity_bytes
        self._size = size
        self._key_size = key_size
        self._lock = threading.Lock()
        self.name = name
        self.hits = 0
        self.misses = 0
        if name:
            _NAMED.add(self)  # type: ignore[arg-type]  # only counters are read from it

    @property
    def capacity_bytes(self) -> int:
        return self._capacity

    @property
    def used_bytes(self) -> int:
        return self._used

    def __len__(self) -> int:
        return len(self._entries)

    def resize(self, capacity_bytes: int) -> None:
        with self._lock:
            self._capacity = capacity_bytes
            self._evict()

    def get(self, key: Hashable, *, counted: bool = True) -> V | None:
        """The value, or None; `counted=False` leaves the hit or miss to the caller (see
        `count`), which may still find the value stale."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                if counted:
                    self.misses += 1
                return None
            self._entries[key] = (entry[0], entry[1], self._clock())
            self._entries.move_to_end(key)
            if counted:
                self.hits += 1
            return entry[0]

    def count(self, *, hit: bool) -> None:
        # Unlocked: a lost increment under a race only blurs a statistic.
        if hit:
            self.hits += 1
        else:
            self.misses += 1

    def put(self, key: Hashable, value: V) -> None:
        cost = self._size(value) + self._key_size(key) + ENTRY_OVERHEAD
        now = self._clock()
        with self._lock:
            self._drop(key)
            self._sweep_idle(now)
            if cost > self._capacity // self._largest_share:
                return
            self._entries[key] = (value, cost, now)
            self._used += cost
            self._evict()

    def drop(self, key: Hashable) -> None:
        with self._lock:
            self._drop(key)

    def _evict(self) -> None:
        while self._used > self._capacity and self._entries:
            _, (_, cost, _) = self._entries.popitem(last=False)
            self._used -= cost

    def _sweep_idle(self, now: float) -> None:
        oldest = now - self._idle
        for _ in range(SWEEP_PER_PUT):
            if not self._entries:
                return
            key = next(iter(self._entries))
            if self._entries[key][2] > oldest:
                return
            self._drop(key)

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._used -= entry[1]


class VersionedCache(Generic[V]):
    """A BoundedLRU whose entries hold for one world version and until they expire.

    `now` is the time expiries are measured in (epoch seconds): the world clock's, as
    Record.expires is.
    """

    def __init__(self, capacity_bytes: int, *, largest_share: int,
                 size: Callable[[V], int] = _length, name: str = "",
                 now: Callable[[], float] = time.time) -> None:
        value_size = size
        self._now = now
        self._lru: BoundedLRU[tuple[int, float, V]] = BoundedLRU(
            capacity_bytes, largest_share=largest_share,
            size=lambda entry: value_size(entry[2]), name=name)

    def get(self, key: Hashable, version: int) -> V | None:
        entry = self._lru.get(key, counted=False)
        if entry is None:
            self._lru.count(hit=False)
            return None
        if entry[0] != version or entry[1] <= self._now():
            self._lru.drop(key)
            self._lru.count(hit=False)
            return None
        self._lru.count(hit=True)
        return entry[2]

    def put(self, key: Hashable, version: int, expires: float, value: V) -> None:
        self._lru.put(key, (version, expires, value))
