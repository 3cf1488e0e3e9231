"""Formatting object paths the way WMI spells them (reference §0.4)."""

from __future__ import annotations

import pytest
from pywbem import CIMClassName, CIMDateTime, CIMInstanceName, Uint16

from emulator.cim.objectpath import ObjectPathError, format_wmi_path
from tests.support.object_path_samples import (
    HOSTED_SERVICE,
    HOSTED_SERVICE_TEXT,
    NS,
    SASD_ID,
    SASD_ID_IN_PATH,
    VM_GUID,
    vm,
)

# (path, full WMI text, relative text)
TESTCASES_FORMAT: list[tuple[CIMInstanceName | CIMClassName, str, str]] = [
    (
        vm(),
        f'\\\\HV12OSDEMO1\\root\\virtualization\\v2:Msvm_ComputerSystem.'
        f'CreationClassName="Msvm_ComputerSystem",Name="{VM_GUID}"',
        f'Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",Name="{VM_GUID}"',
    ),
    (
        CIMInstanceName("Msvm_StorageAllocationSettingData", {"InstanceID": SASD_ID},
                        host="HV12OSDEMO1", namespace=NS),
        f'\\\\HV12OSDEMO1\\root\\virtualization\\v2:Msvm_StorageAllocationSettingData.'
        f'InstanceID="{SASD_ID_IN_PATH}"',
        f'Msvm_StorageAllocationSettingData.InstanceID="{SASD_ID_IN_PATH}"',
    ),
    # key order is the order of keybindings, not sorted
    (CIMInstanceName("C", {"Z": "1", "A": "2"}, namespace="root/cimv2"),
     'root\\cimv2:C.Z="1",A="2"', 'C.Z="1",A="2"'),
    (CIMInstanceName("C", {"K": 'a"b\\c'}), 'C.K="a\\"b\\\\c"', 'C.K="a\\"b\\\\c"'),
    (CIMInstanceName("C", {"B": True, "F": False, "N": Uint16(7), "M": -3, "R": 2.5}),
     "C.B=TRUE,F=FALSE,N=7,M=-3,R=2.5", "C.B=TRUE,F=FALSE,N=7,M=-3,R=2.5"),
    (CIMInstanceName("C", {"R": 1e16}), "C.R=1.0e+16", "C.R=1.0e+16"),
    (CIMInstanceName("Msvm_Singleton", host="H", namespace="root/v2"),
     "\\\\H\\root\\v2:Msvm_Singleton=@", "Msvm_Singleton=@"),
    (HOSTED_SERVICE, HOSTED_SERVICE_TEXT, HOSTED_SERVICE_TEXT),
    (CIMClassName("Msvm_ComputerSystem", host="H", namespace=NS),
     "\\\\H\\root\\virtualization\\v2:Msvm_ComputerSystem", "Msvm_ComputerSystem"),
    # a host without a namespace has no WMI spelling and is dropped
    (CIMInstanceName("C", {"K": "v"}, host="H"), 'C.K="v"', 'C.K="v"'),
    (CIMInstanceName("C", {"D": CIMDateTime("20240101120000.000000+000")}),
     'C.D="20240101120000.000000+000"', 'C.D="20240101120000.000000+000"'),
]  # fmt: skip


@pytest.mark.parametrize(("path", "full", "relative"), TESTCASES_FORMAT)
def test_format(path: CIMInstanceName | CIMClassName, full: str, relative: str) -> None:
    assert format_wmi_path(path) == full
    assert format_wmi_path(path, relative=True) == relative


TESTCASES_FORMAT_ERRORS: list[tuple[object, str]] = [
    (CIMInstanceName("C", {"K": "v"}, host="a/b", namespace="r"),
     "invalid host name"),
    (CIMInstanceName("Bad Name", {"K": "v"}), "invalid class name"),
    (CIMInstanceName("C", {"K": 2**65}), "out of range"),
    (CIMInstanceName("C", {"K": float("inf")}), "non-finite"),
    ("C.K=1", "cannot format str"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "fragment"), TESTCASES_FORMAT_ERRORS)
def test_format_errors(path: object, fragment: str) -> None:
    with pytest.raises(ObjectPathError, match=fragment):
        format_wmi_path(path)


def test_format_rejects_unsupported_key_types() -> None:
    path = CIMInstanceName("C", {"K": "v"})
    path.keybindings["K"] = CIMClassName("X")  # pywbem accepts it; WMI paths cannot carry it
    with pytest.raises(ObjectPathError, match="unsupported value type"):
        format_wmi_path(path)
