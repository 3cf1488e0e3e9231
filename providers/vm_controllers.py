"""A VM's disk controllers added and removed through the resource methods (§12.7).

A host gives a VM up to four synthetic SCSI controllers, added and removed while the VM is off
(drives hot-plug on them, controllers do not); removing one takes its drives and their virtual
hard disks along. The IDE controllers are fixed: IDE 0 and IDE 1 on generation 1, none on
generation 2, neither added nor removed. Refusals are `Refused` with the DMTF codes of the
management-service methods (§0.3 Family A).
"""

from __future__ import annotations

import uuid

from pywbem import CIMInstance

from providers.base import Refused, property_value
from providers.return_codes import DmtfReturnCode
from providers.setting_values import first_value, optional_int
from providers.vm_draft import MAX_SCSI_CONTROLLERS, Controller, VMDraft

INVALID = DmtfReturnCode.INVALID_PARAMETER
STATE = DmtfReturnCode.INVALID_STATE
IDE_CONTROLLER, SCSI_CONTROLLER = 5, 6  # ResourceType
SCSI_SUBTYPE = "Microsoft:Hyper-V:Synthetic SCSI Controller"


def add_controller(draft: VMDraft, setting: CIMInstance, what: str) -> str:
    """Add the SCSI controller the setting describes; the InstanceID part it became."""
    if optional_int(setting, "ResourceType", what) == IDE_CONTROLLER:
        raise Refused(INVALID, f"{what}: IDE controllers cannot be added; {_ide_rule(draft)}")
    subtype = property_value(setting, "ResourceSubType")
    if subtype not in (None, "") and str(subtype).lower() != SCSI_SUBTYPE.lower():
        raise Refused(INVALID, f"{what}.ResourceSubType {subtype!r} is not a controller "
                               f"Hyper-V adds ({SCSI_SUBTYPE})")
    _off_required(draft, what, "add a SCSI controller to")
    if len(draft.scsi_controllers) >= MAX_SCSI_CONTROLLERS:
        raise Refused(INVALID, f"{what}: {draft.name} already has {MAX_SCSI_CONTROLLERS} SCSI "
                               "controllers, the most a virtual machine can have")
    guid = _controller_guid(draft, first_value(setting, "VirtualSystemIdentifiers"), what)
    draft.settings["scsi_controllers"] = [*draft.scsi_controllers, guid]
    return Controller("scsi", 0, guid).part


def remove_controller(draft: VMDraft, part: str, what: str) -> None:
    """Remove the SCSI controller `part` names, with the drives on it."""
    controller = next(c for c in draft.controllers() if c.part.lower() == part.lower())
    if controller.kind == "ide":
        raise Refused(INVALID, f"{what}: IDE controllers cannot be removed; {_ide_rule(draft)}")
    _off_required(draft, what, "remove a SCSI controller from")
    draft.settings["scsi_controllers"] = [
        guid for guid in draft.scsi_controllers if guid.lower() != controller.guid.lower()]
    for drive in draft.live_drives():
        if drive.controller_kind == "scsi" and \
                drive.controller_guid.lower() == controller.guid.lower():
            drive.removed = True


def _ide_rule(draft: VMDraft) -> str:
    if draft.generation == 1:
        return f"{draft.name} (generation 1) has IDE controllers 0 and 1 for good"
    return f"{draft.name} is a generation 2 virtual machine, which has no IDE controllers"


def _off_required(draft: VMDraft, what: str, action: str) -> None:
    if not draft.is_off:
        raise Refused(STATE, f"{what}: cannot {action} {draft.name} while it is not off")


def _controller_guid(draft: VMDraft, identifier: str, what: str) -> str:
    if not identifier:
        return str(uuid.uuid4()).upper()
    try:
        guid = str(uuid.UUID(identifier.strip("{}"))).upper()
    except ValueError:
        raise Refused(INVALID, f"{what}: VirtualSystemIdentifiers {identifier!r} is not a "
                               "GUID") from None
    if any(existing.upper() == guid for existing in draft.scsi_controllers):
        raise Refused(INVALID, f"{what}: {draft.name} already has a SCSI controller {guid}")
    return guid
