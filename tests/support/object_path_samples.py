"""Object paths from real clients' captures, shared by the object path tests."""

from __future__ import annotations

from pywbem import CIMInstanceName

NS = "root/virtualization/v2"
VM_GUID = "BF53C567-965D-48CC-9867-CF509EA1799E"
SASD_ID = (
    "Microsoft:BF53C567-965D-48CC-9867-CF509EA1799E\\83F8638B-8DCA-4152-9EDA-2CA8B33039B4\\0\\0\\L"
)
SASD_ID_IN_PATH = SASD_ID.replace("\\", "\\\\")


def vm(host: str | None = "HV12OSDEMO1", namespace: str | None = NS) -> CIMInstanceName:
    return CIMInstanceName(
        "Msvm_ComputerSystem",
        {"CreationClassName": "Msvm_ComputerSystem", "Name": VM_GUID},
        host=host,
        namespace=namespace,
    )


HOST_PATH = CIMInstanceName(
    "Msvm_ComputerSystem",
    {"CreationClassName": "Msvm_ComputerSystem", "Name": "HOST"},
    host="HOST",
    namespace=NS,
)
HOSTED_SERVICE_TEXT = (
    'Msvm_HostedService.Antecedent="\\\\\\\\HOST\\\\root\\\\virtualization\\\\v2:'
    'Msvm_ComputerSystem.CreationClassName=\\"Msvm_ComputerSystem\\",Name=\\"HOST\\"",'
    'Dependent="\\\\\\\\HOST\\\\root\\\\virtualization\\\\v2:Msvm_VirtualSystemMigrationService.'
    'Name=\\"vsms\\""'
)
HOSTED_SERVICE = CIMInstanceName(
    "Msvm_HostedService",
    {
        "Antecedent": HOST_PATH,
        "Dependent": CIMInstanceName(
            "Msvm_VirtualSystemMigrationService", {"Name": "vsms"}, host="HOST", namespace=NS
        ),
    },
)
