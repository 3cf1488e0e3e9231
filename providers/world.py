"""Reads of the simulated world, memoised per request so each row is loaded once.

The rows come from the unit of work's `WorldReads` repository (storage/world_reads.py): read-only
rows whose attributes are named like the models' columns (vm.guid, host.name, ...). Writes go
through the unit of work's other repositories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from providers.base import ProviderContext, Scope
from storage.repositories import HostRow, VMRow


def cluster(ctx: ProviderContext) -> Any:
    key = ("cluster",)
    if key not in ctx.memo:
        ctx.memo[key] = ctx.uow.world.cluster()
    return ctx.memo[key]


def all_hosts(ctx: ProviderContext) -> Sequence[HostRow]:
    key = ("hosts",)
    if key not in ctx.memo:
        hosts = ctx.uow.world.hosts()
        ctx.memo[key] = hosts
        for host in hosts:
            ctx.memo[("host", host.name.lower())] = host
            ctx.memo[("host-id", host.id)] = host
    return ctx.memo[key]


def host_named(ctx: ProviderContext, name: str) -> HostRow | None:
    key = ("host", name.lower())
    if key not in ctx.memo:
        ctx.memo[key] = ctx.uow.world.host_named(name)
    return ctx.memo[key]


def host_by_id(ctx: ProviderContext, host_id: int) -> HostRow:
    key = ("host-id", host_id)
    if key not in ctx.memo:
        host = ctx.uow.world.host_by_id(host_id)
        if host is None:
            raise LookupError(f"no host with id {host_id} in the store")
        ctx.memo[key] = host
    return ctx.memo[key]


def scope_hosts(ctx: ProviderContext, scope: Scope) -> Sequence[HostRow]:
    """The hosts a scope shows: the endpoint's own host, or every node in the cluster view."""
    if scope.cluster_view:
        return all_hosts(ctx)
    host = host_named(ctx, scope.host)
    return [host] if host is not None else []


def in_scope(ctx: ProviderContext, scope: Scope, host: HostRow) -> bool:
    return any(h.id == host.id for h in scope_hosts(ctx, scope))


def networks_of(ctx: ProviderContext, host: HostRow) -> Sequence[Any]:
    key = ("networks", host.id)
    if key not in ctx.memo:
        ctx.memo[key] = ctx.uow.world.networks_of(host.id)
    return ctx.memo[key]


def vms_in_scope(ctx: ProviderContext, scope: Scope, *, planned: bool) -> Sequence[VMRow]:
    key = ("vms", scope, planned)
    if key not in ctx.memo:
        if scope.cluster_view:
            vms = ctx.uow.world.vms_everywhere(planned=planned)
        else:
            vms = ctx.uow.world.vms_on_host(scope.host, planned=planned)
        ctx.memo[key] = vms
        for vm in vms:
            ctx.memo[("vm", scope, vm.guid.lower(), planned)] = vm
        _seen_vm_ids(ctx).update(vm.id for vm in vms)
    return ctx.memo[key]


def vm_by_guid(ctx: ProviderContext, scope: Scope, guid: str, *, planned: bool) -> VMRow | None:
    key = ("vm", scope, guid.lower(), planned)
    if key not in ctx.memo:
        if scope.cluster_view:
            vm = ctx.uow.world.vm_anywhere(guid, planned=planned)
        else:
            vm = ctx.uow.world.vm_on_host(scope.host, guid, planned=planned)
        ctx.memo[key] = vm
        if vm is not None:
            _seen_vm_ids(ctx).add(vm.id)
    return ctx.memo[key]


def _seen_vm_ids(ctx: ProviderContext) -> set[int]:
    return ctx.memo.setdefault(("vm-ids",), set())


def any_vm_by_guid(ctx: ProviderContext, scope: Scope, guid: str) -> VMRow | None:
    return (vm_by_guid(ctx, scope, guid, planned=False)
            or vm_by_guid(ctx, scope, guid, planned=True))


def all_vms_in_scope(ctx: ProviderContext, scope: Scope) -> list[VMRow]:
    return [*vms_in_scope(ctx, scope, planned=False), *vms_in_scope(ctx, scope, planned=True)]


def disks_of(ctx: ProviderContext, vm: VMRow) -> Sequence[Any]:
    return _children(ctx, vm, "disks")


def adapters_of(ctx: ProviderContext, vm: VMRow) -> Sequence[Any]:
    return _children(ctx, vm, "nics")


def _children(ctx: ProviderContext, vm: VMRow, label: str) -> Sequence[Any]:
    """Children of one VM; loads them for every VM already read in this request at once."""
    key = (label, vm.id)
    if key in ctx.memo:
        return ctx.memo[key]
    ids = [i for i in {vm.id, *_seen_vm_ids(ctx)} if (label, i) not in ctx.memo]
    world = ctx.uow.world
    grouped: Mapping[int, Sequence[Any]] = (
        world.disks_of_vms(ids) if label == "disks" else world.adapters_of_vms(ids))
    for i in ids:
        ctx.memo[(label, i)] = grouped.get(i, [])
    return ctx.memo[key]


def jobs_in_scope(ctx: ProviderContext, scope: Scope) -> Sequence[Any]:
    """Jobs accepted by the scope's hosts and not yet removed (TimeBeforeRemoval)."""
    key = ("jobs", scope)
    if key not in ctx.memo:
        if scope.cluster_view:
            rows = ctx.uow.world.jobs()
        else:
            host = host_named(ctx, scope.host)
            rows = ctx.uow.world.jobs(host.id) if host is not None else []
        now = ctx.now()
        ctx.memo[key] = [r for r in rows if r.remove_at is None or r.remove_at > now]
    return ctx.memo[key]


def jobs_received_by(ctx: ProviderContext, host: HostRow) -> Sequence[Any]:
    """Jobs of other hosts that move a VM to `host` and are not yet removed."""
    key = ("jobs-to", host.id)
    if key not in ctx.memo:
        now = ctx.now()
        ctx.memo[key] = [r for r in ctx.uow.world.jobs_to_host(host.id)
                         if r.remove_at is None or r.remove_at > now]
    return ctx.memo[key]


def active_job_counts(ctx: ProviderContext, host: HostRow) -> tuple[int, int]:
    """(live, storage) migrations the host is running now (§2.2, §16.4)."""
    key = ("job-counts", host.id)
    if key not in ctx.memo:
        ctx.memo[key] = ctx.uow.world.active_job_counts(host.id)
    return ctx.memo[key]
