"""The hvsim MOF model compiled into a pywbem_mock repository, and lookups the MOF tests share.

Each namespace manifest under mof/namespaces/ is compiled the way the emulator's loader does it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, TypeAlias

from pywbem import CIMClass, CIMMethod, CIMParameter, CIMProperty
from pywbem_mock import FakedWBEMConnection

from mof import MOF_DIR

V2 = "root/virtualization/v2"
CLUSTER = "root/HyperVCluster/v2"
INTEROP = "root/interop"
CIMV2 = "root/cimv2"

MANIFESTS = {
    V2: MOF_DIR / "namespaces" / "root_virtualization_v2.mof",
    CLUSTER: MOF_DIR / "namespaces" / "root_hypervcluster_v2.mof",
    INTEROP: MOF_DIR / "namespaces" / "root_interop.mof",
    CIMV2: MOF_DIR / "namespaces" / "root_cimv2.mof",
}

FAMILY_B = ["0", "4096", *[str(n) for n in range(32768, 32779)]]
FAMILY_B_JOB = ["0", *[str(n) for n in range(32768, 32779)]]

# What a qualifier can sit on.
CIMElement: TypeAlias = CIMClass | CIMProperty | CIMMethod | CIMParameter
# A method parameter as the reference describes it: name, CIM type, referenced or embedded
# class, array or not, and direction.
ParamShape: TypeAlias = tuple[str, str, str | None, bool, str]


@dataclass
class Compiled:
    conn: FakedWBEMConnection
    seconds: dict[str, float]


def compile_namespaces() -> Compiled:
    """All namespaces, compiled into one mock repository, with the time each took."""
    conn = FakedWBEMConnection()
    seconds: dict[str, float] = {}
    for ns, manifest in MANIFESTS.items():
        if ns not in conn.cimrepository.namespaces:  # the mock starts with root/cimv2
            conn.add_namespace(ns)
        start = time.perf_counter()
        # Raises MOFCompileError on the first error, so returning means zero errors.
        conn.compile_mof_file(str(manifest), namespace=ns, search_paths=[str(MOF_DIR)])
        seconds[ns] = time.perf_counter() - start
    return Compiled(conn, seconds)


def get_class(compiled: Compiled, ns: str, name: str) -> CIMClass:
    return compiled.conn.GetClass(
        name, namespace=ns, LocalOnly=False, IncludeQualifiers=True, IncludeClassOrigin=True
    )


def class_names(compiled: Compiled, ns: str) -> set[str]:
    return set(compiled.conn.EnumerateClassNames(namespace=ns, DeepInheritance=True))


def all_classes(compiled: Compiled, ns: str) -> list[CIMClass]:
    return [get_class(compiled, ns, name) for name in sorted(class_names(compiled, ns))]


def keys_of(cls: CIMClass) -> set[str]:
    return {
        name
        for name, prop in cls.properties.items()
        if "Key" in prop.qualifiers and prop.qualifiers["Key"].value
    }


# Qualifier values are whatever the MOF declares (bool, str, list of str, ...).
def qval(element: CIMElement, name: str, default: object = None) -> Any:
    qual = element.qualifiers.get(name)
    return default if qual is None else qual.value


def direction(param: CIMParameter) -> str:
    """'in', 'out' or 'inout', using the declared defaults (In true, Out false)."""
    is_in = qval(param, "In", True)
    is_out = qval(param, "Out", False)
    return {(True, False): "in", (False, True): "out", (True, True): "inout"}[(is_in, is_out)]


def superclass_chain(compiled: Compiled, ns: str, name: str) -> list[str]:
    chain = []
    cls = get_class(compiled, ns, name)
    while cls.superclass:
        chain.append(cls.superclass)
        cls = get_class(compiled, ns, cls.superclass)
    return chain


def describe_params(method: CIMMethod) -> list[ParamShape]:
    out: list[ParamShape] = []
    for p in method.parameters.values():
        target = p.reference_class if p.type == "reference" else qval(p, "EmbeddedInstance")
        out.append((p.name, p.type, target, p.is_array, direction(p)))
    return out
