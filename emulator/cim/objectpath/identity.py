"""When two object paths name the same object, and a string key that says so."""

from __future__ import annotations

from pywbem import CIMClassName, CIMDateTime, CIMInstanceName

from emulator.cim.objectpath.syntax import MAX_NESTING, ObjectPathError, quote


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


def _canonical(path: CIMInstanceName, depth: int) -> str:
    if depth > MAX_NESTING:
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
        return "R" + quote(_canonical(value, depth + 1))
    return quote(str(value))


def _namespace_key(namespace: str | None) -> str:
    return (namespace or "").replace("\\", "/").strip("/").lower()


def _paths_equal(a: object, b: object, depth: int) -> bool:
    if depth > MAX_NESTING:
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
