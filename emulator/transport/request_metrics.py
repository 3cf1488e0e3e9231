"""Prometheus counters of the requests the request log records: how many, and how long they took,
by protocol, operation and outcome.

`RequestMetrics.observe` is a `RequestRecorder` observer: it runs where records are built (the
request log's writer thread), so requests pay nothing for it. Label values come from what
clients send (an unknown method's name), so distinct operations are capped: beyond
`MAX_OPERATIONS` they count as "other" and no client can grow the metrics without bound.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Histogram

from emulator.transport.request_log import RequestRecord

MAX_OPERATIONS = 200
OTHER = "other"
# Seconds: a cached GetInstance takes about a millisecond, a large enumeration seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0)
SUCCESS_RETURN_VALUES = frozenset({"0", "4096"})  # completed, or a job started


def outcome(record: RequestRecord) -> str:
    """"ok", a CIM status name, a WS-Man fault subcode, "return-<n>" for a method's failure
    code, "http-<status>" for a refusal before the service, or "client-gone"."""
    if record.http_status is None:
        return "client-gone"
    if record.fault_subcode:
        return record.fault_subcode
    if record.cim_status is not None and record.cim_status != 0:
        return record.cim_status_name or f"cim-{record.cim_status}"
    if record.http_status >= 400:
        return f"http-{record.http_status}"
    if record.return_value is not None and record.return_value not in SUCCESS_RETURN_VALUES:
        return f"return-{record.return_value}"
    return "ok"


class RequestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "hvsim_requests", "Requests to /cimom and /wsman, by protocol, operation and outcome",
            ("protocol", "operation", "outcome"), registry=registry)
        self.latency = Histogram(
            "hvsim_request_duration_seconds", "Time from a request's arrival to its answer",
            ("protocol", "operation"), buckets=LATENCY_BUCKETS, registry=registry)
        self._operations: set[str] = set()
        self._lock = threading.Lock()

    def observe(self, record: RequestRecord) -> None:
        operation = self._operation(record.operation or "none")
        self.requests.labels(record.protocol, operation, outcome(record)).inc()
        self.latency.labels(record.protocol, operation).observe(record.duration_ms / 1000.0)

    def _operation(self, name: str) -> str:
        with self._lock:
            if name in self._operations:
                return name
            if len(self._operations) >= MAX_OPERATIONS:
                return OTHER
            self._operations.add(name)
            return name
