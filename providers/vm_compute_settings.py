"""A draft's memory and virtual processors, checked against the host and the VM's state.

Memory and vCPUs must stay within the host's limits and change only while the VM is off;
dynamic memory may widen its range while the VM runs (§12.5).
"""

from __future__ import annotations

from pywbem import CIMInstance

from providers.base import Refused
from providers.capabilities import MAX_MEMORY_MB, MAX_VIRTUAL_PROCESSORS
from providers.return_codes import DmtfReturnCode
from providers.setting_values import bool_value, int_value
from providers.vm_draft import VMDraft
from storage.models import Host

INVALID = DmtfReturnCode.INVALID_PARAMETER
STATE = DmtfReturnCode.INVALID_STATE
DYNAMIC_MINIMUM_MB, DYNAMIC_MAXIMUM_MB = 512, 1048576  # a host's defaults (§12.5)
MEMORY_FLOOR_MB = 32
PERCENT_1000 = 100000  # processor Limit and Reservation are in 1/1000 percent
MAX_WEIGHT = 10000


def change_memory(draft: VMDraft, setting: CIMInstance, host: Host, what: str) -> None:
    """Write the memory setting into the draft, or refuse it as the host would."""
    now = draft.settings
    quantity = int_value(setting, "VirtualQuantity", now["memory_mb"], what)
    dynamic = bool_value(setting, "DynamicMemoryEnabled", now["dynamic_memory"])
    if dynamic:
        was = bool(now["dynamic_memory"])
        minimum = int_value(setting, "Reservation",
                           now["memory_min_mb"] if was else min(DYNAMIC_MINIMUM_MB, quantity), what)
        maximum = int_value(setting, "Limit", now["memory_max_mb"] if was else max(
            quantity, min(DYNAMIC_MAXIMUM_MB, _memory_top(host))), what)
    else:
        minimum = maximum = quantity
    top = _memory_top(host)
    for label, value in (("VirtualQuantity", quantity), ("Reservation", minimum),
                         ("Limit", maximum)):
        if value % 2:
            raise Refused(INVALID, f"{what}: memory {label} {value} MB is not a multiple of "
                                   "2 MB")
        if not MEMORY_FLOOR_MB <= value <= top:
            raise Refused(INVALID, f"{what}: memory {label} {value} MB is outside "
                                   f"{MEMORY_FLOOR_MB} to {top} MB, what {host.name} allows")
    if not minimum <= quantity <= maximum:
        raise Refused(INVALID, f"{what}: dynamic memory needs Reservation ({minimum} MB) <= "
                               f"VirtualQuantity ({quantity} MB) <= Limit ({maximum} MB)")
    if not draft.is_off:
        if dynamic != now["dynamic_memory"]:
            raise Refused(STATE, f"{what}: dynamic memory cannot be turned "
                                 f"{'on' if dynamic else 'off'} while {draft.name} is not off")
        if quantity != now["memory_mb"]:
            kind = "dynamic memory's startup" if dynamic else "static"
            raise Refused(STATE, f"{what}: the {kind} memory of {draft.name} cannot change "
                                 "while it is not off")
        if dynamic and (minimum > now["memory_min_mb"] or maximum < now["memory_max_mb"]):
            raise Refused(STATE, f"{what}: while {draft.name} runs its minimum memory can only "
                                 "shrink and its maximum only grow")
    now.update(memory_mb=quantity, dynamic_memory=dynamic, memory_min_mb=minimum,
               memory_max_mb=maximum)


def _memory_top(host: Host) -> int:
    return min(MAX_MEMORY_MB.get(host.os_name, 1 << 20), int(host.memory_mb))


def change_processor(draft: VMDraft, setting: CIMInstance, host: Host, what: str) -> None:
    """Write the processor setting into the draft, or refuse it as the host would."""
    now = draft.settings
    count = int_value(setting, "VirtualQuantity", now["processors"], what)
    persona = MAX_VIRTUAL_PROCESSORS.get(host.os_name, 64)
    if count < 1:
        raise Refused(INVALID, f"{what}: a virtual machine needs at least one processor")
    if count > host.logical_processors:
        raise Refused(INVALID, f"{what}: {count} virtual processors are more than the "
                               f"{host.logical_processors} logical processors of {host.name}")
    if count > persona:
        raise Refused(INVALID, f"{what}: {count} virtual processors are more than "
                               f"{host.os_name} allows a virtual machine ({persona})")
    limit = int_value(setting, "Limit", now["processor_limit"], what)
    reservation = int_value(setting, "Reservation", now["processor_reservation"], what)
    weight = int_value(setting, "Weight", now["processor_weight"], what)
    if not 0 <= reservation <= limit <= PERCENT_1000:
        raise Refused(INVALID, f"{what}: processor Reservation ({reservation}) and Limit "
                               f"({limit}) must satisfy 0 <= Reservation <= Limit <= "
                               f"{PERCENT_1000}")
    if not 1 <= weight <= MAX_WEIGHT:
        raise Refused(INVALID, f"{what}: processor Weight {weight} is outside 1 to "
                               f"{MAX_WEIGHT}")
    features = bool_value(setting, "LimitProcessorFeatures", now["limit_processor_features"])
    if not draft.is_off and count != now["processors"]:
        raise Refused(STATE, f"{what}: the virtual processors of {draft.name} can only change "
                             "while it is off")
    if not draft.is_off and features != now["limit_processor_features"]:
        raise Refused(STATE, f"{what}: LimitProcessorFeatures can only change while the "
                             "virtual machine is off")
    now.update(processors=count, processor_limit=limit, processor_reservation=reservation,
               processor_weight=weight, limit_processor_features=features)

