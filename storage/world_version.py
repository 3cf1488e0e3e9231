"""The world version: a counter every transaction that changes the world bumps once.

Front ends key their caches by it, so any process can tell in one indexed read whether what it
rendered earlier may be stale. The flush hook bumps it for ORM changes; bulk statements, which
bypass the hook, call `bump_world_version` themselves.
"""

from __future__ import annotations

from sqlalchemy import event, update
from sqlalchemy.orm import Session, sessionmaker

from storage.control_models import WORLD_MODELS
from storage.models import WorldVersion

_BUMPED = "world_bumped"


def bump_world_version(session: Session) -> None:
    session.execute(update(WorldVersion).where(WorldVersion.id == 1)
                    .values(counter=WorldVersion.counter + 1))
    session.info[_BUMPED] = True


def _bump_on_world_change(session: Session, _context: object, _instances: object) -> None:
    """Flush hook: the first flush of a transaction that touches the world bumps its version."""
    if session.info.get(_BUMPED):
        return
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, WORLD_MODELS) for obj in changed):
        bump_world_version(session)


def _reset_bump_flag(session: Session, *_args: object) -> None:
    session.info.pop(_BUMPED, None)


def watch_world_changes(factory: sessionmaker[Session]) -> None:
    """Make every session of `factory` bump the version in transactions that change the world."""
    event.listen(factory, "before_flush", _bump_on_world_change)
    for name in ("after_commit", "after_rollback"):
        event.listen(factory, name, _reset_bump_flag)
