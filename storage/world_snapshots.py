"""`WorldSnapshots` in SQL: named copies of the world's state document, shared by every
process on the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.control_models import WorldSnapshot


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    taken_at: datetime
    hosts: int
    vms: int


class SqlWorldSnapshots:
    def __init__(self, session: Session) -> None:
        self._session = session

    def all(self) -> list[SnapshotInfo]:
        """Every snapshot, oldest first."""
        rows = self._session.execute(
            select(WorldSnapshot.name, WorldSnapshot.taken_at, WorldSnapshot.hosts,
                   WorldSnapshot.vms).order_by(WorldSnapshot.id))
        return [SnapshotInfo(*row) for row in rows]

    def document(self, name: str) -> str | None:
        """The state document of the snapshot called `name` (None: no such snapshot)."""
        return self._session.scalar(
            select(WorldSnapshot.document).where(WorldSnapshot.name == name))

    def exists(self, name: str) -> bool:
        return self._session.scalar(
            select(WorldSnapshot.id).where(WorldSnapshot.name == name)) is not None

    def add(self, info: SnapshotInfo, document: str) -> None:
        self._session.add(WorldSnapshot(name=info.name, taken_at=info.taken_at,
                                        hosts=info.hosts, vms=info.vms, document=document))

    def delete(self, name: str) -> bool:
        """Remove the snapshot; False when there was none."""
        result = self._session.execute(delete(WorldSnapshot).where(WorldSnapshot.name == name))
        return bool(getattr(result, "rowcount", 0))
