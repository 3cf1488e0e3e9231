"""Any client spelling of an object path to a pywbem CIMInstanceName / CIMClassName."""

from __future__ import annotations

import math
import re
from typing import Final

from pywbem import CIMClassName, CIMInstanceName

from emulator.cim.objectpath.syntax import (
    IDENT_RE,
    INT_LIMIT,
    MAX_NESTING,
    KeyValue,
    ObjectPathError,
    normalise_namespace,
    unescape_pair,
)

_NUMBER_RE: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?)?")
_URI_SCHEME_RE: Final = re.compile(r"(?i)(?:https?|cimxml-wbems?)://")
# A quoted key value is only promoted to a reference when it starts like an instance path;
# otherwise ordinary InstanceIDs such as "Microsoft:GUID\\0\\0\\D" would be misread.
_NESTED_PATH_RE: Final = re.compile(
    r"""
    ^(?:(?:\\\\|//|(?:https?|cimxml-wbems?)://)[^\\/"'\s]+[\\/])?
    (?:[A-Za-z0-9_.\-]+(?:[\\/][A-Za-z0-9_.\-]+)*:)?
    [A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*[ \t]*=|=@$)
    """,
    re.VERBOSE,
)


def parse_object_path(
    text: str, *, default_namespace: str | None = None
) -> CIMInstanceName | CIMClassName:
    """Parse any client spelling of an object path.

    The namespace is normalised to forward slashes; ``default_namespace`` fills it in when
    the text carries none. A host, when present, ends up in ``.host`` (URI credentials are
    dropped). Raises ObjectPathError for anything malformed, and nothing else.
    """
    if not isinstance(text, str):
        raise ObjectPathError(f"object path must be a string, not {type(text).__name__}")
    default_ns: str | None = None
    if default_namespace is not None:
        if not isinstance(default_namespace, str):
            raise ObjectPathError("default namespace must be a string")
        default_ns = normalise_namespace(default_namespace, 0, "default namespace")
    return _PathParser(text, 0).parse(default_ns)


class _PathParser:
    """One parse of one path text; ``depth`` counts how deep inside reference keys it is."""

    def __init__(self, text: str, depth: int) -> None:
        self.text = text
        self.depth = depth

    def error(self, message: str, position: int) -> ObjectPathError:
        return ObjectPathError(message, position)

    def parse(self, default_ns: str | None) -> CIMInstanceName | CIMClassName:
        text = self.text
        start = len(text) - len(text.lstrip())
        end = len(text.rstrip())
        if start >= end:
            raise self.error("empty object path", 0)

        # Before the first '=' (or quote) there is only host, namespace and class name, and
        # none of those may contain '=' or quotes; so the last ':' in that stretch is the one
        # between namespace and class, whatever ':'s a host:port or URI scheme adds before it.
        head_end = end
        for i in range(start, end):
            if text[i] in "=\"'":
                head_end = i
                break
        colon = text.rfind(":", start, head_end)
        host: str | None = None
        namespace: str | None = None
        class_start = start
        if colon >= 0:
            host, namespace = self.parse_prefix(start, colon)
            class_start = colon + 1
        if namespace is None:
            namespace = default_ns

        match = IDENT_RE.match(text, class_start)
        if match is None or match.end() > end:
            raise self.error("expected a class name", class_start)
        classname = match.group()
        pos = match.end()
        if pos == end:
            return CIMClassName(classname, host=host, namespace=namespace)

        if text[pos] == ".":
            keybindings = self.parse_keybindings(pos + 1, end)
            return CIMInstanceName(classname, keybindings, host=host, namespace=namespace)
        if text[pos] == "=":
            rest = text[pos + 1 : end].strip()
            if rest == "@":
                return CIMInstanceName(classname, host=host, namespace=namespace)
            raise self.error("expected '@' after '=' of a singleton path", pos + 1)
        raise self.error(f"unexpected {text[pos]!r} after class name {classname!r}", pos)

    def parse_prefix(self, start: int, colon: int) -> tuple[str | None, str | None]:
        """Split what precedes the class name into (host, namespace)."""
        text = self.text
        prefix = text[start:colon]
        scheme = _URI_SCHEME_RE.match(prefix)
        if scheme is not None:
            return self.parse_authority(start + scheme.end(), colon)
        if prefix[:2] in ("\\\\", "//", "\\/", "/\\"):
            return self.parse_authority(start + 2, colon)
        if prefix[:1] in ("/", "\\"):
            # pywbem's "/root/cimv2:Class" form: a rooted namespace without a host.
            return None, normalise_namespace(prefix[1:], start + 1, "namespace")
        first_sep = _first_separator(prefix)
        first = prefix if first_sep < 0 else prefix[:first_sep]
        # wbemcli writes "host:port/ns:Class"; without a port or brackets a leading word is
        # indistinguishable from a namespace segment, so it is taken as one.
        if first_sep >= 0 and (":" in first or first.startswith("[")):
            host = self.checked_parsed_host(first, start)
            ns_start = start + first_sep + 1
            return host, normalise_namespace(text[ns_start:colon], ns_start, "namespace")
        return None, normalise_namespace(prefix, start, "namespace")

    def parse_authority(self, host_start: int, colon: int) -> tuple[str, str]:
        text = self.text
        rest = text[host_start:colon]
        sep = _first_separator(rest)
        if sep < 0:
            raise self.error("expected a namespace after the host name", colon)
        authority = rest[:sep]
        ns_start = host_start + sep + 1
        # Credentials in a wbemcli URL ("http://user:pw@host:port/...") are not part of the
        # object's identity and must not leak into anything derived from the path.
        at = authority.rfind("@")
        if at >= 0:
            authority = authority[at + 1 :]
            host_start += at + 1
        host = self.checked_parsed_host(authority, host_start)
        return host, normalise_namespace(text[ns_start:colon], ns_start, "namespace")

    def checked_parsed_host(self, host: str, position: int) -> str:
        if not host:
            raise self.error("empty host name", position)
        for offset, char in enumerate(host):
            if char.isspace() or char in "\"'=\\/,":
                raise self.error(f"invalid character {char!r} in host name", position + offset)
        return host

    def parse_keybindings(self, pos: int, end: int) -> dict[str, KeyValue]:
        text = self.text
        keybindings: dict[str, KeyValue] = {}
        seen: set[str] = set()
        while True:
            pos = _skip_blanks(text, pos, end)
            match = IDENT_RE.match(text, pos)
            if match is None or match.end() > end:
                raise self.error("expected a key name", pos)
            name = match.group()
            if name.lower() in seen:
                raise self.error(f"duplicate key {name!r}", pos)
            seen.add(name.lower())
            pos = _skip_blanks(text, match.end(), end)
            if pos >= end or text[pos] != "=":
                raise self.error(f"expected '=' after key name {name!r}", pos)
            pos = _skip_blanks(text, pos + 1, end)
            value, pos = self.parse_value(pos, end)
            keybindings[name] = value
            pos = _skip_blanks(text, pos, end)
            if pos >= end:
                return keybindings
            if text[pos] != ",":
                raise self.error(f"expected ',' or end of path after value of key {name!r}", pos)
            pos += 1

    def parse_value(self, pos: int, end: int) -> tuple[KeyValue, int]:
        text = self.text
        if pos >= end:
            raise self.error("expected a key value", pos)
        char = text[pos]
        if char in "\"'":
            value, after = self.parse_quoted(pos, end)
            return self.maybe_reference(value), after
        number = _NUMBER_RE.match(text, pos)
        if number is not None and number.end() <= end:
            literal = number.group()
            if "." in literal:
                as_float = float(literal)
                if not math.isfinite(as_float):
                    raise self.error("number out of range", pos)
                return as_float, number.end()
            integer = int(literal) if len(literal) <= 40 else INT_LIMIT + 1
            if abs(integer) > INT_LIMIT:
                raise self.error("integer key value out of range", pos)
            return integer, number.end()
        word = IDENT_RE.match(text, pos)
        if word is not None and word.end() <= end and word.group().upper() in ("TRUE", "FALSE"):
            return word.group().upper() == "TRUE", word.end()
        raise self.error("expected a quoted string, a number, TRUE or FALSE as key value", pos)

    def parse_quoted(self, pos: int, end: int) -> tuple[str, int]:
        text = self.text
        quote = text[pos]
        out: list[str] = []
        i = pos + 1
        while i < end:
            char = text[i]
            if char == "\\" and i + 1 < end:
                out.append(unescape_pair(text[i + 1]))
                i += 2
                continue
            if char == quote:
                return "".join(out), i + 1
            out.append(char)
            i += 1
        raise self.error("unterminated quoted key value", pos)

    def maybe_reference(self, value: str) -> KeyValue:
        if self.depth >= MAX_NESTING or _NESTED_PATH_RE.match(value) is None:
            return value
        try:
            nested = _PathParser(value, self.depth + 1).parse(None)
        except ObjectPathError:
            return value
        if isinstance(nested, CIMInstanceName):
            return nested
        return value


def _first_separator(text: str) -> int:
    positions = [p for p in (text.find("/"), text.find("\\")) if p >= 0]
    return min(positions) if positions else -1


def _skip_blanks(text: str, pos: int, end: int) -> int:
    while pos < end and text[pos] in " \t":
        pos += 1
    return pos
