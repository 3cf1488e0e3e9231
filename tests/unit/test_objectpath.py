"""Object path forms seen from real clients (reference §0.4, §14.4, §15.4; wire captures)."""

from __future__ import annotations

import pytest
from pywbem import CIMClassName, CIMDateTime, CIMInstanceName, Uint16, Uint32

from emulator.cim.objectpath import (
    ObjectPathError,
    canonical_path_key,
    format_wmi_path,
    parse_object_path,
    paths_equal,
)

NS = "root/virtualization/v2"
VM_GUID = "BF53C567-965D-48CC-9867-CF509EA1799E"
SASD_ID = (
    "Microsoft:BF53C567-965D-48CC-9867-CF509EA1799E\\83F8638B-8DCA-4152-9EDA-2CA8B33039B4\\0\\0\\L"
)
SASD_ID_IN_PATH = SASD_ID.replace("\\", "\\\\")


def vm(host: str | None = "HV12OSDEMO1", namespace: str | None = NS) -> CIMInstanceName:
    return CIMInstanceName(
        "Msvm_ComputerSystem",
        {"CreationClassName": "Msvm_ComputerSystem", "Name": VM_GUID},
        host=host,
        namespace=namespace,
    )


HOST_PATH = CIMInstanceName(
    "Msvm_ComputerSystem",
    {"CreationClassName": "Msvm_ComputerSystem", "Name": "HOST"},
    host="HOST",
    namespace=NS,
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
HOSTED_SERVICE_TEXT = (
    'Msvm_HostedService.Antecedent="\\\\\\\\HOST\\\\root\\\\virtualization\\\\v2:'
    'Msvm_ComputerSystem.CreationClassName=\\"Msvm_ComputerSystem\\",Name=\\"HOST\\"",'
    'Dependent="\\\\\\\\HOST\\\\root\\\\virtualization\\\\v2:Msvm_VirtualSystemMigrationService.'
    'Name=\\"vsms\\""'
)
HOSTED_SERVICE = CIMInstanceName(
    "Msvm_HostedService",
    {
        "Antecedent": HOST_PATH,
        "Dependent": CIMInstanceName(
            "Msvm_VirtualSystemMigrationService", {"Name": "vsms"}, host="HOST", namespace=NS
        ),
    },
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


# (path, full WMI text, relative text)
TESTCASES_FORMAT: list[tuple[CIMInstanceName | CIMClassName, str, str]] = [
    (
        vm(),
        f'\\\\HV12OSDEMO1\\root\\virtualization\\v2:Msvm_ComputerSystem.'
        f'CreationClassName="Msvm_ComputerSystem",Name="{VM_GUID}"',
        f'Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",Name="{VM_GUID}"',
    ),
    (
        CIMInstanceName("Msvm_StorageAllocationSettingData", {"InstanceID": SASD_ID},
                        host="HV12OSDEMO1", namespace=NS),
        f'\\\\HV12OSDEMO1\\root\\virtualization\\v2:Msvm_StorageAllocationSettingData.'
        f'InstanceID="{SASD_ID_IN_PATH}"',
        f'Msvm_StorageAllocationSettingData.InstanceID="{SASD_ID_IN_PATH}"',
    ),
    # key order is the order of keybindings, not sorted
    (CIMInstanceName("C", {"Z": "1", "A": "2"}, namespace="root/cimv2"),
     'root\\cimv2:C.Z="1",A="2"', 'C.Z="1",A="2"'),
    (CIMInstanceName("C", {"K": 'a"b\\c'}), 'C.K="a\\"b\\\\c"', 'C.K="a\\"b\\\\c"'),
    (CIMInstanceName("C", {"B": True, "F": False, "N": Uint16(7), "M": -3, "R": 2.5}),
     "C.B=TRUE,F=FALSE,N=7,M=-3,R=2.5", "C.B=TRUE,F=FALSE,N=7,M=-3,R=2.5"),
    (CIMInstanceName("C", {"R": 1e16}), "C.R=1.0e+16", "C.R=1.0e+16"),
    (CIMInstanceName("Msvm_Singleton", host="H", namespace="root/v2"),
     "\\\\H\\root\\v2:Msvm_Singleton=@", "Msvm_Singleton=@"),
    (HOSTED_SERVICE, HOSTED_SERVICE_TEXT, HOSTED_SERVICE_TEXT),
    (CIMClassName("Msvm_ComputerSystem", host="H", namespace=NS),
     "\\\\H\\root\\virtualization\\v2:Msvm_ComputerSystem", "Msvm_ComputerSystem"),
    # a host without a namespace has no WMI spelling and is dropped
    (CIMInstanceName("C", {"K": "v"}, host="H"), 'C.K="v"', 'C.K="v"'),
    (CIMInstanceName("C", {"D": CIMDateTime("20240101120000.000000+000")}),
     'C.D="20240101120000.000000+000"', 'C.D="20240101120000.000000+000"'),
]  # fmt: skip


@pytest.mark.parametrize(("path", "full", "relative"), TESTCASES_FORMAT)
def test_format(path: CIMInstanceName | CIMClassName, full: str, relative: str) -> None:
    assert format_wmi_path(path) == full
    assert format_wmi_path(path, relative=True) == relative


@pytest.mark.parametrize(("text", "expected"), TESTCASES_PARSE)
def test_round_trip_through_format(text: str, expected: CIMInstanceName | CIMClassName) -> None:
    parsed = parse_object_path(text)
    if parsed.namespace is None and parsed.host is not None:
        pytest.skip("host without namespace has no WMI spelling")
    assert parse_object_path(format_wmi_path(parsed)) == parsed


TESTCASES_FORMAT_ERRORS: list[tuple[object, str]] = [
    (CIMInstanceName("C", {"K": "v"}, host="a/b", namespace="r"),
     "invalid host name"),
    (CIMInstanceName("Bad Name", {"K": "v"}), "invalid class name"),
    (CIMInstanceName("C", {"K": 2**65}), "out of range"),
    (CIMInstanceName("C", {"K": float("inf")}), "non-finite"),
    ("C.K=1", "cannot format str"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "fragment"), TESTCASES_FORMAT_ERRORS)
def test_format_errors(path: object, fragment: str) -> None:
    with pytest.raises(ObjectPathError, match=fragment):
        format_wmi_path(path)


def test_format_rejects_unsupported_key_types() -> None:
    path = CIMInstanceName("C", {"K": "v"})
    path.keybindings["K"] = CIMClassName("X")  # pywbem accepts it; WMI paths cannot carry it
    with pytest.raises(ObjectPathError, match="unsupported value type"):
        format_wmi_path(path)


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
