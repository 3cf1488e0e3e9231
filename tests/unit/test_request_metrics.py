"""Request metrics: each record's outcome label, the cap on distinct operations, and the cache
hit and miss counters the metrics read."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry

from emulator.caching.versioned_cache import BoundedLRU, VersionedCache, cache_stats
from emulator.transport.request_log import RequestRecord
from emulator.transport.request_metrics import MAX_OPERATIONS, OTHER, RequestMetrics, outcome


def record(**fields: object) -> RequestRecord:
    base: dict[str, object] = {
        "protocol": "cim-xml", "host": "HV-01", "client": "127.0.0.1:5000", "user": "u",
        "operation": "GetInstance", "namespace": None, "target": None, "keys": None,
        "query": None, "http_status": 200, "cim_status": None, "return_value": None,
        "fault_subcode": None, "wsman_code": None, "message": None, "duration_ms": 2.0}
    base.update(fields)
    return RequestRecord(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("fields", "expected"), [
    ({}, "ok"),
    ({"return_value": "4096"}, "ok"),
    ({"return_value": "32773"}, "return-32773"),
    ({"cim_status": 6}, "CIM_ERR_NOT_FOUND"),
    ({"http_status": 500, "fault_subcode": "w:InvalidSelectors", "cim_status": 6},
     "w:InvalidSelectors"),
    ({"http_status": 401}, "http-401"),
    ({"http_status": None}, "client-gone"),
])
def test_outcome(fields: dict[str, object], expected: str) -> None:
    assert outcome(record(**fields)) == expected


def test_distinct_operations_are_capped() -> None:
    registry = CollectorRegistry()
    metrics = RequestMetrics(registry)
    for index in range(MAX_OPERATIONS + 5):
        metrics.observe(record(operation=f"Invoke Made{index}Up"))
    assert registry.get_sample_value("hvsim_requests_total", {
        "protocol": "cim-xml", "operation": OTHER, "outcome": "ok"}) == 5
    assert registry.get_sample_value("hvsim_request_duration_seconds_count", {
        "protocol": "cim-xml", "operation": "Invoke Made0Up"}) == 1


def stats(name: str) -> tuple[int, int]:
    (found,) = [s for s in cache_stats() if s.name == name]
    return found.hits, found.misses


def test_named_caches_count_hits_and_misses() -> None:
    lru: BoundedLRU[str] = BoundedLRU(1 << 20, largest_share=4, name="test.lru")
    lru.put("a", "value")
    lru.get("a")
    lru.get("b")
    assert stats("test.lru") == (1, 1)
    versioned: VersionedCache[str] = VersionedCache(1 << 20, largest_share=4,
                                                    name="test.versioned")
    versioned.put("k", 1, time.time() + 60, "answer")
    assert versioned.get("k", 1) == "answer"
    assert versioned.get("k", 2) is None  # another world version: stale, so a miss
    assert versioned.get("missing", 1) is None
    assert stats("test.versioned") == (1, 2)
    unnamed: BoundedLRU[str] = BoundedLRU(1 << 20, largest_share=4)
    unnamed.get("x")
    assert all(s.name for s in cache_stats())
