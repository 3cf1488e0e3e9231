"""root/cimv2 end to end: the host identity tools read before they touch Hyper-V (libvirt's
Hyper-V driver, WS-Man inventories), through pywbem (CIM-XML) and pypsrp's WSMan (WS-Man),
with the queries exactly as those tools send them; the counters a live migration feeds."""

from __future__ import annotations

import re
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import pywbem
from pypsrp.exceptions import WSManFaultError
from pypsrp.wsman import NAMESPACES, SelectorSet, WSMan

from emulator.setup.scenario import load_scenario
from tests.support.server import DEMO_SCENARIO, HvsimServer, wbem_connection, wsman_client

pytestmark = pytest.mark.e2e

CIMV2 = "root/cimv2"
WMI_CIMV2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/"
DMTF = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
ENUM_NS = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
WSMAN_NS = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
RESOURCE_NOT_FOUND = 2150858752
CANNOT_PROCESS_FILTER = 2150858778
TIME_SCALE = 50

PRODUCT_QUERY = "SELECT * FROM Win32_ComputerSystemProduct"
PROCESSOR_QUERY = ("ASSOCIATORS OF {Win32_ComputerSystem.Name='HV-01'} WHERE AssocClass = "
                   "Win32_ComputerSystemProcessor ResultClass = Win32_Processor")
VMMS_QUERY = "SELECT * FROM CIM_DataFile WHERE Name = 'c:\\\\windows\\\\system32\\\\vmms.exe'"
VP_CLASS = "Win32_PerfRawData_HvStats_HyperVHypervisorVirtualProcessor"
LM_CLASS = "Win32_PerfRawData_LmPerfProvider_HyperVVMLiveMigration"
UUID_RE = re.compile(r"[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}")
SCENARIO = load_scenario(DEMO_SCENARIO)
HV01 = next(h for h in SCENARIO.hosts if h.name == "HV-01")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    with HvsimServer({"scenario": DEMO_SCENARIO, "time_scale": TIME_SCALE},
                     workdir=tmp_path_factory.mktemp("cimv2")) as started:
        yield started


@pytest.fixture(scope="module")
def conn(server: HvsimServer) -> pywbem.WBEMConnection:
    return wbem_connection(server.url("HV-01"), CIMV2)


@pytest.fixture(scope="module")
def wsman(server: HvsimServer) -> WSMan:
    return wsman_client(server.url("HV-01"))


def enumerate_wql(wsman: WSMan, query: str, uri: str = WMI_CIMV2 + "*") -> list[ET.Element]:
    body = ET.fromstring(
        f'<wsen:Enumerate xmlns:wsen="{ENUM_NS}" xmlns:wsman="{WSMAN_NS}">'
        "<wsman:OptimizeEnumeration/><wsman:MaxElements>32000</wsman:MaxElements>"
        f'<wsman:Filter Dialect="{WQL}">{query.replace("&", "&amp;").replace("<", "&lt;")}'
        "</wsman:Filter></wsen:Enumerate>")
    return items(wsman.enumerate(uri, body))


def enumerate_class(wsman: WSMan, uri: str) -> list[ET.Element]:
    body = ET.fromstring(
        f'<wsen:Enumerate xmlns:wsen="{ENUM_NS}" xmlns:wsman="{WSMAN_NS}">'
        "<wsman:OptimizeEnumeration/><wsman:MaxElements>32000</wsman:MaxElements>"
        "</wsen:Enumerate>")
    return items(wsman.enumerate(uri, body))


def items(body: ET.Element) -> list[ET.Element]:
    found = body.find("wsen:EnumerateResponse/wsman:Items", NAMESPACES)
    return list(found) if found is not None else []


def prop(instance: ET.Element, name: str) -> str | None:
    uri = instance.tag[1:].split("}")[0]
    element = instance.find(f"{{{uri}}}{name}")
    return None if element is None else element.text


def classname(instance: ET.Element) -> str:
    return instance.tag.split("}")[1]


# -- CIM-XML -------------------------------------------------------------------------------------


def test_host_identity_over_cim_xml(server: HvsimServer, conn: pywbem.WBEMConnection) -> None:
    (product,) = conn.ExecQuery("WQL", PRODUCT_QUERY)
    assert UUID_RE.fullmatch(product["UUID"])
    assert product["Vendor"] and product["Name"] and product["IdentifyingNumber"]
    assert set(product.path.keybindings) == {"IdentifyingNumber", "Name", "Version"}
    # Unique per host, stable across requests.
    (other,) = wbem_connection(server.url("HV-02"), CIMV2).ExecQuery("WQL", PRODUCT_QUERY)
    assert other["UUID"] != product["UUID"]
    assert conn.ExecQuery("WQL", PRODUCT_QUERY)[0]["UUID"] == product["UUID"]

    (system,) = conn.EnumerateInstances("Win32_ComputerSystem")
    (host,) = [cs for cs in wbem_connection(server.url("HV-01")).EnumerateInstances(
        "Msvm_ComputerSystem") if cs["Caption"] == "Hosting Computer System"]
    assert system["Name"] == host["Name"] == "HV-01"
    assert system.path.keybindings == {"Name": "HV-01"}
    assert f"{system['DNSHostName']}.{system['Domain']}" == host["OtherIdentifyingInfo"][0]
    assert system["NumberOfLogicalProcessors"] == HV01.logical_processors
    assert system["TotalPhysicalMemory"] == HV01.memory_mb * 1024 * 1024
    assert system["Manufacturer"] and system["Model"]
    # Every property of the class is there, NULL where hvsim has no value.
    klass = conn.GetClass("Win32_ComputerSystem", LocalOnly=False)
    assert set(system.properties) == set(klass.properties)
    assert len(klass.properties) > 60

    with warnings.catch_warnings():  # a singleton's path has no keys; pywbem warns about it
        warnings.simplefilter("ignore")
        (os_,) = conn.ExecQuery("WQL", "SELECT * FROM Win32_OperatingSystem")
    build = HV01.os_build.rsplit(".", 1)[1]
    assert os_["Caption"] == f"Microsoft {HV01.os_name} Datacenter"
    assert os_["Version"] == f"10.0.{build}" and os_["BuildNumber"] == build
    assert os_["OSArchitecture"] == "64-bit" and os_["CSName"] == "HV-01"
    assert os_["LastBootUpTime"] is not None
    assert os_["TotalVisibleMemorySize"] == HV01.memory_mb * 1024
    assert 0 < os_["FreePhysicalMemory"] < os_["TotalVisibleMemorySize"]


def test_processors_through_the_association(conn: pywbem.WBEMConnection) -> None:
    by_query = conn.ExecQuery("WQL", PROCESSOR_QUERY)
    system = pywbem.CIMInstanceName("Win32_ComputerSystem", {"Name": "HV-01"},
                                    namespace=CIMV2)
    by_operation = conn.Associators(system, AssocClass="Win32_ComputerSystemProcessor",
                                    ResultClass="Win32_Processor")
    assert sorted(p["DeviceID"] for p in by_query) == \
        sorted(p["DeviceID"] for p in by_operation) == ["CPU0", "CPU1"]
    assert sum(p["NumberOfLogicalProcessors"] for p in by_query) == HV01.logical_processors
    assert {p["Name"] for p in by_query} == {HV01.processor_model}
    assert all(p["MaxClockSpeed"] == 2000 for p in by_query)
    references = conn.References(system, ResultClass="Win32_ComputerSystemProcessor")
    assert len(references) == 2


def test_vmms_file_version_over_cim_xml(conn: pywbem.WBEMConnection) -> None:
    (vmms,) = conn.ExecQuery("WQL", VMMS_QUERY)
    assert vmms["Name"] == "c:\\windows\\system32\\vmms.exe"
    assert vmms["Version"].startswith(HV01.os_build + ".")
    assert conn.GetInstance(vmms.path)["Version"] == vmms["Version"]
    # File names compare without regard to case, as on NTFS.
    (upper,) = conn.ExecQuery("WQL", VMMS_QUERY.replace("windows", "Windows").upper())
    assert upper.path == vmms.path
    assert conn.ExecQuery("WQL", "SELECT * FROM CIM_DataFile WHERE Name = "
                                 "'c:\\\\windows\\\\notepad.exe'") == []


def test_virtual_processor_counters(server: HvsimServer, conn: pywbem.WBEMConnection) -> None:
    running = [vm for vm in SCENARIO.vms if vm.host == "HV-01" and vm.state == 2]
    rows = conn.EnumerateInstances(VP_CLASS)
    expected = {f"{vm.name}:Hv VP {n}" for vm in running for n in range(vm.processors)}
    assert {r["Name"] for r in rows} == expected | {"_Total"}
    total = next(r for r in rows if r["Name"] == "_Total")
    assert total["PercentTotalRunTime"] == sum(
        r["PercentTotalRunTime"] for r in rows if r["Name"] != "_Total")
    assert all(r["Frequency_PerfTime"] == 10_000_000 for r in rows)


def test_unknown_class_in_cimv2_over_cim_xml(conn: pywbem.WBEMConnection) -> None:
    for operation in (lambda: conn.EnumerateInstances("Win32_NoSuchClass"),
                      lambda: conn.ExecQuery("WQL", "SELECT * FROM Win32_NoSuchClass"),
                      lambda: conn.GetInstance(pywbem.CIMInstanceName(
                          "Win32_NoSuchClass", {"Name": "x"}, namespace=CIMV2))):
        with pytest.raises(pywbem.CIMError) as info:
            operation()
        assert info.value.status_code == pywbem.CIM_ERR_INVALID_CLASS
    with pytest.raises(pywbem.CIMError) as info:
        conn.GetInstance(pywbem.CIMInstanceName("Win32_Processor", {"DeviceID": "CPU9"},
                                                namespace=CIMV2))
    assert info.value.status_code == pywbem.CIM_ERR_NOT_FOUND
    namespaces = wbem_connection(conn.url, "root/interop").EnumerateInstances("CIM_Namespace")
    assert CIMV2 in {n["Name"] for n in namespaces}


# -- WS-Man --------------------------------------------------------------------------------------


def test_host_identity_over_wsman(wsman: WSMan, conn: pywbem.WBEMConnection) -> None:
    (product,) = enumerate_wql(wsman, PRODUCT_QUERY)
    assert classname(product) == "Win32_ComputerSystemProduct"
    assert prop(product, "UUID") == conn.ExecQuery("WQL", PRODUCT_QUERY)[0]["UUID"]
    (system,) = enumerate_class(wsman, WMI_CIMV2 + "Win32_ComputerSystem")
    assert prop(system, "Name") == "HV-01"
    assert prop(system, "TotalPhysicalMemory") == str(HV01.memory_mb * 1024 * 1024)
    # A singleton is read without selectors.
    os_ = next(iter(wsman.get(WMI_CIMV2 + "Win32_OperatingSystem")))
    assert prop(os_, "Caption") == f"Microsoft {HV01.os_name} Datacenter"
    assert prop(os_, "OSArchitecture") == "64-bit"
    got = next(iter(wsman.get(WMI_CIMV2 + "Win32_ComputerSystem",
                              selector_set=_selectors(Name="HV-01"))))
    assert prop(got, "DNSHostName") == prop(system, "DNSHostName")


def test_processors_and_vmms_over_wsman(wsman: WSMan) -> None:
    processors = enumerate_wql(wsman, PROCESSOR_QUERY)
    assert sorted(prop(p, "DeviceID") or "" for p in processors) == ["CPU0", "CPU1"]
    assert {classname(p) for p in processors} == {"Win32_Processor"}
    (vmms,) = enumerate_wql(wsman, VMMS_QUERY)
    assert (prop(vmms, "Version") or "").startswith(HV01.os_build + ".")
    # Inventories read the file through the DMTF URI, whose default namespace is root/cimv2.
    (by_dmtf,) = enumerate_wql(wsman, VMMS_QUERY, DMTF + "*")
    assert prop(by_dmtf, "Version") == prop(vmms, "Version")
    got = next(iter(wsman.get(WMI_CIMV2 + "CIM_DataFile",
                              selector_set=_selectors(Name="c:\\windows\\system32\\vmms.exe"))))
    assert prop(got, "Version") == prop(vmms, "Version")


def test_unknown_class_in_cimv2_over_wsman(wsman: WSMan) -> None:
    with pytest.raises(WSManFaultError) as info:
        wsman.get(WMI_CIMV2 + "Win32_NoSuchClass", selector_set=_selectors(Name="x"))
    assert int(info.value.code) == RESOURCE_NOT_FOUND
    with pytest.raises(WSManFaultError) as info:
        enumerate_wql(wsman, "SELECT * FROM Win32_NoSuchClass")
    assert int(info.value.code) == CANNOT_PROCESS_FILTER


def _selectors(**keys: str) -> SelectorSet:
    selector_set = SelectorSet()
    for name, value in keys.items():
        selector_set.add_option(name, value)
    return selector_set


# -- a live migration feeds the counters and moves memory (changes the world: runs last) ---------


def test_live_migration_feeds_counters_and_free_memory(server: HvsimServer) -> None:
    src, dst = (wbem_connection(server.url(h)) for h in ("HV-01", "HV-02"))
    src2, dst2 = (wbem_connection(server.url(h), CIMV2) for h in ("HV-01", "HV-02"))

    def free_kb(conn: pywbem.WBEMConnection) -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return int(conn.EnumerateInstances("Win32_OperatingSystem")[0]
                       ["FreePhysicalMemory"])

    before = free_kb(src2), free_kb(dst2)
    assert src2.EnumerateInstances(LM_CLASS) == []
    (vm,) = src.ExecQuery("WQL", "SELECT * FROM Msvm_ComputerSystem "
                                 "WHERE ElementName = 'web-01'")
    (settings,) = src.ExecQuery("WQL", "SELECT * FROM Msvm_VirtualSystemMigrationSettingData "
                                       "WHERE MigrationType = 32768")
    settings["DestinationIPAddressList"] = ["10.0.0.12"]
    (svc,) = src.EnumerateInstanceNames("Msvm_VirtualSystemMigrationService")
    rc, out = src.InvokeMethod("MigrateVirtualSystemToHost", svc, ComputerSystem=vm.path,
                               DestinationHost="HV-02",
                               MigrationSettingData=settings.tocimxmlstr())
    assert rc == 4096
    sent_seen: list[int] = []
    deadline = time.monotonic() + 60
    while (job := src.GetInstance(out["Job"]))["JobState"] in (2, 3, 4):
        sent_seen += [int(r["MemoryWalkerBytesReadPersec"])
                      for r in src2.EnumerateInstances(LM_CLASS)]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert job["JobState"] == 7, job["ErrorDescription"]
    assert sent_seen == sorted(sent_seen), "raw counters only grow"
    (sender,) = src2.EnumerateInstances(LM_CLASS)
    (receiver,) = dst2.EnumerateInstances(LM_CLASS)
    memory = 4096 * 1024 * 1024  # web-01's memory: pass 1 sends all of it
    assert sender["Name"] == receiver["Name"] == "web-01"
    assert sender["MemoryWalkerBytesReadPersec"] >= memory
    assert sender["TransferPassNumber"] >= 2 and sender["TransferPassIsblackout"] == 0
    # The demo hosts compress: half the bytes go over TCP, the receiver writes them all.
    assert sender["TCPTransportBytesSentPersec"] == sender["MemoryWalkerBytesReadPersec"] // 2
    assert receiver["ReceiverBytesWrittenPersec"] == sender["MemoryWalkerBytesReadPersec"]
    assert receiver["TCPTransportBytesReceivedPersec"] == sender["TCPTransportBytesSentPersec"]
    # The VM's memory moved with it.
    after = free_kb(src2), free_kb(dst2)
    assert after[0] - before[0] == 4096 * 1024
    assert before[1] - after[1] == 4096 * 1024
    assert not any(r["Name"].startswith("web-01:") for r in src2.EnumerateInstances(VP_CLASS))
    assert {"web-01:Hv VP 0", "web-01:Hv VP 1"} <= {
        r["Name"] for r in dst2.EnumerateInstances(VP_CLASS)}
    assert dst.ExecQuery("WQL", "SELECT * FROM Msvm_ComputerSystem WHERE ElementName = 'web-01'")
