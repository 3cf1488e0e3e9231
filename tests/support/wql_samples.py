"""Sample values the WQL tests share: a VM's GUID and path as clients quote them, a
WHERE-clause parser, and rows (RowViews over plain data) to evaluate queries on."""

from __future__ import annotations

from dataclasses import dataclass, field

from pywbem import CIMDateTime, CIMInstanceName, Uint16, Uint64

from emulator.cim.wql import Expr, SelectQuery, parse

VM_GUID = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"
NS = "root/virtualization/v2"
VM_PATH_TEXT = (
    "\\\\HOST-A\\root\\virtualization\\v2:Msvm_ComputerSystem."
    f'CreationClassName="Msvm_ComputerSystem",Name="{VM_GUID}"'
)
# What os-win puts on the wire: PyMI doubles every backslash of the path before sending.
VM_PATH_IN_QUERY = VM_PATH_TEXT.replace("\\", "\\\\")


def where(text: str) -> Expr:
    """The expression of a WHERE clause, parsed as the tail of a SELECT."""
    query = parse(f"SELECT * FROM C WHERE {text}")
    assert isinstance(query, SelectQuery)
    assert query.where is not None
    return query.where


@dataclass
class Row:
    """A RowView over plain data; lookups are case-insensitive like WMI's."""

    cls: str
    props: dict[str, tuple[object, str | None, bool]] = field(default_factory=dict)
    bases: tuple[str, ...] = ()
    objects: dict[str, Row | None] = field(default_factory=dict)

    def get(self, name: str) -> tuple[object, str | None, bool]:
        for key, value in self.props.items():
            if key.lower() == name.lower():
                return value
        raise KeyError(name)

    def classname(self) -> str:
        return self.cls

    def is_a(self, classname: str) -> bool:
        return classname.lower() in {c.lower() for c in (self.cls, *self.bases)}

    def embedded(self, name: str) -> Row | None:
        for key, value in self.objects.items():
            if key.lower() == name.lower():
                return value
        raise KeyError(name)


VM_PATH = CIMInstanceName(
    "Msvm_ComputerSystem",
    {"CreationClassName": "Msvm_ComputerSystem", "Name": VM_GUID},
    host="HOST-A",
    namespace=NS,
)
VM_ROW = Row(
    "Msvm_ComputerSystem",
    {
        "ElementName": ("vm01", "string", False),
        "Name": (VM_GUID, "string", False),
        "Caption": ("Virtual Machine", "string", False),
        "EnabledState": (Uint16(2), "uint16", False),
        "OnTimeInMilliseconds": (Uint64(123456), "uint64", False),
        "OperationalStatus": ([Uint16(2)], "uint16", True),
        "InstallDate": (CIMDateTime("20240101120000.000000+000"), "datetime", False),
        "TimeOfLastConfigurationChange": (None, "datetime", False),
        "Notes": (None, "string", False),
        "Description": ("Microsoft Virtual Machine", None, False),
        "Load": (0.75, "real32", False),
        "Replicated": (False, "boolean", False),
        "Enabled": (True, None, False),
        "Weird": ("not a number", "uint16", False),
        "Dependent": (VM_PATH, "reference", False),
        "Blob": (object(), "instance", False),
        "__CLASS": ("Msvm_ComputerSystem", "string", False),
    },
    bases=("CIM_ComputerSystem", "CIM_System", "CIM_ManagedElement"),
)
SASD_ROW = Row(
    "Msvm_StorageAllocationSettingData",
    {
        "InstanceID": (f"Microsoft:{VM_GUID}\\83F8638B\\0\\0\\L", "string", False),
        "ResourceType": (Uint16(31), "uint16", False),
        "ResourceSubType": ("Microsoft:Hyper-V:Virtual Hard Disk", "string", False),
    },
)
MIGRATION_SD_ROW = Row(
    "Msvm_VirtualSystemMigrationSettingData",
    {
        "InstanceID": ("Microsoft:VirtualSystemAndStorage", "string", False),
        "MigrationType": (Uint16(32770), "uint16", False),
    },
)
AFFECTED_ROW = Row(
    "Msvm_AffectedJobElement",
    {
        "AffectedElement": (VM_PATH, "reference", False),
        "AffectingElement": (
            CIMInstanceName("Msvm_MigrationJob", {"InstanceID": "J1"}, namespace=NS),
            "reference",
            False,
        ),
    },
)
EVENT_ROW = Row(
    "__InstanceModificationEvent",
    {"EnabledState": (None, "uint16", False)},
    objects={
        "TargetInstance": Row(
            "Msvm_ComputerSystem",
            {"EnabledState": (Uint16(3), "uint16", False), "Name": (VM_GUID, "string", False)},
            bases=("CIM_ComputerSystem",),
        ),
        "PreviousInstance": Row(
            "Msvm_ComputerSystem",
            {"EnabledState": (Uint16(2), "uint16", False), "Name": (VM_GUID, "string", False)},
        ),
        "Missing": None,
    },
    bases=("__InstanceOperationEvent", "__Event"),
)
EVENT_SAME_ROW = Row(
    "__InstanceModificationEvent",
    objects={
        "TargetInstance": Row("Msvm_ComputerSystem", {"EnabledState": (2, "uint16", False)}),
        "PreviousInstance": Row("Msvm_ComputerSystem", {"EnabledState": (2, "uint16", False)}),
    },
)
NULLS_ROW = Row("C", {"A": (None, "uint16", False), "B": (None, "uint16", False),
                      "C": (Uint16(1), "uint16", False)})  # fmt: skip
