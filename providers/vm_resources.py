"""One embedded resource setting (RASD family) added to, changed in or removed from a VM's draft.

What a host checks and refuses: drives on a controller slot that exists and is free, virtual
hard disks that are VHD files not used by another VM, adapters connected to a switch the host
has, serial ports on a named pipe, and IDE devices and generation 1 adapters left alone while
the VM runs (memory and processors: providers/vm_compute_settings.py). Every refusal is a
`Refused` with the DMTF code of the management-service methods (§0.3 Family A).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from pywbem import CIMInstance

from providers.base import Refused, property_value
from providers.computer_system import switch_guid
from providers.resource_kinds import CLASS_BY_KIND, LABELS, kind_of, part_kind
from providers.return_codes import DmtfReturnCode
from providers.setting_values import first_value, optional_int
from providers.vm_compute_settings import change_memory, change_processor
from providers.vm_controllers import add_controller, remove_controller
from providers.vm_draft import DraftAdapter, DraftDrive, VMDraft
from providers.vm_setting_ids import MEMORY_PART, PROCESSOR_PART, serial_setting_part
from storage.models import Host

INVALID = DmtfReturnCode.INVALID_PARAMETER
STATE = DmtfReturnCode.INVALID_STATE
NEW_DISK_GB = 127  # New-VHD's default size; hvsim does not read the file
VHD_SUFFIXES = (".vhd", ".vhdx", ".avhd", ".avhdx")
_PIPE = re.compile(r"^\\\\[^\\]+\\pipe\\[^\\]+$", re.IGNORECASE)
_MAC = re.compile(r"^[0-9A-Fa-f]{12}$")
_INSTANCE_ID_IN_PATH = re.compile(r'InstanceID\s*=\s*"((?:[^"\\]|\\.)*)"', re.IGNORECASE)


# ---------------------------------------------------------------------------------- adding

def add(draft: VMDraft, setting: CIMInstance, host: Host, taken_paths: set[str], what: str,
        *, defining: bool) -> str:
    """Add the resource to the draft; the InstanceID part of what it became.

    While defining, memory, processor and serial port settings change the defaults every VM
    has, and a setting whose Parent cannot exist yet goes where the host would put it.
    """
    kind = kind_of(setting, what)
    if defining and kind in ("memory", "processor", "serial"):
        part = {"memory": MEMORY_PART, "processor": f"{PROCESSOR_PART}\\0"}.get(kind) or \
            serial_setting_part(_serial_number(setting, what))
        modify(draft, part, setting, host, taken_paths, what)
        return part
    if kind == "drive":
        return _new_drive(draft, setting, what).drive_part
    if kind == "disk":
        return _add_disk(draft, setting, taken_paths, what)
    if kind == "adapter":
        return _add_adapter(draft, setting, what)
    if kind == "connection":
        return _add_connection(draft, setting, host, what)
    if kind == "controller":
        return add_controller(draft, setting, what)
    raise Refused(INVALID, f"{what}: a virtual machine has exactly one {LABELS[kind]} "
                           f"setting{'s' if kind == 'serial' else ''}; change it with "
                           "ModifyResourceSettings")


def _serial_number(setting: CIMInstance, what: str) -> int:
    name = str(property_value(setting, "ElementName") or "COM 1").replace(" ", "").upper()
    if name not in ("COM1", "COM2"):
        raise Refused(INVALID, f"{what}: ElementName {name!r} names no serial port (COM 1, "
                               "COM 2)")
    return int(name[-1]) - 1


def _new_drive(draft: VMDraft, setting: CIMInstance | None, what: str) -> DraftDrive:
    parent = _parent_part(draft, setting, what) if setting is not None else None
    if parent is None:
        controller = next((c for c in draft.controllers()
                           if any(draft.drive_at(c, n) is None for n in range(c.slots))), None)
        if controller is None:
            raise Refused(INVALID, f"{what}: {draft.name} has no free drive location")
    else:
        controller = next((c for c in draft.controllers()
                           if c.part.lower() == parent.lower()), None)
        if controller is None:
            raise Refused(INVALID, f"{what}: Parent {parent!r} is not a disk controller of "
                                   f"{draft.name}")
    _runtime_allowed(draft, controller.kind, what, "attach a drive to")
    address = optional_int(setting, "AddressOnParent", what) if setting is not None else None
    if address is None:
        address = next(n for n in range(controller.slots)
                       if draft.drive_at(controller, n) is None)
    if not 0 <= address < controller.slots:
        raise Refused(INVALID, f"{what}: AddressOnParent {address} is not a location of the "
                               f"{controller.kind.upper()} controller (0 to "
                               f"{controller.slots - 1})")
    if draft.drive_at(controller, address) is not None:
        raise Refused(INVALID, f"{what}: location {address} of the {controller.kind.upper()} "
                               f"controller {controller.number} of {draft.name} is in use")
    drive = DraftDrive(controller.kind, controller.number, controller.guid, address, "", 0)
    draft.drives.append(drive)
    return drive


def _add_disk(draft: VMDraft, setting: CIMInstance, taken_paths: set[str], what: str) -> str:
    path = _disk_path(draft, setting, taken_paths, what)
    parent = _parent_part(draft, setting, what)
    if parent is None:
        drive = _new_drive(draft, None, what)
    else:
        found = next((d for d in draft.live_drives()
                      if d.drive_part.lower() == parent.lower()), None)
        if found is None:
            raise Refused(INVALID, f"{what}: Parent {parent!r} is not a disk drive of "
                                   f"{draft.name}")
        drive = found
        if drive.path:
            raise Refused(INVALID, f"{what}: the drive {parent!r} of {draft.name} already "
                                   f"holds {drive.path!r}")
        _runtime_allowed(draft, drive.controller_kind, what, "insert a disk into")
    drive.path, drive.size_gb = path, NEW_DISK_GB
    taken_paths.add(path.lower())
    return drive.disk_part


def _add_adapter(draft: VMDraft, setting: CIMInstance, what: str) -> str:
    if draft.generation == 1 and not draft.is_off:
        raise Refused(STATE, f"{what}: a generation 1 virtual machine cannot gain a network "
                             f"adapter while it runs ({draft.name})")
    identifier = first_value(setting, "VirtualSystemIdentifiers")
    guid = str(uuid.uuid4()).upper()
    if identifier:
        try:
            guid = str(uuid.UUID(identifier.strip("{}"))).upper()
        except ValueError:
            raise Refused(INVALID, f"{what}: VirtualSystemIdentifiers {identifier!r} is "
                                   "not a GUID") from None
        if any(a.adapter_guid.upper() == guid for a in draft.live_adapters()):
            raise Refused(INVALID, f"{what}: {draft.name} already has an adapter {guid}")
    adapter = DraftAdapter(guid, "Network Adapter", "", _generated_mac())
    _adapter_settings(adapter, setting, what)
    draft.adapters.append(adapter)
    return adapter.nic_part


def _add_connection(draft: VMDraft, setting: CIMInstance, host: Host, what: str) -> str:
    switch = _switch(host, setting, what, required=True)
    parent = _parent_part(draft, setting, what)
    if parent is None:
        adapter = next((a for a in reversed(draft.live_adapters())
                        if a.row is None and not a.switch_name), None)
        if adapter is None:
            raise Refused(INVALID, f"{what}: Parent must name the network adapter to connect")
    else:
        adapter = next((a for a in draft.live_adapters()
                        if a.nic_part.lower() == parent.lower()), None)
        if adapter is None:
            raise Refused(INVALID, f"{what}: Parent {parent!r} is not a network adapter of "
                                   f"{draft.name}")
    if adapter.switch_name:
        raise Refused(INVALID, f"{what}: the adapter {adapter.element_name!r} of {draft.name} "
                               f"is already connected to {adapter.switch_name!r}")
    adapter.switch_name = switch
    return adapter.port_part


# -------------------------------------------------------------------------------- changing

def modify(draft: VMDraft, part: str, setting: CIMInstance, host: Host, taken_paths: set[str],
           what: str) -> None:
    kind, entry = part_kind(draft, part)
    if setting.classname.lower() != CLASS_BY_KIND[kind].lower():
        raise Refused(INVALID, f"{what} is an embedded {setting.classname}, but its InstanceID "
                               f"names the {LABELS[kind]} ({CLASS_BY_KIND[kind]})")
    if kind == "memory":
        change_memory(draft, setting, host, what)
    elif kind == "processor":
        change_processor(draft, setting, host, what)
    elif kind == "disk":
        _runtime_allowed(draft, entry.controller_kind, what, "change the disk in")
        taken_paths.discard(entry.path.lower())
        entry.path = _disk_path(draft, setting, taken_paths, what)
        taken_paths.add(entry.path.lower())
    elif kind == "adapter":
        _adapter_settings(entry, setting, what)
    elif kind == "connection":
        entry.switch_name = _switch(host, setting, what, required=False)
    elif kind == "serial":
        pipe = first_value(setting, "Connection")
        if pipe and not _PIPE.match(pipe):
            raise Refused(INVALID, f"{what}: Connection {pipe!r} is not a named pipe "
                                   "(\\\\.\\pipe\\<name>)")
        draft.settings["serial_connections"][entry] = pipe
    elif kind in ("controller", "device"):
        raise Refused(DmtfReturnCode.NOT_SUPPORTED,
                      f"{what}: changing the {LABELS[kind]} {part!r} is not emulated by hvsim")
    # A drive has nothing a host lets change but its place, which hvsim keeps.


def remove(draft: VMDraft, part: str, classname: str, what: str) -> None:
    kind, entry = part_kind(draft, part)
    if classname.lower() not in (CLASS_BY_KIND[kind].lower(),
                                 "cim_resourceallocationsettingdata"):
        raise Refused(INVALID, f"{what} is a {classname} reference, but its InstanceID names "
                               f"the {LABELS[kind]} ({CLASS_BY_KIND[kind]})")
    if kind == "drive":
        _runtime_allowed(draft, entry.controller_kind, what, "remove a drive from")
        entry.removed = True
    elif kind == "disk":
        _runtime_allowed(draft, entry.controller_kind, what, "remove the disk from")
        entry.path = ""
    elif kind == "adapter":
        if draft.generation == 1 and not draft.is_off:
            raise Refused(STATE, f"{what}: a generation 1 virtual machine cannot lose a "
                                 f"network adapter while it runs ({draft.name})")
        entry.removed = True
    elif kind == "connection":
        entry.switch_name = ""
    elif kind == "controller":
        remove_controller(draft, part, what)
    else:
        raise Refused(INVALID, f"{what}: the {LABELS[kind]} of a virtual machine cannot be "
                               "removed")


def _adapter_settings(adapter: DraftAdapter, setting: CIMInstance, what: str) -> None:
    name = property_value(setting, "ElementName")
    if name is not None:
        if not str(name).strip() or len(str(name)) > 100:
            raise Refused(INVALID, f"{what}: ElementName must be 1 to 100 characters")
        adapter.element_name = str(name)
    if property_value(setting, "StaticMacAddress"):
        address = str(property_value(setting, "Address") or "").replace("-", "")
        if not _MAC.match(address) or int(address[:2], 16) & 1:
            raise Refused(INVALID, f"{what}: Address {address!r} is not a unicast MAC "
                                   "address of 12 hexadecimal digits")
        adapter.mac_address = address.upper()


def _disk_path(draft: VMDraft, setting: CIMInstance, taken_paths: set[str], what: str) -> str:
    path = first_value(setting, "HostResource")
    if not path:
        raise Refused(INVALID, f"{what}.HostResource must name the virtual hard disk file")
    if not path.lower().endswith(VHD_SUFFIXES):
        raise Refused(INVALID, f"{what}.HostResource {path!r} is not a virtual hard disk "
                               f"({', '.join(VHD_SUFFIXES)})")
    if path.lower() in taken_paths:
        raise Refused(INVALID, f"{what}.HostResource {path!r} is in use by another disk "
                               "on this host")
    return path


def _switch(host: Host, setting: CIMInstance, what: str, *, required: bool) -> str:
    target = first_value(setting, "HostResource")
    if not target:
        if required:
            raise Refused(INVALID, f"{what}.HostResource must name the virtual switch")
        return ""
    switch = switch_named_by(host, target)
    if switch is None:
        raise Refused(INVALID, f"{what}.HostResource {target!r} is not a virtual switch of "
                               f"{host.name}")
    return switch


def switch_named_by(host: Any, path_text: str) -> str | None:
    """The switch an Msvm_VirtualEthernetSwitch path (as in a port's HostResource) names."""
    lowered = path_text.lower()
    for name in host.virtual_switches:
        if switch_guid(host, name).lower() in lowered:
            return str(name)
    return None


def _parent_part(draft: VMDraft, setting: CIMInstance | None, what: str) -> str | None:
    """The InstanceID part (after the VM GUID) of the setting's Parent; None without one."""
    text = str(property_value(setting, "Parent") or "") if setting is not None else ""
    if not text:
        return None
    match = _INSTANCE_ID_IN_PATH.search(text)
    instance_id = re.sub(r"\\(.)", r"\1", match.group(1)) if match else ""
    prefix = f"Microsoft:{draft.guid}\\"
    if not instance_id.lower().startswith(prefix.lower()):
        raise Refused(INVALID, f"{what}: Parent {text!r} is not a device of {draft.name}")
    return instance_id[len(prefix):]


def _runtime_allowed(draft: VMDraft, controller_kind: str, what: str, action: str) -> None:
    if controller_kind == "ide" and not draft.is_off:
        raise Refused(STATE, f"{what}: cannot {action} an IDE controller while {draft.name} "
                             "is not off")


def _generated_mac() -> str:
    """A dynamic MAC address in Hyper-V's 00-15-5D range."""
    return "00155D" + uuid.uuid4().hex[:6].upper()

