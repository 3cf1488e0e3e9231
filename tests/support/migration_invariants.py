"""The invariants of issue 3, checked against what a client sees and the stored world.

A mixin for the migration state machine: it remembers what it saw last (VM states, active
migration counts, job progress) so that each check can tell an allowed change from a wrong one.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from providers.migration.checks import HOST_RESERVE_MB
from providers.vm_lifecycle import transition_for
from providers.vm_states import ALLOWED_REQUESTS, MEMORY_HOLDING_STATES, TRANSITIONAL_STATES
from storage.models import Host, VirtualMachine
from tests.support.migration_world import (
    HOSTS,
    LIVE,
    LIVE_AND_STORAGE,
    NS,
    STAGED,
    STORAGE,
    TERMINAL,
    MigrationWorld,
)

# Every EnabledState change a client may see: a stable state to the transition a request starts,
# the transition to where it ends (and straight there, when no read fell in between).
ALLOWED_CHANGES = frozenset(
    change for state, requests in ALLOWED_REQUESTS.items() for requested in requests
    for t in [transition_for(requested, state)]
    for change in ((state, t.during), (t.during, t.final), (state, t.final)))


class MigrationInvariants(MigrationWorld):
    """Each check asserts one invariant; eventually_everything_ends drives the world to rest."""

    limits: dict[str, tuple[int, int]]  # (live, storage) migration slots per host
    previous_counts: dict[str, tuple[int, int]]  # active counts at the previous check
    vm_states: dict[str, int]  # EnabledState last seen per VM GUID

    def states_change_only_as_allowed(self) -> None:
        """EnabledState moves only along §10.3's transitions; RequestedState says which one
        is under way, and a transitional state never outlives the job that ends it."""
        for host in HOSTS:
            for result in self.dispatcher.enumerate_instances(
                    host, NS, "Msvm_ComputerSystem",
                    property_list=["Name", "EnabledState", "RequestedState"]):
                vm = result.instance()
                if vm["Name"] in HOSTS:
                    continue
                guid, state = vm["Name"], int(vm["EnabledState"])
                before = self.vm_states[guid]
                assert before == state or (before, state) in ALLOWED_CHANGES, (guid, before,
                                                                              state)
                self.vm_states[guid] = state
                assert (int(vm["RequestedState"]) == 12) == (state not in TRANSITIONAL_STATES)

    def memory_held_fits_each_host(self) -> None:
        with self.store.unit_of_work() as uow:
            for host in uow.session.scalars(select(Host)):
                held = sum(vm.memory_mb for vm in uow.session.scalars(select(VirtualMachine).where(
                    VirtualMachine.host_id == host.id, VirtualMachine.planned.is_(False)))
                    if vm.enabled_state in MEMORY_HOLDING_STATES)
                assert held <= host.memory_mb - HOST_RESERVE_MB, (host.name, held)

    def migrating_vms_say_so(self) -> None:
        """OperationalStatus {2, 32774} exactly while a move of the VM runs (§16.5)."""
        moving = {t.guid for t in self.tracked if t.kind == "move" and t.last_state in (3, 4)
                  and t.migration_type != STAGED}
        for host in HOSTS:
            for result in self.dispatcher.enumerate_instances(
                    host, NS, "Msvm_ComputerSystem", property_list=["Name", "OperationalStatus"]):
                vm = result.instance()
                if vm["Name"] in HOSTS:
                    continue
                expected = [2, 32774] if vm["Name"] in moving else [2]
                assert list(vm["OperationalStatus"]) == expected, (vm["Name"], expected)

    def each_vm_on_exactly_one_host(self) -> None:
        seen: dict[str, list[str]] = {}
        for host in HOSTS:
            for path in self.dispatcher.enumerate_instance_names(host, NS,
                                                                  "Msvm_ComputerSystem"):
                if path["Name"] not in HOSTS:
                    seen.setdefault(path["Name"], []).append(host)
        assert sorted(seen) == self.guids
        assert all(len(hosts) == 1 for hosts in seen.values()), seen

    def jobs_move_forward_only(self) -> None:
        for job in self.tracked:
            instance = self._job(job)
            if instance is None:
                # Gone only after TimeBeforeRemoval (300 s) past its end, never before.
                assert job.finished_at is not None, job
                assert self.clock.moment >= job.finished_at + timedelta(seconds=300)
                continue
            state, percent = int(instance["JobState"]), int(instance["PercentComplete"])
            job.history.append((state, percent))
            if job.last_state in TERMINAL:
                assert state == job.last_state, job.history
            assert percent >= job.last_percent, job.history
            assert percent <= 100 and (percent < 100 or state == 7), job.history
            if state in TERMINAL:
                finished = instance["TimeOfLastStateChange"].datetime
                assert job.finished_at in (None, finished), job
                assert finished <= self.clock.moment
                job.finished_at = finished
            job.last_state, job.last_percent = state, percent

    def active_counts_match_running_jobs(self) -> None:
        for host in HOSTS:
            running = [t for t in self.tracked if t.host == host and t.kind == "move"
                       and t.last_state in (3, 4)]
            live = sum(1 for t in running if t.migration_type in (LIVE, STAGED,
                                                                   LIVE_AND_STORAGE))
            storage = sum(1 for t in running if t.migration_type in (STORAGE,
                                                                      LIVE_AND_STORAGE))
            service = self._service(host)
            counts = (int(service["ActiveVirtualSystemMigrationCount"]),
                      int(service["ActiveStorageMigrationCount"]))
            assert counts == (live, storage), (host, counts, live, storage)
            # A job waits only for a slot of a started service (§16.4).
            for job in self.tracked:
                if job.host != host or job.last_state != 2:
                    continue
                assert job.kind == "move", job
                if service["Started"]:
                    full_vm = counts[0] >= self.limits[host][0]
                    full_storage = counts[1] >= self.limits[host][1]
                    waits_for = {LIVE: full_vm, STAGED: full_vm, STORAGE: full_storage,
                                 LIVE_AND_STORAGE: full_vm or full_storage}
                    assert waits_for[job.migration_type], (job, counts, self.limits[host])
            # Above a limit only when it was lowered under running jobs: then nothing starts.
            previous = self.previous_counts[host]
            for count, limit, before in zip(counts, self.limits[host], previous, strict=True):
                assert count <= limit or count <= before, (host, counts, self.limits[host])
            self.previous_counts[host] = counts

    def ended_migrations_left_the_world_consistent(self) -> None:
        for job in self.tracked:
            if job.verified or job.kind != "move" or job.last_state not in TERMINAL:
                continue
            job.verified = True
            if self._job(job) is not None:
                rv, out = self.invoke(job.host, job.path, "GetErrorEx")
                assert rv == 0
                # Errors exactly when the job did not complete (§8.5, §9).
                assert bool(out["Errors"]) == (job.last_state != 7), (job, out["Errors"])
            before = job.before
            assert before is not None
            after = self._snapshot(job.guid)
            names = self._world()["hosts"]
            ids = {name: id_ for id_, name in names.items()}
            if job.last_state != 7:
                # Failed or cancelled: the source as it was, no leftover on the destination.
                assert after == before, (job, before, after)
                continue
            assert after.enabled_state == before.enabled_state
            if job.migration_type in (LIVE, LIVE_AND_STORAGE):
                assert job.destination is not None
                assert after.host_id == ids[job.destination]
                assert ids[job.destination] not in after.planned_on
            elif job.migration_type == STAGED:
                assert job.destination is not None
                assert after.host_id == before.host_id
                assert after.planned_on == before.planned_on | {ids[job.destination]}
            else:
                assert after.host_id == before.host_id
            if job.migration_type in (STORAGE, LIVE_AND_STORAGE):
                assert all(a != b for a, b in zip(after.disks, before.disks, strict=True))
            else:
                assert after.disks == before.disks

    def eventually_everything_ends(self) -> None:
        """Queued jobs run once services are started: every job reaches a terminal state."""
        for host in HOSTS:
            self.invoke(host, self._service_path(host), "StartService")
        for _ in range(200):
            if all(t.last_state in TERMINAL for t in self.tracked):
                break
            self.clock.moment += timedelta(seconds=100)
            self.jobs_move_forward_only()
            self.active_counts_match_running_jobs()
            self.ended_migrations_left_the_world_consistent()
        assert all(t.last_state in TERMINAL for t in self.tracked), [
            (t.host, t.migration_type, t.history[-3:]) for t in self.tracked
            if t.last_state not in TERMINAL]
        self.each_vm_on_exactly_one_host()
