"""The world clock through the control API and real clients: a frozen clock holds a job where
it is until advanced, then it moves as the model says; immediate and polls progression; two
processes on one PostgreSQL agree on the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import pywbem
import requests
from pywbem import CIMInstanceName, Uint16

from emulator import cli
from providers.migration import timing
from tests.support.postgres import fresh_database
from tests.support.server import DEMO_SCENARIO, HvsimServer, wbem_connection

pytestmark = pytest.mark.e2e

# The demo's hosts migrate at 1250 MB/s with compression (x2); see providers.migration.moves.
DEMO_LINK = timing.link_rate(1250, compression=True, smb=False)


def live_migration_plan(memory_mb: int, dirty_rate_mbps: int) -> list[list[float | str]]:
    """The plan the model gives a running VM's live migration between the demo's hosts."""
    memory = timing.memory_transfer(memory_mb, dirty_rate_mbps, DEMO_LINK, enabled_state=2)
    return timing.percent_plan([timing.Phase(timing.SETUP_SECONDS, "setup"), *memory.phases,
                                timing.Phase(timing.RESUME_SECONDS, "resume")])


WEB_01_PLAN = live_migration_plan(4096, 40)
WEB_02_PLAN = live_migration_plan(2048, 25)


def clock(server: HvsimServer, method: str = "GET", path: str = "/clock",
          body: dict[str, Any] | None = None, host: str = "HV-01") -> requests.Response:
    return requests.request(method, f"{server.url(host)}/_hvsim{path}", json=body, timeout=30)


def migrate(conn: pywbem.WBEMConnection, name: str, destination: str) -> CIMInstanceName:
    (service,) = conn.EnumerateInstanceNames("Msvm_VirtualSystemMigrationService")
    (vm,) = conn.ExecQuery("WQL", "SELECT * FROM Msvm_ComputerSystem "
                                  f"WHERE ElementName = '{name}'")
    (settings,) = conn.ExecQuery("WQL", "SELECT * FROM Msvm_VirtualSystemMigrationSettingData "
                                        "WHERE MigrationType = 32768")
    rv, out = conn.InvokeMethod("MigrateVirtualSystemToHost", service, ComputerSystem=vm.path,
                                DestinationHost=destination,
                                MigrationSettingData=settings.tocimxmlstr())
    assert rv == 4096, rv
    job: CIMInstanceName = out["Job"]
    job.host = job.namespace = None
    return job


def progress(conn: pywbem.WBEMConnection, job: CIMInstanceName) -> tuple[int, int]:
    instance = conn.GetInstance(job)
    return int(instance["JobState"]), int(instance["PercentComplete"])


def expected(plan: list[list[float | str]], elapsed: float) -> tuple[int, int]:
    """(JobState, PercentComplete) the model gives `elapsed` simulated seconds in."""
    if elapsed >= timing.plan_seconds(plan):
        return 7, 100
    return (3 if elapsed < float(plan[0][0]) else 4), timing.progress_at(plan, elapsed)[0]


def test_a_frozen_clock_holds_a_job_until_advanced(
        hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO)
    conn = wbem_connection(server.url("HV-01"))
    frozen = clock(server, "PUT", body={"mode": "frozen"})
    assert frozen.status_code == 200 and frozen.json()["mode"] == "frozen"
    job = migrate(conn, "web-01", "HV-02")
    assert progress(conn, job) == (3, 0)
    time.sleep(1.0)  # real time passes; simulated time does not
    assert progress(conn, job) == (3, 0)
    assert clock(server).json()["now"] == frozen.json()["now"]
    elapsed = 0.0
    for step in (1.5, 2.0, 0.5):  # into setup, then into the memory passes
        moved = clock(server, "POST", "/clock/advance", {"seconds": step})
        assert moved.status_code == 200 and moved.json()["advanced_seconds"] == step
        elapsed += step
        assert progress(conn, job) == expected(WEB_01_PLAN, elapsed)
        assert progress(conn, job) == expected(WEB_01_PLAN, elapsed)  # and stays there
    assert progress(conn, job)[0] == 4
    idle = clock(server, "POST", "/clock/advance", {"to": "idle"}).json()
    assert idle["advanced_seconds"] == pytest.approx(timing.plan_seconds(WEB_01_PLAN) - elapsed)
    done = conn.GetInstance(job)
    assert (done["JobState"], done["PercentComplete"], done["ErrorCode"]) == (7, 100, 0)
    assert done["ElapsedTime"].timedelta.total_seconds() == pytest.approx(
        timing.plan_seconds(WEB_01_PLAN), abs=1e-5)
    on_hv02 = wbem_connection(server.url("HV-02")).ExecQuery(
        "WQL", "SELECT * FROM Msvm_ComputerSystem WHERE ElementName = 'web-01'")
    assert len(on_hv02) == 1
    # The finished job is removed TimeBeforeRemoval (5 minutes) later: the next change.
    nxt = clock(server, "POST", "/clock/advance", {"to": "next-change"}).json()
    assert nxt["advanced_seconds"] == pytest.approx(300)
    with pytest.raises(pywbem.CIMError) as gone:
        conn.GetInstance(job)
    assert gone.value.status_code == pywbem.CIM_ERR_NOT_FOUND


def test_clock_refusals_are_json_and_change_nothing(
        hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO)
    before = clock(server).json()
    assert before["mode"] == "scaled" and before["scale"] == 1
    running = clock(server, "POST", "/clock/advance", {"seconds": 10})
    assert running.status_code == 409
    assert "not frozen" in running.json()["detail"]
    bad_changes: list[dict[str, Any]] = [
        {"mode": "stopped"}, {"scale": "fast"}, {"scale": 0}, {"when": "now"},
        {"progression": {"Msvm_Nothing": "polls"}}, {"progression": "sometimes"}]
    for body in bad_changes:
        refused = clock(server, "PUT", body=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["detail"]
    clock(server, "PUT", body={"mode": "frozen"})
    bad_advances: list[dict[str, Any]] = [
        {}, {"seconds": -1}, {"seconds": 1, "to": "idle"}, {"to": "tomorrow"}, {"seconds": "ten"}]
    for body in bad_advances:
        refused = clock(server, "POST", "/clock/advance", body)
        assert refused.status_code == 422, (body, refused.text)
    after = clock(server).json()
    assert (after["mode"], after["scale"], after["progression"]) == ("frozen", 1, {})
    assert "/clock/advance" in clock(server, path="/openapi.json").text


def test_immediate_and_polls_progression(hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO)
    conn = wbem_connection(server.url("HV-01"))
    rules = clock(server, "PUT", body={"progression": {"Msvm_MigrationJob": "polls",
                                                       "Msvm_ConcreteJob": "immediate"}})
    assert rules.json()["progression"] == {"Msvm_MigrationJob": "polls",
                                           "Msvm_ConcreteJob": "immediate"}
    # polls: each read shows the job where it is, then moves it one phase; time does nothing.
    job = migrate(conn, "web-02", "HV-02")
    time.sleep(0.5)
    seen = [progress(conn, job) for _ in range(len(WEB_02_PLAN) + 2)]
    starts = [expected(WEB_02_PLAN, timing.plan_seconds(WEB_02_PLAN[:i]))
              for i in range(len(WEB_02_PLAN))]
    assert seen == [*starts, (7, 100), (7, 100)]
    # immediate: a VM's state change is over by the first read.
    (vm,) = conn.ExecQuery("WQL", "SELECT * FROM Msvm_ComputerSystem "
                                  "WHERE ElementName = 'web-02'", "root/HyperVCluster/v2")
    vm_conn = wbem_connection(server.url("HV-02"))
    vm.path.host = vm.path.namespace = None
    rv, out = vm_conn.InvokeMethod("RequestStateChange", vm.path, RequestedState=Uint16(3))
    assert rv == 4096
    state_job = out["Job"]
    state_job.host = state_job.namespace = None
    assert progress(vm_conn, state_job) == (7, 100)
    assert vm_conn.GetInstance(vm.path)["EnabledState"] == 3


def test_two_processes_on_postgresql_agree_on_the_clock(
        hvsim_server: Callable[..., HvsimServer], postgres_url: str) -> None:
    database = fresh_database(postgres_url)
    first = hvsim_server(scenario=DEMO_SCENARIO, database=database)
    second = hvsim_server(scenario=DEMO_SCENARIO, database=database)
    frozen = clock(first, "PUT", body={"mode": "frozen"}).json()
    assert clock(second).json() == frozen
    job = migrate(wbem_connection(first.url("HV-01")), "web-01", "HV-02")
    moved = clock(second, "POST", "/clock/advance", {"seconds": 3.5}, host="HV-02").json()
    assert clock(first).json()["now"] == moved["now"]
    for server in (first, second):
        assert progress(wbem_connection(server.url("HV-01")), job) == expected(WEB_01_PLAN, 3.5)
    assert clock(first, "POST", "/clock/advance", {"to": "idle"}).status_code == 200
    assert progress(wbem_connection(second.url("HV-01")), job) == (7, 100)


def test_the_clock_command(hvsim_server: Callable[..., HvsimServer],
                           capsys: pytest.CaptureFixture[str]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO)

    def hvsim_clock(*args: str) -> tuple[int, str, str]:
        code = cli.main(["clock", *args, "--url", server.url("HV-02")])
        out, err = capsys.readouterr()
        return code, out, err

    assert hvsim_clock("freeze")[1].startswith("frozen at ")
    code, out, _ = hvsim_clock("advance", "90")
    assert code == 0 and "(advanced 90 s)" in out
    assert hvsim_clock("run", "--scale", "20")[1].startswith("scaled x20, now ")
    code, _, err = hvsim_clock("advance", "5")
    assert code == 2 and "HTTP 409" in err and "not frozen" in err
    assert hvsim_clock("advance", "soon")[0] == 2
