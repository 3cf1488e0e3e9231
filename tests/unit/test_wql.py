"""WQL dialect of reference §15.4 and the exact queries real clients send (§14.4, §15)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from pywbem import CIMDateTime, CIMInstanceName, Uint16, Uint64

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
    WQLError,
    evaluate,
    like_match,
    parse,
    to_text,
)

VM_GUID = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"
NS = "root/virtualization/v2"
VM_PATH_TEXT = (
    "\\\\HOST-A\\root\\virtualization\\v2:Msvm_ComputerSystem."
    f'CreationClassName="Msvm_ComputerSystem",Name="{VM_GUID}"'
)
# What os-win puts on the wire: PyMI doubles every backslash of the path before sending.
VM_PATH_IN_QUERY = VM_PATH_TEXT.replace("\\", "\\\\")


def where(text: str) -> Expr:
    query = parse(f"SELECT * FROM C WHERE {text}")
    assert isinstance(query, SelectQuery)
    assert query.where is not None
    return query.where


# --------------------------------------------------------------------------------------------
# parsing

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
    assert where(to_text(SelectQuery(None, "C", expr)).split(" WHERE ", 1)[1]) == expr


# (query text, message fragment, position)
TESTCASES_ERRORS: list[tuple[str, str, int | None]] = [
    ("", "empty query", 0),
    ("   ", "empty query", 3),
    ("DELETE FROM c", "expected SELECT, ASSOCIATORS OF or REFERENCES OF", 0),
    ("SELECT", "expected '*' or a property name, found end of query", 6),
    ("SELECT * c", "expected FROM, found 'c'", 9),
    ("SELECT * FROM", "expected a class name", 13),
    ("SELECT * FROM where", "expected a class name, found 'where'", 14),
    ("SELECT a, FROM c", "expected a property name, found 'FROM'", 10),
    ("SELECT a,, b FROM c", "expected a property name, found ','", 9),
    ("SELECT *, a FROM c", "expected FROM, found ','", 8),
    ("SELECT a. FROM c", "expected a property name after '.'", 10),
    ("SELECT * FROM c;", "unexpected character ';'", 15),
    ("SELECT * FROM c WHERE", "WHERE needs a condition", 21),
    ("SELECT * FROM c WHERE a", "expected a comparison operator, found end of query", 23),
    ("SELECT * FROM c WHERE a =", "expected a property name or a value", 25),
    ("SELECT * FROM c WHERE a = = 1", "expected a property name or a value, found '='", 26),
    ("SELECT * FROM c WHERE a == 1", "expected a property name or a value, found '='", 25),
    ("SELECT * FROM c WHERE a ! 1", "unexpected character '!'", 24),
    ("SELECT * FROM c WHERE a = 'x", "unterminated string literal", 26),
    ('SELECT * FROM c WHERE a = "x\\"', "unterminated string literal", 26),
    ("SELECT * FROM c WHERE a = 1 b = 2", "unexpected 'b' after the end of the query", 28),
    ("SELECT * FROM c WHERE (a = 1", "expected ')', found end of query", 28),
    ("SELECT * FROM c WHERE a = 1)", "unbalanced ')'", 27),
    ("SELECT * FROM c WHERE ()", "expected a property name or a value, found ')'", 23),
    ("SELECT * FROM c WHERE 1 = 2", "needs a property name on at least one side", 22),
    ("SELECT * FROM c WHERE a AND b", "expected a comparison operator, found 'AND'", 24),
    ("SELECT * FROM c WHERE a = 1 AND", "expected a property name or a value", 31),
    ("SELECT * FROM c WHERE a = 1 OR OR b = 1", "found 'OR'", 31),
    ("SELECT * FROM c WHERE a IS 5", "expected NULL, found '5'", 27),
    ("SELECT * FROM c WHERE a IS NOT", "expected NULL, found end of query", 30),
    ("SELECT * FROM c WHERE a LIKE 5", "LIKE needs a quoted pattern", 29),
    ("SELECT * FROM c WHERE a LIKE 'x[a'", "bad LIKE pattern: unterminated '['", 29),
    ("SELECT * FROM c WHERE a LIKE '[]'", "bad LIKE pattern: empty character set", 29),
    ("SELECT * FROM c WHERE a LIKE '[^]'", "bad LIKE pattern: empty character set", 29),
    ("SELECT * FROM c WHERE a LIKE '[z-a]'", "reversed range z-a", 29),
    ("SELECT * FROM c WHERE a ISA 5", "ISA needs a class name", 28),
    ("SELECT * FROM c WHERE a ISA 'not a class'", "ISA needs a class name", 28),
    ("SELECT * FROM c WHERE a = -b", "expected a number after '-'", 27),
    ("SELECT * FROM c WHERE a = 12abc", "malformed number", 26),
    ("SELECT * FROM c WHERE a = 0x", "malformed number", 26),
    ("SELECT * FROM c WHERE a = 1.2.3", "malformed number", 26),
    ("SELECT * FROM c WHERE a = 1e999", "number out of range", 26),
    ("SELECT * FROM c WHERE a = 18446744073709551617", "integer out of range", 26),
    ("SELECT * FROM c WHERE a = " + "9" * 5000, "integer out of range", 26),
    ("SELECT * FROM c WHERE a = 0x" + "f" * 5000, "integer out of range", 26),
    ("SELECT * FROM c WHERE a = é", "unexpected character 'é'", 26),
    ("SELECT * FROM c WHERE a = 1 GROUP WITHIN 5", "GROUP is not supported", 28),
    ("SELECT * FROM c WHERE a = 1 HAVING b = 1", "HAVING is not supported", 28),
    ("SELECT * FROM c WITHIN", "WITHIN needs a number of seconds", 22),
    ("SELECT * FROM c WITHIN 0", "WITHIN interval must be a positive number", 23),
    ("SELECT * FROM c WITHIN -1", "WITHIN needs a number of seconds", 23),
    ("SELECT * FROM c WITHIN 0x" + "f" * 30, "integer out of range", 23),
    ("SELECT * FROM c WHERE a = 1 WITHIN 5", "WITHIN must come before WHERE", 28),
    ("SELECT * FROM c WHERE " + "(" * 200 + "a = 1" + ")" * 200, "nested too deeply", 122),
    ("SELECT * FROM c WHERE " + "NOT " * 200 + "a = 1", "nested too deeply", 422),
    ("ASSOCIATORS {C.K=1}", "expected OF", 12),
    ("ASSOCIATORS OF C.K=1", "needs an object path in braces", 15),
    ("ASSOCIATORS OF {}", "empty object path in braces", 15),
    ("ASSOCIATORS OF {C.K='}'", "unterminated '{'", 15),
    ("ASSOCIATORS OF {C.K=1} WHERE", "WHERE needs at least one keyword", 28),
    ("ASSOCIATORS OF {C.K=1} ResultClass = X", "unexpected 'ResultClass' after the end", 23),
    ("ASSOCIATORS OF {C.K=1} WHERE ResultClass X", "expected '=' after ResultClass", 41),
    ("ASSOCIATORS OF {C.K=1} WHERE ResultClass =", "expected a name after ResultClass =", 42),
    ("ASSOCIATORS OF {C.K=1} WHERE ResultClass = ''", "expected a name after", 43),
    ("ASSOCIATORS OF {C.K=1} WHERE ResultClass = A ResultClass = B", "given twice", 45),
    ("ASSOCIATORS OF {C.K=1} WHERE ResultClass = A AND Role = B",
     "keywords are separated by spaces, not AND", 45),
    ("ASSOCIATORS OF {C.K=1} WHERE Color = Red", "unexpected 'Color' in the WHERE clause", 29),
    ("ASSOCIATORS OF {C.K=1} WHERE ClassDefsOnly SchemaOnly", "cannot be combined", 43),
    ("REFERENCES OF {C.K=1} WHERE AssocClass = X", "in the WHERE clause of REFERENCES OF", 28),
    ("REFERENCES OF {C.K=1} WHERE ResultRole = X", "in the WHERE clause of REFERENCES OF", 28),
    ("REFERENCES OF {C.K=1} WHERE RequiredAssocQualifier = X", "REFERENCES OF", 28),
    ("REFERENCES OF {C.K=1} x", "unexpected 'x' after the end of the query", 22),
    ("SELECT * FROM {C.K=1}", "expected a class name, found an object path in braces", 14),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "fragment", "position"),
    TESTCASES_ERRORS,
    ids=[case[0][:70] for case in TESTCASES_ERRORS],
)
def test_parse_errors(text: str, fragment: str, position: int | None) -> None:
    with pytest.raises(WQLError) as info:
        parse(text)
    assert fragment in str(info.value)
    assert info.value.position == position
    assert f"(at position {position})" in str(info.value)


@pytest.mark.parametrize("bad", [None, 5, b"SELECT * FROM c"])
def test_parse_rejects_non_strings(bad: object) -> None:
    with pytest.raises(WQLError, match="must be a string"):
        parse(bad)  # type: ignore[arg-type]


def test_deep_but_allowed_nesting_parses() -> None:
    text = "SELECT * FROM c WHERE " + "(" * 90 + "a = 1" + ")" * 90
    assert parse(text) == SelectQuery(None, "c", Comparison("a", "=", 1))
    # long flat chains are not nesting
    chain = " AND ".join(f"p{i} = {i}" for i in range(2000))
    query = parse(f"SELECT * FROM c WHERE {chain}")
    assert isinstance(query, SelectQuery) and isinstance(query.where, And)
    assert len(query.where.operands) == 2000
    assert parse(to_text(query)) == query


# --------------------------------------------------------------------------------------------
# canonical text

TESTCASES_TO_TEXT: list[tuple[Query, str]] = [
    (SelectQuery(None, "C"), "SELECT * FROM C"),
    (SelectQuery(("a", "b.c"), "C"), "SELECT a, b.c FROM C"),
    (SelectQuery(None, "E", IsA("TargetInstance", "X"), within=5.0),
     "SELECT * FROM E WITHIN 5 WHERE TargetInstance ISA 'X'"),
    (SelectQuery(None, "E", within=0.25), "SELECT * FROM E WITHIN 0.25"),
    (SelectQuery(None, "C", Comparison("a", "=", "it's \\ \"x\"")),
     "SELECT * FROM C WHERE a = 'it\\'s \\\\ \"x\"'"),
    (SelectQuery(None, "C", Comparison("a", ">=", -2.5)), "SELECT * FROM C WHERE a >= -2.5"),
    (SelectQuery(None, "C", Comparison("a", "<>", None)), "SELECT * FROM C WHERE a <> NULL"),
    (SelectQuery(None, "C", Comparison("a", "=", False)), "SELECT * FROM C WHERE a = FALSE"),
    (SelectQuery(None, "C", And((Or((IsNull("a"), IsNull("b", True))), Not(Like("c", "%"))))),
     "SELECT * FROM C WHERE (a IS NULL OR b IS NOT NULL) AND NOT c LIKE '%'"),
    (SelectQuery(None, "C", Or((And((IsNull("a"), IsNull("b"))), Or((IsNull("c"),
                                                                     IsNull("d")))))),
     "SELECT * FROM C WHERE a IS NULL AND b IS NULL OR (c IS NULL OR d IS NULL)"),
    (SelectQuery(None, "C", Not(Or((IsNull("a"), IsNull("b"))))),
     "SELECT * FROM C WHERE NOT (a IS NULL OR b IS NULL)"),
    (AssociatorsQuery("C.K=1", assoc_class="A", result_class="R", role="r", result_role="q",
                      required_qualifier="Q1", required_assoc_qualifier="Q2",
                      class_defs_only=True, keys_only=True),
     "ASSOCIATORS OF {C.K=1} WHERE AssocClass = A ResultClass = R Role = r ResultRole = q "
     "RequiredQualifier = Q1 RequiredAssocQualifier = Q2 ClassDefsOnly KeysOnly"),
    (ReferencesQuery("C.K=1", result_class="R", role="two words", schema_only=True),
     "REFERENCES OF {C.K=1} WHERE ResultClass = R Role = 'two words' SchemaOnly"),
    (ReferencesQuery("C.K=1"), "REFERENCES OF {C.K=1}"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "text"), TESTCASES_TO_TEXT)
def test_to_text(query: Query, text: str) -> None:
    assert to_text(query) == text
    assert parse(text) == query


TESTCASES_TO_TEXT_ERRORS: list[tuple[object, str]] = [
    (SelectQuery((), "C"), "needs '*' or at least one property"),
    (SelectQuery(None, "not a name"), "cannot be written as a WQL name"),
    (SelectQuery(("where",), "C"), "cannot be written as a WQL name"),
    (SelectQuery(None, "C", Comparison("a.", "=", 1)), "cannot be written as a WQL name"),
    (SelectQuery(None, "C", within=0.0), "invalid WITHIN interval"),
    (SelectQuery(None, "C", within=float("nan")), "invalid WITHIN interval"),
    (SelectQuery(None, "C", Comparison("a", "=", float("inf"))), "cannot be written in WQL"),
    (SelectQuery(None, "C", Comparison("a", "=", 2**65)), "out of range"),
    (SelectQuery(None, "C", Comparison("a", "=", [1])), "unsupported literal"),  # type: ignore[arg-type]
    (SelectQuery(None, "C", IsA("a", "no such")), "cannot be written"),
    (AssociatorsQuery("C.K='}'x}"), "cannot be written between braces"),
    (AssociatorsQuery(" C.K=1"), "cannot be written between braces"),
    (AssociatorsQuery(""), "cannot be written between braces"),
    (AssociatorsQuery("C.K=1", class_defs_only=True, schema_only=True), "cannot be combined"),
    (AssociatorsQuery("C.K=1", role=""), "invalid keyword value"),
    ("SELECT * FROM c", "not a WQL query"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "fragment"), TESTCASES_TO_TEXT_ERRORS)
def test_to_text_errors(query: object, fragment: str) -> None:
    with pytest.raises(WQLError, match=re.escape(fragment)):
        to_text(query)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: Comparison("a", "==", 1), "unknown comparison operator"),
        (lambda: Like("a", "[x"), "unterminated '['"),
        # A pattern of the wrong type is what the test is about.
        (lambda: Like("a", 5), "LIKE pattern must be a string"),  # type: ignore[arg-type]
        (lambda: And((IsNull("a"),)), "AND needs at least two operands"),
        (lambda: Or(()), "OR needs at least two operands"),
    ],
)
def test_ast_validation(build: Callable[[], object], fragment: str) -> None:
    with pytest.raises(WQLError, match=re.escape(fragment)):
        build()


# --------------------------------------------------------------------------------------------
# LIKE

# (pattern, text, matches)
TESTCASES_LIKE: list[tuple[str, str, bool]] = [
    ("%\\Default", "Microsoft:Definition\\4A9D\\Default", True),
    ("%\\Default", "Microsoft:Definition\\4A9D\\Minimum", False),
    ("%\\Default", "Default", False),
    (f"Microsoft:{VM_GUID}%", f"Microsoft:{VM_GUID}\\83F8\\0\\0\\D", True),
    (f"Microsoft:{VM_GUID}%", f"microsoft:{VM_GUID.lower()}\\83f8", True),  # case-insensitive
    (f"Microsoft:{VM_GUID}%", f"Microsoft:Other\\{VM_GUID}", False),
    ("%", "", True),
    ("%", "anything", True),
    ("", "", True),
    ("", "x", False),
    ("_", "x", True),
    ("_", "", False),
    ("_", "xy", False),
    ("a_c", "abc", True),
    ("a_c", "ac", False),
    ("a%c", "ac", True),
    ("a%c", "abbbc", True),
    ("a%c", "abbbcd", False),
    ("%a%b%", "xxaxxbxx", True),
    ("%a%b%", "xxbxxaxx", False),
    ("%%%", "x", True),
    ("%ab", "aab", True),
    ("%aab", "aaab", True),
    ("[abc]", "b", True),
    ("[abc]", "B", True),
    ("[abc]", "d", False),
    ("[a-c]x", "bx", True),
    ("[a-c]x", "dx", False),
    ("[a=f]", "e", True),  # WMI's documented range syntax
    ("[a=f]", "g", False),
    ("[^a]", "b", True),
    ("[^a]", "a", False),
    ("[^a]", "A", False),
    ("[^a-c]%", "dog", True),
    ("[^a-c]%", "cat", False),
    ("[%]", "%", True),  # brackets make wildcards literal
    ("[%]", "x", False),
    ("[_]%", "_x", True),
    ("[_]%", "ax", False),
    ("[[]", "[", True),
    ("]", "]", True),
    ("[-a]", "-", True),
    ("[a-]", "-", True),
    ("[0-9][0-9]", "42", True),
    ("[0-9][0-9]", "4x", False),
    ("a.b*", "a.b*", True),
    ("a.b*", "axbb", False),
    ("(x)?", "(x)?", True),
    ("line%", "line\nbreak", True),
    ("ÉTÉ", "été", True),
    ("%ß", "Straß", True),
]


@pytest.mark.parametrize(("pattern", "text", "matches"), TESTCASES_LIKE)
def test_like_match(pattern: str, text: str, matches: bool) -> None:
    assert like_match(pattern, text) is matches


# --------------------------------------------------------------------------------------------
# evaluation


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
