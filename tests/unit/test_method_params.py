"""Method parameters: embedded instances in CIM-XML and MOF, and typing by the declaration."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pywbem import CIMError, CIMInstance, CIMInstanceName, CIMMethod, Uint16

from emulator.core.catalog import Catalog, load_catalog
from emulator.core.embedded import EmbeddedInstanceError, parse_embedded_instance
from emulator.core.method_params import coerce_inputs, finish_outputs
from providers.base import Embedded, MalformedEmbedded, Scope

V2 = "root/virtualization/v2"
SCOPE = Scope(V2, "HV-01")
# What a WMI client sends (GetText_(1)): system properties, a template's __PATH, NULLs.
WMI_TEXT = (
    '<INSTANCE CLASSNAME="Msvm_VirtualSystemMigrationSettingData">'
    '<PROPERTY NAME="__PATH" CLASSORIGIN="___SYSTEM" TYPE="string"><VALUE>\\\\HV-01\\root\\'
    'virtualization\\v2:Msvm_VirtualSystemMigrationSettingData.InstanceID="Microsoft:'
    'VirtualSystemAndStorage"</VALUE></PROPERTY>'
    '<PROPERTY NAME="__GENUS" CLASSORIGIN="___SYSTEM" TYPE="sint32"><VALUE>2</VALUE></PROPERTY>'
    '<PROPERTY NAME="Bandwidth" CLASSORIGIN="CIM_VirtualSystemMigrationSettingData" '
    'TYPE="uint16"></PROPERTY>'
    '<PROPERTY.ARRAY NAME="DestinationIPAddressList" TYPE="string"><VALUE.ARRAY>'
    '<VALUE>10.0.0.12</VALUE></VALUE.ARRAY></PROPERTY.ARRAY>'
    '<PROPERTY NAME="MigrationType" TYPE="uint16"><VALUE>32771</VALUE></PROPERTY>'
    '</INSTANCE>')


_CATALOG: list[Catalog] = []


def shared_catalog() -> Catalog:
    if not _CATALOG:
        _CATALOG.append(load_catalog())
    return _CATALOG[0]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return shared_catalog()


def migrate_method(catalog: Catalog) -> CIMMethod:
    return catalog.get_class(V2, "Msvm_VirtualSystemMigrationService").methods[
        "MigrateVirtualSystemToHost"]


def test_wmi_text_drops_system_properties(catalog: Catalog) -> None:
    instance = parse_embedded_instance(WMI_TEXT, catalog, V2)
    assert instance.classname == "Msvm_VirtualSystemMigrationSettingData"
    assert "__PATH" not in instance.properties and "__GENUS" not in instance.properties
    assert instance["MigrationType"] == 32771
    assert instance["DestinationIPAddressList"] == ["10.0.0.12"]
    assert instance["Bandwidth"] is None


@pytest.mark.parametrize("host", ["HV-01", None])  # VALUE.INSTANCEWITHPATH / OBJECTWITHLOCALPATH
def test_pywbem_text_with_a_path_is_accepted(catalog: Catalog, host: str | None) -> None:
    original = CIMInstance("Msvm_VirtualSystemMigrationSettingData",
                           properties={"MigrationType": Uint16(32768)},
                           path=CIMInstanceName("Msvm_VirtualSystemMigrationSettingData",
                                                {"InstanceID": "Microsoft:VirtualSystem"},
                                                namespace=V2, host=host))
    instance = parse_embedded_instance(original.tocimxmlstr(), catalog, V2)
    assert instance.path is None and instance["MigrationType"] == 32768


def test_mof_text(catalog: Catalog) -> None:
    instance = parse_embedded_instance(
        'instance of Msvm_VirtualSystemMigrationSettingData { MigrationType = 32768; '
        'DestinationIPAddressList = {"10.0.0.12"}; EnableCompression = false; };', catalog, V2)
    assert instance["MigrationType"] == 32768
    assert instance["EnableCompression"] is False


@pytest.mark.parametrize("text", [
    "", "garbage", "<VALUE>1</VALUE>", "<INSTANCE CLASSNAME=",
    '<!DOCTYPE x [<!ENTITY a "b">]><INSTANCE CLASSNAME="X"></INSTANCE>',
    "instance of Msvm_NoSuchClass { A = 1; };",
    "instance of Msvm_VirtualSystemMigrationSettingData { NoSuchProperty = 1; };",
    "instance of Msvm_VirtualSystemMigrationSettingData { MigrationType = \"x\"; };",
])
def test_bad_text_is_reported(catalog: Catalog, text: str) -> None:
    with pytest.raises(EmbeddedInstanceError):
        parse_embedded_instance(text, catalog, V2)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | st.builds(lambda t: "<INSTANCE" + t, st.text(max_size=200)))
def test_any_text_parses_or_is_reported(text: str) -> None:
    with contextlib.suppress(EmbeddedInstanceError):
        parse_embedded_instance(text, shared_catalog(), V2)


def test_inputs_are_typed_from_the_declaration(catalog: Catalog) -> None:
    typed = coerce_inputs(catalog, SCOPE, migrate_method(catalog), {
        "ComputerSystem": 'Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",'
                          'Name="5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"',
        "DestinationHost": "HV-02",
        "MigrationSettingData": WMI_TEXT,
        "NewResourceSettingData": "not an instance",
    })
    assert isinstance(typed["ComputerSystem"], CIMInstanceName)
    assert typed["ComputerSystem"].keybindings["Name"].startswith("5C3A1E2B")
    assert isinstance(typed["MigrationSettingData"], CIMInstance)
    # A single value for an array parameter becomes a one-element array; bad text is passed
    # on so that the method answers with its own invalid-parameter code.
    (malformed,) = typed["NewResourceSettingData"]
    assert isinstance(malformed, MalformedEmbedded)


def test_wrong_types_are_cim_errors(catalog: Catalog) -> None:
    method = catalog.get_class(V2, "Msvm_MigrationJob").methods["RequestStateChange"]
    assert coerce_inputs(catalog, SCOPE, method, {"RequestedState": " 4"})[
        "RequestedState"] == 4
    for bad in ("four", "70000", ["4"]):
        with pytest.raises(CIMError):
            coerce_inputs(catalog, SCOPE, method, {"RequestedState": bad})
    with pytest.raises(CIMError):
        coerce_inputs(catalog, SCOPE, migrate_method(catalog), {"ComputerSystem": "x y z"})


def test_nested_embedded_instances_are_parsed(catalog: Catalog) -> None:
    vhd = ('<INSTANCE CLASSNAME="Msvm_MoveUnmanagedVhd"><PROPERTY NAME="VhdSourcePath" '
           'TYPE="string"><VALUE>C:\\a.vhdx</VALUE></PROPERTY></INSTANCE>')
    settings_text = CIMInstance("Msvm_VirtualSystemMigrationSettingData", properties={
        "MigrationType": Uint16(32769), "UnmanagedVhds": [vhd, "junk"]}).tocimxmlstr()
    typed = coerce_inputs(catalog, SCOPE, migrate_method(catalog),
                          {"MigrationSettingData": settings_text})
    first, second = typed["MigrationSettingData"]["UnmanagedVhds"]
    assert isinstance(first, CIMInstance) and first["VhdSourcePath"] == "C:\\a.vhdx"
    assert isinstance(second, MalformedEmbedded)


def test_outputs_are_typed_and_completed(catalog: Catalog) -> None:
    method = catalog.get_class(V2, "Msvm_VirtualSystemMigrationService").methods[
        "CheckSystemCompatibilityInfo"]
    out = finish_outputs(catalog, SCOPE, method, "HV-01", {
        "Reasons": [Embedded("Msvm_Error", {"MessageID": "33012", "ErrorType": 4})]})
    (reason,) = out["Reasons"]
    assert reason.classname == "Msvm_Error" and reason["ErrorType"] == 4
    assert reason.properties["ErrorType"].type == "uint16"
    assert "Message" in reason.properties and reason["Message"] is None
    migrate = migrate_method(catalog)
    out = finish_outputs(catalog, SCOPE, migrate, "HV-01", {
        "Job": CIMInstanceName("Msvm_MigrationJob", {"InstanceID": "X"})})
    assert out["Job"].host == "HV-01" and out["Job"].namespace == V2


def test_a_single_embedded_output_is_not_taken_for_an_array(catalog: Catalog) -> None:
    method = catalog.get_class(V2, "Msvm_MigrationJob").methods["GetError"]
    out = finish_outputs(catalog, SCOPE, method, "HV-01",
                         {"Error": Embedded("Msvm_Error", {"MessageID": "21502"})})
    assert isinstance(out["Error"], CIMInstance) and out["Error"]["MessageID"] == "21502"
