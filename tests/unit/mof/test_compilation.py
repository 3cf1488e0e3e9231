"""Every namespace manifest compiles to exactly the classes it includes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mof import MOF_DIR
from tests.support.mof_schema import (
    CIMV2,
    CLUSTER,
    INTEROP,
    MANIFESTS,
    V2,
    Compiled,
    all_classes,
    class_names,
)

EXPECTED_CLASS_COUNTS = {V2: 113, CLUSTER: 77, INTEROP: 19, CIMV2: 25}

INCLUDE_RE = re.compile(r'^\s*#pragma\s+include\s*\(\s*"([^"]+)"\s*\)', re.MULTILINE)


def included_class_names(manifest: Path) -> set[str]:
    return {Path(inc).stem for inc in INCLUDE_RE.findall(manifest.read_text())} - {"qualifiers"}


def test_all_namespaces_compile(compiled: Compiled) -> None:
    for ns in MANIFESTS:
        assert compiled.seconds[ns] > 0
        print(f"{ns}: {len(class_names(compiled, ns))} classes in {compiled.seconds[ns]:.2f}s")


@pytest.mark.parametrize("ns", list(MANIFESTS))
def test_class_counts(compiled: Compiled, ns: str) -> None:
    assert len(class_names(compiled, ns)) == EXPECTED_CLASS_COUNTS[ns]


@pytest.mark.parametrize("ns", list(MANIFESTS))
def test_namespace_holds_exactly_the_manifest(compiled: Compiled, ns: str) -> None:
    """Nothing was pulled in implicitly from the search path, nothing is missing."""
    assert class_names(compiled, ns) == included_class_names(MANIFESTS[ns])


def test_every_mof_file_is_used() -> None:
    used = set()
    for manifest in MANIFESTS.values():
        includes = INCLUDE_RE.findall(manifest.read_text())
        used |= {(manifest.parent / inc).resolve() for inc in includes}
    files = {p.resolve() for p in MOF_DIR.rglob("*.mof") if p.parent.name != "namespaces"}
    assert files - used == set()


def test_one_class_per_file_named_after_it() -> None:
    for path in MOF_DIR.rglob("*.mof"):
        if path.parent.name == "namespaces" or path.name == "qualifiers.mof":
            continue
        declared = re.findall(r"^class\s+(\w+)", path.read_text(), re.MULTILINE)
        assert declared == [path.stem], path


def test_no_instances(compiled: Compiled) -> None:
    for ns in MANIFESTS:
        for cls in all_classes(compiled, ns):
            if cls.superclass is None and "Abstract" not in cls.qualifiers:
                assert compiled.conn.EnumerateInstanceNames(cls.classname, namespace=ns) == []


def test_qualifier_declarations(compiled: Compiled) -> None:
    for ns in MANIFESTS:
        declared = {q.name for q in compiled.conn.EnumerateQualifiers(namespace=ns)}
        assert {
            "Key",
            "Override",
            "EmbeddedInstance",
            "EmbeddedObject",
            "ValueMap",
            "Values",
            "Write",
            "Abstract",
            "Association",
            "Aggregation",
            "Aggregate",
            "Experimental",
            "Version",
            "Dynamic",
            "Provider",
            "Locale",
            "UUID",
            "HyperVEmbeddedInstance",
            "MSFT_TargetNamespace",
            "Static",
            "Amendment",
            "In",
            "Out",
        } <= declared
