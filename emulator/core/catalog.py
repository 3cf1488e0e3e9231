"""The class model: MOF compiled by pywbem into resolved classes, one set per namespace."""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pywbem
from nocasedict import NocaseDict
from pywbem import CIMClass, CIMQualifierDeclaration, MOFCompileError
from pywbem_mock import FakedWBEMConnection

from mof import MOF_DIR

# Namespace as served → the MOF manifest that defines it.
NAMESPACE_MANIFESTS: dict[str, str] = {
    "root/interop": "root_interop.mof",
    "root/virtualization/v2": "root_virtualization_v2.mof",
    "root/HyperVCluster/v2": "root_hypervcluster_v2.mof",
    "root/cimv2": "root_cimv2.mof",
}
CACHE_VERSION = 1


class CatalogError(RuntimeError):
    """The MOF could not be compiled; hvsim cannot start without its class model."""


@dataclass
class NamespaceModel:
    name: str
    classes: NocaseDict = field(default_factory=NocaseDict)  # name → resolved CIMClass
    qualifiers: NocaseDict = field(default_factory=NocaseDict)
    children: NocaseDict = field(default_factory=NocaseDict)  # name → direct subclass names
    ancestry: NocaseDict = field(default_factory=NocaseDict)  # name → lower-case ancestor set
    keys: NocaseDict = field(default_factory=NocaseDict)  # name → key property names


class Catalog:
    """Read-only after construction; shared by every request and every endpoint."""

    def __init__(self, models: dict[str, NamespaceModel]) -> None:
        self._models = {name.lower(): model for name, model in models.items()}

    def canonical_namespace(self, name: str) -> str | None:
        """Map any spelling ("root\\\\virtualization\\\\v2", "/root/interop") to the served name."""
        key = name.replace("\\", "/").strip("/").lower()
        model = self._models.get(key)
        return model.name if model else None

    @property
    def namespaces(self) -> list[str]:
        return [model.name for model in self._models.values()]

    def model(self, namespace: str) -> NamespaceModel:
        return self._models[namespace.lower()]

    def has_class(self, namespace: str, classname: str) -> bool:
        return classname in self.model(namespace).classes

    def get_class(self, namespace: str, classname: str) -> CIMClass:
        return self.model(namespace).classes[classname]

    def class_names(self, namespace: str) -> list[str]:
        return list(self.model(namespace).classes.keys())

    def is_subclass(self, namespace: str, classname: str, ancestor: str) -> bool:
        """True when classname is ancestor or derives from it."""
        ancestry = self.model(namespace).ancestry.get(classname)
        return ancestry is not None and ancestor.lower() in ancestry

    def subclasses(self, namespace: str, classname: str | None, *, deep: bool) -> Iterator[str]:
        """Subclasses of classname (top-level classes when None), depth-first."""
        children = self.model(namespace).children
        for child in children.get(classname or "", []):
            yield child
            if deep:
                yield from self.subclasses(namespace, child, deep=True)

    def key_names(self, namespace: str, classname: str) -> list[str]:
        return self.model(namespace).keys[classname]

    def is_association(self, namespace: str, classname: str) -> bool:
        qualifier = self.get_class(namespace, classname).qualifiers.get("Association")
        return bool(qualifier and qualifier.value)

    def qualifier_declarations(self, namespace: str) -> NocaseDict:
        return self.model(namespace).qualifiers


def _compile_namespace(namespace: str, manifest: str) -> NamespaceModel:
    conn = FakedWBEMConnection(default_namespace=namespace)
    if namespace not in conn.cimrepository.namespaces:
        conn.add_namespace(namespace)
    try:
        conn.compile_mof_file(str(MOF_DIR / "namespaces" / manifest), namespace=namespace,
                              search_paths=[str(MOF_DIR)], verbose=False)
    except MOFCompileError as error:
        raise CatalogError(f"MOF for {namespace} does not compile: {error}") from error
    repository = conn.cimrepository
    model = NamespaceModel(name=namespace)
    for klass in repository.get_class_store(namespace).iter_values():
        model.classes[klass.classname] = klass
    for declaration in repository.get_qualifier_store(namespace).iter_values():
        model.qualifiers[declaration.name] = declaration
    for name, klass in model.classes.items():
        model.children.setdefault(klass.superclass or "", []).append(name)
        chain, current = [], klass
        while current is not None:
            chain.append(current.classname.lower())
            current = model.classes.get(current.superclass) if current.superclass else None
        model.ancestry[name] = frozenset(chain)
        model.keys[name] = [p.name for p in klass.properties.values()
                            if p.qualifiers.get("Key") and p.qualifiers["Key"].value]
    for names in model.children.values():
        names.sort(key=str.lower)
    return model


def _mof_digest() -> str:
    digest = hashlib.sha256(str(CACHE_VERSION).encode())
    # A pickle names the classes it holds by module: a copy written by code laid out
    # differently (or by another pywbem) must not even be tried.
    digest.update(f"{NamespaceModel.__module__}.{NamespaceModel.__qualname__}".encode())
    digest.update(pywbem.__version__.encode())
    for path in sorted(MOF_DIR.rglob("*.mof")):
        digest.update(path.relative_to(MOF_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def load_catalog(cache_dir: Path | None = None) -> Catalog:
    """Compile the MOF (or reuse a compiled copy made from identical MOF text)."""
    # Per-user cache: a pickle is only ever loaded from a directory the user owns.
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    cache_dir = cache_dir or base / "hvsim"
    cache_file = cache_dir / f"catalog-{_mof_digest()}.pickle"
    if cache_file.exists():
        try:
            with cache_file.open("rb") as handle:
                return Catalog(pickle.load(handle))
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            pass  # a damaged or foreign cache is rebuilt below
    models = {ns: _compile_namespace(ns, manifest) for ns, manifest in NAMESPACE_MANIFESTS.items()}
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = cache_file.with_suffix(f".{id(models)}.tmp")
        with temporary.open("wb") as handle:
            pickle.dump(models, handle, protocol=pickle.HIGHEST_PROTOCOL)
        temporary.replace(cache_file)
    except OSError:
        pass  # caching is an optimisation only
    return Catalog(models)


__all__ = ["CIMClass", "CIMQualifierDeclaration", "Catalog", "CatalogError", "load_catalog"]
