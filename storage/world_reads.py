"""`WorldReads` in SQL: Core statements built once with bind parameters.

Composing statements and building ORM objects costs more CPU than SQLite takes to answer, and
the CIM views only read, so these return Core rows (attributes named like the models' columns).
Children of many VMs are loaded in chunks of `CHUNK` ids, one statement per chunk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, FromClause, Row, Select, bindparam, select

from storage.models import Cluster, Host, Job, MigrationNetwork, NetworkAdapter, VirtualDisk
from storage.models import VirtualMachine as VM
from storage.repositories import AdapterRow, DiskRow, HostRow, JobRow, NetworkRow, VMRow

CHUNK = 500

_HOSTS: FromClause = Host.__table__
_VMS: FromClause = VM.__table__
_JOBS: FromClause = Job.__table__
_NETWORK_TABLE: FromClause = MigrationNetwork.__table__
_DISKS: FromClause = VirtualDisk.__table__
_ADAPTERS: FromClause = NetworkAdapter.__table__

_CLUSTER = select(Cluster.__table__)
_ALL_HOSTS = select(_HOSTS).order_by(_HOSTS.c.ordinal)
_HOST_NAMES = select(_HOSTS.c.name).order_by(_HOSTS.c.ordinal)
_HOST_NAMED = select(_HOSTS).where(_HOSTS.c.name == bindparam("name"))
_HOST_BY_ID = select(_HOSTS).where(_HOSTS.c.id == bindparam("id"))
_NETWORKS = (select(_NETWORK_TABLE).where(_NETWORK_TABLE.c.host_id == bindparam("host_id"))
             .order_by(_NETWORK_TABLE.c.id))
_VM_ON_HOST = (select(_VMS).join(_HOSTS, _VMS.c.host_id == _HOSTS.c.id)
               .where(_HOSTS.c.name == bindparam("host"), _VMS.c.guid == bindparam("guid"),
                      _VMS.c.planned == bindparam("planned")))
_VM_ANYWHERE = (select(_VMS).where(_VMS.c.guid == bindparam("guid"),
                                   _VMS.c.planned == bindparam("planned"))
                .order_by(_VMS.c.id))
_VMS_ON_HOST = (select(_VMS).join(_HOSTS, _VMS.c.host_id == _HOSTS.c.id)
                .where(_HOSTS.c.name == bindparam("host"), _VMS.c.planned == bindparam("planned"))
                .order_by(_VMS.c.id))
_VMS_EVERYWHERE = (select(_VMS).where(_VMS.c.planned == bindparam("planned"))
                   .order_by(_VMS.c.host_id, _VMS.c.id))
_ALL_JOBS = select(_JOBS).order_by(_JOBS.c.id)
_HOST_JOBS = select(_JOBS).where(_JOBS.c.host_id == bindparam("host_id")).order_by(_JOBS.c.id)
_JOBS_TO_HOST = (select(_JOBS).where(_JOBS.c.destination_host_id == bindparam("host_id"))
                 .order_by(_JOBS.c.id))
_RUNNING_JOBS = select(_JOBS.c.counts_vm, _JOBS.c.counts_storage).where(
    _JOBS.c.host_id == bindparam("host_id"), _JOBS.c.job_state.is_(None),
    _JOBS.c.started_at.is_not(None))


class SqlWorldReads:
    def __init__(self, connection: Callable[[], Connection]) -> None:
        # The unit's connection, asked for on first use: a read-only request that is answered
        # from cache never opens one.
        self._connection = connection

    def _rows(self, statement: Select[Any], **params: Any) -> Sequence[Row[Any]]:
        return self._connection().execute(statement, params).all()

    def _first(self, statement: Select[Any], **params: Any) -> Row[Any] | None:
        rows = self._rows(statement, **params)
        return rows[0] if rows else None

    def cluster(self) -> Any:
        return self._rows(_CLUSTER)[0]

    def hosts(self) -> Sequence[HostRow]:
        return self._rows(_ALL_HOSTS)

    def host_names(self) -> list[str]:
        return [row.name for row in self._rows(_HOST_NAMES)]

    def host_named(self, name: str) -> HostRow | None:
        return self._first(_HOST_NAMED, name=name.upper())

    def host_by_id(self, host_id: int) -> HostRow | None:
        return self._first(_HOST_BY_ID, id=host_id)

    def networks_of(self, host_id: int) -> Sequence[NetworkRow]:
        return self._rows(_NETWORKS, host_id=host_id)

    def vms_on_host(self, host: str, *, planned: bool) -> Sequence[VMRow]:
        return self._rows(_VMS_ON_HOST, host=host.upper(), planned=planned)

    def vms_everywhere(self, *, planned: bool) -> Sequence[VMRow]:
        return self._rows(_VMS_EVERYWHERE, planned=planned)

    def vm_on_host(self, host: str, guid: str, *, planned: bool) -> VMRow | None:
        # One round trip: the host is joined rather than looked up first.
        return self._first(_VM_ON_HOST, host=host.upper(), guid=guid.upper(), planned=planned)

    def vm_anywhere(self, guid: str, *, planned: bool) -> VMRow | None:
        return self._first(_VM_ANYWHERE, guid=guid.upper(), planned=planned)

    def disks_of_vms(self, vm_ids: Sequence[int]) -> dict[int, list[DiskRow]]:
        return self._children(_DISKS, vm_ids)

    def adapters_of_vms(self, vm_ids: Sequence[int]) -> dict[int, list[AdapterRow]]:
        return self._children(_ADAPTERS, vm_ids)

    def _children(self, table: FromClause, vm_ids: Sequence[int]) -> dict[int, list[Any]]:
        grouped: dict[int, list[Any]] = defaultdict(list)
        ids = sorted(vm_ids)
        connection = self._connection()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            statement = select(table).where(table.c.vm_id.in_(chunk)).order_by(table.c.id)
            for row in connection.execute(statement).all():
                grouped[row.vm_id].append(row)
        return grouped

    def jobs(self, host_id: int | None = None) -> Sequence[JobRow]:
        if host_id is None:
            return self._rows(_ALL_JOBS)
        return self._rows(_HOST_JOBS, host_id=host_id)

    def jobs_to_host(self, host_id: int) -> Sequence[JobRow]:
        return self._rows(_JOBS_TO_HOST, host_id=host_id)

    def active_job_counts(self, host_id: int) -> tuple[int, int]:
        rows = self._rows(_RUNNING_JOBS, host_id=host_id)
        return (sum(1 for r in rows if r.counts_vm), sum(1 for r in rows if r.counts_storage))
