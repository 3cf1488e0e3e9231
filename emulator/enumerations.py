"""Open/Pull/Close enumeration contexts (DSP0200 §5.3.2.32-40), kept in the store.

An Open answers its first batch at once; what remains is stored as ordered paths, so a Pull may
be served by any hvsim process sharing the database. Each Pull re-reads its instances, so it
reflects the world at pull time (DSP0200 allows this).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pywbem import (
    CIM_ERR_CONTINUATION_ON_ERROR_NOT_SUPPORTED,
    CIM_ERR_INVALID_ENUMERATION_CONTEXT,
    CIM_ERR_INVALID_OPERATION_TIMEOUT,
    CIM_ERR_INVALID_PARAMETER,
    CIMError,
    CIMInstanceName,
)
from sqlalchemy import delete, func, insert, select

from emulator.cim.objectpath import format_wmi_path, parse_object_path
from emulator.dispatch import Dispatcher, InstanceResult
from emulator.guard import guarded, guarded_write
from emulator.instances import View
from emulator.unavailable import ServiceUnavailable
from storage.models import EnumerationContext, EnumerationItem

DEFAULT_TIMEOUT_SECONDS = 60
MAX_TIMEOUT_SECONDS = 1800
MAX_OBJECT_COUNT = 10_000


@dataclass
class Batch:
    results: list[InstanceResult]
    paths: list[CIMInstanceName]
    end_of_sequence: bool
    context: str | None


class Enumerations:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.store = dispatcher.store  # for emulator.guard

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
        now = self.dispatcher.clock.now()
        context_id = secrets.token_hex(16)
        view = view or View()
        with self.dispatcher.store.unit_of_work() as uow:
            session = uow.session
            session.execute(delete(EnumerationContext).where(EnumerationContext.expires_at < now))
            session.add(EnumerationContext(
                id=context_id, namespace=scope.namespace, endpoint_host=host, operation=operation,
                request={"properties": sorted(view.properties) if view.properties is not None
                         else None, "qualifiers": view.include_qualifiers,
                         "class_origin": view.include_class_origin,
                         "with_instances": results is not None},
                position=0, total=len(rest_paths), timeout_seconds=timeout,
                expires_at=now + timedelta(seconds=timeout)))
            session.flush()
            session.execute(insert(EnumerationItem), [
                {"context_id": context_id, "seq": i, "classname": p.classname,
                 "keys": {"path": format_wmi_path(p), "namespace": p.namespace}}
                for i, p in enumerate(rest_paths)])
            uow.commit()
        if results is not None:
            return Batch(first, [], False, context_id)
        return Batch([], first_paths, False, context_id)

    def _context(self, uow: Any, host: str, namespace: str, context_id: Any,
                 operation_family: str) -> EnumerationContext:
        context = uow.session.get(EnumerationContext, str(context_id or ""))
        now = self.dispatcher.clock.now()
        if context is None or context.endpoint_host != host or \
                context.namespace.lower() != namespace.strip("/").lower():
            raise CIMError(CIM_ERR_INVALID_ENUMERATION_CONTEXT,
                           f"enumeration context {context_id!r} does not exist (closed, "
                           "finished or never opened here)")
        if context.expires_at < now:
            uow.session.delete(context)
            uow.commit()
            raise CIMError(CIM_ERR_INVALID_ENUMERATION_CONTEXT,
                           f"enumeration context {context_id!r} expired after "
                           f"{context.timeout_seconds} s without a pull")
        if operation_family == "instances" and not context.request.get("with_instances"):
            raise CIMError(CIM_ERR_INVALID_PARAMETER,
                           "this enumeration context returns paths: use PullInstancePaths")
        if operation_family == "paths" and context.request.get("with_instances"):
            raise CIMError(CIM_ERR_INVALID_PARAMETER,
                           "this enumeration context returns instances: pull instances")
        return context

    @guarded_write
    def pull(self, host: str, namespace: str, context_id: Any, max_object_count: Any,
             family: str) -> Batch:
        count = check_count(max_object_count, required=True)
        with self.dispatcher.store.unit_of_work() as uow:
            context = self._context(uow, host, namespace, context_id, family)
            items = uow.session.scalars(
                select(EnumerationItem).where(
                    EnumerationItem.context_id == context.id,
                    EnumerationItem.seq >= context.position,
                    EnumerationItem.seq < context.position + count)
                .order_by(EnumerationItem.seq)).all()
            context.position += len(items)
            finished = context.position >= context.total
            now = self.dispatcher.clock.now()
            if finished:
                uow.session.delete(context)
            else:
                context.expires_at = now + timedelta(seconds=context.timeout_seconds)
            request = dict(context.request)
            scope_namespace = context.namespace
            uow.commit()
        paths = [parse_object_path(item.keys["path"]) for item in items]
        next_context = None if finished else str(context_id)
        if family == "paths":
            return Batch([], [p for p in paths if isinstance(p, CIMInstanceName)], finished,
                         next_context)
        view = View(frozenset(request["properties"]) if request["properties"] is not None
                    else None, request["qualifiers"], request["class_origin"])
        results = []
        for path in paths:
            assert isinstance(path, CIMInstanceName)
            try:
                result = self.dispatcher.get_instance(
                    host, path.namespace or scope_namespace, path,
                    include_qualifiers=view.include_qualifiers,
                    include_class_origin=view.include_class_origin,
                    property_list=request["properties"])
            except ServiceUnavailable:
                raise
            except CIMError:
                continue  # the instance went away since the Open
            results.append(result)
        return Batch(results, [], finished, next_context)

    @guarded_write
    def close(self, host: str, namespace: str, context_id: Any) -> None:
        with self.dispatcher.store.unit_of_work() as uow:
            context = self._context(uow, host, namespace, context_id, "any")
            uow.session.delete(context)
            uow.commit()

    @guarded
    def count(self, host: str, namespace: str, context_id: Any) -> int:
        with self.dispatcher.store.unit_of_work() as uow:
            context = self._context(uow, host, namespace, context_id, "any")
            remaining = uow.session.scalar(
                select(func.count()).select_from(EnumerationItem).where(
                    EnumerationItem.context_id == context.id,
                    EnumerationItem.seq >= context.position))
            return int(remaining or 0)


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

