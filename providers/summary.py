"""Msvm_VirtualSystemManagementService.GetSummaryInformation (reference §13.3).

os-win polls VM state with it (RequestedInformation 4, 100, 103, 105) and PowerShell reads it
for Get-VM; AsynchronousTasks carries a VM's running jobs, e.g. its migration.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pywbem import CIMInstanceName

from providers.base import Embedded
from providers.computer_system import STATUS_TEXT
from providers.vm_setting_ids import SETTINGS_ID
from providers.vm_states import MEMORY_HOLDING_STATES, RUNNING, on_time_ms
from storage.models import Host, Job, VirtualMachine
from storage.repositories import WorldUnitOfWork

SUMMARY_CLASS = "Msvm_SummaryInformation"
# Heartbeat (§13.3): OK while the guest runs; no contact while it is paused, off or changing.
HEARTBEAT_OK, HEARTBEAT_NO_CONTACT = 2, 12

Row = tuple[VirtualMachine, Host, list[Job], datetime]


def _load(vm: VirtualMachine) -> int:
    """A steady, VM-specific processor load (percent) for a running VM."""
    return 3 + zlib.crc32(vm.guid.encode()) % 17 if vm.enabled_state == 2 else 0


# RequestedInformation code -> (property, value).
FIELDS: dict[int, tuple[str, Callable[[Row], Any]]] = {
    0: ("Name", lambda r: r[0].guid),
    1: ("ElementName", lambda r: r[0].element_name),
    2: ("CreationTime", lambda r: r[0].created_at),
    3: ("Notes", lambda r: "\n".join(r[0].notes)),
    4: ("NumberOfProcessors", lambda r: r[0].processors),
    9: ("VirtualSwitchNames", lambda r: sorted({a.switch_name for a in r[0].network_adapters
                                                if a.switch_name})),
    10: ("Version", lambda r: r[0].config_version),
    11: ("Shielded", lambda r: False),
    100: ("EnabledState", lambda r: r[0].enabled_state),
    101: ("ProcessorLoad", lambda r: _load(r[0])),
    102: ("ProcessorLoadHistory", lambda r: [_load(r[0])] * 100),
    103: ("MemoryUsage", lambda r: r[0].memory_mb
          if r[0].enabled_state in MEMORY_HOLDING_STATES else 0),
    104: ("Heartbeat", lambda r: HEARTBEAT_OK if r[0].enabled_state == RUNNING
          else HEARTBEAT_NO_CONTACT),
    105: ("UpTime", lambda r: on_time_ms(r[0], r[3])),
    106: ("GuestOperatingSystem", lambda r: None),
    107: ("Snapshots", lambda r: []),
    108: ("AsynchronousTasks", lambda r: [_task(job) for job in r[2]]),
    109: ("HealthState", lambda r: r[0].health_state),
    110: ("OperationalStatus", lambda r: list(r[0].operational_status)),
    111: ("StatusDescriptions", lambda r: [STATUS_TEXT.get(s, "Unknown")
                                          for s in r[0].operational_status]),
    112: ("MemoryAvailable", lambda r: 20 if r[0].enabled_state == 2 else None),
    113: ("AvailableMemoryBuffer", lambda r: 20 if r[0].enabled_state == 2 else None),
    114: ("ReplicationMode", lambda r: 0),
    115: ("ReplicationState", lambda r: 0),
    116: ("ReplicationHealth", lambda r: 0),
    117: ("ApplicationHealth", lambda r: None),
    118: ("ReplicationStateEx", lambda r: [0]),
    119: ("ReplicationHealthEx", lambda r: [0]),
    120: ("SwapFilesInUse", lambda r: False),
    121: ("IntegrationServicesVersionState", lambda r: 1),
    122: ("ReplicationProviderId", lambda r: []),
    123: ("MemorySpansPhysicalNumaNodes", lambda r: False),
    132: ("OtherEnabledState", lambda r: None),
}
# Thumbnails (5-7) and AllocatedGPU (8): no console or GPU is simulated; they stay NULL.
KNOWN_CODES = frozenset({*FIELDS, 5, 6, 7, 8})


def _task(job: Job) -> Embedded:
    return Embedded(job.classname, {
        "InstanceID": job.instance_id, "JobType": job.job_type,
        "Description": job.request.get("description"),
        "ElementName": job.request.get("description"), "Cancellable": job.kind != "state"})


def summaries(uow: WorldUnitOfWork, host: Host, paths: list[Any] | None, codes: list[int],
              now: datetime) -> list[Embedded]:
    """One summary per requested VSSD path (or per VM of the host when paths is None)."""
    vms = uow.vms.of_host(host.id)
    by_guid = {vm.guid.lower(): vm for vm in vms if not vm.planned}
    if paths is None:
        wanted: list[VirtualMachine | None] = list(by_guid.values())
    else:
        wanted = [by_guid.get(_guid_of(path)) for path in paths]
    jobs: dict[int, list[Job]] = {}
    for job in uow.jobs.active_with_vm():
        assert job.vm_id is not None
        jobs.setdefault(job.vm_id, []).append(job)
    result = []
    for vm in wanted:
        if vm is None:
            # An unknown VM still gets an element, with an empty Name (§13.3).
            result.append(Embedded(SUMMARY_CLASS, {"Name": ""}))
            continue
        row: Row = (vm, host, jobs.get(vm.id, []), now)
        values: dict[str, Any] = {
            "HostComputerSystemName": host.name,
            "VirtualSystemSubType": f"Microsoft:Hyper-V:SubType:{vm.generation}",
            "EnhancedSessionModeState": 6 if vm.enabled_state == 2 else 3,
        }
        for code in codes:
            if code in FIELDS:
                name, read = FIELDS[code]
                values[name] = read(row)
        result.append(Embedded(SUMMARY_CLASS, values))
    return result


def _guid_of(path: Any) -> str:
    if not isinstance(path, CIMInstanceName):
        return ""
    for key, value in path.keybindings.items():
        if key.lower() == "instanceid":
            match = SETTINGS_ID.match(str(value))
            return match.group(1).lower() if match and match.group(2) is None else ""
    return ""
