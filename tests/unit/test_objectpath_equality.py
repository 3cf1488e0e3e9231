"""When two object paths name the same object, and the canonical key that indexes them."""

from __future__ import annotations

import pytest
from pywbem import CIMClassName, CIMInstanceName, Uint32

from emulator.cim.objectpath import canonical_path_key, parse_object_path, paths_equal
from tests.support.object_path_samples import (
    HOST_PATH,
    HOSTED_SERVICE,
    HOSTED_SERVICE_TEXT,
    VM_GUID,
    vm,
)

# (a, b, equal)
TESTCASES_EQUAL: list[tuple[CIMInstanceName | CIMClassName, CIMInstanceName | CIMClassName,
                            bool]] = [
    (vm(), vm(), True),
    (vm("HOST-A"), vm("other"), True),  # host ignored
    (vm(), vm(None, None), True),  # namespace ignored when one side lacks it
    (vm(), vm(namespace="ROOT\\Virtualization\\V2"), True),
    (vm(), vm(namespace="root/HyperVCluster/v2"), False),
    (vm(), CIMInstanceName("msvm_computersystem",
                           {"name": VM_GUID, "CREATIONCLASSNAME": "Msvm_ComputerSystem"}), True),
    (vm(), CIMInstanceName("Msvm_ComputerSystem",
                           {"CreationClassName": "Msvm_ComputerSystem",
                            "Name": VM_GUID.lower()}), False),  # values exact
    (vm(), CIMInstanceName("Msvm_ComputerSystem", {"Name": VM_GUID}), False),
    (vm(), CIMInstanceName("Msvm_PlannedComputerSystem",
                           {"CreationClassName": "Msvm_ComputerSystem", "Name": VM_GUID}), False),
    (CIMInstanceName("C", {"K": Uint32(5)}), CIMInstanceName("C", {"K": 5}), True),
    (CIMInstanceName("C", {"K": 5}), CIMInstanceName("C", {"K": 5.0}), True),
    (CIMInstanceName("C", {"K": 5}), CIMInstanceName("C", {"K": "5"}), False),
    (CIMInstanceName("C", {"K": 1}), CIMInstanceName("C", {"K": True}), False),
    (CIMInstanceName("C", {"K": True}), CIMInstanceName("C", {"K": True}), True),
    (HOSTED_SERVICE, parse_object_path(HOSTED_SERVICE_TEXT.replace("HOST", "host", 1)), True),
    (HOSTED_SERVICE, CIMInstanceName("Msvm_HostedService", {
        "Antecedent": vm(), "Dependent": HOSTED_SERVICE.keybindings["Dependent"]}), False),
    (CIMInstanceName("C", {"K": HOST_PATH}), CIMInstanceName("C", {"K": "HOST"}), False),
    (CIMInstanceName("S"), CIMInstanceName("s", namespace="root"), True),
    (CIMClassName("C", namespace="root"), CIMClassName("c"), True),
    (CIMClassName("C"), CIMInstanceName("C"), False),
]  # fmt: skip


@pytest.mark.parametrize(("a", "b", "equal"), TESTCASES_EQUAL)
def test_paths_equal(
    a: CIMInstanceName | CIMClassName, b: CIMInstanceName | CIMClassName, equal: bool
) -> None:
    assert paths_equal(a, b) is equal
    assert paths_equal(b, a) is equal
    if isinstance(a, CIMInstanceName) and isinstance(b, CIMInstanceName):
        # The canonical key ignores namespaces entirely, so it may only be finer than
        # paths_equal where a namespace mismatch is involved.
        if equal:
            assert canonical_path_key(a) == canonical_path_key(b)
        elif a.namespace is None or b.namespace is None:
            assert canonical_path_key(a) != canonical_path_key(b)


def test_canonical_path_key_shape() -> None:
    assert canonical_path_key(vm()) == (
        f'msvm_computersystem.creationclassname="Msvm_ComputerSystem",name="{VM_GUID}"'
    )
    assert canonical_path_key(CIMInstanceName("S")) == "s=@"
    assert canonical_path_key(CIMInstanceName("C", {"B": True, "N": 3, "R": 2.5})) == (
        "c.b=TRUE,n=3,r=2.5"
    )
    # namespace- and host-independent, usable as a dict key across spellings
    index = {canonical_path_key(vm()): "vm"}
    assert index[canonical_path_key(vm("other", "root/HyperVCluster/v2"))] == "vm"


def test_canonical_key_separates_reference_from_lookalike_string() -> None:
    nested = CIMInstanceName("X", {"K": "v"})
    as_ref = CIMInstanceName("C", {"R": nested})
    as_text = CIMInstanceName("C", {"R": canonical_path_key(nested)})
    assert canonical_path_key(as_ref) != canonical_path_key(as_text)
    assert canonical_path_key(as_ref) == canonical_path_key(
        CIMInstanceName("C", {"R": CIMInstanceName("x", {"k": "v"}, host="H", namespace="r")})
    )
