"""Whole-world actions of the control API: health, reset, state export and load, snapshots.

Each change replaces the world in one transaction, in this process's write turn and the
database's (so processes sharing a PostgreSQL database take turns and each sees the old world
or the new one, never a mix): every world row goes, jobs in flight and open enumerations with
them (discarded, nothing of them applied), and the new world is seeded. Seeding bumps the world
version, so every process's caches follow at its next request. Snapshots are state documents
kept in the database, beside the world, so every process lists and restores the same ones.
"""

from __future__ import annotations

import contextlib
import random
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from typing import Any, Protocol

from emulator.setup.scenario_spec import Scenario
from emulator.setup.seeding import scenario_digest, seeding_rng, world_plan
from emulator.setup.world_state import StateDocumentError, read_document, write_document
from storage.db import Store, UnitOfWork
from storage.world_snapshots import SnapshotInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


SNAPSHOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class UnknownSnapshot(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no snapshot named {name!r}")
        self.name = name


class SnapshotExists(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a snapshot named {name!r} exists already; delete it first")
        self.name = name


class BadSnapshotName(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name!r} is not a snapshot name: 1-64 of A-Z a-z 0-9 . _ -, "
                         "starting with a letter or digit")


@dataclass(frozen=True)
class WorldSummary:
    cluster: str
    hosts: int
    vms: int
    world_version: int


def _no_turn() -> AbstractContextManager[None]:
    return contextlib.nullcontext()


class WorldControl:
    """The actions, over the store of one process.

    `start_scenario` is what a reset goes back to and `seed_rng` the random state its seeding
    began from (so a reset draws the same GUIDs); `write_turn` is the process's write turn
    (method calls and job settling take it too) and `settle` applies what the clock made due
    (before an export, so a job that has ended is in it); `reseeded` is told of each world
    seeded anew (the composition root installs the scenario's fault rules with it).
    """

    def __init__(self, store: Store, start_scenario: Scenario, clock: Clock, *,
                 seed_rng: random.Random | None = None,
                 write_turn: Callable[[], AbstractContextManager[Any]] = _no_turn,
                 settle: Callable[[], object] = lambda: None,
                 reseeded: Callable[[Scenario], object] = lambda scenario: None) -> None:
        self.store = store
        self.start_scenario = start_scenario
        self.clock = clock
        self._seed_state = (seed_rng or seeding_rng(start_scenario)).getstate()
        self._write_turn = write_turn
        self._settle = settle
        self._reseeded = reseeded
        # Every world this process seeds carries the digest of the scenario it started with:
        # a restart with that scenario keeps whatever world was loaded meanwhile.
        self._digest = scenario_digest(start_scenario)

    # -- reading -------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Whether the database answers now, and what it holds."""
        probe = self.store.probe()
        database: dict[str, Any] = {
            "where": self.store.where(), "reachable": probe.reachable,
            "since": probe.since.isoformat(), "last_error": probe.last_error,
            "outages": probe.outages}
        world: dict[str, Any] | None = None
        if probe.reachable:
            with contextlib.suppress(Exception):
                database["schema_revision"] = self.store.schema_revision()
                world = vars(self.summary())
        return {"ready": probe.reachable and world is not None, "version": _version(),
                "database": database, "world": world}

    def summary(self) -> WorldSummary:
        with self.store.unit_of_work() as uow:
            return self._summary(uow)

    def export(self) -> str:
        """The whole world as a scenario file."""
        self._settle()
        with self.store.unit_of_work() as uow:
            plan = uow.seeding.current_plan()
            if plan is None:
                raise RuntimeError("the database holds no world")
            return write_document(plan, uow.seeding.unfinished_jobs_of_vms())

    def snapshots(self) -> list[SnapshotInfo]:
        with self.store.unit_of_work() as uow:
            return uow.snapshots.all()

    # -- changing ------------------------------------------------------------------------------

    def reset(self) -> WorldSummary:
        """Back to the scenario this server started with."""
        rng = random.Random()
        rng.setstate(self._seed_state)
        return self._replace(self.start_scenario, rng)

    def load(self, document: str) -> WorldSummary:
        """Replace the world by a state document; raises StateDocumentError (and changes
        nothing) when it is not a valid scenario file."""
        return self._replace(read_document(document), None)

    def take_snapshot(self, name: str) -> SnapshotInfo:
        check_snapshot_name(name)
        document = self.export()
        with self._write_turn(), self.store.unit_of_work() as uow:
            uow.take_write_turn()
            if uow.snapshots.exists(name):
                raise SnapshotExists(name)
            summary = self._summary(uow)
            info = SnapshotInfo(name, self.clock.now(), summary.hosts, summary.vms)
            uow.snapshots.add(info, document)
            uow.commit()
            return info

    def restore(self, name: str) -> WorldSummary:
        with self.store.unit_of_work() as uow:
            document = uow.snapshots.document(name)
        if document is None:
            raise UnknownSnapshot(name)
        return self._replace(read_document(document), None)

    def delete_snapshot(self, name: str) -> None:
        with self._write_turn(), self.store.unit_of_work() as uow:
            if not uow.snapshots.delete(name):
                raise UnknownSnapshot(name)
            uow.commit()

    def _replace(self, scenario: Scenario, rng: random.Random | None) -> WorldSummary:
        served = [host.name for host in self.start_scenario.hosts]
        hosts = [host.name for host in scenario.hosts]
        if hosts != served:
            # Each endpoint serves one host, bound when the server started.
            raise StateDocumentError("hosts", f"this server serves {', '.join(served)} (one "
                                     f"endpoint each, in that order), not {', '.join(hosts)}; "
                                     "serve another cluster with hvsim serve --scenario FILE")
        # Planned before the write turn: a large world is built without holding anyone up.
        plan = world_plan(scenario, self.clock.now(), rng)
        plan = type(plan)(**{**vars(plan), "scenario_digest": self._digest})
        with self._write_turn(), self.store.unit_of_work() as uow:
            uow.take_write_turn()
            uow.seeding.wipe()
            uow.seeding.seed(plan)
            uow.commit()
            summary = self._summary(uow)
        self._reseeded(scenario)
        return summary

    def _summary(self, uow: UnitOfWork) -> WorldSummary:
        cluster, hosts, vms = uow.seeding.counts()
        return WorldSummary(cluster, hosts, vms, uow.seeding.world_version())


def check_snapshot_name(name: str) -> None:
    if not SNAPSHOT_NAME.fullmatch(name):
        raise BadSnapshotName(name)


def _version() -> str:
    try:
        return metadata.version("hvsim")
    except metadata.PackageNotFoundError:
        return "unknown"


# Exported for the composition root's adapter.
__all__ = ["BadSnapshotName", "SnapshotExists", "SnapshotInfo", "UnknownSnapshot",
           "WorldControl", "WorldSummary", "check_snapshot_name"]
