"""An in-memory `PullContextStore` for unit tests of the enumeration logic.

Each unit works on a copy of the committed state and publishes it on commit, so work that is
not committed is lost as in the database. A context another unit changed or closed after this
one found it fails the commit with `StaleWrite`, as the rows' version counters make it do.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from storage.errors import StaleWrite
from storage.pull_contexts import PullContext, StoredPath


class FakePullContextStore:
    def __init__(self) -> None:
        self.contexts: dict[str, PullContext] = {}
        self.paths: dict[str, list[StoredPath]] = {}
        self.commits = 0
        # Raised when a unit is opened or commits, to stand for a database that fails.
        self.failure: BaseException | None = None
        # Run once just before the next commit, to stand for another request committing first.
        self.before_next_commit: Callable[[], None] | None = None

    @contextlib.contextmanager
    def unit(self) -> Iterator[FakePullContexts]:
        if self.failure is not None:
            raise self.failure
        yield FakePullContexts(self)


class FakePullContexts:
    def __init__(self, store: FakePullContextStore) -> None:
        self._store = store
        self._contexts = dict(store.contexts)
        self._paths = dict(store.paths)
        self._found: dict[str, PullContext] = {}  # as read, to detect a concurrent change

    def discard_expired(self, now: datetime) -> None:
        for context in list(self._contexts.values()):
            if context.expires_at < now:
                self._forget(context.id)

    def open(self, context: PullContext, paths: Sequence[StoredPath]) -> None:
        if context.id in self._contexts:
            raise ValueError(f"context {context.id!r} exists already")
        self._contexts[context.id] = context
        self._paths[context.id] = list(paths)

    def find(self, context_id: str) -> PullContext | None:
        context = self._contexts.get(context_id)
        if context is not None and context_id in self._store.contexts:
            self._found.setdefault(context_id, self._store.contexts[context_id])
        return context

    def take(self, context: PullContext, count: int) -> list[StoredPath]:
        current = self._current(context)
        taken = self._paths[current.id][current.position:current.position + count]
        self._contexts[current.id] = dataclasses.replace(
            current, position=current.position + len(taken))
        return taken

    def remaining(self, context: PullContext) -> int:
        current = self._current(context)
        return len(self._paths[current.id]) - current.position

    def renew(self, context: PullContext, expires_at: datetime) -> None:
        current = self._current(context)
        self._contexts[current.id] = dataclasses.replace(current, expires_at=expires_at)

    def close(self, context: PullContext) -> None:
        self._current(context)
        self._forget(context.id)

    def commit(self) -> None:
        if self._store.failure is not None:
            raise self._store.failure
        interloper, self._store.before_next_commit = self._store.before_next_commit, None
        if interloper is not None:
            interloper()
        for context_id, seen in self._found.items():
            if self._store.contexts.get(context_id) is not seen:
                raise StaleWrite(f"context {context_id!r} was changed by another unit")
        self._store.contexts = dict(self._contexts)
        self._store.paths = dict(self._paths)
        self._store.commits += 1
        self._found.clear()

    def _current(self, context: PullContext) -> PullContext:
        current = self._contexts.get(context.id)
        if current is None:
            raise LookupError(f"enumeration context {context.id!r} is not in the store")
        return current

    def _forget(self, context_id: str) -> None:
        self._contexts.pop(context_id, None)
        self._paths.pop(context_id, None)
