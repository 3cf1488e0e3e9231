"""Fault rules in SQL: the rules every process reads, and their match and fire counters.

Counters move by single UPDATE statements, so processes sharing one database count each match
once and never fire a rule more often than its `count` allows. Adding or removing a rule bumps
the world version, which is how every process learns that its view of the rules is stale;
counting does not (it changes no answer by itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage.control_models import FaultRule
from storage.world_version import bump_world_version


@dataclass(frozen=True)
class StoredFaultRule:
    id: int
    spec: dict[str, Any]
    origin: str
    created_at: datetime
    expires_at: datetime | None
    matched: int
    fired: int


def _stored(row: FaultRule) -> StoredFaultRule:
    return StoredFaultRule(row.id, dict(row.spec), row.origin, row.created_at, row.expires_at,
                           row.matched, row.fired)


class SqlFaultRules:
    def __init__(self, session: Session) -> None:
        self._session = session

    def all(self) -> list[StoredFaultRule]:
        rows = self._session.scalars(select(FaultRule).order_by(FaultRule.id))
        return [_stored(row) for row in rows]

    def add(self, spec: dict[str, Any], origin: str, now: datetime,
            expires_at: datetime | None) -> StoredFaultRule:
        row = FaultRule(spec=spec, origin=origin, created_at=now, expires_at=expires_at,
                        matched=0, fired=0)
        self._session.add(row)
        self._session.flush()
        bump_world_version(self._session)
        return _stored(row)

    def remove(self, rule_id: int) -> bool:
        removed = self._session.execute(delete(FaultRule).where(FaultRule.id == rule_id))
        if not removed.rowcount:  # type: ignore[attr-defined]
            return False
        bump_world_version(self._session)
        return True

    def clear(self) -> int:
        removed = int(self._session.execute(delete(FaultRule)).rowcount)  # type: ignore[attr-defined]
        bump_world_version(self._session)
        return removed

    def count_match(self, rule_id: int) -> int | None:
        """Count one more match of the rule; its match number (None: the rule is gone)."""
        return self._session.scalar(
            update(FaultRule).where(FaultRule.id == rule_id)
            .values(matched=FaultRule.matched + 1).returning(FaultRule.matched))

    def count_fire(self, rule_id: int, limit: int | None) -> bool:
        """Count one firing unless the rule has fired `limit` times already."""
        statement = update(FaultRule).where(FaultRule.id == rule_id)
        if limit is not None:
            statement = statement.where(FaultRule.fired < limit)
        done = self._session.execute(statement.values(fired=FaultRule.fired + 1))
        return bool(done.rowcount)  # type: ignore[attr-defined]
