"""A VM's lifecycle end to end (issue 17 item 1), on SQLite and on PostgreSQL: pywbem and
pypsrp's WSMan start, pause, resume, save, restore, reboot, reset, shut down (through
Msvm_ShutdownComponent) and turn off VMs, watching EnabledState move through its transitional
values and the Msvm_ConcreteJob each change returns; refusals answer 32775 or a fault."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import pywbem
from pypsrp.exceptions import WSManFaultError
from pypsrp.wsman import SelectorSet, WSMan

from tests.support.postgres import fresh_database
from tests.support.server import (
    DEMO_SCENARIO,
    WMI_V2,
    HvsimServer,
    sqlite_url,
    wbem_connection,
    wsman_client,
)

pytestmark = pytest.mark.e2e
# Simulated seconds run twice as fast: a start takes 1 s, a guest shutdown 1.5 s, a reboot 2 s.
TIME_SCALE = 2
WEB01 = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"
WEB02 = "8E1B7C0D-2F3A-4B5C-8D6E-7F8091A2B3C4"
DB01 = "1F2E3D4C-5B6A-4978-8877-66554433AA11"
CS = "Msvm_ComputerSystem"
CS_URI = WMI_V2 + CS
SHUTDOWN = "Msvm_ShutdownComponent"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
INVALID_STATE = 32775
JOB_STARTED = 4096
RESOURCE_NOT_FOUND = 2150858752  # WinRM 0x80338000, as for any path that names nothing


@pytest.fixture(scope="module", params=["sqlite", "postgres"], ids=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    workdir = tmp_path_factory.mktemp("lifecycle")
    database = sqlite_url(workdir / "hvsim.db") if request.param == "sqlite" \
        else fresh_database(request.getfixturevalue("postgres_url"))
    with HvsimServer({"scenario": DEMO_SCENARIO, "database": database,
                      "time_scale": TIME_SCALE}, workdir=workdir) as started:
        yield started


def vm_path(guid: str) -> pywbem.CIMInstanceName:
    return pywbem.CIMInstanceName(CS, {"CreationClassName": CS, "Name": guid},
                                  namespace="root/virtualization/v2")


def watch(read: object, final: int, timeout: float = 30.0) -> list[int]:
    """EnabledState values seen (no repeats) until `final`, read as fast as the server answers."""
    assert callable(read)
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while not seen or seen[-1] != final:
        assert time.monotonic() < deadline, f"stuck in {seen}"
        state = int(read())
        if not seen or seen[-1] != state:
            seen.append(state)
        time.sleep(0.02)
    return seen


def test_a_vms_life_through_pywbem(server: HvsimServer) -> None:
    conn = wbem_connection(server.url("HV-01"))
    path = vm_path(WEB01)

    def state() -> int:
        return int(conn.GetInstance(path, PropertyList=["EnabledState"])["EnabledState"])

    # (requested, transitional state, final state, job type, transition long enough to see)
    steps = [(9, 32776, 9, 26, False), (2, 32777, 2, 27, False), (6, 32773, 6, 14, True),
             (2, 10, 2, 15, True), (10, 10, 2, 29, True), (11, 10, 2, 28, False)]
    for requested, during, final, job_type, long in steps:
        rv, out = conn.InvokeMethod("RequestStateChange", path, RequestedState=pywbem.Uint16(
            requested))
        assert int(rv) == JOB_STARTED, requested
        seen = watch(state, final)
        assert seen in ([during, final], [final]) and (not long or seen[0] == during), seen
        job = conn.GetInstance(out["Job"])
        assert (job.classname, job["JobType"], job["JobState"]) == ("Msvm_ConcreteJob",
                                                                    job_type, 7)
        (affected,) = conn.AssociatorNames(out["Job"], AssocClass="Msvm_AffectedJobElement")
        assert affected["Name"] == WEB01
    vm = conn.GetInstance(path)
    assert (vm["RequestedState"], vm["AvailableRequestedStates"]) == (12, [3, 4, 6, 9, 10, 11])
    assert 0 <= int(vm["OnTimeInMilliseconds"]) < 60_000  # the reset restarted it

    # A guest shutdown through the VM's shutdown component.
    (component,) = conn.AssociatorNames(path, AssocClass="Msvm_SystemDevice",
                                        ResultClass=SHUTDOWN)
    rv, out = conn.InvokeMethod("InitiateShutdown", component, Force=False,
                                Reason="end-to-end test")
    assert (int(rv), dict(out)) == (0, {})
    assert watch(state, 3) == [4, 3]
    assert conn.AssociatorNames(path, AssocClass="Msvm_SystemDevice", ResultClass=SHUTDOWN) == []
    with pytest.raises(pywbem.CIMError) as gone:
        conn.InvokeMethod("InitiateShutdown", component, Force=True, Reason="again")
    assert gone.value.status_code == pywbem.CIM_ERR_NOT_FOUND

    # Off: start, then turn off; a second turn off is refused.
    rv, _ = conn.InvokeMethod("RequestStateChange", path, RequestedState=pywbem.Uint16(2))
    assert int(rv) == JOB_STARTED and watch(state, 2)[0] == 10
    rv, _ = conn.InvokeMethod("RequestStateChange", path, RequestedState=pywbem.Uint16(3))
    assert int(rv) == JOB_STARTED and watch(state, 3) in ([4, 3], [3])
    rv, out = conn.InvokeMethod("RequestStateChange", path, RequestedState=pywbem.Uint16(3))
    assert (int(rv), out.get("Job")) == (INVALID_STATE, None)
    assert int(conn.GetInstance(path)["OnTimeInMilliseconds"]) == 0


def test_refusals_through_pywbem(server: HvsimServer) -> None:
    conn = wbem_connection(server.url("HV-01"))
    with pytest.raises(pywbem.CIMError) as unknown:
        conn.InvokeMethod("RequestStateChange", vm_path("00000000-0000-4000-8000-000000000000"),
                          RequestedState=pywbem.Uint16(2))
    assert unknown.value.status_code == pywbem.CIM_ERR_NOT_FOUND
    rv, _ = conn.InvokeMethod("RequestStateChange", vm_path(DB01),
                              RequestedState=pywbem.Uint16(9))  # an off VM cannot pause
    assert int(rv) == INVALID_STATE
    # While web-02 migrates, its state cannot change.
    (service,) = conn.EnumerateInstanceNames("Msvm_VirtualSystemMigrationService")
    (template,) = conn.ExecQuery("WQL", "SELECT * FROM Msvm_VirtualSystemMigrationSettingData "
                                        "WHERE MigrationType = 32768")
    rv, out = conn.InvokeMethod("MigrateVirtualSystemToHost", service,
                                ComputerSystem=vm_path(WEB02), DestinationHost="HV-02",
                                MigrationSettingData=template.tocimxmlstr())
    assert int(rv) == JOB_STARTED
    rv, _ = conn.InvokeMethod("RequestStateChange", vm_path(WEB02),
                              RequestedState=pywbem.Uint16(3))
    assert int(rv) == INVALID_STATE
    rv, _ = conn.InvokeMethod("RequestStateChange", out["Job"], RequestedState=pywbem.Uint16(4))
    assert int(rv) == 0  # cancelled: web-02 stays on HV-01, running
    assert int(conn.GetInstance(vm_path(WEB02))["EnabledState"]) == 2


# -- WS-Management -------------------------------------------------------------------------------


def selectors(**values: str) -> SelectorSet:
    found = SelectorSet()
    for key, value in values.items():
        found.add_option(key, value)
    return found


def request_state(client: WSMan, guid: str, requested: int) -> ET.Element:
    body = ET.fromstring(f'<p:RequestStateChange_INPUT xmlns:p="{CS_URI}">'
                         f"<p:RequestedState>{requested}</p:RequestedState>"
                         "</p:RequestStateChange_INPUT>")
    reply = client.invoke(f"{CS_URI}/RequestStateChange", CS_URI, body,
                          selector_set=selectors(CreationClassName=CS, Name=guid))
    output = reply.find(f".//{{{CS_URI}}}RequestStateChange_OUTPUT")
    assert output is not None, ET.tostring(reply)
    return output


def test_a_vms_life_through_wsman(server: HvsimServer) -> None:
    client = wsman_client(server.url("HV-01"))

    def state() -> int:
        body = client.get(CS_URI, selector_set=selectors(CreationClassName=CS, Name=DB01))
        return int(body.findtext(f".//{{{CS_URI}}}EnabledState") or "0")

    output = request_state(client, DB01, 2)
    assert output.findtext(f"{{{CS_URI}}}ReturnValue") == str(JOB_STARTED)
    job_id = output.findtext(f".//{{{WSMAN}}}Selector[@Name='InstanceID']")
    assert job_id
    assert watch(state, 2)[0] == 10
    job_uri = WMI_V2 + "Msvm_ConcreteJob"
    job = client.get(job_uri, selector_set=selectors(InstanceID=job_id))
    assert (job.findtext(f".//{{{job_uri}}}JobType"),
            job.findtext(f".//{{{job_uri}}}JobState")) == ("12", "7")
    for requested, final in ((9, 9), (2, 2), (6, 6), (2, 2)):
        output = request_state(client, DB01, requested)
        assert output.findtext(f"{{{CS_URI}}}ReturnValue") == str(JOB_STARTED)
        watch(state, final)
    output = request_state(client, DB01, 2)
    assert output.findtext(f"{{{CS_URI}}}ReturnValue") == str(INVALID_STATE)

    shutdown_uri = WMI_V2 + SHUTDOWN
    body = ET.fromstring(f'<p:InitiateShutdown_INPUT xmlns:p="{shutdown_uri}">'
                         "<p:Force>true</p:Force><p:Reason>wsman test</p:Reason>"
                         "</p:InitiateShutdown_INPUT>")
    reply = client.invoke(
        f"{shutdown_uri}/InitiateShutdown", shutdown_uri, body, selector_set=selectors(
            SystemCreationClassName=CS, SystemName=DB01, CreationClassName=SHUTDOWN,
            DeviceID=f"Microsoft:{DB01}\\9F8233AC-BE49-4C79-8EE3-E7E1985B2077"))
    assert reply.findtext(f".//{{{shutdown_uri}}}ReturnValue") == "0"
    assert watch(state, 3) in ([4, 3], [3])

    with pytest.raises(WSManFaultError) as unknown:
        request_state(client, "00000000-0000-4000-8000-000000000000", 2)
    assert unknown.value.code == RESOURCE_NOT_FOUND
