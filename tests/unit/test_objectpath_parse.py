"""Object paths as real clients send them, parsed (reference §0.4, §14.4, §15.4; wire captures)."""

from __future__ import annotations

import pytest
from pywbem import CIMClassName, CIMInstanceName

from emulator.cim.objectpath import ObjectPathError, format_wmi_path, parse_object_path
from tests.support.object_path_samples import (
    HOSTED_SERVICE,
    HOSTED_SERVICE_TEXT,
    NS,
    SASD_ID,
    SASD_ID_IN_PATH,
    VM_GUID,
    vm,
)

SERVICE = CIMInstanceName(
    "Msvm_VirtualSystemMigrationService",
    {
        "SystemCreationClassName": "Msvm_ComputerSystem",
        "SystemName": "HOST-A",
        "CreationClassName": "Msvm_VirtualSystemMigrationService",
        "Name": "vsms",
    },
    host="127.0.0.1:5988",
    namespace=NS,
)
WBEMCLI_KEYS = (
    'SystemCreationClassName="Msvm_ComputerSystem",SystemName="HOST-A",'
    'CreationClassName="Msvm_VirtualSystemMigrationService",Name="vsms"'
)


# (text, expected path)
TESTCASES_PARSE: list[tuple[str, CIMInstanceName | CIMClassName]] = [
    # WMI full form, real host [REC]
    (
        f'\\\\HV12OSDEMO1\\root\\virtualization\\v2:Msvm_ComputerSystem.'
        f'CreationClassName="Msvm_ComputerSystem",Name="{VM_GUID}"',
        vm(),
    ),
    (
        '\\\\HV12OSDEMO1\\root\\virtualization\\v2:Msvm_MigrationJob.'
        'InstanceID="E3CCD734-71F6-46A1-BBB2-B4DB47242C2D"',
        CIMInstanceName(
            "Msvm_MigrationJob",
            {"InstanceID": "E3CCD734-71F6-46A1-BBB2-B4DB47242C2D"},
            host="HV12OSDEMO1",
            namespace=NS,
        ),
    ),
    # doubled backslashes inside the value are single ones in the InstanceID [REC]
    (
        f'\\\\HV12OSDEMO1\\root\\virtualization\\v2:Msvm_StorageAllocationSettingData.'
        f'InstanceID="{SASD_ID_IN_PATH}"',
        CIMInstanceName(
            "Msvm_StorageAllocationSettingData",
            {"InstanceID": SASD_ID},
            host="HV12OSDEMO1",
            namespace=NS,
        ),
    ),
    # PyMI moniker form
    (
        f'//HV12OSDEMO1/root/virtualization/v2:Msvm_ComputerSystem.'
        f'CreationClassName="Msvm_ComputerSystem",Name="{VM_GUID}"',
        vm(),
    ),
    ('//./root/virtualization/v2:Msvm_MigrationJob.InstanceID="J"',
     CIMInstanceName("Msvm_MigrationJob", {"InstanceID": "J"}, host=".", namespace=NS)),
    # relative and namespace-only
    (
        f'Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",Name="{VM_GUID}"',
        vm(None, None),
    ),
    (
        f'root/virtualization/v2:Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",'
        f'Name="{VM_GUID}"',
        vm(None),
    ),
    (
        f'root\\virtualization\\v2:Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",'
        f'Name="{VM_GUID}"',
        vm(None),
    ),
    (
        f'/root/virtualization/v2:Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",'
        f'Name="{VM_GUID}"',
        vm(None),
    ),
    # wbemcli forms (wire/wbemcli/ai.txt)
    (f"127.0.0.1:5988/root/virtualization/v2:Msvm_VirtualSystemMigrationService.{WBEMCLI_KEYS}",
     SERVICE),
    (f"http://127.0.0.1:5988/root/virtualization/v2:Msvm_VirtualSystemMigrationService."
     f"{WBEMCLI_KEYS}", SERVICE),
    (f"http://testuser:Passw0rd!@127.0.0.1:5988/root/virtualization/v2:"
     f"Msvm_VirtualSystemMigrationService.{WBEMCLI_KEYS}", SERVICE),
    (f"HTTPS://127.0.0.1:5988/root/virtualization/v2:Msvm_VirtualSystemMigrationService."
     f"{WBEMCLI_KEYS}", SERVICE),
    ("[::1]:5989/root/cimv2:C.K=\"v\"",
     CIMInstanceName("C", {"K": "v"}, host="[::1]:5989", namespace="root/cimv2")),
    # libvirt's single-quoted keys (§14.4)
    ("Msvm_VirtualSystemSettingData.InstanceID='Microsoft:5C3A1E2B'",
     CIMInstanceName("Msvm_VirtualSystemSettingData", {"InstanceID": "Microsoft:5C3A1E2B"})),
    ("C.K='it\\'s \"quoted\"'", CIMInstanceName("C", {"K": "it's \"quoted\""})),
    ('C.K="say \\"hi\\""', CIMInstanceName("C", {"K": 'say "hi"'})),
    ('C.K="a\\\\b"', CIMInstanceName("C", {"K": "a\\b"})),
    # an undoubled backslash that escapes nothing is kept (hand-typed Windows paths)
    ('C.K="C:\\dir"', CIMInstanceName("C", {"K": "C:\\dir"})),
    ('C.K="x,y=z.w:v/u"', CIMInstanceName("C", {"K": "x,y=z.w:v/u"})),
    ('C.K=""', CIMInstanceName("C", {"K": ""})),
    # unquoted scalars
    ("C.K=5", CIMInstanceName("C", {"K": 5})),
    ("C.K=-17,J=0", CIMInstanceName("C", {"K": -17, "J": 0})),
    ("C.K=TRUE,J=false", CIMInstanceName("C", {"K": True, "J": False})),
    ("C.K=2.5", CIMInstanceName("C", {"K": 2.5})),
    ('C.K = "v" , J = 1', CIMInstanceName("C", {"K": "v", "J": 1})),
    # singleton and class paths
    ("Msvm_Singleton=@", CIMInstanceName("Msvm_Singleton")),
    ("\\\\H\\root\\v2:Msvm_Singleton=@", CIMInstanceName("Msvm_Singleton", host="H",
                                                         namespace="root/v2")),
    ("Msvm_ComputerSystem", CIMClassName("Msvm_ComputerSystem")),
    ("root/virtualization/v2:Msvm_ComputerSystem", CIMClassName("Msvm_ComputerSystem",
                                                                namespace=NS)),
    ("127.0.0.1:5988/root/virtualization/v2:Msvm_ComputerSystem",
     CIMClassName("Msvm_ComputerSystem", host="127.0.0.1:5988", namespace=NS)),
    ("  C.K=1  ", CIMInstanceName("C", {"K": 1})),
    # reference-valued keys (association paths)
    (HOSTED_SERVICE_TEXT, HOSTED_SERVICE),
    ('Msvm_SettingsDefineState.ManagedElement="Msvm_ComputerSystem.Name=\\"x\\"",'
     'SettingData="root\\\\virtualization\\\\v2:Msvm_VirtualSystemSettingData.'
     'InstanceID=\\"Microsoft:x\\""',
     CIMInstanceName("Msvm_SettingsDefineState", {
         "ManagedElement": CIMInstanceName("Msvm_ComputerSystem", {"Name": "x"}),
         "SettingData": CIMInstanceName("Msvm_VirtualSystemSettingData",
                                        {"InstanceID": "Microsoft:x"}, namespace=NS),
     })),
    ('Assoc.Ref="Singleton=@"', CIMInstanceName("Assoc", {"Ref": CIMInstanceName("Singleton")})),
    # strings that merely resemble paths stay strings
    ('C.K="Microsoft:Definition\\\\4A9D\\\\Default"',
     CIMInstanceName("C", {"K": "Microsoft:Definition\\4A9D\\Default"})),
    ('C.K="Msvm_X.K=unquoted"', CIMInstanceName("C", {"K": "Msvm_X.K=unquoted"})),
    ('C.K="Msvm_ComputerSystem"', CIMInstanceName("C", {"K": "Msvm_ComputerSystem"})),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), TESTCASES_PARSE)
def test_parse(text: str, expected: CIMInstanceName | CIMClassName) -> None:
    parsed = parse_object_path(text)
    assert type(parsed) is type(expected)
    assert parsed == expected
    assert parsed.host == expected.host
    assert parsed.namespace == expected.namespace
    if isinstance(expected, CIMInstanceName):
        assert isinstance(parsed, CIMInstanceName)
        # pywbem's equality lets True == 1 and 2 == 2.0 pass; the key types matter here.
        for key, value in expected.keybindings.items():
            assert type(parsed.keybindings[key]) is type(value), key


def test_default_namespace_applies_only_when_missing() -> None:
    relative = parse_object_path('C.K="v"', default_namespace="root\\virtualization\\v2")
    assert relative.namespace == NS
    explicit = parse_object_path('root/cimv2:C.K="v"', default_namespace=NS)
    assert explicit.namespace == "root/cimv2"
    assert parse_object_path("C", default_namespace=NS) == CIMClassName("C", namespace=NS)


def test_names_keep_their_case_but_lookups_do_not_care() -> None:
    parsed = parse_object_path('msvm_computersystem.NAME="x"')
    assert isinstance(parsed, CIMInstanceName)
    assert parsed.classname == "msvm_computersystem"
    assert parsed.keybindings["name"] == "x"
    assert list(parsed.keybindings.keys()) == ["NAME"]


# (text, message fragment, position)
TESTCASES_ERRORS: list[tuple[str, str, int | None]] = [
    ("", "empty object path", 0),
    ("   ", "empty object path", 0),
    ("C.", "expected a key name", 2),
    ("C.K", "expected '=' after key name 'K'", 3),
    ("C.K=", "expected a key value", 4),
    ('C.K="v', "unterminated quoted key value", 4),
    ("C.K='v\\'", "unterminated quoted key value", 4),
    ("C.K=v", "expected a quoted string, a number, TRUE or FALSE", 4),
    ("C.K=0x10", "expected ',' or end of path", 5),
    ('C.K="a" "b"', "expected ',' or end of path", 8),
    ('C.K="a",', "expected a key name", 8),
    ('C.K="a",k="b"', "duplicate key 'k'", 8),
    ("C=", "expected '@'", 2),
    ("C=@x", "expected '@'", 2),
    ("C K", "unexpected ' ' after class name 'C'", 1),
    ("1C.K=1", "expected a class name", 0),
    ('ns:.K="v"', "expected a class name", 3),
    (':C.K="v"', "empty segment in namespace", 0),
    ('root//v2:C.K="v"', "empty segment in namespace", 5),
    ('ro ot:C.K="v"', "invalid character ' ' in namespace", 2),
    ('\\\\HOST:C.K="v"', "expected a namespace after the host name", 6),
    ('\\\\\\root:C.K="v"', "empty host name", 2),
    ("http://host:5988", "expected a namespace after the host name", 11),
    ("C.K=" + "9" * 50, "out of range", 4),
    ("C.K=18446744073709551617", "out of range", 4),
]


@pytest.mark.parametrize(("text", "fragment", "position"), TESTCASES_ERRORS)
def test_parse_errors(text: str, fragment: str, position: int | None) -> None:
    with pytest.raises(ObjectPathError) as info:
        parse_object_path(text)
    assert fragment in str(info.value)
    assert info.value.position == position
    if position is not None:
        assert f"position {position}" in str(info.value)


@pytest.mark.parametrize("bad", [None, 5, b"C.K=1", ["C"]])
def test_parse_rejects_non_strings(bad: object) -> None:
    with pytest.raises(ObjectPathError, match="must be a string"):
        parse_object_path(bad)  # type: ignore[arg-type]


def test_bad_default_namespace() -> None:
    with pytest.raises(ObjectPathError, match="default namespace"):
        parse_object_path("C", default_namespace="root//x")


@pytest.mark.parametrize(("text", "expected"), TESTCASES_PARSE)
def test_round_trip_through_format(text: str, expected: CIMInstanceName | CIMClassName) -> None:
    parsed = parse_object_path(text)
    if parsed.namespace is None and parsed.host is not None:
        pytest.skip("host without namespace has no WMI spelling")
    assert parse_object_path(format_wmi_path(parsed)) == parsed
