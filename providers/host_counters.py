"""root/cimv2 performance counters a Hyper-V host publishes (raw values, as WMI's
Win32_PerfRawData_* classes give them):

- Win32_PerfRawData_HvStats_HyperVHypervisorVirtualProcessor: one row per virtual processor
  of each running VM ("<VM name>:Hv VP <n>") and the "_Total" row.
- Win32_PerfRawData_LmPerfProvider_HyperVVMLiveMigration: one row per VM that a live
  migration moves out of (sender counters) or into (receiver counters) this host, computed from
  the migration job's timeline (reference §16.2), for as long as the job is kept.

Counters are cumulative, as raw counters are; clients compute rates from two samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from providers import world
from providers.base import CIMV2, InstanceProvider, ProviderContext, Record, Scope
from providers.world import HostRow

VIRTUAL_PROCESSOR = "Win32_PerfRawData_HvStats_HyperVHypervisorVirtualProcessor"
LIVE_MIGRATION = "Win32_PerfRawData_LmPerfProvider_HyperVVMLiveMigration"
TOTAL = "_Total"
# Counters move with the clock; one-second buckets keep a reply cacheable within the second.
BUCKET_SECONDS = 1
# Windows' performance clock runs at 10 MHz; system time counts 100 ns units since 1601.
PERF_FREQUENCY = 10_000_000
_EPOCH_1601 = datetime(1601, 1, 1, tzinfo=UTC)
# Share of wall time a simulated virtual processor runs, and the hypervisor's part of it.
GUEST_LOAD = 0.05
HYPERVISOR_SHARE = 0.1
PAGE_BYTES = 4096
MB = 1024 * 1024
# MigrationType values whose jobs transfer memory (§16.1): VM, and VM with its storage.
MEMORY_MIGRATIONS = (32768, 32771)
MEMORY_STEPS = ("Copying memory", "Transferring final state", "Transferring saved state")
BLACKOUT_STEP = "Transferring final state"


def _ticks(moment: datetime, since: datetime) -> int:
    return max(0, int((moment - since).total_seconds() * PERF_FREQUENCY))


def _bucket(ctx: ProviderContext) -> tuple[int, datetime]:
    now = ctx.now()
    bucket = int(now.timestamp()) // BUCKET_SECONDS
    return bucket, datetime.fromtimestamp(bucket * BUCKET_SECONDS, UTC)


def _timestamps(host: HostRow, moment: datetime) -> dict[str, Any]:
    return {
        "Frequency_Object": 0, "Timestamp_Object": 0,
        "Frequency_PerfTime": PERF_FREQUENCY,
        "Timestamp_PerfTime": _ticks(moment, host.installed_at),
        "Frequency_Sys100NS": PERF_FREQUENCY,
        "Timestamp_Sys100NS": _ticks(moment, _EPOCH_1601),
    }


def _zeroed(ctx: ProviderContext, classname: str) -> dict[str, Any]:
    """Every counter of the class at 0; the ones hvsim models are then filled in."""
    key = ("perf-zero", classname)
    if key not in ctx.memo:
        klass = ctx.classes.get_class(CIMV2, classname)
        ctx.memo[key] = {name: 0 for name, prop in klass.properties.items()
                         if prop.type == "uint64"}
    return dict(ctx.memo[key])


def _own_host(ctx: ProviderContext, scope: Scope) -> HostRow | None:
    hosts = world.scope_hosts(ctx, scope)
    return hosts[0] if hosts else None


# ------------------------------------------------------------------ virtual processors


def _run_times(ticks: int) -> dict[str, int]:
    total = int(ticks * GUEST_LOAD)
    hypervisor = int(total * HYPERVISOR_SHARE)
    return {"PercentTotalRunTime": total, "PercentGuestRunTime": total - hypervisor,
            "PercentHypervisorRunTime": hypervisor, "PercentRemoteRunTime": 0,
            "PercentTotalRunTime_Base": ticks, "PercentGuestRunTime_Base": ticks,
            "PercentHypervisorRunTime_Base": ticks, "PercentRemoteRunTime_Base": ticks}


class VirtualProcessorCounterProvider(InstanceProvider):
    classnames = (VIRTUAL_PROCESSOR,)
    namespaces = (CIMV2,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        host = _own_host(ctx, scope)
        if host is None:
            return
        bucket, moment = _bucket(ctx)
        expires = float((bucket + 1) * BUCKET_SECONDS)
        stamps = _timestamps(host, moment)
        running = [vm for vm in world.vms_in_scope(ctx, scope, planned=False)
                   if vm.enabled_state == 2]
        totals = _run_times(0)
        rows: list[tuple[str, dict[str, int], str]] = []
        for vm in running:
            times = _run_times(_ticks(moment, vm.state_changed_at))
            for index in range(int(vm.processors)):
                rows.append((f"{vm.element_name}:Hv VP {index}", times,
                             f"vp{vm.id}.{vm.version_id}.{bucket}"))
                totals = {name: totals[name] + value for name, value in times.items()}
        rows.append((TOTAL, totals, f"vpt{host.id}.{bucket}.{hash(tuple(totals.items()))}"))
        zero = _zeroed(ctx, VIRTUAL_PROCESSOR)
        for name, times, etag in rows:
            keys = {"Name": name}
            values = {**zero, **stamps, **times, **keys, "Caption": None, "Description": None}
            # The default binds this iteration's dict; mypy cannot type a lambda's defaults.
            yield Record(VIRTUAL_PROCESSOR, keys, etag,
                         lambda values=values: values, expires)  # type: ignore[misc]


# ---------------------------------------------------------------------- live migration


def _transfer(job: Any, moment: datetime) -> tuple[int, int, int, bool]:
    """(bytes sent so far, pass number, bytes of the current pass, in blackout) of a job."""
    facts = (job.request or {}).get("transfer") or {}
    memory = int(facts.get("memory_mb", 0)) * MB
    steps = [(float(step[0]), str(step[3])) for step in job.plan or []]
    if job.started_at is None or not memory:
        return 0, 0, 0, False
    elapsed = ((job.finished_at or moment) - job.started_at).total_seconds()
    if job.job_state == 7:
        elapsed = float("inf")  # a completed job sent everything
    first_pass = next((s for s, status in steps if status.startswith(MEMORY_STEPS)), 0.0)
    offset, sent, number, current, blackout = 0.0, 0.0, 0, 0, False
    for seconds, status in steps:
        if status.startswith(MEMORY_STEPS) and elapsed >= offset:
            # The link runs at one rate: a pass's bytes are in proportion to its time.
            size = memory * (seconds / first_pass if first_pass else 1.0)
            done = 1.0 if seconds <= 0 else min(1.0, (elapsed - offset) / seconds)
            sent += size * done
            number, current = number + 1, int(size)
            blackout = status.startswith(BLACKOUT_STEP) and done < 1.0
        offset += seconds
    return int(sent), number, current, blackout


def _migration_values(job: Any, moment: datetime, *, receiving: bool) -> dict[str, int]:
    facts = (job.request or {}).get("transfer") or {}
    compression, smb = bool(facts.get("compression")), bool(facts.get("smb"))
    sent, number, current, blackout = _transfer(job, moment)
    wire = sent // 2 if compression else sent
    values = {"TransferPassNumber": number, "TransferpassDirtyPageCount": current // PAGE_BYTES,
              "TransferPassIsblackout": int(blackout),
              "TransferpassCPUCap": int(facts.get("cpu_capping", 0))}
    if receiving:
        values |= {"ReceiverBytesWrittenPersec": sent}
        if compression:
            values |= {"ReceiverCompressedBytesReceivedPersec": wire,
                       "ReceiverDecompressedBytesPersec": sent}
        else:
            values |= {"ReceiverUncompressedBytesReceivedPersec": sent}
        if not smb:
            values |= {"TCPTransportBytesReceivedPersec": wire}
        return values
    values |= {"MemoryWalkerBytesReadPersec": sent}
    if compression:
        values |= {"MemoryWalkerBytesSentforCompression": sent,
                   "MemoryWalkerBytesSentforCompressionPersec": sent,
                   "CompressorCompressedBytesSent": wire,
                   "CompressorCompressedBytesSentPersec": wire}
    else:
        values |= {"MemoryWalkerUncompressedBytesSent": sent,
                   "MemoryWalkerUncompressedBytesSentPersec": sent}
    if smb:
        values |= {"SMBTransportBytesSent": wire, "SMBTransportBytesSentPersec": wire}
    else:
        values |= {"TCPTransportBytesSentPersec": wire}
    return values


class LiveMigrationCounterProvider(InstanceProvider):
    classnames = (LIVE_MIGRATION,)
    namespaces = (CIMV2,)

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        host = _own_host(ctx, scope)
        if host is None:
            return
        bucket, moment = _bucket(ctx)
        expires = float((bucket + 1) * BUCKET_SECONDS)
        # The latest started memory-moving job per VM name; one counter instance per VM.
        latest: dict[str, tuple[Any, bool]] = {}
        jobs = [(job, False) for job in world.jobs_in_scope(ctx, scope)]
        jobs += [(job, True) for job in world.jobs_received_by(ctx, host)]
        for job, receiving in sorted(jobs, key=lambda item: item[0].id):
            if job.kind == "move" and job.migration_type in MEMORY_MIGRATIONS \
                    and job.started_at is not None and job.vm_name:
                latest[job.vm_name] = (job, receiving)
        stamps = _timestamps(host, moment)
        zero = _zeroed(ctx, LIVE_MIGRATION)
        for name, (job, receiving) in latest.items():
            keys = {"Name": name}
            counters = _migration_values(job, moment, receiving=receiving)
            values = {**zero, **stamps, **counters, **keys, "Caption": None, "Description": None}
            # The counters are in the tag: a job that ends within the second changes them.
            etag = f"lm{host.id}.{job.id}.{job.version_id}.{bucket}.{hash(tuple(counters.items()))}"
            # The default binds this iteration's dict; mypy cannot type a lambda's defaults.
            yield Record(LIVE_MIGRATION, keys, etag,
                         lambda values=values: values, expires)  # type: ignore[misc]
