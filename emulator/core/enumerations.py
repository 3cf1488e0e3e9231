"""Open/Pull/Close enumeration contexts (DSP0200 §5.3.2.32-40), kept in the store.

An Open answers its first batch at once; what remains is stored as ordered paths, so a Pull may
be served by any hvsim process sharing the database. Each Pull re-reads its instances, so it
reflects the world at pull time (DSP0200 allows this).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pywbem import (
    CIM_ERR_CONTINUATION_ON_ERROR_NOT_SUPPORTED,
    CIM_ERR_INVALID_ENUMERATION_CONTEXT,
    CIM_ERR_INVALID_OPERATION_TIMEOUT,
    CIM_ERR_INVALID_PARAMETER,
    CIMError,
    CIMInstanceName,
)

from emulator.cim.objectpath import format_wmi_path, parse_object_path
from emulator.core.guard import guarded, guarded_write
from emulator.core.instances import View
from emulator.core.results import InstanceResult
from emulator.core.unavailable import ServiceUnavailable
from providers.base import Clock, Scope
from storage.db import Store
from storage.pull_contexts import (
    PullContext,
    PullContexts,
    PullContextStore,
    PullRequest,
    SqlPullContextStore,
    StoredPath,
)

DEFAULT_TIMEOUT_SECONDS = 60
MAX_TIMEOUT_SECONDS = 1800
MAX_OBJECT_COUNT = 10_000


@dataclass
class Batch:
    results: list[InstanceResult]
    paths: list[CIMInstanceName]
    end_of_sequence: bool
    context: str | None


class InstanceSource(Protocol):
    """What enumerations need of the dispatcher: namespaces, the wall clock (an enumeration
    context expires in real time, whatever the world clock does), instances by path."""

    @property
    def store(self) -> Store | None: ...

    @property
    def wall_clock(self) -> Clock: ...

    def scope(self, host: str, namespace: str | None) -> Scope: ...

    def get_instance(self, host: str, namespace: str, path: CIMInstanceName, *,
                     local_only: bool = False, include_qualifiers: bool = False,
                     include_class_origin: bool = False,
                     property_list: Iterable[str] | None = None) -> InstanceResult: ...


class Enumerations:
    def __init__(self, dispatcher: InstanceSource,
                 contexts: PullContextStore | None = None) -> None:
        self.dispatcher = dispatcher
        self.store = dispatcher.store  # for emulator.core.guard
        if contexts is None:
            if dispatcher.store is None:
                raise TypeError("enumerations need a store for their contexts")
            contexts = SqlPullContextStore(dispatcher.store)
        self.contexts = contexts

    @staticmethod
    def check_open_args(operation_timeout: int | None, max_object_count: int | None,
                        continue_on_error: bool | None) -> tuple[int, int]:
        if continue_on_error:
            raise CIMError(CIM_ERR_CONTINUATION_ON_ERROR_NOT_SUPPORTED,
                           "ContinueOnError is not supported")
        timeout = DEFAULT_TIMEOUT_SECONDS if operation_timeout is None else operation_timeout
        if not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
            raise CIMError(CIM_ERR_INVALID_OPERATION_TIMEOUT,
                           f"OperationTimeout must be between 1 and {MAX_TIMEOUT_SECONDS} "
                           f"seconds, not {timeout}")
        return timeout, check_count(max_object_count)

    @guarded_write
    def open(self, host: str, namespace: str, operation: str, *, results: list[InstanceResult]
             | None = None, paths: list[CIMInstanceName] | None = None,
             view: View | None = None, operation_timeout: int | None = None,
             max_object_count: int | None = None,
             continue_on_error: bool | None = None) -> Batch:
        timeout, count = self.check_open_args(operation_timeout, max_object_count,
                                              continue_on_error)
        scope = self.dispatcher.scope(host, namespace)
        if results is not None:
            first, rest = results[:count], results[count:]
            rest_paths = [r.path for r in rest]
            if not rest:
                return Batch(first, [], True, None)
        else:
            assert paths is not None
            first_paths, rest_paths = paths[:count], paths[count:]
            if not rest_paths:
                return Batch([], first_paths, True, None)
        now = self.dispatcher.wall_clock.now()
        context_id = secrets.token_hex(16)
        view = view or View()
        request = PullRequest(
            tuple(sorted(view.properties)) if view.properties is not None else None,
            view.include_qualifiers, view.include_class_origin, results is not None)
        with self.contexts.unit() as contexts:
            contexts.discard_expired(now)
            contexts.open(
                PullContext(id=context_id, namespace=scope.namespace, endpoint_host=host,
                            operation=operation, request=request, position=0,
                            total=len(rest_paths), timeout_seconds=timeout,
                            expires_at=now + timedelta(seconds=timeout)),
                [StoredPath(p.classname, format_wmi_path(p), p.namespace) for p in rest_paths])
            contexts.commit()
        if results is not None:
            return Batch(first, [], False, context_id)
        return Batch([], first_paths, False, context_id)

    @staticmethod
    def _context(contexts: PullContexts, host: str, namespace: str, context_id: Any,
                 family: str, now: datetime) -> PullContext:
        """The context a client names, if it may continue it here and now."""
        context = contexts.find(str(context_id or ""))
        if context is None or context.endpoint_host != host or \
                context.namespace.lower() != namespace.strip("/").lower():
            raise CIMError(CIM_ERR_INVALID_ENUMERATION_CONTEXT,
                           f"enumeration context {context_id!r} does not exist (closed, "
                           "finished or never opened here)")
        if context.expires_at < now:
            contexts.close(context)
            contexts.commit()
            raise CIMError(CIM_ERR_INVALID_ENUMERATION_CONTEXT,
                           f"enumeration context {context_id!r} expired after "
                           f"{context.timeout_seconds} s without a pull")
        if family == "instances" and not context.request.with_instances:
            raise CIMError(CIM_ERR_INVALID_PARAMETER,
                           "this enumeration context returns paths: use PullInstancePaths")
        if family == "paths" and context.request.with_instances:
            raise CIMError(CIM_ERR_INVALID_PARAMETER,
                           "this enumeration context returns instances: pull instances")
        return context

    @guarded_write
    def pull(self, host: str, namespace: str, context_id: Any, max_object_count: Any,
             family: str) -> Batch:
        count = check_count(max_object_count, required=True)
        with self.contexts.unit() as contexts:
            now = self.dispatcher.wall_clock.now()
            context = self._context(contexts, host, namespace, context_id, family, now)
            taken = contexts.take(context, count)
            finished = context.position + len(taken) >= context.total
            if finished:
                contexts.close(context)
            else:
                contexts.renew(context, now + timedelta(seconds=context.timeout_seconds))
            contexts.commit()
        paths = [parse_object_path(item.path) for item in taken]
        next_context = None if finished else str(context_id)
        if family == "paths":
            return Batch([], [p for p in paths if isinstance(p, CIMInstanceName)], finished,
                         next_context)
        request = context.request
        view = View(frozenset(request.properties) if request.properties is not None
                    else None, request.include_qualifiers, request.include_class_origin)
        results = []
        for path in paths:
            assert isinstance(path, CIMInstanceName)
            try:
                result = self.dispatcher.get_instance(
                    host, path.namespace or context.namespace, path,
                    include_qualifiers=view.include_qualifiers,
                    include_class_origin=view.include_class_origin,
                    property_list=request.properties)
            except ServiceUnavailable:
                raise
            except CIMError:
                continue  # the instance went away since the Open
            results.append(result)
        return Batch(results, [], finished, next_context)

    @guarded_write
    def close(self, host: str, namespace: str, context_id: Any) -> None:
        with self.contexts.unit() as contexts:
            context = self._context(contexts, host, namespace, context_id, "any",
                                    self.dispatcher.wall_clock.now())
            contexts.close(context)
            contexts.commit()

    @guarded
    def count(self, host: str, namespace: str, context_id: Any) -> int:
        with self.contexts.unit() as contexts:
            context = self._context(contexts, host, namespace, context_id, "any",
                                    self.dispatcher.wall_clock.now())
            return contexts.remaining(context)


def check_count(value: Any, *, required: bool = False) -> int:
    if value is None:
        if required:
            raise CIMError(CIM_ERR_INVALID_PARAMETER, "MaxObjectCount is required")
        return 0
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise CIMError(CIM_ERR_INVALID_PARAMETER,
                       f"MaxObjectCount must be an integer, not {value!r}") from None
    if not 0 <= count <= MAX_OBJECT_COUNT:
        raise CIMError(CIM_ERR_INVALID_PARAMETER,
                       f"MaxObjectCount must be between 0 and {MAX_OBJECT_COUNT}")
    return count

