"""Part of the composition root: the control API's whole-world actions (emulator.control.
world_admin.WorldAdmin) over the set-up layer's WorldControl, with its errors turned into the
control API's refusals and its answers into JSON-ready values."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from emulator.control.refusals import Conflict, InvalidInput, NotFound, Unavailable
from emulator.core.unavailable import ServiceUnavailable
from emulator.setup.world_control import (
    BadSnapshotName,
    SnapshotExists,
    SnapshotInfo,
    UnknownSnapshot,
    WorldControl,
)
from emulator.setup.world_state import StateDocumentError
from storage.errors import StoreUnavailable

T = TypeVar("T")


class WorldAdminAdapter:
    def __init__(self, control: WorldControl, endpoints: Mapping[str, str]) -> None:
        self.control = control
        self.endpoints = endpoints  # host -> base URL, as `hvsim serve` announced them

    def health(self) -> dict[str, Any]:
        return {**self.control.health(), "endpoints": dict(self.endpoints)}

    def reset(self) -> dict[str, Any]:
        return dataclasses.asdict(_refused(self.control.reset))

    def export(self) -> str:
        return _refused(self.control.export)

    def load(self, document: str) -> dict[str, Any]:
        return dataclasses.asdict(_refused(lambda: self.control.load(document)))

    def snapshots(self) -> list[dict[str, Any]]:
        return [_snapshot(info) for info in _refused(self.control.snapshots)]

    def take_snapshot(self, name: str) -> dict[str, Any]:
        return _snapshot(_refused(lambda: self.control.take_snapshot(name)))

    def restore(self, name: str) -> dict[str, Any]:
        return dataclasses.asdict(_refused(lambda: self.control.restore(name)))

    def delete_snapshot(self, name: str) -> None:
        _refused(lambda: self.control.delete_snapshot(name))


def _snapshot(info: SnapshotInfo) -> dict[str, Any]:
    return {"name": info.name, "taken_at": info.taken_at.isoformat(), "hosts": info.hosts,
            "vms": info.vms}


def _refused(action: Callable[[], T]) -> T:
    """Run the action; its failures as the control API's refusals (nothing changed)."""
    try:
        return action()
    except StateDocumentError as error:
        raise InvalidInput(error.reason, error.where) from error
    except UnknownSnapshot as error:
        raise NotFound(str(error), "name") from error
    except SnapshotExists as error:
        raise Conflict(str(error), "name") from error
    except BadSnapshotName as error:
        raise InvalidInput(str(error), "name") from error
    except StoreUnavailable as error:
        raise Unavailable(f"the database cannot be used now: {error.reason}") from error
    except ServiceUnavailable as error:  # from settling, which the dispatcher guards
        raise Unavailable(str(error.status_description)) from error
