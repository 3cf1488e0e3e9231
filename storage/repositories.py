"""What the providers ask of the store, one unit of work at a time.

`WorldUnitOfWork` is the transaction providers run in; its repositories answer with
intention-revealing methods so that no SQL lives above storage/. Two implementations keep the
same promises: the SQL one (`storage.unit_of_work.UnitOfWork`) and the in-memory fake of the
tests (`tests/support/fake_world.py`); `tests/unit/test_world_repositories.py` holds them to it.

Reads (`WorldReads`) return read-only rows whose attributes are named like the models' columns
(`vm.guid`, `host.name`): the hot paths of enumerations. Writes go through the other
repositories, which hand out the mapped objects themselves (`Host`, `VirtualMachine`, `Job`):
changing an attribute of one is a write the unit of work commits, as in Cosmic Python's
repository pattern; adding, removing and copying rows are repository methods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from storage.models import (
    Host,
    Job,
    KeyboardInput,
    MigrationNetwork,
    NetworkAdapter,
    VirtualDisk,
    VirtualMachine,
)

# Read-only rows with the columns of the model they are named after.
ClusterRow = Any
HostRow = Any
NetworkRow = Any
VMRow = Any
DiskRow = Any
AdapterRow = Any
JobRow = Any


class WorldReads(Protocol):
    """Reads of the simulated world for the CIM views. Host names and GUIDs are stored in
    capitals; the methods take them in any case."""

    def cluster(self) -> ClusterRow: ...

    def hosts(self) -> Sequence[HostRow]:
        """Every host, in scenario order."""

    def host_names(self) -> list[str]:
        """Every host's name, in scenario order."""

    def host_named(self, name: str) -> HostRow | None: ...

    def host_by_id(self, host_id: int) -> HostRow | None: ...

    def networks_of(self, host_id: int) -> Sequence[NetworkRow]:
        """The host's migration networks, oldest first."""

    def vms_on_host(self, host: str, *, planned: bool) -> Sequence[VMRow]:
        """The realized (or planned) VMs of the named host, oldest first."""

    def vms_everywhere(self, *, planned: bool) -> Sequence[VMRow]:
        """Every realized (or planned) VM, by host then oldest first."""

    def vm_on_host(self, host: str, guid: str, *, planned: bool) -> VMRow | None: ...

    def vm_anywhere(self, guid: str, *, planned: bool) -> VMRow | None:
        """A VM of any host (the first stored, should two hosts hold the GUID)."""

    def disks_of_vms(self, vm_ids: Sequence[int]) -> Mapping[int, Sequence[DiskRow]]:
        """The disks of each of these VMs (absent: none), oldest first."""

    def adapters_of_vms(self, vm_ids: Sequence[int]) -> Mapping[int, Sequence[AdapterRow]]:
        """The network adapters of each of these VMs (absent: none), oldest first."""

    def jobs(self, host_id: int | None = None) -> Sequence[JobRow]:
        """The jobs the host accepted (None: every host), oldest first, removed ones included."""

    def jobs_to_host(self, host_id: int) -> Sequence[JobRow]:
        """Jobs of any host that move a VM to this one, oldest first, removed ones included."""

    def active_job_counts(self, host_id: int) -> tuple[int, int]:
        """(live, storage) migrations the host is running now."""


class Hosts(Protocol):
    def get(self, host_id: int) -> Host | None: ...

    def all(self) -> list[Host]:
        """Every host, in scenario order."""

    def add_network(self, host: Host, *, instance_id: str, subnet: str, prefix_length: int,
                    metric: int, tags: list[str]) -> MigrationNetwork:
        """A new migration network, last in `host.networks`."""

    def remove_network(self, host: Host, network: MigrationNetwork) -> None: ...


class VirtualMachines(Protocol):
    def get(self, vm_id: int) -> VirtualMachine | None: ...

    def on_host(self, host_id: int, guid: str, *, planned: bool | None
                ) -> VirtualMachine | None:
        """The host's VM with this GUID; planned None: realized or planned, the first stored."""

    def with_guid_on_host(self, host_id: int, guid: str) -> list[VirtualMachine]:
        """Every VM (realized and planned) with this GUID on the host."""

    def of_host(self, host_id: int) -> list[VirtualMachine]:
        """Every VM of the host, realized and planned, oldest first."""

    def destroy(self, vm: VirtualMachine) -> None:
        """Remove the VM with its disks and adapters (at the next flush)."""

    def define(self, host_id: int, columns: Mapping[str, Any]) -> VirtualMachine:
        """A new VM on the host; `columns` holds every column but id, host_id and version.
        Its id is known on return."""

    def add_disk(self, vm: VirtualMachine, *, controller_kind: str, controller_number: int,
                 controller_guid: str, location: int, path: str, size_gb: int) -> VirtualDisk:
        """A new drive of the VM, last in `vm.disks` ("" path: a drive without a disk)."""

    def remove_disk(self, vm: VirtualMachine, disk: VirtualDisk) -> None: ...

    def add_adapter(self, vm: VirtualMachine, *, adapter_guid: str, element_name: str,
                    switch_name: str, mac_address: str) -> NetworkAdapter:
        """A new network adapter of the VM, last in `vm.network_adapters`."""

    def remove_adapter(self, vm: VirtualMachine, adapter: NetworkAdapter) -> None: ...

    def touch(self, vm: VirtualMachine) -> None:
        """Move the VM's version on although none of its own columns changed (a disk or an
        adapter did): the views of its settings and devices are cached by that version."""

    def add_planned_copy(self, vm: VirtualMachine, host_id: int, *, roots: Mapping[str, str],
                         disk_paths: Mapping[int, str]) -> VirtualMachine:
        """A planned VM on `host_id` that copies `vm`: same GUID, settings, controller and
        adapter GUIDs (so its RASD InstanceIDs match), its disks at `disk_paths` (disk id ->
        new path; others keep theirs) and data roots from `roots` (else the VM's)."""

    def memory_in_use_mb(self, host_id: int) -> int:
        """Memory of the host's running and paused realized VMs."""

    def disk_paths_on_host(self, host_id: int, *, except_guid: str) -> list[str]:
        """Paths of every disk of the host's VMs but those with GUID `except_guid`."""


@dataclass(frozen=True)
class NewJob:
    """A job as a method submits it; the job repository adds the bookkeeping columns."""

    instance_id: str
    classname: str
    host_id: int
    job_type: int
    kind: str  # "move" changes the world when it completes; "check" only reports
    plan: list[Any]
    request: dict[str, Any]
    submitted_at: datetime
    removal_seconds: int
    outcome: dict[str, Any] | None = None
    migration_type: int | None = None
    destination_host_id: int | None = None
    destination_name: str | None = None
    vm_id: int | None = None
    vm_guid: str | None = None
    vm_name: str | None = None
    counts_vm: bool = False
    counts_storage: bool = False
    progression: str = "clock"  # storage.world_clock.PROGRESSIONS


class Jobs(Protocol):
    def add(self, job: NewJob) -> Job:
        """Store a new job (queued: neither started nor ended)."""

    def named(self, instance_id: str) -> Job | None:
        """The job with this InstanceID (in any case)."""

    def delete(self, job: Job) -> None: ...

    def moving_vm(self, *, vm_id: int | None = None, vm_guid: str | None = None) -> str | None:
        """The InstanceID of a move of this VM (by id, else by GUID) that has not ended."""

    def active_with_vm(self) -> list[Job]:
        """Every job that has not ended and concerns a VM."""

    def next_due(self) -> datetime | None:
        """The earliest moment a job ends or is removed; None: no such moment."""

    def next_end(self) -> datetime | None:
        """The earliest moment a job that has not ended is due to end; None: none is."""

    def progression_for(self, classname: str) -> str:
        """How a new job of `classname` progresses (storage.world_clock.PROGRESSIONS), by
        the world clock's rules."""

    def next_ending(self, now: datetime) -> Job | None:
        """The running job due first by `now` (ties: the oldest)."""

    def remove_expired(self, now: datetime) -> int:
        """Delete the jobs whose removal time has come; how many went."""

    def queued_on(self, host_id: int) -> list[Job]:
        """The host's jobs that wait for a slot, in the order they were submitted."""

    def running_counts(self, host_id: int) -> tuple[int, int]:
        """(live, storage) migrations the host is running."""

    def incoming_memory_mb(self, host_id: int, *, except_vm_id: int | None) -> int:
        """Memory of the running VMs that unfinished moves are taking to the host."""


class Keyboards(Protocol):
    """What was typed on each VM's keyboard (a bounded record) and which keys are down."""

    def record(self, vm_id: int, *, at: datetime, method: str, detail: str, typed: str,
               keep: int) -> None:
        """Add one input to the VM's record, then drop its oldest beyond the newest `keep`.
        `detail` and `typed` are shortened to what the store keeps (512 characters)."""

    def recent(self, vm_id: int, limit: int) -> list[KeyboardInput]:
        """The VM's newest `limit` inputs, oldest first."""

    def keys_down(self, vm_id: int, *, since: datetime) -> set[int]:
        """The keys pressed at or after `since` (the VM's last state change) and not released."""

    def press(self, vm_id: int, key_code: int, *, at: datetime) -> None:
        """The key is down from `at` (pressed again: from the later moment)."""

    def release(self, vm_id: int, key_code: int) -> None:
        """The key is up (already: no change)."""


class WorldUnitOfWork(Protocol):
    """One transaction over the world: nothing is kept unless commit() is called (the
    dispatcher commits after a method); database failures leave as `StoreUnavailable`."""

    @property
    def world(self) -> WorldReads: ...

    @property
    def hosts(self) -> Hosts: ...

    @property
    def vms(self) -> VirtualMachines: ...

    @property
    def jobs(self) -> Jobs: ...

    @property
    def keyboards(self) -> Keyboards: ...

    def take_write_turn(self) -> None:
        """Wait for this transaction's turn to write among processes sharing the database."""

    def flush(self) -> None:
        """Send the changes so far, so later reads of this transaction see them."""

    def commit(self) -> None: ...
