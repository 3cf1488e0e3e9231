"""Reads of the simulated world, memoised per request so each row is loaded once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select

from providers.base import ProviderContext, Scope
from storage.models import Cluster, Host, MigrationNetwork, NetworkAdapter, VirtualDisk
from storage.models import VirtualMachine as VM


def cluster(ctx: ProviderContext) -> Cluster:
    key = ("cluster",)
    if key not in ctx.memo:
        ctx.memo[key] = ctx.uow.session.scalars(select(Cluster)).one()
    return ctx.memo[key]


def all_hosts(ctx: ProviderContext) -> Sequence[Host]:
    key = ("hosts",)
    if key not in ctx.memo:
        hosts = ctx.uow.session.scalars(select(Host).order_by(Host.ordinal)).all()
        ctx.memo[key] = hosts
        for host in hosts:
            ctx.memo[("host", host.name.lower())] = host
            ctx.memo[("host-id", host.id)] = host
    return ctx.memo[key]


def host_named(ctx: ProviderContext, name: str) -> Host | None:
    key = ("host", name.lower())
    if key not in ctx.memo:
        ctx.memo[key] = ctx.uow.session.scalars(
            select(Host).where(Host.name == name.upper())).one_or_none()
    return ctx.memo[key]


def host_by_id(ctx: ProviderContext, host_id: int) -> Host:
    key = ("host-id", host_id)
    if key not in ctx.memo:
        ctx.memo[key] = ctx.uow.session.get(Host, host_id)
    return ctx.memo[key]


def scope_hosts(ctx: ProviderContext, scope: Scope) -> Sequence[Host]:
    """The hosts a scope shows: the endpoint's own host, or every node in the cluster view."""
    if scope.cluster_view:
        return all_hosts(ctx)
    host = host_named(ctx, scope.host)
    return [host] if host is not None else []


def endpoint_host(ctx: ProviderContext, scope: Scope) -> Host:
    host = host_named(ctx, scope.host)
    if host is None:
        raise LookupError(f"endpoint host {scope.host} is not in the store")
    return host


def networks_of(ctx: ProviderContext, host: Host) -> Sequence[MigrationNetwork]:
    key = ("networks", host.id)
    if key not in ctx.memo:
        ctx.memo[key] = ctx.uow.session.scalars(
            select(MigrationNetwork).where(MigrationNetwork.host_id == host.id)
            .order_by(MigrationNetwork.id)).all()
    return ctx.memo[key]


def vms_in_scope(ctx: ProviderContext, scope: Scope, *, planned: bool) -> Sequence[VM]:
    key = ("vms", scope, planned)
    if key not in ctx.memo:
        query = select(VM).where(VM.planned == planned)
        if not scope.cluster_view:
            query = query.where(VM.host_id == endpoint_host(ctx, scope).id)
        vms = ctx.uow.session.scalars(query.order_by(VM.host_id, VM.id)).all()
        ctx.memo[key] = vms
        for vm in vms:
            ctx.memo[("vm", scope, vm.guid.lower(), planned)] = vm
        _seen_vm_ids(ctx).update(vm.id for vm in vms)
    return ctx.memo[key]


def vm_by_guid(ctx: ProviderContext, scope: Scope, guid: str, *, planned: bool) -> VM | None:
    key = ("vm", scope, guid.lower(), planned)
    if key not in ctx.memo:
        query = select(VM).where(VM.guid == guid.upper(), VM.planned == planned)
        if not scope.cluster_view:
            query = query.where(VM.host_id == endpoint_host(ctx, scope).id)
        vm = ctx.uow.session.scalars(query).first()
        ctx.memo[key] = vm
        if vm is not None:
            _seen_vm_ids(ctx).add(vm.id)
    return ctx.memo[key]


def _seen_vm_ids(ctx: ProviderContext) -> set[int]:
    return ctx.memo.setdefault(("vm-ids",), set())


def any_vm_by_guid(ctx: ProviderContext, scope: Scope, guid: str) -> VM | None:
    return (vm_by_guid(ctx, scope, guid, planned=False)
            or vm_by_guid(ctx, scope, guid, planned=True))


def all_vms_in_scope(ctx: ProviderContext, scope: Scope) -> list[VM]:
    return [*vms_in_scope(ctx, scope, planned=False), *vms_in_scope(ctx, scope, planned=True)]


def disks_of(ctx: ProviderContext, vm: VM) -> Sequence[VirtualDisk]:
    return _children(ctx, vm, VirtualDisk, "disks")


def adapters_of(ctx: ProviderContext, vm: VM) -> Sequence[NetworkAdapter]:
    return _children(ctx, vm, NetworkAdapter, "nics")


def _children(ctx: ProviderContext, vm: VM, model: type, label: str) -> Sequence:
    """Children of one VM; loads them for every VM already read in this request at once."""
    key = (label, vm.id)
    if key in ctx.memo:
        return ctx.memo[key]
    ids = {i for i in {vm.id, *_seen_vm_ids(ctx)} if (label, i) not in ctx.memo}
    grouped: dict[int, list] = defaultdict(list)
    for chunk_start in range(0, len(ids), 500):
        chunk = sorted(ids)[chunk_start:chunk_start + 500]
        rows = ctx.uow.session.scalars(
            select(model).where(model.vm_id.in_(chunk)).order_by(model.id)).all()
        for row in rows:
            grouped[row.vm_id].append(row)
    for i in ids:
        ctx.memo[(label, i)] = grouped.get(i, [])
    return ctx.memo[key]
