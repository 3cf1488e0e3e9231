"""The canonical text of parsed WQL queries, and the checks the AST nodes make of
themselves."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from emulator.cim.wql import (
    And,
    AssociatorsQuery,
    Comparison,
    IsA,
    IsNull,
    Like,
    Not,
    Or,
    Query,
    ReferencesQuery,
    SelectQuery,
    WQLError,
    parse,
    to_text,
)

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
