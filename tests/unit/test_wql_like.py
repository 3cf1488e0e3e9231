"""WQL's LIKE patterns: wildcards, character sets and case."""

from __future__ import annotations

import pytest

from emulator.cim.wql import (
    like_match,
)
from tests.support.wql_samples import (
    VM_GUID,
)

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
