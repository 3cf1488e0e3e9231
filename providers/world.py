"""Reads of the simulated world, memoised per request so each row is loaded once.

Reads use Core statements built once with bind parameters and return rows whose attributes
are named like the ORM models' (vm.guid, host.name, ...): composing statements and building ORM
objects costs more CPU than SQLite takes to answer, and providers only read. Writes go through
the ORM models in the unit of work.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, bindparam, select

from providers.base import ProviderContext, Scope
from storage.models import Cluster, Host, Job, MigrationNetwork, NetworkAdapter, VirtualDisk
from storage.models import VirtualMachine as VM

HostRow = Any  # a Row with the columns of storage.models.Host
VMRow = Any  # a Row with the columns of storage.models.VirtualMachine

_HOSTS = Host.__table__
_VMS = VM.__table__
_CLUSTER = select(Cluster.__table__)
_ALL_HOSTS = select(_HOSTS).order_by(_HOSTS.c.ordinal)
_HOST_NAMED = select(_HOSTS).where(_HOSTS.c.name == bindparam("name"))
_HOST_BY_ID = select(_HOSTS).where(_HOSTS.c.id == bindparam("id"))
_NETWORKS = (select(MigrationNetwork.__table__)
             .where(MigrationNetwork.__table__.c.host_id == bindparam("host_id"))
             .order_by(MigrationNetwork.__table__.c.id))
_VM_ON_HOST = (select(_VMS).join(_HOSTS, _VMS.c.host_id == _HOSTS.c.id)
               .where(_HOSTS.c.name == bindparam("host"), _VMS.c.guid == bindparam("guid"),
                      _VMS.c.planned == bindparam("planned")))
_VM_ANYWHERE = select(_VMS).where(_VMS.c.guid == bindparam("guid"),
                                  _VMS.c.planned == bindparam("planned"))
_VMS_ON_HOST = (select(_VMS).join(_HOSTS, _VMS.c.host_id == _HOSTS.c.id)
                .where(_HOSTS.c.name == bindparam("host"), _VMS.c.planned == bindparam("planned"))
                .order_by(_VMS.c.id))
_JOBS = Job.__table__
_ALL_JOBS = select(_JOBS).order_by(_JOBS.c.id)
_HOST_JOBS = select(_JOBS).where(_JOBS.c.host_id == bindparam("host_id")).order_by(_JOBS.c.id)
_JOBS_TO_HOST = (select(_JOBS).where(_JOBS.c.destination_host_id == bindparam("host_id"))
                 .order_by(_JOBS.c.id))
_VMS_EVERYWHERE = (select(_VMS).where(_VMS.c.planned == bindparam("planned"))
                   .order_by(_VMS.c.host_id, _VMS.c.id))


def _rows(ctx: ProviderContext, statement: Select[Any], **params: Any) -> Sequence[Row[Any]]:
    return ctx.uow.connection().execute(statement, params).all()


def cluster(ctx: ProviderContext) -> Any:
    key = ("cluster",)
    if key not in ctx.memo:
        ctx.memo[key] = _rows(ctx, _CLUSTER)[0]
    return ctx.memo[key]


def all_hosts(ctx: ProviderContext) -> Sequence[HostRow]:
    key = ("hosts",)
    if key not in ctx.memo:
        hosts = _rows(ctx, _ALL_HOSTS)
        ctx.memo[key] = hosts
        for host in hosts:
            ctx.memo[("host", host.name.lower())] = host
            ctx.memo[("host-id", host.id)] = host
    return ctx.memo[key]


def host_named(ctx: ProviderContext, name: str) -> HostRow | None:
    key = ("host", name.lower())
    if key not in ctx.memo:
        rows = _rows(ctx, _HOST_NAMED, name=name.upper())
        ctx.memo[key] = rows[0] if rows else None
    return ctx.memo[key]


def host_by_id(ctx: ProviderContext, host_id: int) -> HostRow:
    key = ("host-id", host_id)
    if key not in ctx.memo:
        ctx.memo[key] = _rows(ctx, _HOST_BY_ID, id=host_id)[0]
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
        ctx.memo[key] = _rows(ctx, _NETWORKS, host_id=host.id)
    return ctx.memo[key]


def vms_in_scope(ctx: ProviderContext, scope: Scope, *, planned: bool) -> Sequence[VMRow]:
    key = ("vms", scope, planned)
    if key not in ctx.memo:
        if scope.cluster_view:
            vms = _rows(ctx, _VMS_EVERYWHERE, planned=planned)
        else:
            vms = _rows(ctx, _VMS_ON_HOST, host=scope.host.upper(), planned=planned)
        ctx.memo[key] = vms
        for vm in vms:
            ctx.memo[("vm", scope, vm.guid.lower(), planned)] = vm
        _seen_vm_ids(ctx).update(vm.id for vm in vms)
    return ctx.memo[key]


def vm_by_guid(ctx: ProviderContext, scope: Scope, guid: str, *, planned: bool) -> VMRow | None:
    key = ("vm", scope, guid.lower(), planned)
    if key not in ctx.memo:
        # One round trip: the endpoint's host is joined rather than looked up first.
        statement = _VM_ANYWHERE if scope.cluster_view else _VM_ON_HOST
        rows = _rows(ctx, statement, guid=guid.upper(), planned=planned, host=scope.host.upper())
        vm = rows[0] if rows else None
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
    return _children(ctx, vm, VirtualDisk, "disks")


def adapters_of(ctx: ProviderContext, vm: VMRow) -> Sequence[Any]:
    return _children(ctx, vm, NetworkAdapter, "nics")


def _children(ctx: ProviderContext, vm: VMRow, model: type, label: str) -> Sequence[Any]:
    """Children of one VM; loads them for every VM already read in this request at once."""
    key = (label, vm.id)
    if key in ctx.memo:
        return ctx.memo[key]
    ids = sorted(i for i in {vm.id, *_seen_vm_ids(ctx)} if (label, i) not in ctx.memo)
    table = model.__table__  # type: ignore[attr-defined]
    grouped: dict[int, list[Any]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        statement = select(table).where(table.c.vm_id.in_(chunk)).order_by(table.c.id)
        for row in ctx.uow.connection().execute(statement).all():
            grouped[row.vm_id].append(row)
    for i in ids:
        ctx.memo[(label, i)] = grouped.get(i, [])
    return ctx.memo[key]


def jobs_in_scope(ctx: ProviderContext, scope: Scope) -> Sequence[Any]:
    """Jobs accepted by the scope's hosts and not yet removed (TimeBeforeRemoval)."""
    key = ("jobs", scope)
    if key not in ctx.memo:
        if scope.cluster_view:
            rows = _rows(ctx, _ALL_JOBS)
        else:
            host = host_named(ctx, scope.host)
            rows = _rows(ctx, _HOST_JOBS, host_id=host.id) if host is not None else []
        now = ctx.now()
        ctx.memo[key] = [r for r in rows if r.remove_at is None or r.remove_at > now]
    return ctx.memo[key]


def jobs_received_by(ctx: ProviderContext, host: HostRow) -> Sequence[Any]:
    """Jobs of other hosts that move a VM to `host` and are not yet removed."""
    key = ("jobs-to", host.id)
    if key not in ctx.memo:
        now = ctx.now()
        ctx.memo[key] = [r for r in _rows(ctx, _JOBS_TO_HOST, host_id=host.id)
                         if r.remove_at is None or r.remove_at > now]
    return ctx.memo[key]


def active_job_counts(ctx: ProviderContext, host: HostRow) -> tuple[int, int]:
    """(live, storage) migrations the host is running now (§2.2, §16.4)."""
    key = ("job-counts", host.id)
    if key not in ctx.memo:
        statement = select(_JOBS.c.counts_vm, _JOBS.c.counts_storage).where(
            _JOBS.c.host_id == host.id, _JOBS.c.job_state.is_(None),
            _JOBS.c.started_at.is_not(None))
        rows = ctx.uow.connection().execute(statement).all()
        ctx.memo[key] = (sum(1 for r in rows if r.counts_vm),
                         sum(1 for r in rows if r.counts_storage))
    return ctx.memo[key]
