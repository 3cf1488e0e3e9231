"""Open pull enumerations (CIM-XML Open*/Pull*/Close), kept in the store so that any hvsim
process sharing the database can continue one.

`PullContexts` is what the enumeration logic asks of the store, one transaction at a time;
`SqlPullContexts` answers it with the tables `enumeration_contexts` and `enumeration_items`.
Paths travel as text: the store knows nothing of CIM.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, func, insert, select

from storage.db import Store, UnitOfWork
from storage.models import EnumerationContext, EnumerationItem


@dataclass(frozen=True)
class PullRequest:
    """What the Open asked to see of each instance, so that every Pull answers alike."""

    properties: tuple[str, ...] | None  # PropertyList; None = all
    include_qualifiers: bool
    include_class_origin: bool
    with_instances: bool  # False: the enumeration returns paths only

    def as_json(self) -> dict[str, Any]:
        return {"properties": list(self.properties) if self.properties is not None else None,
                "qualifiers": self.include_qualifiers,
                "class_origin": self.include_class_origin,
                "with_instances": self.with_instances}

    @staticmethod
    def from_json(value: dict[str, Any]) -> PullRequest:
        properties = value.get("properties")
        return PullRequest(tuple(properties) if properties is not None else None,
                           bool(value.get("qualifiers")), bool(value.get("class_origin")),
                           bool(value.get("with_instances")))


@dataclass(frozen=True)
class StoredPath:
    """One path an open enumeration still has to deliver, as WMI path text."""

    classname: str
    path: str
    namespace: str | None


@dataclass(frozen=True)
class PullContext:
    """An open enumeration as read at the start of a transaction."""

    id: str
    namespace: str
    endpoint_host: str
    operation: str
    request: PullRequest
    position: int  # paths delivered so far
    total: int  # paths stored at the Open
    timeout_seconds: int
    expires_at: datetime


class PullContexts(Protocol):
    """The open enumerations, inside one transaction: nothing is kept unless commit() is
    called. Changing a context another transaction changed first fails the commit with
    `StaleWrite`; database failures leave as `StoreUnavailable`."""

    def discard_expired(self, now: datetime) -> None:
        """Forget every context whose expiry is before `now`."""

    def open(self, context: PullContext, paths: Sequence[StoredPath]) -> None:
        """Keep a new context and the paths it will deliver, in order."""

    def find(self, context_id: str) -> PullContext | None: ...

    def take(self, context: PullContext, count: int) -> list[StoredPath]:
        """The next `count` paths (fewer at the end); the context moves past them."""

    def remaining(self, context: PullContext) -> int:
        """How many paths the context has not delivered yet."""

    def renew(self, context: PullContext, expires_at: datetime) -> None: ...

    def close(self, context: PullContext) -> None:
        """Forget the context and its paths."""

    def commit(self) -> None: ...


class PullContextStore(Protocol):
    def unit(self) -> AbstractContextManager[PullContexts]:
        """A transaction over the open enumerations."""


class SqlPullContexts:
    """`PullContexts` on a unit of work. The rows stay in the unit's session between calls,
    so their version counters catch a concurrent Pull of the same context."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def discard_expired(self, now: datetime) -> None:
        self._uow.session.execute(
            delete(EnumerationContext).where(EnumerationContext.expires_at < now))

    def open(self, context: PullContext, paths: Sequence[StoredPath]) -> None:
        session = self._uow.session
        session.add(EnumerationContext(
            id=context.id, namespace=context.namespace, endpoint_host=context.endpoint_host,
            operation=context.operation, request=context.request.as_json(),
            position=context.position, total=context.total,
            timeout_seconds=context.timeout_seconds, expires_at=context.expires_at))
        session.flush()  # the items' foreign key needs the context row first
        if paths:
            session.execute(insert(EnumerationItem), [
                {"context_id": context.id, "seq": context.position + i,
                 "classname": p.classname, "keys": {"path": p.path, "namespace": p.namespace}}
                for i, p in enumerate(paths)])

    def find(self, context_id: str) -> PullContext | None:
        row = self._uow.session.get(EnumerationContext, context_id)
        return None if row is None else _context_of(row)

    def take(self, context: PullContext, count: int) -> list[StoredPath]:
        row = self._row(context)
        items = self._uow.session.scalars(
            select(EnumerationItem).where(
                EnumerationItem.context_id == row.id,
                EnumerationItem.seq >= row.position,
                EnumerationItem.seq < row.position + count)
            .order_by(EnumerationItem.seq)).all()
        row.position += len(items)
        return [StoredPath(item.classname, item.keys["path"], item.keys.get("namespace"))
                for item in items]

    def remaining(self, context: PullContext) -> int:
        row = self._row(context)
        count = self._uow.session.scalar(
            select(func.count()).select_from(EnumerationItem).where(
                EnumerationItem.context_id == row.id, EnumerationItem.seq >= row.position))
        return int(count or 0)

    def renew(self, context: PullContext, expires_at: datetime) -> None:
        self._row(context).expires_at = expires_at

    def close(self, context: PullContext) -> None:
        # The items follow by ON DELETE CASCADE.
        self._uow.session.delete(self._row(context))

    def commit(self) -> None:
        self._uow.commit()

    def _row(self, context: PullContext) -> EnumerationContext:
        # Found earlier in this session: served from its identity map, no query.
        row = self._uow.session.get(EnumerationContext, context.id)
        if row is None:
            raise LookupError(f"enumeration context {context.id!r} is not in the store")
        return row


class SqlPullContextStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    @contextlib.contextmanager
    def unit(self) -> Iterator[SqlPullContexts]:
        with self._store.unit_of_work() as uow:
            yield SqlPullContexts(uow)


def _context_of(row: EnumerationContext) -> PullContext:
    return PullContext(
        id=row.id, namespace=row.namespace, endpoint_host=row.endpoint_host,
        operation=row.operation, request=PullRequest.from_json(row.request),
        position=row.position, total=row.total, timeout_seconds=row.timeout_seconds,
        expires_at=row.expires_at)
