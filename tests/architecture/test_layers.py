"""Dependencies point one way: front ends -> dispatcher -> providers -> storage."""

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
}


def modules() -> list[tuple[str, Path]]:
    found = []
    for package in ("emulator", "providers", "storage"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found.append((name.removesuffix(".__init__"), path))
    return found


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_imports_respect_layers(module: str, path: Path) -> None:
    for owner, forbidden in FORBIDDEN.items():
        if module == owner or module.startswith(owner + "."):
            bad = sorted(name for name in imports(path)
                         if any(name == f or name.startswith(f + ".") for f in forbidden))
            assert not bad, f"{module} must not import {bad}"
