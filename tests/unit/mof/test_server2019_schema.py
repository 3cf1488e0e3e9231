"""The served schema is the one a Windows Server 2019 Hyper-V host declares.

tests/data/server2019_schema.json holds, per namespace, every class hvsim serves there (with
its ancestors and the classes its methods name) as Microsoft's generated Server 2019 bindings
declare it: superclass, properties and methods with their parameters, directions and types.
tools/extract_server2019_schema.py writes it; this test keeps the MOF from drifting away.

Types in the file are compact strings: a CIM type ("uint32", "string", datetimes included),
"enum" (an integer with a value map: the bindings keep neither its width nor its values), or a
class name (a reference to, or an embedded instance of, that class), each with "[]" when an
array; parameters are prefixed by their direction ("in", "out", "inout").
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pywbem import CIMClass, CIMMethod, CIMParameter, CIMProperty

from tests.support.mof_schema import (
    CLUSTER,
    V2,
    Compiled,
    class_names,
    direction,
    get_class,
    superclass_chain,
)

EXPECTED_FILE = Path(__file__).resolve().parents[2] / "data" / "server2019_schema.json"
NAMESPACES = [V2, CLUSTER]

# Served classes the Server 2019 bindings do not have in that namespace, and why.
NOT_IN_BINDINGS = {
    CLUSTER: {
        # The cluster's profile conformance lives in root/interop on the host; hvsim's cluster
        # view also answers it here, with the profile class it references.
        "Msvm_ClusterV2ElementConformsToProfile",
        "CIM_RegisteredProfile",
    },
}
# Properties later versions added that every hvsim host serves today (the host persona,
# issue 13 item 4, will serve them only on the versions that have them).
NEWER_PROPERTIES = {
    "Msvm_MemorySettingData": {"MemoryEncryptionPolicy", "MemoryAccessTrackingPolicy"},
    "Msvm_ProcessorSettingData": {
        "AllowACountMCount", "ApicMode", "CpuBrandString", "EnableLegacyApicMode",
        "EnablePageShattering", "EnablePerfmonArchPmu", "EnablePerfmonIpt",
        "EnableSocketTopology", "EnlightenmentSet", "ExtendedVirtualizationExtensions",
        "L3CacheWays", "L3ProcessorDistributionPolicy", "LimitProcessorFeaturesMode",
        "MaxClusterCountPerSocket", "MaxHwIsolatedGuests", "MaxProcessorCountPerL3",
        "PerfCpuFreqCapMhz", "PhysicalAddressWidth", "ProcessorFeatureSet",
    },
    "Msvm_ResourceAllocationSettingData": {"TargetVtl"},
    "Msvm_VirtualSystemMigrationSettingData": {"AdvancedOptions", "EnableVhdCompression"},
    "Msvm_VirtualSystemSettingData": {
        "BootPciExpress", "BootPciExpressInstanceFilter",
        "ClusterWideNodeCapabilitiesValidationMode", "FirmwareFile", "FirmwareParameters",
        "GuestFeatureSet", "GuestStateIsolationEnabled",
        "GuestStateIsolationMode", "GuestStateIsolationType", "MemoryHostingJobObjectName",
        "NumaNodeTopologyArray", "ParentPackage", "VirtualSlitType", "VMBusMessageRedirection",
        "Vtl2AddressRangeBase", "Vtl2AddressRangeSize", "Vtl2AddressSpaceConfigurationMode",
        "Vtl2MmioAddressRangeSize", "WatchdogEnabled", "WorkerJobObjectName",
    },
}
_EMBEDDED = ("EmbeddedInstance", "HyperVEmbeddedInstance")


@cache
def expected_schema() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(EXPECTED_FILE.read_text())
    return {ns: classes for ns, classes in data.items() if not ns.startswith("_")}


def _lower(names: Any) -> dict[str, Any]:
    return {name.lower(): value for name, value in names.items()}


def flattened(ns: str, name: str, part: str) -> dict[str, Any]:
    """A class's properties or methods with those it inherits (its own declarations win)."""
    declared = expected_schema()[ns][name]
    parent = declared["superclass"]
    inherited = flattened(ns, parent, part) if parent else {}
    return {**inherited, **_lower(declared[part])}


def is_ancestor(ns: str, ancestor: str, name: str) -> bool:
    """Whether `ancestor` is `name` or above it, by V2's hierarchy when `ns` lacks `name`."""
    schema = expected_schema()
    classes = schema[ns] if name in schema[ns] else schema[V2]
    current: str | None = name
    while current is not None and current in classes:
        if current.lower() == ancestor.lower():
            return True
        current = classes[current]["superclass"]
    return current is not None and current.lower() == ancestor.lower()


def is_served_subclass(compiled: Compiled, ns: str, name: str, ancestor: str) -> bool:
    lineage = [name.lower()] + [c.lower() for c in superclass_chain(compiled, ns, name)]
    return ancestor.lower() in lineage


def type_problem(compiled: Compiled, ns: str, served: CIMProperty | CIMParameter, expected: str,
                 served_classes: set[str]) -> str | None:
    """Why the served declaration does not have the expected compact type; None if it does."""
    array = expected.endswith("[]")
    base = expected.removesuffix("[]")
    if served.is_array != array:
        return f"array {served.is_array}, expected {expected}"
    if base == "enum":  # the bindings' enums are integers, or strings with a value map
        if served.type.startswith(("uint", "sint")) or "ValueMap" in served.qualifiers:
            return None
        return f"{served.type} without a ValueMap, expected an enumeration"
    if base[0].isupper():  # class-typed: a reference or an embedded instance of the class
        if served.type == "reference":
            target = served.reference_class
        else:
            target = next((served.qualifiers[q].value for q in _EMBEDDED
                           if q in served.qualifiers), None)
        if target is None:
            # an embedded instance of a class the namespace lacks cannot name it
            absent = served.type == "string" and base not in served_classes
            return None if absent else f"{served.type}, expected {base}"
        if target.lower() == base.lower() or is_served_subclass(compiled, ns, target, base):
            return None  # an association narrows an inherited reference by an Override
        # a class the namespace lacks is named by the ancestor the namespace has
        if base not in served_classes and is_ancestor(ns, target, base):
            return None
        return f"names {target}, expected {base}"
    served_type = "string" if served.type == "datetime" else served.type
    return None if served_type == base else f"{served.type}, expected {base}"


def method_problems(compiled: Compiled, ns: str, served: CIMMethod, expected: dict[str, Any],
                    served_classes: set[str]) -> list[str]:
    problems = []
    if served.return_type != expected["return"]:
        problems.append(f"returns {served.return_type}, expected {expected['return']}")
    params = _lower(expected["parameters"])
    served_params = {name.lower(): p for name, p in served.parameters.items()}
    if set(params) != set(served_params):
        problems.append(f"parameters {sorted(served.parameters)}, "
                        f"expected {sorted(expected['parameters'])}")
    for name in set(params) & set(served_params):
        flow, shape = params[name].split()
        if direction(served_params[name]) != flow:
            problems.append(f"{name} is {direction(served_params[name])}, expected {flow}")
        problem = type_problem(compiled, ns, served_params[name], shape, served_classes)
        if problem:
            problems.append(f"{name}: {problem}")
    return problems


def served_class(compiled: Compiled, ns: str, name: str) -> CIMClass:
    return get_class(compiled, ns, name)


def compared_classes(compiled: Compiled, ns: str) -> list[str]:
    """The expected classes hvsim serves (a missing one fails the class test, not these)."""
    return sorted(set(expected_schema()[ns]) & class_names(compiled, ns))


@pytest.mark.parametrize("ns", NAMESPACES)
def test_the_namespace_serves_the_hosts_classes(compiled: Compiled, ns: str) -> None:
    served = class_names(compiled, ns)
    expected = set(expected_schema()[ns])
    assert sorted(expected - served) == []
    assert sorted(served - expected) == sorted(NOT_IN_BINDINGS.get(ns, set()))


@pytest.mark.parametrize("ns", NAMESPACES)
def test_superclasses_are_the_hosts(compiled: Compiled, ns: str) -> None:
    schema = expected_schema()[ns]
    wrong = {name: (served_class(compiled, ns, name).superclass, schema[name]["superclass"])
             for name in compared_classes(compiled, ns)
             if served_class(compiled, ns, name).superclass != schema[name]["superclass"]}
    assert wrong == {}


@pytest.mark.parametrize("ns", NAMESPACES)
def test_properties_are_the_hosts(compiled: Compiled, ns: str) -> None:
    served_classes = class_names(compiled, ns)
    problems = []
    for name in compared_classes(compiled, ns):
        cls = served_class(compiled, ns, name)
        expected = flattened(ns, name, "properties")
        served = {p.lower(): prop for p, prop in cls.properties.items()}
        newer = {p.lower() for p in NEWER_PROPERTIES.get(name, set())}
        for prop in sorted(set(expected) - set(served)):
            problems.append(f"{name}.{prop}: missing")
        for prop in sorted(set(served) - set(expected) - newer):
            problems.append(f"{name}.{prop}: not declared by the host")
        for prop in sorted(set(expected) & set(served)):
            problem = type_problem(compiled, ns, served[prop], expected[prop], served_classes)
            if problem:
                problems.append(f"{name}.{prop}: {problem}")
    assert problems == []


@pytest.mark.parametrize("ns", NAMESPACES)
def test_methods_are_the_hosts(compiled: Compiled, ns: str) -> None:
    served_classes = class_names(compiled, ns)
    problems = []
    for name in compared_classes(compiled, ns):
        cls = served_class(compiled, ns, name)
        expected = flattened(ns, name, "methods")
        served = {m.lower(): method for m, method in cls.methods.items()}
        for method in sorted(set(expected) - set(served)):
            problems.append(f"{name}.{method}: missing")
        for method in sorted(set(served) - set(expected)):
            problems.append(f"{name}.{method}: not declared by the host")
        for method in sorted(set(expected) & set(served)):
            found = method_problems(compiled, ns, served[method], expected[method],
                                    served_classes)
            problems += [f"{name}.{method}: {p}" for p in found]
    assert problems == []


def test_the_expected_schema_counts() -> None:
    """The file itself: what the bindings give for the two namespaces."""
    schema = expected_schema()
    assert {ns: len(classes) for ns, classes in schema.items()} == {V2: 113, CLUSTER: 75}
