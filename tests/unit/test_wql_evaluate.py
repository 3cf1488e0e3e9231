"""Evaluating WHERE clauses on rows: WMI's coercions, NULLs, references, embedded objects
(os-win's event query) and the errors a query meets on real data."""

from __future__ import annotations

import re

import pytest
from pywbem import CIMDateTime

from emulator.cim.wql import (
    WQLError,
    evaluate,
)
from tests.support.wql_samples import (
    AFFECTED_ROW,
    EVENT_ROW,
    EVENT_SAME_ROW,
    MIGRATION_SD_ROW,
    NULLS_ROW,
    SASD_ROW,
    VM_GUID,
    VM_PATH,
    VM_PATH_IN_QUERY,
    VM_ROW,
    Row,
    where,
)

# (row, WHERE clause, expected)
TESTCASES_EVALUATE: list[tuple[Row, str, bool]] = [
    # strings: case-insensitive, either quote style
    (VM_ROW, "ElementName = 'vm01'", True),
    (VM_ROW, 'ElementName="VM01"', True),
    (VM_ROW, "elementname = 'vm02'", False),
    (VM_ROW, "ElementName <> 'vm02'", True),
    (VM_ROW, "Caption = 'Virtual Machine'", True),
    (VM_ROW, "Name = '5c3a1e2b-7d4f-4a8b-9c0d-1e2f3a4b5c6d'", True),
    (VM_ROW, "ElementName < 'VM02'", True),
    (VM_ROW, "ElementName > 'vm'", True),
    (VM_ROW, "Description = 'microsoft virtual machine'", True),  # untyped str
    # unquoted number vs string property compares as text
    (Row("C", {"S": ("5", "string", False)}), "S = 5", True),
    (Row("C", {"S": ("05", "string", False)}), "S = 5", False),
    (Row("C", {"S": ("TRUE", "string", False)}), "S = TRUE", True),
    # numbers: quoted literals are coerced (PyMI)
    (MIGRATION_SD_ROW, "MigrationType = '32770'", True),
    (MIGRATION_SD_ROW, "MigrationType = 32770", True),
    (MIGRATION_SD_ROW, "MigrationType = '32771'", False),
    (MIGRATION_SD_ROW, "MigrationType = ' 32770 '", True),
    (MIGRATION_SD_ROW, "MigrationType = '0x8002'", True),
    (MIGRATION_SD_ROW, "MigrationType = 0x8002", True),
    (MIGRATION_SD_ROW, "MigrationType = 32770.0", True),
    (MIGRATION_SD_ROW, "MigrationType > '9999'", True),  # numeric, not text, ordering
    (MIGRATION_SD_ROW, "MigrationType < 4096", False),
    (MIGRATION_SD_ROW, "32768 < MigrationType", True),
    (MIGRATION_SD_ROW, "MigrationType >= 32770 AND MigrationType <= 32770", True),
    (VM_ROW, "EnabledState = '2'", True),
    (VM_ROW, "EnabledState != 3", True),
    (VM_ROW, "Load > 0.5", True),
    (VM_ROW, "Load = '0.75'", True),
    (VM_ROW, "OnTimeInMilliseconds = '123456'", True),
    (VM_ROW, "EnabledState = TRUE", False),
    (SASD_ROW, "ResourceType = 31 AND ResourceSubType = 'Microsoft:Hyper-V:Virtual Hard Disk'",
     True),
    (SASD_ROW, 'ResourceType="31" AND ResourceSubType="Microsoft:Hyper-V:Virtual Hard Disk"',
     True),
    # LIKE
    (SASD_ROW, f"InstanceID LIKE 'Microsoft:{VM_GUID}%'", True),
    (SASD_ROW, f"InstanceID LIKE 'microsoft:{VM_GUID.lower()}%'", True),
    (SASD_ROW, "InstanceID LIKE 'Microsoft:Other%'", False),
    (SASD_ROW, "InstanceID LIKE '%\\\\L'", True),
    (SASD_ROW, "InstanceID LIKE '%\\\\D'", False),
    (SASD_ROW, "InstanceID NOT LIKE '%\\\\D'", True),
    (SASD_ROW, "ResourceType LIKE '3_'", True),  # non-strings are matched as text
    (VM_ROW, "Notes LIKE '%'", False),  # NULL never matches
    (VM_ROW, "Dependent LIKE '%Msvm_ComputerSystem%'", True),
    # booleans
    (VM_ROW, "Replicated = FALSE", True),
    (VM_ROW, "Replicated = 'FALSE'", True),
    (VM_ROW, "Replicated = 'false'", True),
    (VM_ROW, "Replicated = '0'", True),
    (VM_ROW, "Replicated = 0", True),
    (VM_ROW, "Replicated = '1'", False),
    (VM_ROW, "Replicated <> TRUE", True),
    (VM_ROW, "Enabled = 'TRUE'", True),  # untyped bool
    # datetimes compare as CIM datetime strings
    (VM_ROW, "InstallDate = '20240101120000.000000+000'", True),
    (VM_ROW, "InstallDate > '20230101000000.000000+000'", True),
    (VM_ROW, "InstallDate < '20230101000000.000000+000'", False),
    # references: compared as object paths (os-win's AffectedElement query)
    (AFFECTED_ROW, f"AffectedElement = '{VM_PATH_IN_QUERY}'", True),
    (AFFECTED_ROW, f"AffectedElement = '{VM_PATH_IN_QUERY.replace('HOST-A', 'elsewhere')}'",
     True),  # host is not part of identity
    (AFFECTED_ROW, "AffectedElement = '//HOST-A/root/virtualization/v2:Msvm_ComputerSystem."
     f"Name=\"{VM_GUID}\",CreationClassName=\"Msvm_ComputerSystem\"'", True),  # key order
    (AFFECTED_ROW, f"AffectedElement = 'msvm_computersystem.creationclassname="
     f"\"Msvm_ComputerSystem\",name=\"{VM_GUID}\"'", True),  # relative path, name case
    (AFFECTED_ROW, "AffectedElement = 'Msvm_ComputerSystem.CreationClassName="
     "\"Msvm_ComputerSystem\",Name=\"other\"'", False),
    (AFFECTED_ROW, f"AffectedElement <> '{VM_PATH_IN_QUERY}'", False),
    (AFFECTED_ROW, "AffectingElement = 'Msvm_MigrationJob.InstanceID=\"J1\"'", True),
    (AFFECTED_ROW, "AffectedElement = 'Msvm_ComputerSystem'", False),  # a class path
    (AFFECTED_ROW, "AffectedElement = AffectedElement", True),
    (AFFECTED_ROW, "AffectedElement = AffectingElement", False),
    # NULLs
    (VM_ROW, "Notes IS NULL", True),
    (VM_ROW, "Notes IS NOT NULL", False),
    (VM_ROW, "ElementName IS NULL", False),
    (VM_ROW, "ElementName IS NOT NULL", True),
    (VM_ROW, "Notes = NULL", True),
    (VM_ROW, "Notes <> NULL", False),
    (VM_ROW, "ElementName = NULL", False),
    (VM_ROW, "ElementName <> NULL", True),
    (VM_ROW, "ElementName < NULL", False),
    (VM_ROW, "Notes = 'x'", False),
    (VM_ROW, "Notes <> 'x'", False),
    (VM_ROW, "Notes < 'x'", False),
    (VM_ROW, "NOT Notes = 'x'", True),
    (VM_ROW, "TimeOfLastConfigurationChange = '20240101120000.000000+000'", False),
    (VM_ROW, "OperationalStatus IS NOT NULL", True),  # IS NULL works on arrays
    (NULLS_ROW, "A = B", True),
    (NULLS_ROW, "A <> B", False),
    (NULLS_ROW, "A < B", False),
    (NULLS_ROW, "A = C", False),
    (NULLS_ROW, "A <> C", True),
    (NULLS_ROW, "C <> A", True),
    (NULLS_ROW, "C > A", False),
    # system properties are ordinary names to the row
    (VM_ROW, "__CLASS = 'msvm_computersystem'", True),
    # ISA and embedded objects (os-win's event query)
    (EVENT_ROW, "TargetInstance ISA 'Msvm_ComputerSystem'", True),
    (EVENT_ROW, "TargetInstance ISA 'CIM_ComputerSystem'", True),
    (EVENT_ROW, "TargetInstance ISA 'cim_computersystem'", True),
    (EVENT_ROW, "TargetInstance ISA 'Msvm_PlannedComputerSystem'", False),
    (EVENT_ROW, "Missing ISA 'Msvm_ComputerSystem'", False),
    (EVENT_ROW, "__this ISA '__Event'", True),
    (EVENT_ROW, "TargetInstance.EnabledState = '3'", True),
    (EVENT_ROW, "TargetInstance.enabledstate = 3 AND PreviousInstance.EnabledState = 2", True),
    (EVENT_ROW, "TargetInstance.EnabledState != PreviousInstance.EnabledState", True),
    (EVENT_SAME_ROW, "TargetInstance.EnabledState != PreviousInstance.EnabledState", False),
    (EVENT_ROW, "Missing.EnabledState IS NULL", True),
    (EVENT_ROW, "Missing.EnabledState = 2", False),
    (EVENT_ROW, "EnabledState IS NULL", True),
    (EVENT_ROW, "TargetInstance ISA 'Msvm_ComputerSystem' AND "
     "TargetInstance.EnabledState != PreviousInstance.EnabledState AND "
     "(TargetInstance.EnabledState = '2' OR TargetInstance.EnabledState = '3')", True),
    (EVENT_SAME_ROW, "TargetInstance ISA 'Msvm_ComputerSystem' AND "
     "TargetInstance.EnabledState != PreviousInstance.EnabledState", False),
    # boolean structure
    (VM_ROW, "ElementName = 'x' OR EnabledState = 2", True),
    (VM_ROW, "ElementName = 'x' OR EnabledState = 3", False),
    (VM_ROW, "ElementName = 'vm01' AND (EnabledState = 3 OR Notes IS NULL)", True),
    (VM_ROW, "NOT (ElementName = 'vm01' AND EnabledState = 2)", False),
    (VM_ROW, "NOT NOT ElementName = 'vm01'", True),
]  # fmt: skip


@pytest.mark.parametrize(("row", "text", "expected"), TESTCASES_EVALUATE)
def test_evaluate(row: Row, text: str, expected: bool) -> None:
    assert evaluate(where(text), row) is expected


# (row, WHERE clause, message fragment)
TESTCASES_EVALUATE_ERRORS: list[tuple[Row, str, str]] = [
    (VM_ROW, "NoSuchProperty = 1", "unknown property 'NoSuchProperty'"),
    (VM_ROW, "NoSuchProperty IS NULL", "unknown property"),
    (VM_ROW, "NoSuchProperty LIKE 'x'", "unknown property"),
    (VM_ROW, "ElementName = NoSuchProperty", "unknown property 'NoSuchProperty'"),
    # both sides are evaluated, so the error does not depend on the data
    (VM_ROW, "ElementName = 'vm01' OR NoSuchProperty = 1", "unknown property"),
    (VM_ROW, "ElementName = 'x' AND NoSuchProperty = 1", "unknown property"),
    (VM_ROW, "OperationalStatus = 2", "array properties cannot be used in WHERE"),
    (VM_ROW, "OperationalStatus LIKE '2'", "array properties cannot be used in WHERE"),
    (VM_ROW, "ElementName = OperationalStatus", "array properties cannot be used in WHERE"),
    (MIGRATION_SD_ROW, "MigrationType = 'abc'", "'abc' is not a number"),
    (MIGRATION_SD_ROW, "MigrationType = 'inf'", "is not a number"),
    (VM_ROW, "Weird = 1", "'not a number' is not a number"),
    (VM_ROW, "Replicated = 'yes'", "is not a boolean"),
    (VM_ROW, "Replicated = 2", "is not a boolean"),
    (AFFECTED_ROW, "AffectedElement = 'not a path'", "is not an object path"),
    (AFFECTED_ROW, "AffectedElement = 5", "is not an object path"),
    (AFFECTED_ROW, "AffectedElement < 'C.K=1'", "only supports = and <>"),
    (VM_ROW, "Blob = 'x'", "of type instance cannot be used in WHERE"),
    (EVENT_ROW, "Nothing ISA 'X'", "unknown property 'Nothing'"),
    (EVENT_ROW, "Nothing.EnabledState = 1", "unknown property 'Nothing.EnabledState'"),
    (EVENT_ROW, "TargetInstance.Nothing = 1", "unknown property 'TargetInstance.Nothing'"),
    (EVENT_ROW, "TargetInstance.Nothing ISA 'X'", "unknown property"),
]  # fmt: skip


@pytest.mark.parametrize(("row", "text", "fragment"), TESTCASES_EVALUATE_ERRORS)
def test_evaluate_errors(row: Row, text: str, fragment: str) -> None:
    with pytest.raises(WQLError, match=re.escape(fragment)) as info:
        evaluate(where(text), row)
    assert info.value.position is None


def test_evaluate_untyped_values_infer_their_kind() -> None:
    row = Row("C", {"N": (7, None, False), "P": (VM_PATH, None, False),
                    "D": (CIMDateTime("20240101120000.000000+000"), None, False),
                    "L": ([1, 2], None, False), "X": (object(), None, False)})  # fmt: skip
    assert evaluate(where("N = '7'"), row) is True
    assert evaluate(where(f"P = '{VM_PATH_IN_QUERY}'"), row) is True
    assert evaluate(where("D = '20240101120000.000000+000'"), row) is True
    with pytest.raises(WQLError, match="array properties"):
        evaluate(where("L = 1"), row)
    with pytest.raises(WQLError, match="cannot be used in WHERE"):
        evaluate(where("X = 1"), row)


def test_evaluate_rejects_non_expressions() -> None:
    with pytest.raises(WQLError, match="not a WQL expression"):
        evaluate("a = 1", VM_ROW)  # type: ignore[arg-type]
