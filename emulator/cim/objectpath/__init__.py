"""WMI / CIM object paths in the textual forms Hyper-V clients send.

Clients spell the same instance in many ways (reference §0.4, §15.4):

* WMI full form: ``\\\\HOST\\root\\virtualization\\v2:Class.Key="v",Key2="w"``
* PyMI moniker form: ``//HOST/root/virtualization/v2:Class.Key="v"``
* namespace only: ``root/virtualization/v2:Class.Key="v"``; relative: ``Class.Key="v"``
* wbemcli: ``host:port/root/virtualization/v2:Class.k="v"``
* WBEM URI: ``http://host:port/root/virtualization/v2:Class.k="v"``
* singleton: ``Class=@``; class path: ``Class`` (any prefix allowed)

Everything here turns into pywbem ``CIMInstanceName`` / ``CIMClassName`` objects so the rest
of the emulator only ever deals with one representation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Final, TypeAlias

from pywbem import CIMClassName, CIMDateTime, CIMInstanceName

__all__ = [
    "KeyValue",
    "ObjectPathError",
    "canonical_path_key",
    "format_wmi_path",
    "parse_object_path",
    "paths_equal",
]

KeyValue: TypeAlias = str | int | float | bool | CIMInstanceName

_IDENT_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Namespace segments in the wild are plain words (root, virtualization, v2, PG_InterOp); '-'
# and '.' are tolerated because nothing else in a path uses them before the ':'.
_NS_SEGMENT_RE: Final = re.compile(r"[A-Za-z0-9_.\-]+")
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
# Every CIM integer type fits in 64 bits; refusing more also keeps clear of Python's
# int/str conversion limit.
_INT_LIMIT: Final = 2**64
# Each nesting level doubles the escaping, so real paths never go beyond two or three.
_MAX_NESTING: Final = 16


class ObjectPathError(ValueError):
    """An object path could not be parsed or formatted."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.message = message
        self.position = position
        super().__init__(message if position is None else f"{message} (at position {position})")


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
        default_ns = _normalise_namespace(default_namespace, 0, "default namespace")
    return _PathParser(text, 0).parse(default_ns)


def format_wmi_path(path: CIMInstanceName | CIMClassName, *, relative: bool = False) -> str:
    """Write a path in WMI's own form (``\\\\HOST\\ns\\ns:Class.K="v"``).

    Keys keep the order of ``path.keybindings``. A host without a namespace cannot be
    expressed in WMI syntax and is left out. ``relative=True`` gives ``Class.K="v"`` only
    (WMI's ``__RELPATH``).
    """
    if isinstance(path, CIMClassName):
        model = _checked_ident(path.classname, "class name")
    elif isinstance(path, CIMInstanceName):
        model = _format_model(path, 0)
    else:
        raise ObjectPathError(f"cannot format {type(path).__name__} as an object path")
    return model if relative else _with_prefix(path, model)


def canonical_path_key(path: CIMInstanceName) -> str:
    """A string identity for an instance path that ignores host, namespace, name case and
    key order, for use as a dict key. Key value types are kept apart (``"5"`` is not ``5``).
    """
    return _canonical(path, 0)


def paths_equal(a: CIMInstanceName | CIMClassName, b: CIMInstanceName | CIMClassName) -> bool:
    """Compare two paths the way WMI identifies objects.

    Host is ignored; namespaces count only when both sides have one; class and key names are
    case-insensitive; string values are compared exactly, numbers by value, references
    recursively. Booleans never equal numbers, and strings never equal numbers: the caller
    knows the key types and should have coerced them already.
    """
    return _paths_equal(a, b, 0)


# --------------------------------------------------------------------------------------------
# parsing



def unescape_pair(following: str) -> str:
    """What a backslash followed by `following` means inside a quoted WQL or path value.

    `\\\\`, `\\"` and `\\'` are escapes. Any other backslash is kept as written: WMI would
    reject it, but hand-typed Windows paths (C:\\dir) then pass, and no correctly escaped text
    reads differently.
    """
    return following if following in "\\\"'" else "\\" + following

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

        match = _IDENT_RE.match(text, class_start)
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
            return None, _normalise_namespace(prefix[1:], start + 1, "namespace")
        first_sep = _first_separator(prefix)
        first = prefix if first_sep < 0 else prefix[:first_sep]
        # wbemcli writes "host:port/ns:Class"; without a port or brackets a leading word is
        # indistinguishable from a namespace segment, so it is taken as one.
        if first_sep >= 0 and (":" in first or first.startswith("[")):
            host = self.checked_parsed_host(first, start)
            ns_start = start + first_sep + 1
            return host, _normalise_namespace(text[ns_start:colon], ns_start, "namespace")
        return None, _normalise_namespace(prefix, start, "namespace")

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
        return host, _normalise_namespace(text[ns_start:colon], ns_start, "namespace")

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
            match = _IDENT_RE.match(text, pos)
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
            integer = int(literal) if len(literal) <= 40 else _INT_LIMIT + 1
            if abs(integer) > _INT_LIMIT:
                raise self.error("integer key value out of range", pos)
            return integer, number.end()
        word = _IDENT_RE.match(text, pos)
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
        if self.depth >= _MAX_NESTING or _NESTED_PATH_RE.match(value) is None:
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


def _normalise_namespace(namespace: str, position: int, what: str) -> str:
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


# --------------------------------------------------------------------------------------------
# formatting


def _checked_ident(name: object, what: str) -> str:
    if not isinstance(name, str) or _IDENT_RE.fullmatch(name) is None:
        raise ObjectPathError(f"invalid {what} {name!r}")
    return name


def _checked_host(host: str) -> str:
    if not host or any(ch.isspace() or ch in "\"'=\\/," for ch in host):
        raise ObjectPathError(f"invalid host name {host!r}")
    return host


def _with_prefix(path: CIMInstanceName | CIMClassName, model: str) -> str:
    if not path.namespace:
        return model
    namespace = _normalise_namespace(path.namespace, 0, "namespace").replace("/", "\\")
    if path.host:
        return f"\\\\{_checked_host(path.host)}\\{namespace}:{model}"
    return f"{namespace}:{model}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _format_model(path: CIMInstanceName, depth: int) -> str:
    if depth > _MAX_NESTING:
        raise ObjectPathError("references nested too deeply")
    classname = _checked_ident(path.classname, "class name")
    keybindings: Mapping[str, object] = path.keybindings
    if not keybindings:
        return f"{classname}=@"
    parts = [
        f"{_checked_ident(name, 'key name')}={_format_value(name, value, depth)}"
        for name, value in keybindings.items()
    ]
    return f"{classname}.{','.join(parts)}"


def _format_value(name: str, value: object, depth: int) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        if abs(value) > _INT_LIMIT:
            raise ObjectPathError(f"key {name!r} is out of range for a CIM integer")
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ObjectPathError(f"key {name!r} has a non-finite value")
        mantissa, marker, exponent = repr(float(value)).partition("e")
        # The parser's number syntax needs a point with digits on both sides ("1e+16" would
        # not read back as a number).
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}{marker}{exponent}"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, CIMDateTime):
        return _quote(str(value))
    if isinstance(value, CIMInstanceName):
        return _quote(_with_prefix(value, _format_model(value, depth + 1)))
    raise ObjectPathError(f"key {name!r} has an unsupported value type {type(value).__name__}")


# --------------------------------------------------------------------------------------------
# identity


def _canonical(path: CIMInstanceName, depth: int) -> str:
    if depth > _MAX_NESTING:
        raise ObjectPathError("references nested too deeply")
    classname = str(path.classname).lower()
    if not path.keybindings:
        return f"{classname}=@"
    parts = sorted(
        (str(name).lower(), _canonical_value(value, depth))
        for name, value in path.keybindings.items()
    )
    return f"{classname}." + ",".join(f"{name}={value}" for name, value in parts)


def _canonical_value(value: object, depth: int) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        # Numbers compare by value, so 5 and 5.0 must share a key.
        if value.is_integer():
            return str(int(value))
        return repr(float(value))
    if isinstance(value, CIMInstanceName):
        # 'R' keeps a reference apart from a string that happens to spell the same key.
        return "R" + _quote(_canonical(value, depth + 1))
    return _quote(str(value))


def _namespace_key(namespace: str | None) -> str:
    return (namespace or "").replace("\\", "/").strip("/").lower()


def _paths_equal(a: object, b: object, depth: int) -> bool:
    if depth > _MAX_NESTING:
        raise ObjectPathError("references nested too deeply")
    if isinstance(a, CIMInstanceName) and isinstance(b, CIMInstanceName):
        pass
    elif isinstance(a, CIMClassName) and isinstance(b, CIMClassName):
        return str(a.classname).lower() == str(b.classname).lower() and _namespaces_match(a, b)
    else:
        return False
    if str(a.classname).lower() != str(b.classname).lower() or not _namespaces_match(a, b):
        return False
    keys_a = {str(name).lower(): value for name, value in a.keybindings.items()}
    keys_b = {str(name).lower(): value for name, value in b.keybindings.items()}
    if keys_a.keys() != keys_b.keys():
        return False
    return all(_key_values_equal(keys_a[name], keys_b[name], depth) for name in keys_a)


def _namespaces_match(a: CIMInstanceName | CIMClassName, b: CIMInstanceName | CIMClassName) -> bool:
    if not a.namespace or not b.namespace:
        return True
    return _namespace_key(a.namespace) == _namespace_key(b.namespace)


def _key_values_equal(x: object, y: object, depth: int) -> bool:
    if isinstance(x, CIMInstanceName) or isinstance(y, CIMInstanceName):
        return _paths_equal(x, y, depth + 1)
    if isinstance(x, bool) or isinstance(y, bool):
        return isinstance(x, bool) and isinstance(y, bool) and x == y
    x_number = isinstance(x, int | float)
    y_number = isinstance(y, int | float)
    if x_number or y_number:
        return x_number and y_number and x == y
    if isinstance(x, CIMDateTime | str) and isinstance(y, CIMDateTime | str):
        return str(x) == str(y)
    return x == y
