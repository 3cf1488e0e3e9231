"""Dependencies point one way: front ends -> dispatcher -> providers -> storage; the pure CIM
libraries in emulator.cim sit beside them and know none of them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# module prefix -> prefixes it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "emulator.cimxml": ("storage", "providers", "sqlalchemy"),
    "emulator.wsman": ("storage", "providers", "sqlalchemy"),
    "emulator.dispatch": ("fastapi", "starlette", "uvicorn", "emulator.cimxml", "emulator.wsman",
                          "storage.models", "sqlalchemy"),
    # Pull enumerations keep their contexts through storage.pull_contexts, never by SQL.
    "emulator.enumerations": ("fastapi", "starlette", "uvicorn", "emulator.cimxml",
                              "emulator.wsman", "storage.models", "sqlalchemy"),
    "emulator.guard": ("fastapi", "starlette", "uvicorn", "emulator.cimxml", "emulator.wsman",
                       "storage.models", "sqlalchemy", "providers"),
    "emulator.method_params": ("fastapi", "starlette", "uvicorn", "emulator.cimxml",
                               "emulator.wsman", "storage", "sqlalchemy"),
    "emulator.versioned_cache": ("storage", "providers", "sqlalchemy", "emulator.cimxml",
                                 "emulator.wsman"),
    "emulator.embedded": ("fastapi", "starlette", "uvicorn", "emulator.cimxml",
                          "emulator.wsman", "storage", "sqlalchemy"),
    "providers": ("fastapi", "starlette", "uvicorn", "emulator", "pywbem._tupleparse",
                  "pywbem._cim_xml"),
    "storage": ("providers", "emulator", "fastapi", "starlette", "pywbem"),
    # WQL and object paths know nothing of hvsim, so they can be read and reused on their own.
    "emulator.cim": ("emulator", "providers", "storage", "fastapi", "starlette", "uvicorn",
                     "sqlalchemy"),
}

# module prefix -> prefixes it may import even though one of its FORBIDDEN entries covers them
ALLOWED: dict[str, tuple[str, ...]] = {
    "emulator.cim": ("emulator.cim",),
}


def modules() -> list[tuple[str, Path]]:
    found = []
    for package in ("emulator", "providers", "storage"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found.append((name.removesuffix(".__init__"), path))
    return found


def imports(module: str, path: Path) -> set[str]:
    """Absolute names of everything the file imports; relative imports are resolved against
    ``module`` so that "from .. import x" cannot slip past a rule."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            base = ".".join(package.split(".")[: len(package.split(".")) - (node.level - 1)])
            names.add(f"{base}.{node.module}" if node.module else base)
    return names


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def forbidden_imports(module: str, imported: set[str]) -> list[str]:
    bad: set[str] = set()
    for owner, forbidden in FORBIDDEN.items():
        if under(module, owner):
            allowed = ALLOWED.get(owner, ())
            bad.update(name for name in imported
                       if any(under(name, f) for f in forbidden)
                       and not any(under(name, a) for a in allowed))
    return sorted(bad)


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_imports_respect_layers(module: str, path: Path) -> None:
    bad = forbidden_imports(module, imports(module, path))
    assert not bad, f"{module} must not import {bad}"


@pytest.mark.parametrize(("module", "imported", "bad"), [
    ("emulator.cim.wql.lexer", {"emulator.cim.objectpath", "pywbem", "re"}, []),
    ("emulator.cim.wql", {"emulator.dispatch", "emulator"}, ["emulator", "emulator.dispatch"]),
    ("emulator.cim.objectpath.parser", {"providers.base", "sqlalchemy.orm", "starlette"},
     ["providers.base", "sqlalchemy.orm", "starlette"]),
    # "emulator.cimxml" only shares a spelling with "emulator.cim": neither rule leaks.
    ("emulator.cimxml.server", {"emulator.dispatch", "storage"}, ["storage"]),
    ("emulator.dispatch", {"emulator.cim.wql"}, []),
])
def test_rules_tell_the_pure_cim_libraries_apart(module: str, imported: set[str],
                                                 bad: list[str]) -> None:
    assert forbidden_imports(module, imported) == bad


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    source = tmp_path / "parser.py"
    source.write_text("from . import errors\nfrom ..objectpath import parse_object_path\n"
                      "from ... import dispatch\n")
    found = imports("emulator.cim.wql.parser", source)
    assert found == {"emulator.cim.wql", "emulator.cim.objectpath", "emulator"}
    assert forbidden_imports("emulator.cim.wql.parser", found) == ["emulator"]


def test_enumerations_reach_their_contexts_only_through_the_repository() -> None:
    imported = {"storage.pull_contexts", "storage.db", "storage.models", "sqlalchemy.orm"}
    assert forbidden_imports("emulator.enumerations", imported) == ["sqlalchemy.orm",
                                                                   "storage.models"]
