"""GET /_hvsim/metrics: the Prometheus text format.

Request counts and latencies are kept as requests are logged (emulator/transport/
request_metrics.py); the world (VMs, jobs, finished migrations) and the caches are read at
scrape time by the collectors here. Finished migrations are counted as scrapes see them: a
finished job stays readable for 5 minutes (TimeBeforeRemoval), so any scrape interval below
that counts each one once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pywbem import CIMError

from emulator.caching.versioned_cache import cache_stats
from emulator.control.context import ControlContext
from emulator.core.cluster_view import ClusterView
from emulator.transport.request_log_file import JsonLinesLog

router = APIRouter(tags=["metrics"])
log = logging.getLogger("hvsim")
FINISHED_OUTCOMES = ("completed", "failed", "cancelled", "killed")


class WorldCollector(Collector):
    """VMs by host and state, jobs by kind and state, migrations finished by outcome."""

    def __init__(self, view: ClusterView) -> None:
        self.view = view
        self._counted: set[str] = set()  # finished migration jobs already counted
        self._finished = dict.fromkeys(FINISHED_OUTCOMES, 0)
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("hvsim_world_up",
                               "1 when the world could be read for this scrape")
        try:
            snapshot = self.view.snapshot()
        except CIMError as error:
            log.warning("metrics: cannot read the world: %s", error.status_description)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        vms = GaugeMetricFamily("hvsim_vms", "Virtual machines by host and state",
                                labels=("host", "state"))
        for host in snapshot.hosts:
            states: dict[str, int] = {}
            for vm in host.vms:
                states[vm.state_name] = states.get(vm.state_name, 0) + 1
            for state, count in sorted(states.items()):
                vms.add_metric([host.name, state], count)
        yield vms
        jobs = GaugeMetricFamily("hvsim_jobs", "Jobs the hosts hold, by kind and JobState",
                                 labels=("kind", "state"))
        counts: dict[tuple[str, str], int] = {}
        for job in snapshot.jobs:
            key = ("migration" if job.migration else "other", job.state_name)
            counts[key] = counts.get(key, 0) + 1
        for (kind, state), count in sorted(counts.items()):
            jobs.add_metric([kind, state], count)
        yield jobs
        finished = CounterMetricFamily(
            "hvsim_migrations_finished", "Migration jobs seen finished, by outcome",
            labels=("outcome",))
        with self._lock:
            present = set()
            for job in snapshot.jobs:
                if not job.migration or job.running:
                    continue
                present.add(job.instance_id)
                if job.instance_id not in self._counted:
                    self._finished[job.outcome] = self._finished.get(job.outcome, 0) + 1
            # Only the jobs still readable need remembering: a removed job never comes back.
            self._counted = present
            for name, count in self._finished.items():
                finished.add_metric([name], count)
        yield finished


class CacheCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        stats = cache_stats()
        families = (
            (CounterMetricFamily("hvsim_cache_hits", "Lookups a cache answered",
                                 labels=("cache",)), "hits"),
            (CounterMetricFamily("hvsim_cache_misses", "Lookups a cache could not answer",
                                 labels=("cache",)), "misses"),
            (GaugeMetricFamily("hvsim_cache_entries", "Entries a cache holds",
                               labels=("cache",)), "entries"),
            (GaugeMetricFamily("hvsim_cache_bytes", "Bytes a cache holds, keys included",
                               labels=("cache",)), "used_bytes"),
            (GaugeMetricFamily("hvsim_cache_capacity_bytes", "A cache's share of --cache-mb",
                               labels=("cache",)), "capacity_bytes"),
        )
        for family, attribute in families:
            for cache in stats:
                family.add_metric([cache.name], getattr(cache, attribute))
            yield family


class RequestLogCollector(Collector):
    def __init__(self, request_log: JsonLinesLog) -> None:
        self.request_log = request_log

    def collect(self) -> Iterator[Metric]:
        written = CounterMetricFamily("hvsim_request_log_records",
                                      "Records written to the request log")
        written.add_metric([], self.request_log.written)
        yield written
        dropped = CounterMetricFamily(
            "hvsim_request_log_dropped", "Records dropped because the log's writer fell behind")
        dropped.add_metric([], self.request_log.dropped)
        yield dropped


def register_collectors(context: ControlContext) -> None:
    registry: CollectorRegistry = context.metrics
    if context.cluster is not None:
        registry.register(WorldCollector(context.cluster))
    registry.register(CacheCollector())
    if context.request_log is not None:
        registry.register(RequestLogCollector(context.request_log))


@router.get("/metrics", summary="Prometheus metrics (text format)", response_class=Response)
def metrics(request: Request) -> Response:
    context: ControlContext = request.app.state.control
    return Response(generate_latest(context.metrics), media_type=CONTENT_TYPE_LATEST)
