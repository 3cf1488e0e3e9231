"""`VirtualMachines` in SQL: the VM rows methods and job endings change, create and remove."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from storage.models import NetworkAdapter, VirtualDisk, VirtualMachine

# States whose memory is in use: running, paused, and the transitions between them and off or
# saved (stopping 4, starting 10, saving 32773, pausing 32776, resuming 32777).
RUNNING_STATES = (2, 9, 4, 10, 32773, 32776, 32777)
# Columns a planned copy does not take from its VM.
_NOT_COPIED = frozenset({"id", "version_id"})


class SqlVirtualMachines:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, vm_id: int) -> VirtualMachine | None:
        return self._session.get(VirtualMachine, vm_id)

    def on_host(self, host_id: int, guid: str, *, planned: bool | None
                ) -> VirtualMachine | None:
        statement = select(VirtualMachine).where(VirtualMachine.host_id == host_id,
                                                 VirtualMachine.guid == guid.upper())
        if planned is not None:
            statement = statement.where(VirtualMachine.planned.is_(planned))
        return self._session.scalars(statement.order_by(VirtualMachine.id)).first()

    def with_guid_on_host(self, host_id: int, guid: str) -> list[VirtualMachine]:
        return list(self._session.scalars(select(VirtualMachine).where(
            VirtualMachine.host_id == host_id, VirtualMachine.guid == guid.upper())
            .order_by(VirtualMachine.id)))

    def of_host(self, host_id: int) -> list[VirtualMachine]:
        return list(self._session.scalars(select(VirtualMachine).where(
            VirtualMachine.host_id == host_id).order_by(VirtualMachine.id)))

    def destroy(self, vm: VirtualMachine) -> None:
        self._session.delete(vm)

    def define(self, host_id: int, columns: Mapping[str, Any]) -> VirtualMachine:
        vm = VirtualMachine(**{**columns, "host_id": host_id})
        self._session.add(vm)
        self._session.flush()
        return vm

    def add_disk(self, vm: VirtualMachine, *, controller_kind: str, controller_number: int,
                 controller_guid: str, location: int, path: str, size_gb: int) -> VirtualDisk:
        disk = VirtualDisk(controller_kind=controller_kind, controller_number=controller_number,
                           controller_guid=controller_guid, location=location, path=path,
                           size_gb=size_gb)
        vm.disks.append(disk)
        return disk

    def remove_disk(self, vm: VirtualMachine, disk: VirtualDisk) -> None:
        # delete-orphan: leaving the collection deletes the row at the next flush.
        if disk in vm.disks:
            vm.disks.remove(disk)

    def add_adapter(self, vm: VirtualMachine, *, adapter_guid: str, element_name: str,
                    switch_name: str, mac_address: str) -> NetworkAdapter:
        adapter = NetworkAdapter(adapter_guid=adapter_guid, element_name=element_name,
                                 switch_name=switch_name, mac_address=mac_address)
        vm.network_adapters.append(adapter)
        return adapter

    def remove_adapter(self, vm: VirtualMachine, adapter: NetworkAdapter) -> None:
        if adapter in vm.network_adapters:
            vm.network_adapters.remove(adapter)

    def touch(self, vm: VirtualMachine) -> None:
        # An attribute flagged as changed makes the flush UPDATE the row, which moves the
        # version counter on; a VM not yet flushed gets its first version anyway.
        if inspect(vm).persistent:
            flag_modified(vm, "notes")

    def add_planned_copy(self, vm: VirtualMachine, host_id: int, *, roots: Mapping[str, str],
                         disk_paths: Mapping[int, str]) -> VirtualMachine:
        copied = {c.key: getattr(vm, c.key) for c in VirtualMachine.__table__.columns
                  if c.key not in _NOT_COPIED}
        planned = VirtualMachine(**{**copied, "host_id": host_id, "planned": True,
                                    "enabled_state": 3, "operational_status": [2],
                                    "operating_status": None, "uptime_ms": 0,
                                    "running_since": None, "requested_state": 12})
        planned.config_root = roots.get("ConfigurationDataRoot", vm.config_root)
        planned.snapshot_root = roots.get("SnapshotDataRoot", vm.snapshot_root)
        planned.swap_root = roots.get("SwapFileDataRoot", vm.swap_root)
        for disk in vm.disks:
            planned.disks.append(VirtualDisk(
                controller_kind=disk.controller_kind, controller_number=disk.controller_number,
                controller_guid=disk.controller_guid, location=disk.location,
                path=disk_paths.get(disk.id, disk.path), size_gb=disk.size_gb))
        for adapter in vm.network_adapters:
            planned.network_adapters.append(NetworkAdapter(
                adapter_guid=adapter.adapter_guid, element_name=adapter.element_name,
                switch_name=adapter.switch_name, mac_address=adapter.mac_address))
        self._session.add(planned)
        return planned

    def memory_in_use_mb(self, host_id: int) -> int:
        used = self._session.scalar(
            select(func.coalesce(func.sum(VirtualMachine.memory_mb), 0)).where(
                VirtualMachine.host_id == host_id, VirtualMachine.planned.is_(False),
                VirtualMachine.enabled_state.in_(RUNNING_STATES)))
        return int(used or 0)

    def disk_paths_on_host(self, host_id: int, *, except_guid: str) -> list[str]:
        return list(self._session.scalars(
            select(VirtualDisk.path).join(VirtualMachine, VirtualMachine.id == VirtualDisk.vm_id)
            .where(VirtualMachine.host_id == host_id, VirtualMachine.guid != except_guid.upper())
            .order_by(VirtualDisk.id)))
