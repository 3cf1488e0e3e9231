"""Dependencies point one way: front ends -> dispatcher -> providers -> storage; the pure CIM
libraries in emulator.cim sit beside them and know none of them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

WEB = ("fastapi", "starlette", "uvicorn")
FRONT_ENDS = ("emulator.cimxml", "emulator.wsman", "emulator.control")
ABOVE_CORE = (*FRONT_ENDS, "emulator.transport", "emulator.setup", "emulator.app", "emulator.cli",
              "emulator.conformance")

# module prefix -> prefixes it must never import. Every module of hvsim falls under one rule
# (test_every_module_has_a_rule); the composition root (emulator.app, emulator.cli) may import
# every layer, which is what makes it the composition root.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # Front ends speak CIM to the core; they never reach providers or the store.
    "emulator.cimxml": ("storage", "providers", "sqlalchemy", "emulator.setup", "emulator.app",
                        "emulator.cli", "emulator.wsman", "emulator.control"),
    "emulator.wsman": ("storage", "providers", "sqlalchemy", "emulator.setup", "emulator.app",
                       "emulator.cli", "emulator.cimxml", "emulator.control"),
    # The control API (/_hvsim/) reads the world through the core and the request log.
    "emulator.control": ("storage", "providers", "sqlalchemy", "emulator.setup", "emulator.app",
                         "emulator.cli", "emulator.cimxml", "emulator.wsman"),
    # Conformance rules: request records in, findings out; the class model comes as a protocol.
    "emulator.conformance": ("storage", "providers", "sqlalchemy", *WEB, "emulator.core",
                             "emulator.control", "emulator.cimxml", "emulator.wsman",
                             "emulator.setup", "emulator.app", "emulator.cli",
                             "emulator.caching"),
    # The core validates and routes; the store is reached through Store and repositories.
    # It knows no provider family: what a family owes the world by the clock reaches it as a
    # providers.base.WorldHook registered in the composition root.
    "emulator.core": (*WEB, *ABOVE_CORE, "storage.models", "sqlalchemy", "emulator.caching",
                      "providers.migration"),
    # HTTP plumbing shared by both front ends knows nothing of CIM semantics below it.
    "emulator.transport": ("storage", "providers", "sqlalchemy", "emulator.core", *ABOVE_CORE),
    "emulator.caching": ("storage", "providers", "sqlalchemy", "emulator.core", *WEB,
                         *ABOVE_CORE),
    "emulator.setup": (*WEB, *FRONT_ENDS, "emulator.transport", "emulator.core", "providers",
                       "emulator.app", "emulator.cli", "sqlalchemy"),
    "emulator.clock": ("emulator", "providers", "storage", "sqlalchemy", *WEB),
    "emulator.__main__": ("providers", "storage", "sqlalchemy"),
    # Providers reach the store through the unit of work's repositories, never through SQL.
    "providers": (*WEB, "emulator", "pywbem._tupleparse", "pywbem._cim_xml", "sqlalchemy",
                  "alembic"),
    "storage": ("providers", "emulator", *WEB, "pywbem"),
    # WQL and object paths know nothing of hvsim, so they can be read and reused on their own.
    "emulator.cim": ("emulator", "providers", "storage", *WEB, "sqlalchemy"),
    "mof": ("emulator", "providers", "storage", "sqlalchemy", *WEB),
    # The test harness drives a separate `hvsim serve` over HTTP only: no in-process shortcut.
    "emulator.testing": ("storage", "providers", "sqlalchemy", "alembic", *WEB, "emulator.core",
                         "emulator.setup", "emulator.app", "emulator.cli", "emulator.cimxml",
                         "emulator.wsman", "emulator.control", "emulator.caching",
                         "emulator.conformance", "emulator.transport", "emulator.world_admin"),
    # hvsim.* only names the public parts of emulator under the distribution's name.
    "hvsim": ("storage", "providers", "sqlalchemy", *WEB, "emulator.core", "emulator.setup",
              "emulator.app", "emulator.cli", "emulator.cimxml", "emulator.wsman",
              "emulator.control", "emulator.transport"),
}

# module prefix -> prefixes it may import even though one of its FORBIDDEN entries covers them
ALLOWED: dict[str, tuple[str, ...]] = {
    "emulator.cim": ("emulator.cim",),
    "emulator.clock": ("emulator.clock",),
    "emulator.transport": ("emulator.transport",),
    # The control API's HTTP client (urllib and the request-log record type), not its routes.
    "emulator.testing": ("emulator.control.client",),
}

# The composition root: it builds and wires every layer.
COMPOSITION_ROOT = ("emulator", "emulator.app", "emulator.cli", "emulator.world_admin")


def modules() -> list[tuple[str, Path]]:
    found = []
    for package in ("emulator", "providers", "storage", "mof", "hvsim"):
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
    ("emulator.cim.wql", {"emulator.core.dispatch", "emulator"},
     ["emulator", "emulator.core.dispatch"]),
    ("emulator.cim.objectpath.parser", {"providers.base", "sqlalchemy.orm", "starlette"},
     ["providers.base", "sqlalchemy.orm", "starlette"]),
    # "emulator.cimxml" only shares a spelling with "emulator.cim": neither rule leaks.
    ("emulator.cimxml.server", {"emulator.core.dispatch", "storage"}, ["storage"]),
    ("emulator.core.dispatch", {"emulator.cim.wql"}, []),
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
    assert forbidden_imports("emulator.core.enumerations", imported) == ["sqlalchemy.orm",
                                                                         "storage.models"]


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_every_module_has_a_rule(module: str, path: Path) -> None:
    if module in COMPOSITION_ROOT:
        return
    assert any(under(module, owner) for owner in FORBIDDEN), (
        f"{module} is in no layer: add it to a layer's folder or give it a rule")


def test_the_core_knows_no_provider_family() -> None:
    assert forbidden_imports("emulator.core.transactions",
                             {"providers.base", "providers.migration.engine"}) == [
        "providers.migration.engine"]


def test_the_core_does_not_reach_the_front_ends() -> None:
    assert forbidden_imports("emulator.core.dispatch", {"emulator.wsman.faults", "fastapi"}) == [
        "emulator.wsman.faults", "fastapi"]


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_only_storage_speaks_sql(module: str, path: Path) -> None:
    """SQL lives behind the repositories of storage/; the composition root included, every
    other module asks a unit of work."""
    if under(module, "storage"):
        return
    sql = sorted(name for name in imports(module, path)
                 if any(under(name, library) for library in ("sqlalchemy", "alembic")))
    assert not sql, f"{module} imports {sql}: add a repository method in storage/ instead"
