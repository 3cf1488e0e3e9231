"""The migration service end to end through pywbem against a live server (issue 3).

Destination refusals come from ``tests/scenarios/refusals.toml`` (one host per reason); the
rest runs against the demo cluster, on a fresh server wherever the test changes the world.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import pywbem

from tests.support.server import DEMO_SCENARIO, HvsimServer, wbem_connection

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
WEB01_GUID = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"
VM_A_GUID = "11111111-2222-4333-8444-555555555555"
LIVE = 32768
STORAGE = 32769
STAGED = 32770
TIME_SCALE = 50

def service(conn: pywbem.WBEMConnection) -> pywbem.CIMInstanceName:
    return conn.EnumerateInstanceNames("Msvm_VirtualSystemMigrationService")[0]


def vm_named(conn: pywbem.WBEMConnection, name: str) -> pywbem.CIMInstance:
    found = conn.ExecQuery(
        "WQL", f"SELECT * FROM Msvm_ComputerSystem WHERE ElementName = '{name}'")
    assert len(found) == 1, f"{name}: {len(found)} instances"
    return found[0]


def vms_named(conn: pywbem.WBEMConnection, name: str) -> list[pywbem.CIMInstance]:
    return list(conn.ExecQuery(
        "WQL", f"SELECT * FROM Msvm_ComputerSystem WHERE ElementName = '{name}'"))


def template(conn: pywbem.WBEMConnection, mtype: int = LIVE,
             **props: object) -> pywbem.CIMInstance:
    tmpl = conn.ExecQuery(
        "WQL", "select * from Msvm_VirtualSystemMigrationSettingData "
        f"where MigrationType = {mtype}")[0]
    for key, value in props.items():
        tmpl.properties[key].value = value
    return tmpl


def migrate(conn: pywbem.WBEMConnection, vm: pywbem.CIMInstance, dest: str | None,
            mtype: int = LIVE, **props: object) -> tuple[int, dict[str, object]]:
    tmpl = template(conn, mtype, **props)
    rv, out = conn.InvokeMethod(
        "MigrateVirtualSystemToHost", service(conn), ComputerSystem=vm.path,
        DestinationHost=dest, MigrationSettingData=tmpl.tocimxmlstr())
    return int(rv), dict(out)


def wait_job(conn: pywbem.WBEMConnection, job_path: pywbem.CIMInstanceName,
             timeout: float = 30.0) -> pywbem.CIMInstance:
    deadline = time.monotonic() + timeout
    while True:
        job = conn.GetInstance(job_path)
        if int(job["JobState"]) >= 7:
            return job
        assert time.monotonic() < deadline, f"job still in state {job['JobState']}"
        time.sleep(0.05)


def error_ids(conn: pywbem.WBEMConnection, job_path: pywbem.CIMInstanceName) -> list[str]:
    rv, out = conn.InvokeMethod("GetErrorEx", job_path)
    assert int(rv) == 0
    errors = out.get("Errors") or []
    return [str(e["MessageID"]) if isinstance(e, pywbem.CIMInstance) else _message_id(str(e))
            for e in errors]


def _message_id(embedded: str) -> str:
    marker = 'NAME="MessageID"'
    at = embedded.find(marker)
    if at < 0:
        return ""
    value = embedded.find("<VALUE>", at)
    return embedded[value + 7:embedded.find("</VALUE>", value)]


@pytest.fixture
def demo(hvsim_server: Callable[..., HvsimServer]) -> HvsimServer:
    """A fresh demo cluster at 50x simulated time: for tests that change the world."""
    return hvsim_server(scenario=DEMO_SCENARIO, time_scale=TIME_SCALE)


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    server = HvsimServer({"scenario": SCENARIOS / "refusals.toml", "time_scale": TIME_SCALE},
                         workdir=tmp_path_factory.mktemp("refusals"))
    with server:
        yield server


# -- live migration success ------------------------------------------------------------------


def test_live_migration_moves_the_vm_with_its_settings(demo: HvsimServer) -> None:
    src = wbem_connection(demo.url("HV-01"))
    dst = wbem_connection(demo.url("HV-02"))
    vm = vm_named(src, "web-01")
    assert vm["Name"].upper() == WEB01_GUID
    (settings,) = src.Associators(vm.path, AssocClass="Msvm_SettingsDefineState")
    bios_guid = settings["BIOSGUID"]
    assert re.fullmatch(r"\{[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}\}", bios_guid)
    rv, out = migrate(src, vm, "HV-02", DestinationIPAddressList=["10.0.0.12"])
    assert rv == 4096
    job_path: pywbem.CIMInstanceName = out["Job"]
    assert job_path.classname == "Msvm_MigrationJob"
    # While running: the VM reports a move in progress and the job is associated with it.
    # The VM is read before the job: if the job still runs afterwards, the VM was read while
    # moving (read the other way round, the move could end in between).
    try:
        status: list[int] | None = list(src.GetInstance(vm.path)["OperationalStatus"])
    except pywbem.CIMError as error:
        assert error.status_code == pywbem.CIM_ERR_NOT_FOUND
        status = None
    job = src.GetInstance(job_path)
    if int(job["JobState"]) == 4:
        assert status == [2, 32774]
    affected = src.ExecQuery(
        "WQL", f"select * from Msvm_AffectedJobElement where AffectedElement = '{vm.path}'")
    assert any(a["AffectingElement"].keybindings["InstanceID"]
               == job_path.keybindings["InstanceID"] for a in affected)
    assert any(j["InstanceID"] == job_path.keybindings["InstanceID"]
               for j in src.EnumerateInstances("CIM_ConcreteJob"))
    job = wait_job(src, job_path)
    assert int(job["JobState"]) == 7, job["ErrorDescription"]
    assert int(job["PercentComplete"]) == 100
    # On the destination only, with its settings and devices.
    assert vms_named(src, "web-01") == []
    moved = vm_named(dst, "web-01")
    assert moved["Name"].upper() == WEB01_GUID
    assert int(moved["EnabledState"]) == 2
    assert list(moved["OperationalStatus"]) == [2]
    like = f"SELECT * FROM CIM_ResourceAllocationSettingData WHERE InstanceID LIKE " \
           f"'Microsoft:{moved['Name']}%'"
    assert dst.ExecQuery("WQL", like)
    assert src.ExecQuery("WQL", like) == []
    vssd = dst.Associators(moved.path, AssocClass="Msvm_SettingsDefineState")
    assert vssd and vssd[0]["VirtualSystemIdentifier"].upper() == WEB01_GUID
    # The BIOS GUID travels with the VM: inventories follow VMs across hosts by it.
    assert vssd[0]["BIOSGUID"] == bios_guid
    found = dst.ExecQuery("WQL", "SELECT BIOSGUID, ElementName FROM "
                                 "Msvm_VirtualSystemSettingData WHERE VirtualSystemType = "
                                 "'Microsoft:Hyper-V:System:Realized'")
    assert {i["ElementName"]: i["BIOSGUID"] for i in found}["web-01"] == bios_guid
    # GetErrorEx of a completed job: no errors.
    rv, out = src.InvokeMethod("GetErrorEx", job_path)
    assert int(rv) == 0 and not out.get("Errors")


# -- Family B parameter errors (synchronous) -------------------------------------------------


@pytest.fixture(scope="module")
def demo_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    server = HvsimServer({"scenario": DEMO_SCENARIO, "time_scale": TIME_SCALE},
                         workdir=tmp_path_factory.mktemp("demo-module"))
    with server:
        yield server


def test_invalid_parameters_are_32773(demo_module: HvsimServer) -> None:
    c = wbem_connection(demo_module.url("HV-01"))
    vm = vm_named(c, "web-01")
    svc = service(c)

    def call(**params: object) -> int:
        rv, _ = c.InvokeMethod("MigrateVirtualSystemToHost", svc, **params)
        return int(rv)

    good = template(c).tocimxmlstr()
    assert call(ComputerSystem=vm.path, DestinationHost="HV-02") == 32773
    assert call(ComputerSystem=vm.path, DestinationHost="HV-02",
                MigrationSettingData="<INSTANCE garbage") == 32773
    assert call(ComputerSystem=vm.path, DestinationHost="HV-02",
                MigrationSettingData="instance of Nothing {") == 32773
    assert call(ComputerSystem=vm.path, DestinationHost="HV-02",
                MigrationSettingData=template(c, MigrationType=4).tocimxmlstr()) == 32773
    assert call(ComputerSystem=vm.path, DestinationHost="HV-02",
                MigrationSettingData=template(c, TransportType=1).tocimxmlstr()) == 32773
    assert call(ComputerSystem=vm.path, DestinationHost="HV-01",
                MigrationSettingData=good) == 32773
    # A VM of the other host.
    other = vm_named(wbem_connection(demo_module.url("HV-02")), "app-01")
    assert call(ComputerSystem=other.path, DestinationHost="HV-01",
                MigrationSettingData=good) == 32773
    # NewResourceSettingData with a live migration.
    disk = c.ExecQuery("WQL", "SELECT * FROM Msvm_StorageAllocationSettingData WHERE "
                       f"InstanceID LIKE 'Microsoft:{vm['Name']}%'")[0]
    assert call(ComputerSystem=vm.path, DestinationHost="HV-02", MigrationSettingData=good,
                NewResourceSettingData=[disk.tocimxmlstr()]) == 32773
    # Nothing started.
    assert c.GetInstance(svc)["ActiveVirtualSystemMigrationCount"] == 0
    assert list(vm_named(c, "web-01")["OperationalStatus"]) == [2]


def test_family_a_methods(demo_module: HvsimServer) -> None:
    c = wbem_connection(demo_module.url("HV-01"))
    vm = vm_named(c, "web-01")
    svc = service(c)
    rv, out = c.InvokeMethod("CheckVirtualSystemIsMigratableToHost", svc,
                             ComputerSystem=vm.path, DestinationHost="HV-02",
                             MigrationSettingData=template(c).tocimxmlstr())
    assert int(rv) == 0 and out["IsMigratable"] is True
    rv, _ = c.InvokeMethod("CheckVirtualSystemIsMigratableToHost", svc,
                           ComputerSystem=vm.path, DestinationHost="HV-02",
                           MigrationSettingData="junk")
    assert int(rv) in (4, 5)


def test_mof_embedded_instance_is_accepted(demo: HvsimServer) -> None:
    c = wbem_connection(demo.url("HV-01"))
    vm = vm_named(c, "web-02")
    mof = ("instance of Msvm_VirtualSystemMigrationSettingData\n{\n"
           "    MigrationType = 32768;\n    TransportType = 5;\n};\n")
    rv, out = c.InvokeMethod("MigrateVirtualSystemToHost", service(c), ComputerSystem=vm.path,
                             DestinationHost="HV-02", MigrationSettingData=mof)
    assert int(rv) == 4096
    assert int(wait_job(c, out["Job"])["JobState"]) == 7
    assert vm_named(wbem_connection(demo.url("HV-02")), "web-02")


# -- cancellation, second migration of the same VM -------------------------------------------


def test_second_migration_is_32774_and_cancel_keeps_source(
        hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO, time_scale=1)
    c = wbem_connection(server.url("HV-01"))
    vm = vm_named(c, "web-01")
    rv, out = migrate(c, vm, "HV-02")
    assert rv == 4096
    rv2, _ = migrate(c, vm, "HV-02")
    assert rv2 == 32774
    assert int(c.GetInstance(service(c))["ActiveVirtualSystemMigrationCount"]) == 1
    rv, _ = c.InvokeMethod("RequestStateChange", out["Job"], RequestedState=pywbem.Uint16(4))
    assert int(rv) == 0
    job = wait_job(c, out["Job"])
    assert int(job["JobState"]) == 8
    # Finished job: another state change is invalid.
    rv, _ = c.InvokeMethod("RequestStateChange", out["Job"], RequestedState=pywbem.Uint16(4))
    assert int(rv) == 32775
    again = vm_named(c, "web-01")
    assert int(again["EnabledState"]) == 2 and list(again["OperationalStatus"]) == [2]
    assert vms_named(wbem_connection(server.url("HV-02")), "web-01") == []
    assert int(c.GetInstance(service(c))["ActiveVirtualSystemMigrationCount"]) == 0


# -- destination refusals from tests/scenarios/refusals.toml --------------------------------


# Destination host -> the ProbableCause (reference §9.1) its refusal must carry.
REFUSALS = {"UNREACHABLE": 5, "DISABLED": 8, "NONET": 8, "SMALLMEM": 33, "NOSWITCH": 8,
            "AMD": 38, "OLDVERSION": 58, "CREDSSP": 117, "HASGUID": 79, "NOSUCHHOST": 5,
            "OLDCPU": 38}


def probable_causes(conn: pywbem.WBEMConnection, job_path: pywbem.CIMInstanceName) -> set[int]:
    _, out = conn.InvokeMethod("GetErrorEx", job_path)
    return {int(e["ProbableCause"]) for e in out.get("Errors") or []}


@pytest.mark.parametrize("dest", sorted(REFUSALS))
def test_destination_refusals_fail_the_job(refusals: HvsimServer, dest: str) -> None:
    c = wbem_connection(refusals.url("SRC"))
    vm = vm_named(c, "vm-a")
    rv, out = migrate(c, vm, dest)
    assert rv == 4096
    job = wait_job(c, out["Job"])
    assert int(job["JobState"]) == 10
    assert int(job["ErrorCode"]) == 32768
    ids = error_ids(c, out["Job"])
    assert ids and all(ids)
    if dest == "NOSWITCH":
        assert "33012" in ids
    assert REFUSALS[dest] in probable_causes(c, out["Job"])
    # The source is untouched.
    assert vm_named(c, "vm-a")["Name"].upper() == VM_A_GUID


def test_reference_destination_accepts(refusals: HvsimServer) -> None:
    c = wbem_connection(refusals.url("SRC"))
    vm = vm_named(c, "vm-a")
    rv, out = c.InvokeMethod("CheckVirtualSystemIsMigratableToHost", service(c),
                             ComputerSystem=vm.path, DestinationHost="OK",
                             MigrationSettingData=template(c).tocimxmlstr())
    assert int(rv) == 0 and out["IsMigratable"] is True
    # Run after the refusals (module order): the same VM does move to the reference host.
    rv, out = migrate(c, vm, "OK")
    assert rv == 4096
    assert int(wait_job(c, out["Job"])["JobState"]) == 7
    assert vm_named(wbem_connection(refusals.url("OK")), "vm-a")["Name"].upper() == VM_A_GUID
    assert vms_named(c, "vm-a") == []


# -- queueing, job control, service gating ---------------------------------------------------


def test_queue_beyond_limit_job_control_and_service_gating(
        hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO, time_scale=1)
    c = wbem_connection(server.url("HV-01"))
    svc = service(c)
    jobs = []
    for name in ("web-01", "web-02", "db-01"):  # HV-01 allows 2 active migrations
        rv, out = migrate(c, vm_named(c, name), "HV-02")
        assert rv == 4096
        jobs.append(out["Job"])
    assert int(c.GetInstance(svc)["ActiveVirtualSystemMigrationCount"]) == 2
    assert int(c.GetInstance(jobs[2])["JobState"]) == 2  # queued
    # Terminate (5) -> 9; KillJob ends another; the queued one then starts and is cancelled.
    rv, _ = c.InvokeMethod("RequestStateChange", jobs[0], RequestedState=pywbem.Uint16(5))
    assert int(rv) == 0
    assert int(wait_job(c, jobs[0])["JobState"]) == 9
    rv, _ = c.InvokeMethod("KillJob", jobs[1], DeleteOnKill=False)
    assert int(rv) == 0
    assert int(wait_job(c, jobs[1])["JobState"]) not in (7, 10)
    rv, _ = c.InvokeMethod("RequestStateChange", jobs[2], RequestedState=pywbem.Uint16(4))
    assert int(rv) == 0
    assert int(wait_job(c, jobs[2])["JobState"]) == 8
    assert int(c.GetInstance(svc)["ActiveVirtualSystemMigrationCount"]) == 0
    for name in ("web-01", "web-02", "db-01"):
        assert vm_named(c, name)
    # Owning job association of a job.
    assert c.References(jobs[2], ResultClass="Msvm_OwningJobElement")
    # Service gating: stopped service refuses with 32775, RequestStateChange codes.
    assert int(c.InvokeMethod("StopService", svc)[0]) == 0
    assert migrate(c, vm_named(c, "web-01"), "HV-02")[0] == 32775
    assert int(c.InvokeMethod("StartService", svc)[0]) == 0
    assert int(c.InvokeMethod("RequestStateChange", svc,
                              RequestedState=pywbem.Uint16(3))[0]) == 0
    assert int(c.InvokeMethod("RequestStateChange", svc,
                              RequestedState=pywbem.Uint16(2))[0]) == 0
    assert int(c.InvokeMethod("RequestStateChange", svc,
                              RequestedState=pywbem.Uint16(11))[0]) == 1


def test_cluster_namespace_accepts_cim_setting_data(demo: HvsimServer) -> None:
    c = wbem_connection(demo.url("HV-01"), "root/HyperVCluster/v2")
    vm = vm_named(c, "web-02")
    sd = pywbem.CIMInstance("CIM_VirtualSystemMigrationSettingData", properties={
        "MigrationType": pywbem.Uint16(LIVE), "TransportType": pywbem.Uint16(5)})
    rv, out = c.InvokeMethod("MigrateVirtualSystemToHost", service(c), ComputerSystem=vm.path,
                             DestinationHost="HV-02", MigrationSettingData=sd.tocimxmlstr())
    assert int(rv) == 4096
    assert int(wait_job(c, out["Job"])["JobState"]) == 7
    assert vm_named(wbem_connection(demo.url("HV-02")), "web-02")


def test_get_error_of_a_failed_job(demo: HvsimServer) -> None:
    c = wbem_connection(demo.url("HV-01"))
    rv, out = migrate(c, vm_named(c, "web-01"), "NOSUCHHOST")
    assert rv == 4096
    assert int(wait_job(c, out["Job"])["JobState"]) == 10
    assert error_ids(c, out["Job"])  # GetErrorEx works
    rv, result = c.InvokeMethod("GetError", out["Job"])
    assert int(rv) == 0 and result.get("Error") is not None


def test_storage_path_conflict_and_overwrite(hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=SCENARIOS / "refusals.toml", time_scale=TIME_SCALE)
    c = wbem_connection(server.url("SRC"))
    vm = vm_named(c, "vm-a")
    (disk,) = c.ExecQuery("WQL", "SELECT * FROM Msvm_StorageAllocationSettingData WHERE "
                                 f"InstanceID LIKE 'Microsoft:{VM_A_GUID}%'")

    def move(**props: object) -> pywbem.CIMInstance:
        rv, out = c.InvokeMethod(
            "MigrateVirtualSystemToHost", service(c), ComputerSystem=vm.path,
            DestinationHost="FILECLASH", MigrationSettingData=template(
                c, 32771, **props).tocimxmlstr(),
            NewResourceSettingData=[disk.tocimxmlstr()])
        assert int(rv) == 4096
        return wait_job(c, out["Job"])

    refused = move()
    assert int(refused["JobState"]) == 10 and "already exists" in refused["ErrorDescription"]
    assert vm_named(c, "vm-a")  # still on the source
    assert int(move(AllowOverwriteExistingFile=True)["JobState"]) == 7
    assert vms_named(wbem_connection(server.url("FILECLASH")), "vm-a")
