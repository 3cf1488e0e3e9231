"""root/interop: registered profiles and the classes that point at them."""

from __future__ import annotations

from pywbem import ValueMapping

from tests.support.mof_schema import (
    INTEROP,
    Compiled,
    class_names,
    get_class,
    keys_of,
    qval,
    superclass_chain,
)


def test_registered_profile_organization(compiled: Compiled) -> None:
    cls = get_class(compiled, INTEROP, "CIM_RegisteredProfile")
    prop = cls.properties["RegisteredOrganization"]
    assert qval(prop, "ValueMap")
    assert qval(prop, "Values")
    vm = ValueMapping.for_property(
        compiled.conn, INTEROP, "CIM_RegisteredProfile", "RegisteredOrganization"
    )
    assert vm.tovalues(1) == "Other"
    assert vm.tovalues(2) == "DMTF"
    assert vm.tovalues(11) == "SNIA"
    assert vm.tovalues(32768) == "Vendor Specific"
    assert keys_of(cls) == {"InstanceID"}
    for name in ("RegisteredName", "RegisteredVersion", "OtherRegisteredOrganization"):
        assert cls.properties[name].type == "string"
    vm = ValueMapping.for_property(
        compiled.conn, INTEROP, "CIM_RegisteredProfile", "AdvertiseTypes"
    )
    assert [vm.tovalues(n) for n in (1, 2, 3)] == ["Other", "Not Advertised", "SLP"]


def test_interop_classes(compiled: Compiled) -> None:
    assert class_names(compiled, INTEROP) >= {
        "CIM_ObjectManager",
        "CIM_WBEMService",
        "CIM_Namespace",
        "CIM_RegisteredProfile",
        "CIM_ElementConformsToProfile",
        "CIM_ReferencedProfile",
    }
    assert superclass_chain(compiled, INTEROP, "CIM_ObjectManager")[:2] == [
        "CIM_WBEMService",
        "CIM_Service",
    ]
    ectp = get_class(compiled, INTEROP, "CIM_ElementConformsToProfile")
    assert ectp.properties["ConformantStandard"].reference_class == "CIM_RegisteredProfile"
    ref = get_class(compiled, INTEROP, "CIM_ReferencedProfile")
    assert ref.properties["Antecedent"].reference_class == "CIM_RegisteredProfile"
    assert ref.properties["Dependent"].reference_class == "CIM_RegisteredProfile"
    assert superclass_chain(compiled, INTEROP, "Msvm_StandaloneV2ElementConformsToProfile")[:2] == [
        "Msvm_ElementConformsToProfile",
        "CIM_ElementConformsToProfile",
    ]
    hyperv = get_class(compiled, INTEROP, "Msvm_ElementConformsToProfile")
    assert hyperv.properties["ConformantStandard"].reference_class == "Msvm_RegisteredProfile"
