"""A stub dispatcher and clock for unit tests of pull enumerations, and the sample
endpoint, paths and start time those tests and the pull-context store's contract share."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pywbem import (
    CIM_ERR_INVALID_NAMESPACE,
    CIM_ERR_NOT_FOUND,
    CIMError,
    CIMInstanceName,
)

from emulator.core.enumerations import Enumerations
from emulator.core.instances import FULL_VIEW, View
from emulator.core.results import InstanceResult
from providers.base import V2, Record, Scope

HOST = "HV-01"
START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


class SteppingClock:
    def __init__(self) -> None:
        self.current = START

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class StubDispatcher:
    """Serves one namespace; every path is an instance unless listed in `gone`."""

    store = None

    def __init__(self) -> None:
        self.wall_clock = SteppingClock()
        self.gone: set[str] = set()
        self.reads: list[tuple[str, tuple[str, ...] | None]] = []

    def scope(self, host: str, namespace: str | None) -> Scope:
        if (namespace or "").strip("/").lower() != V2:
            raise CIMError(CIM_ERR_INVALID_NAMESPACE, f"no namespace {namespace!r}")
        return Scope(V2, host)

    def get_instance(self, host: str, namespace: str, path: CIMInstanceName, *,
                     local_only: bool = False, include_qualifiers: bool = False,
                     include_class_origin: bool = False,
                     property_list: Iterable[str] | None = None) -> InstanceResult:
        name = path.keybindings["Name"]
        self.reads.append((name, None if property_list is None else tuple(property_list)))
        if name in self.gone:
            raise CIMError(CIM_ERR_NOT_FOUND, f"{name} went away")
        return result_for(path, View.of(property_list, include_qualifiers,
                                        include_class_origin))


def vm_path(i: int) -> CIMInstanceName:
    return CIMInstanceName("Msvm_ComputerSystem", keybindings={"Name": f"VM-{i}"},
                           namespace=V2, host=HOST)


def result_for(path: CIMInstanceName, view: View = FULL_VIEW) -> InstanceResult:
    record = Record(path.classname, dict(path.keybindings), "1", lambda: {})
    return InstanceResult(record, Scope(V2, HOST), cast(Any, None), view, _path=path)


def names(batch_items: Iterable[Any]) -> list[str]:
    return [getattr(item, "path", item).keybindings["Name"] for item in batch_items]


def open_paths(enumerations: Enumerations, count: int, first: int = 0,
               **kwargs: Any) -> str:
    batch = enumerations.open(HOST, V2, "paths", paths=[vm_path(i) for i in range(count)],
                              max_object_count=first, **kwargs)
    assert batch.context is not None
    return batch.context
