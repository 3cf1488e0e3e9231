"""What every part of object path handling shares: the error type, lexical rules and limits,
namespace normalisation and quoting."""

from __future__ import annotations

import re
from typing import Final, TypeAlias

from pywbem import CIMInstanceName

KeyValue: TypeAlias = str | int | float | bool | CIMInstanceName

IDENT_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Namespace segments in the wild are plain words (root, virtualization, v2, PG_InterOp); '-'
# and '.' are tolerated because nothing else in a path uses them before the ':'.
_NS_SEGMENT_RE: Final = re.compile(r"[A-Za-z0-9_.\-]+")
# Every CIM integer type fits in 64 bits; refusing more also keeps clear of Python's
# int/str conversion limit.
INT_LIMIT: Final = 2**64
# Each nesting level doubles the escaping, so real paths never go beyond two or three.
MAX_NESTING: Final = 16


class ObjectPathError(ValueError):
    """An object path could not be parsed or formatted."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.message = message
        self.position = position
        super().__init__(message if position is None else f"{message} (at position {position})")


def unescape_pair(following: str) -> str:
    """What a backslash followed by `following` means inside a quoted WQL or path value.

    `\\\\`, `\\"` and `\\'` are escapes. Any other backslash is kept as written: WMI would
    reject it, but hand-typed Windows paths (C:\\dir) then pass, and no correctly escaped text
    reads differently.
    """
    return following if following in "\\\"'" else "\\" + following


def normalise_namespace(namespace: str, position: int, what: str) -> str:
    segments = namespace.replace("\\", "/").split("/")
    if segments and segments[0] == "" and len(segments) > 1:
        # A leading separator ("/root/cimv2") is common and carries no meaning.
        segments = segments[1:]
        position += 1
    offset = position
    for segment in segments:
        if not segment:
            raise ObjectPathError(f"empty segment in {what}", offset)
        if _NS_SEGMENT_RE.fullmatch(segment) is None:
            bad = next(
                (i for i, ch in enumerate(segment) if _NS_SEGMENT_RE.fullmatch(ch) is None), 0
            )
            raise ObjectPathError(f"invalid character {segment[bad]!r} in {what}", offset + bad)
        offset += len(segment) + 1
    return "/".join(segments)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
