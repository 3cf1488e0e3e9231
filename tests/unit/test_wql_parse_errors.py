"""Queries the WQL parser refuses, with the message and position it gives, and the
nesting it still accepts."""

from __future__ import annotations

import pytest

from emulator.cim.wql import (
    And,
    Comparison,
    SelectQuery,
    WQLError,
    parse,
    to_text,
)

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
