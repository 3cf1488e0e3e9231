"""The pull-context store's contract, which the in-memory fake and the SQL repository
(on SQLite and PostgreSQL) meet alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from providers.base import V2
from storage.db import Store, upgrade_schema
from storage.errors import StaleWrite
from storage.pull_contexts import (
    PullContext,
    PullContextStore,
    PullRequest,
    SqlPullContextStore,
    StoredPath,
)
from tests.support import fresh_database, sqlite_url
from tests.support.enumeration_stubs import HOST, START
from tests.support.fake_pull_contexts import FakePullContextStore


@pytest.fixture(params=["fake", "sqlite", "postgres"])
def pull_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PullContextStore]:
    if request.param == "fake":
        yield FakePullContextStore()
        return
    url = (sqlite_url(tmp_path / "hvsim.db") if request.param == "sqlite"
           else fresh_database(request.getfixturevalue("postgres_url")))
    store = Store(url)
    upgrade_schema(store.engine)
    yield SqlPullContextStore(store)
    store.dispose()


def stored(i: int) -> StoredPath:
    return StoredPath("Msvm_ComputerSystem", f'\\\\{HOST}\\root\\virtualization\\v2:'
                      f'Msvm_ComputerSystem.Name="VM-{i}"', V2)


def new_context(context_id: str, total: int, *, expires_at: datetime = START) -> PullContext:
    return PullContext(id=context_id, namespace=V2, endpoint_host=HOST, operation="paths",
                       request=PullRequest(("name",), False, True, False), position=0,
                       total=total, timeout_seconds=60, expires_at=expires_at)


def test_the_store_keeps_contexts_and_hands_out_their_paths(
        pull_store: PullContextStore) -> None:
    with pull_store.unit() as contexts:
        contexts.open(new_context("a", 3), [stored(i) for i in range(3)])
        contexts.commit()
    with pull_store.unit() as contexts:
        found = contexts.find("a")
        assert found == new_context("a", 3)
        assert contexts.take(found, 2) == [stored(0), stored(1)]
        contexts.renew(found, START + timedelta(seconds=60))
        contexts.commit()
    with pull_store.unit() as contexts:
        found = contexts.find("a")
        assert found is not None
        assert (found.position, found.expires_at) == (2, START + timedelta(seconds=60))
        assert contexts.remaining(found) == 1
        assert contexts.take(found, 5) == [stored(2)]
        contexts.close(found)
        contexts.commit()
    with pull_store.unit() as contexts:
        assert contexts.find("a") is None


def test_the_store_keeps_nothing_uncommitted(pull_store: PullContextStore) -> None:
    with pull_store.unit() as contexts:
        contexts.open(new_context("a", 2), [stored(0), stored(1)])
        contexts.commit()
    with pull_store.unit() as contexts:
        contexts.open(new_context("b", 1), [stored(0)])
        found = contexts.find("a")
        assert found is not None
        contexts.take(found, 1)
    with pull_store.unit() as contexts:
        found = contexts.find("a")
        assert found is not None and found.position == 0
        assert contexts.find("b") is None


def test_the_store_discards_only_expired_contexts(pull_store: PullContextStore) -> None:
    with pull_store.unit() as contexts:
        contexts.open(new_context("old", 1, expires_at=START), [stored(0)])
        contexts.open(new_context("new", 1, expires_at=START + timedelta(seconds=10)),
                      [stored(0)])
        contexts.commit()
    with pull_store.unit() as contexts:
        contexts.discard_expired(START + timedelta(seconds=5))
        contexts.commit()
    with pull_store.unit() as contexts:
        assert contexts.find("old") is None and contexts.find("new") is not None


def test_the_store_lets_only_one_of_two_racing_pulls_win(pull_store: PullContextStore) -> None:
    with pull_store.unit() as contexts:
        contexts.open(new_context("a", 3), [stored(i) for i in range(3)])
        contexts.commit()
    with pull_store.unit() as first, pull_store.unit() as second:
        mine, theirs = first.find("a"), second.find("a")
        assert mine is not None and theirs is not None
        first.take(mine, 1)
        second.take(theirs, 1)
        first.commit()
        with pytest.raises(StaleWrite):
            second.commit()
    with pull_store.unit() as contexts:
        found = contexts.find("a")
        assert found is not None and found.position == 1
