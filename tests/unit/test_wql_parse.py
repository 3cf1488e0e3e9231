"""Parsing the WQL dialect of reference §15.4: the exact queries real clients send (§14.4,
§15), WHERE clauses and literals."""

from __future__ import annotations

import pytest

from emulator.cim.wql import (
    And,
    AssociatorsQuery,
    Comparison,
    Expr,
    IsA,
    IsNull,
    Like,
    Not,
    Or,
    PropertyRef,
    Query,
    ReferencesQuery,
    SelectQuery,
    parse,
    to_text,
)
from tests.support.wql_samples import (
    VM_GUID,
    VM_PATH_IN_QUERY,
    VM_PATH_TEXT,
    where,
)

# (query text, expected AST) — first the exact queries from the reference, then the grammar.
TESTCASES_PARSE: list[tuple[str, Query]] = [
    ("select * from Msvm_VirtualSystemMigrationService",
     SelectQuery(None, "Msvm_VirtualSystemMigrationService")),
    ("select * from Msvm_VirtualSystemMigrationSettingData where MigrationType = '32770'",
     SelectQuery(None, "Msvm_VirtualSystemMigrationSettingData",
                 Comparison("MigrationType", "=", "32770"))),
    ("select * from Msvm_ComputerSystem where ElementName = 'vm01'",
     SelectQuery(None, "Msvm_ComputerSystem", Comparison("ElementName", "=", "vm01"))),
    ('SELECT * FROM Msvm_ComputerSystem WHERE ElementName="vm01"',
     SelectQuery(None, "Msvm_ComputerSystem", Comparison("ElementName", "=", "vm01"))),
    (f"select * from Msvm_PlannedComputerSystem where Name = '{VM_GUID}'",
     SelectQuery(None, "Msvm_PlannedComputerSystem", Comparison("Name", "=", VM_GUID))),
    (f"SELECT * FROM CIM_ResourceAllocationSettingData WHERE InstanceID LIKE "
     f"'Microsoft:{VM_GUID}%'",
     SelectQuery(None, "CIM_ResourceAllocationSettingData",
                 Like("InstanceID", f"Microsoft:{VM_GUID}%"))),
    ("SELECT * FROM Msvm_StorageAllocationSettingData WHERE ResourceSubType = "
     "'Microsoft:Hyper-V:Virtual Hard Disk' AND InstanceID LIKE '%\\\\Default'",
     SelectQuery(None, "Msvm_StorageAllocationSettingData", And((
         Comparison("ResourceSubType", "=", "Microsoft:Hyper-V:Virtual Hard Disk"),
         Like("InstanceID", "%\\Default"))))),
    ('SELECT * FROM CIM_ResourcePool WHERE ResourceType="31" AND '
     'ResourceSubType="Microsoft:Hyper-V:Virtual Hard Disk"',
     SelectQuery(None, "CIM_ResourcePool", And((
         Comparison("ResourceType", "=", "31"),
         Comparison("ResourceSubType", "=", "Microsoft:Hyper-V:Virtual Hard Disk"))))),
    (f"SELECT * FROM Msvm_ConcreteJob WHERE InstanceID = '{VM_GUID}'",
     SelectQuery(None, "Msvm_ConcreteJob", Comparison("InstanceID", "=", VM_GUID))),
    (f"select * from Msvm_AffectedJobElement where AffectedElement = '{VM_PATH_IN_QUERY}'",
     SelectQuery(None, "Msvm_AffectedJobElement",
                 Comparison("AffectedElement", "=", VM_PATH_TEXT))),
    ("SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'",
     SelectQuery(None, "Msvm_ComputerSystem", Comparison("Caption", "=", "Virtual Machine"))),
    ("SELECT ElementName, Notes FROM Msvm_VirtualSystemSettingData WHERE "
     "VirtualSystemType = 'Microsoft:Hyper-V:System:Realized'",
     SelectQuery(("ElementName", "Notes"), "Msvm_VirtualSystemSettingData",
                 Comparison("VirtualSystemType", "=", "Microsoft:Hyper-V:System:Realized"))),
    # os-win's event listener
    ("SELECT EnabledState, TargetInstance FROM __InstanceModificationEvent WITHIN 2 WHERE "
     "TargetInstance ISA 'Msvm_ComputerSystem' AND "
     "TargetInstance.EnabledState != PreviousInstance.EnabledState AND "
     "(TargetInstance.EnabledState = '2' OR TargetInstance.EnabledState = '3')",
     SelectQuery(("EnabledState", "TargetInstance"), "__InstanceModificationEvent", And((
         IsA("TargetInstance", "Msvm_ComputerSystem"),
         Comparison("TargetInstance.EnabledState", "<>",
                    PropertyRef("PreviousInstance.EnabledState")),
         Or((Comparison("TargetInstance.EnabledState", "=", "2"),
             Comparison("TargetInstance.EnabledState", "=", "3"))),
     )), within=2.0)),
    ("SELECT * FROM __InstanceCreationEvent WITHIN 0.5 WHERE TargetInstance ISA "
     '"Msvm_ComputerSystem"',
     SelectQuery(None, "__InstanceCreationEvent", IsA("TargetInstance", "Msvm_ComputerSystem"),
                 within=0.5)),
    # libvirt's ASSOCIATORS OF (WS-Man WQL filter)
    (f'ASSOCIATORS OF {{Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",'
     f'Name="{VM_GUID}"}} WHERE AssocClass = Msvm_SettingsDefineState '
     f"ResultClass = Msvm_VirtualSystemSettingData",
     AssociatorsQuery(f'Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",'
                      f'Name="{VM_GUID}"', assoc_class="Msvm_SettingsDefineState",
                      result_class="Msvm_VirtualSystemSettingData")),
    (f"ASSOCIATORS OF {{Msvm_VirtualSystemSettingData.InstanceID='Microsoft:{VM_GUID}'}} "
     "WHERE AssocClass = Msvm_VirtualSystemSettingDataComponent "
     "ResultClass = Msvm_ProcessorSettingData",
     AssociatorsQuery(f"Msvm_VirtualSystemSettingData.InstanceID='Microsoft:{VM_GUID}'",
                      assoc_class="Msvm_VirtualSystemSettingDataComponent",
                      result_class="Msvm_ProcessorSettingData")),
    # MS sample GetRelated(...) spelled as WQL, all keywords
    ("associators of {Msvm_ComputerSystem.Name='x'} where resultclass = "
     "Msvm_VirtualSystemSettingData assocclass = Msvm_SettingsDefineState "
     "resultrole = SettingData role = ManagedElement",
     AssociatorsQuery("Msvm_ComputerSystem.Name='x'", assoc_class="Msvm_SettingsDefineState",
                      result_class="Msvm_VirtualSystemSettingData", role="ManagedElement",
                      result_role="SettingData")),
    ("ASSOCIATORS OF {C.K=1} WHERE RequiredQualifier = Association "
     "RequiredAssocQualifier = 'Aggregation' ClassDefsOnly KeysOnly",
     AssociatorsQuery("C.K=1", required_qualifier="Association",
                      required_assoc_qualifier="Aggregation", class_defs_only=True,
                      keys_only=True)),
    ("ASSOCIATORS OF {C.K=1} WHERE SchemaOnly", AssociatorsQuery("C.K=1", schema_only=True)),
    ("ASSOCIATORS OF { C.K=1 }", AssociatorsQuery("C.K=1")),
    # braces, quotes and escapes inside the path stay raw
    ('ASSOCIATORS OF {C.K="a}b{c",J=\'x\\\'}\'}',
     AssociatorsQuery('C.K="a}b{c",J=\'x\\\'}\'')),
    (f"ASSOCIATORS OF {{{VM_PATH_TEXT}}}", AssociatorsQuery(VM_PATH_TEXT)),
    ("REFERENCES OF {Msvm_ComputerSystem.Name='x'} WHERE ResultClass = Msvm_SettingsDefineState "
     "Role = ManagedElement",
     ReferencesQuery("Msvm_ComputerSystem.Name='x'", result_class="Msvm_SettingsDefineState",
                     role="ManagedElement")),
    ("references of {C=@} where RequiredQualifier = Q ClassDefsOnly KeysOnly",
     ReferencesQuery("C=@", required_qualifier="Q", class_defs_only=True, keys_only=True)),
    # grammar
    ("  select   *   from   c  \n", SelectQuery(None, "c")),
    ("SELECT a.b, c FROM x", SelectQuery(("a.b", "c"), "x")),
    ("SELECT __PATH, __RELPATH FROM Msvm_ComputerSystem",
     SelectQuery(("__PATH", "__RELPATH"), "Msvm_ComputerSystem")),
    ("SELECT*FROM c WHERE(a=1)", SelectQuery(None, "c", Comparison("a", "=", 1))),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), TESTCASES_PARSE)
def test_parse(text: str, expected: Query) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "expected"), TESTCASES_PARSE)
def test_canonical_text_round_trips(text: str, expected: Query) -> None:
    canonical = to_text(parse(text))
    assert parse(canonical) == expected
    assert to_text(parse(canonical)) == canonical


# (WHERE clause, expected expression)
TESTCASES_WHERE: list[tuple[str, Expr]] = [
    ("a = 1", Comparison("a", "=", 1)),
    ("a <> 1", Comparison("a", "<>", 1)),
    ("a != 1", Comparison("a", "<>", 1)),
    ("a < 1", Comparison("a", "<", 1)),
    ("a > 1", Comparison("a", ">", 1)),
    ("a <= 1", Comparison("a", "<=", 1)),
    ("a >= 1", Comparison("a", ">=", 1)),
    # a literal on the left is normalised with the operator mirrored
    ("5 = a", Comparison("a", "=", 5)),
    ("5 <> a", Comparison("a", "<>", 5)),
    ("5 < a", Comparison("a", ">", 5)),
    ("5 >= a", Comparison("a", "<=", 5)),
    ("'x' = a", Comparison("a", "=", "x")),
    ("NULL = a", Comparison("a", "=", None)),
    ("a = b.c", Comparison("a", "=", PropertyRef("b.c"))),
    ("a IS NULL", IsNull("a")),
    ("a is not null", IsNull("a", negated=True)),
    ("a = NULL", Comparison("a", "=", None)),
    ("a LIKE 'x%'", Like("a", "x%")),
    ("a NOT LIKE 'x%'", Not(Like("a", "x%"))),
    ("TargetInstance ISA 'Msvm_ComputerSystem'", IsA("TargetInstance", "Msvm_ComputerSystem")),
    ("TargetInstance ISA Msvm_ComputerSystem", IsA("TargetInstance", "Msvm_ComputerSystem")),
    ("__this ISA 'CIM_Job'", IsA("__this", "CIM_Job")),
    ("__CLASS = 'Msvm_MigrationJob'", Comparison("__CLASS", "=", "Msvm_MigrationJob")),
    # precedence: NOT > AND > OR; parentheses kept as structure
    ("a = 1 OR b = 2 AND c = 3", Or((Comparison("a", "=", 1), And((Comparison("b", "=", 2),
                                                                   Comparison("c", "=", 3)))))),
    ("(a = 1 OR b = 2) AND c = 3", And((Or((Comparison("a", "=", 1), Comparison("b", "=", 2))),
                                        Comparison("c", "=", 3)))),
    ("a = 1 AND (b = 2 AND c = 3)", And((Comparison("a", "=", 1), And((Comparison("b", "=", 2),
                                                                       Comparison("c", "=", 3)))))),
    ("a = 1 AND b = 2 AND c = 3", And((Comparison("a", "=", 1), Comparison("b", "=", 2),
                                       Comparison("c", "=", 3)))),
    ("NOT a = 1 AND b = 2", And((Not(Comparison("a", "=", 1)), Comparison("b", "=", 2)))),
    ("NOT (a = 1 AND b = 2)", Not(And((Comparison("a", "=", 1), Comparison("b", "=", 2))))),
    ("NOT NOT a IS NULL", Not(Not(IsNull("a")))),
    ("((a = 1))", Comparison("a", "=", 1)),
    ("a=1 and B=2 Or c=3", Or((And((Comparison("a", "=", 1), Comparison("B", "=", 2))),
                               Comparison("c", "=", 3)))),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), TESTCASES_WHERE)
def test_where(text: str, expected: Expr) -> None:
    assert where(text) == expected


# (literal as written in the query, value in the AST) — every case of §15.4
TESTCASES_LITERALS: list[tuple[str, object]] = [
    ("'plain'", "plain"),
    ('"double"', "double"),
    ("''", ""),
    ('""', ""),
    ("'it''s'", "it's"),  # os-win: ' doubled inside single quotes
    ('"say ""hi"""', 'say "hi"'),
    ("'it\\'s'", "it's"),
    ('"say \\"hi\\""', 'say "hi"'),
    ("'%\\\\Default'", "%\\Default"),  # PyMI doubles backslashes: the pattern is %\Default
    ("'a\\\\\\\\b'", "a\\\\b"),
    ("'C:\\dir'", "C:\\dir"),  # an escape of nothing keeps its backslash
    ("'\"'", '"'),
    ('"\'"', "'"),
    ("'new\nline'", "new\nline"),
    ("'32770'", "32770"),
    ("32770", 32770),
    ("-5", -5),
    ("- 5", -5),
    ("+5", 5),
    ("0", 0),
    ("007", 7),
    ("0x10", 16),
    ("0XfF", 255),
    ("-0x10", -16),
    ("1.5", 1.5),
    ("1.", 1.0),
    ("-2.5e3", -2500.0),
    ("1e3", 1000.0),
    ("1E-2", 0.01),
    ("18446744073709551616", 2**64),
    ("TRUE", True),
    ("false", False),
    ("True", True),
    ("NULL", None),
    ("null", None),
]


@pytest.mark.parametrize(("literal", "value"), TESTCASES_LITERALS)
def test_literals(literal: str, value: object) -> None:
    expr = where(f"p = {literal}")
    assert isinstance(expr, Comparison)
    assert expr.value == value
    assert type(expr.value) is type(value)
    # and back through the canonical text
