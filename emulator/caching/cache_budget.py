"""The process's cache budget: one number of megabytes (`hvsim serve --cache-mb`), shared out
between every cache the front ends keep.

Each cache is a BoundedLRU (emulator/caching/versioned_cache.py) counting its keys as well as its
values, so the sum of the shares bounds what caching can hold whatever clients send; the fixed
shares reflect where reuse pays most (whole replies and enumeration listings).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CACHE_MB = 512
MIN_CACHE_MB = 8
SHARES: dict[str, float] = {
    "cimxml.replies": 0.30,       # whole CIM-XML replies of read-only operations
    "cimxml.requests": 0.04,      # decoded CIM-XML requests (small bodies only)
    "cimxml.fragments": 0.16,     # serialised CIM-XML instances and paths
    "wsman.listings": 0.24,       # rendered items of WS-Man enumerations
    "wsman.bodies": 0.06,         # WS-Man Get reply bodies
    "wsman.requests": 0.04,       # parsed WS-Man requests (small bodies only)
    "wsman.fragments": 0.16,      # serialised WS-Man instances and EPRs
}
assert abs(sum(SHARES.values()) - 1.0) < 1e-9


@dataclass(frozen=True)
class CacheBudget:
    total_bytes: int

    @classmethod
    def megabytes(cls, megabytes: int) -> CacheBudget:
        if megabytes < MIN_CACHE_MB:
            raise ValueError(f"the cache budget must be at least {MIN_CACHE_MB} MB")
        return cls(megabytes * 1024 * 1024)

    def share(self, cache: str) -> int:
        return int(self.total_bytes * SHARES[cache])


DEFAULT_BUDGET = CacheBudget.megabytes(DEFAULT_CACHE_MB)
