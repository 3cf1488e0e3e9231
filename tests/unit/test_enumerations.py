"""Pull enumerations (Open/Pull/Close/EnumerationCount) against an in-memory store of
contexts: batches, bounds, expiry, unknown contexts and database failures."""

from __future__ import annotations

from typing import Any

import pytest
from pywbem import (
    CIM_ERR_FAILED,
    CIM_ERR_INVALID_ENUMERATION_CONTEXT,
    CIM_ERR_INVALID_NAMESPACE,
    CIM_ERR_INVALID_OPERATION_TIMEOUT,
    CIM_ERR_INVALID_PARAMETER,
    CIMError,
)

from emulator.core import guard
from emulator.core.enumerations import MAX_OBJECT_COUNT, Enumerations
from emulator.core.instances import View
from emulator.core.unavailable import ServiceUnavailable
from providers.base import V2
from storage.errors import FailureKind, StoreUnavailable
from tests.support.enumeration_stubs import (
    HOST,
    StubDispatcher,
    names,
    open_paths,
    result_for,
    vm_path,
)
from tests.support.fake_pull_contexts import FakePullContextStore


@pytest.fixture
def dispatcher() -> StubDispatcher:
    return StubDispatcher()


@pytest.fixture
def contexts() -> FakePullContextStore:
    return FakePullContextStore()


@pytest.fixture
def enumerations(dispatcher: StubDispatcher, contexts: FakePullContextStore) -> Enumerations:
    return Enumerations(dispatcher, contexts)


# -- Open and Pull -----------------------------------------------------------------------------


def test_pulls_deliver_the_rest_in_order_and_the_last_one_closes(
        enumerations: Enumerations, contexts: FakePullContextStore) -> None:
    opened = enumerations.open(HOST, V2, "paths", paths=[vm_path(i) for i in range(5)],
                               max_object_count=2)
    assert names(opened.paths) == ["VM-0", "VM-1"] and not opened.end_of_sequence
    assert opened.context is not None
    first = enumerations.pull(HOST, V2, opened.context, 2, "paths")
    assert names(first.paths) == ["VM-2", "VM-3"]
    assert not first.end_of_sequence and first.context == opened.context
    last = enumerations.pull(HOST, V2, opened.context, 2, "paths")
    assert names(last.paths) == ["VM-4"] and last.end_of_sequence and last.context is None
    assert contexts.contexts == {}
    with pytest.raises(CIMError) as info:
        enumerations.pull(HOST, V2, opened.context, 2, "paths")
    assert info.value.status_code == CIM_ERR_INVALID_ENUMERATION_CONTEXT


def test_an_open_that_delivers_everything_keeps_no_context(
        enumerations: Enumerations, contexts: FakePullContextStore) -> None:
    batch = enumerations.open(HOST, V2, "instances",
                              results=[result_for(vm_path(i)) for i in range(3)],
                              max_object_count=3)
    assert names(batch.results) == ["VM-0", "VM-1", "VM-2"]
    assert batch.end_of_sequence and batch.context is None
    assert contexts.commits == 0


def test_instance_pulls_read_again_with_the_opens_view_and_skip_what_went_away(
        enumerations: Enumerations, dispatcher: StubDispatcher) -> None:
    opened = enumerations.open(HOST, V2, "instances",
                               results=[result_for(vm_path(i)) for i in range(4)],
                               view=View.of(["Name", "EnabledState"]), max_object_count=1)
    assert opened.context is not None
    dispatcher.gone.add("VM-2")
    batch = enumerations.pull(HOST, V2, opened.context, 10, "instances")
    assert names(batch.results) == ["VM-1", "VM-3"] and batch.end_of_sequence
    assert dispatcher.reads == [(f"VM-{i}", ("enabledstate", "name")) for i in (1, 2, 3)]
    assert batch.results[0].view.properties == frozenset({"name", "enabledstate"})


def test_a_context_is_pulled_as_what_it_was_opened_for(enumerations: Enumerations) -> None:
    context = open_paths(enumerations, 3)
    with pytest.raises(CIMError) as info:
        enumerations.pull(HOST, V2, context, 1, "instances")
    assert info.value.status_code == CIM_ERR_INVALID_PARAMETER
    assert "PullInstancePaths" in info.value.status_description
    assert names(enumerations.pull(HOST, V2, context, 1, "paths").paths) == ["VM-0"]


# -- MaxObjectCount and OperationTimeout ---------------------------------------------------------


@pytest.mark.parametrize("count", [None, -1, MAX_OBJECT_COUNT + 1, "many"])
def test_pull_refuses_a_missing_or_unusable_max_object_count(enumerations: Enumerations,
                                                             count: Any) -> None:
    context = open_paths(enumerations, 3)
    with pytest.raises(CIMError) as info:
        enumerations.pull(HOST, V2, context, count, "paths")
    assert info.value.status_code == CIM_ERR_INVALID_PARAMETER
    assert "MaxObjectCount" in info.value.status_description


def test_max_object_count_zero_delivers_nothing_and_keeps_the_context(
        enumerations: Enumerations) -> None:
    context = open_paths(enumerations, 2)
    batch = enumerations.pull(HOST, V2, context, 0, "paths")
    assert batch.paths == [] and not batch.end_of_sequence and batch.context == context
    assert enumerations.count(HOST, V2, context) == 2


@pytest.mark.parametrize(("kwargs", "status"), [
    ({"operation_timeout": 0}, CIM_ERR_INVALID_OPERATION_TIMEOUT),
    ({"operation_timeout": 1801}, CIM_ERR_INVALID_OPERATION_TIMEOUT),
    ({"max_object_count": MAX_OBJECT_COUNT + 1}, CIM_ERR_INVALID_PARAMETER),
])
def test_open_refuses_bounds_it_cannot_keep(enumerations: Enumerations,
                                            contexts: FakePullContextStore,
                                            kwargs: dict[str, Any], status: int) -> None:
    with pytest.raises(CIMError) as info:
        enumerations.open(HOST, V2, "paths", paths=[vm_path(0), vm_path(1)], **kwargs)
    assert info.value.status_code == status
    assert contexts.contexts == {}


def test_open_in_an_unknown_namespace_is_refused(enumerations: Enumerations) -> None:
    with pytest.raises(CIMError) as info:
        enumerations.open(HOST, "root/nope", "paths", paths=[vm_path(0), vm_path(1)])
    assert info.value.status_code == CIM_ERR_INVALID_NAMESPACE


# -- expiry -------------------------------------------------------------------------------------


def test_a_context_expires_after_its_timeout_without_a_pull(
        enumerations: Enumerations, dispatcher: StubDispatcher,
        contexts: FakePullContextStore) -> None:
    context = open_paths(enumerations, 4, operation_timeout=5)
    dispatcher.wall_clock.advance(4)
    enumerations.pull(HOST, V2, context, 1, "paths")  # each pull starts the timeout again
    dispatcher.wall_clock.advance(4)
    enumerations.pull(HOST, V2, context, 1, "paths")
    dispatcher.wall_clock.advance(5.5)
    with pytest.raises(CIMError) as info:
        enumerations.pull(HOST, V2, context, 1, "paths")
    assert info.value.status_code == CIM_ERR_INVALID_ENUMERATION_CONTEXT
    assert "expired after 5 s" in info.value.status_description
    assert contexts.contexts == {}, "the expired context is forgotten at once"
    with pytest.raises(CIMError) as info:
        enumerations.count(HOST, V2, context)
    assert "does not exist" in info.value.status_description


def test_opening_forgets_contexts_that_expired_unnoticed(
        enumerations: Enumerations, dispatcher: StubDispatcher,
        contexts: FakePullContextStore) -> None:
    stale = open_paths(enumerations, 3, operation_timeout=1)
    dispatcher.wall_clock.advance(2)
    fresh = open_paths(enumerations, 3)
    assert set(contexts.contexts) == {fresh}
    assert stale not in contexts.paths


# -- Close, EnumerationCount, unknown contexts ---------------------------------------------------


def test_close_forgets_the_context(enumerations: Enumerations,
                                   contexts: FakePullContextStore) -> None:
    context = open_paths(enumerations, 3)
    enumerations.close(HOST, V2, context)
    assert contexts.contexts == {} and contexts.paths == {}
    with pytest.raises(CIMError) as info:
        enumerations.close(HOST, V2, context)
    assert info.value.status_code == CIM_ERR_INVALID_ENUMERATION_CONTEXT


def test_count_tells_what_is_left_without_moving_on(enumerations: Enumerations) -> None:
    context = open_paths(enumerations, 5, first=1)
    assert enumerations.count(HOST, V2, context) == 4
    assert enumerations.count(HOST, V2, context) == 4
    enumerations.pull(HOST, V2, context, 3, "paths")
    assert enumerations.count(HOST, V2, context) == 1


@pytest.mark.parametrize(("host", "namespace", "context"), [
    (HOST, V2, "0123456789abcdef"),
    (HOST, V2, None),
    (HOST, V2, ""),
    ("HV-02", V2, "opened"),  # another endpoint's context
    (HOST, "root/interop", "opened"),
])
def test_unknown_contexts_are_invalid_enumeration_contexts(
        enumerations: Enumerations, host: str, namespace: str, context: str | None) -> None:
    opened = open_paths(enumerations, 3)
    context_id = opened if context == "opened" else context
    for operation in (lambda: enumerations.pull(host, namespace, context_id, 1, "paths"),
                      lambda: enumerations.count(host, namespace, context_id),
                      lambda: enumerations.close(host, namespace, context_id)):
        with pytest.raises(CIMError) as info:
            operation()
        assert info.value.status_code == CIM_ERR_INVALID_ENUMERATION_CONTEXT
        assert "does not exist" in info.value.status_description
    assert enumerations.count(HOST, V2, opened) == 3, "the real context is untouched"


# -- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [FailureKind.UNREACHABLE, FailureKind.LOCK_TIMEOUT])
def test_database_failures_are_service_unavailable(
        enumerations: Enumerations, contexts: FakePullContextStore,
        monkeypatch: pytest.MonkeyPatch, kind: FailureKind) -> None:
    monkeypatch.setattr(guard, "RETRY_DELAYS", (0.0,))
    context = open_paths(enumerations, 3)
    contexts.failure = StoreUnavailable(kind, "connection refused")
    for operation in (lambda: enumerations.pull(HOST, V2, context, 1, "paths"),
                      lambda: enumerations.count(HOST, V2, context),
                      lambda: enumerations.close(HOST, V2, context),
                      lambda: open_paths(enumerations, 3)):
        with pytest.raises(ServiceUnavailable) as info:
            operation()
        assert "retry the operation" in info.value.status_description
    contexts.failure = None
    assert enumerations.count(HOST, V2, context) == 3, "nothing was half done"


def test_a_pull_that_loses_a_race_for_its_context_fails_cleanly(
        enumerations: Enumerations, contexts: FakePullContextStore) -> None:
    context = open_paths(enumerations, 3)

    def another_pull_commits_first() -> None:
        with contexts.unit() as other:
            found = other.find(context)
            assert found is not None
            other.take(found, 1)
            other.commit()

    contexts.before_next_commit = another_pull_commits_first
    with pytest.raises(CIMError) as info:
        enumerations.pull(HOST, V2, context, 1, "paths")
    assert info.value.status_code == CIM_ERR_FAILED
    assert "changed by another request" in info.value.status_description
    assert enumerations.count(HOST, V2, context) == 2, "only the winner moved the context on"
