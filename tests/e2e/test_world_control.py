"""The control API's whole-world routes end to end (issue 10): state export served again by a
new server, reset, snapshots, two processes on one PostgreSQL, and bad input refused."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pywbem
import requests

from tests.e2e.test_shared_world import _migrate, _progress
from tests.e2e.test_vm_definition import define_vm
from tests.support.postgres import fresh_database
from tests.support.server import DEMO_SCENARIO, PROJECT_ROOT, HvsimServer, wbem_connection

pytestmark = pytest.mark.e2e

# A live migration of web-01 (about 6 simulated s) ends in a tenth of a second.
TIME_SCALE = 60
JOB_CLASSES = {"msvm_migrationjob", "msvm_concretejob", "msvm_storagejob"}
# Values that follow the clock, or the worker process, rather than the world: a VM's ProcessID
# comes from its row, which a world seeded again gets anew (as a restarted worker on a host).
RUN_PROPERTIES = {"ontimeinmilliseconds", "processid"}
NAMESPACES = ("root/virtualization/v2", "root/HyperVCluster/v2")

View = dict[str, list[tuple[str, str, tuple[Any, ...]]]]


def control(server: HvsimServer, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{server.url('HV-01')}/_hvsim{path}", timeout=60,
                            **kwargs)


def world_view(server: HvsimServer) -> View:
    """Every instance each host shows in each namespace, jobs and RUN_PROPERTIES left out,
    as comparable (path, values) rows."""
    view: View = {}
    for host in ("HV-01", "HV-02"):
        for namespace in NAMESPACES:
            conn = wbem_connection(server.url(host), namespace)
            rows = []
            for instance in conn.EnumerateInstances("CIM_ManagedElement"):
                if instance.classname.lower() in JOB_CLASSES:
                    continue
                path = instance.path.copy()
                path.host = None
                values = tuple(sorted(
                    (name.lower(), repr(value)) for name, value in instance.items()
                    if name.lower() not in RUN_PROPERTIES))
                rows.append((instance.classname, path.to_wbem_uri(), values))
            view[f"{host} {namespace}"] = sorted(rows)
    return view


def differences(left: View, right: View) -> list[str]:
    """What differs between two world views, one line per instance (empty: the same)."""
    found = []
    for key in sorted(set(left) | set(right)):
        a = {row[1]: dict(row[2]) for row in left.get(key, [])}
        b = {row[1]: dict(row[2]) for row in right.get(key, [])}
        found += [f"{key}: only in one: {path}" for path in sorted(set(a) ^ set(b))]
        for path in sorted(set(a) & set(b)):
            changed = {name: (a[path].get(name), b[path].get(name))
                       for name in set(a[path]) | set(b[path])
                       if a[path].get(name) != b[path].get(name)}
            if changed:
                found.append(f"{key}: {path}: {changed}")
    return found


def vm_hosts(server: HvsimServer) -> dict[str, str]:
    conn = wbem_connection(server.url("HV-01"), "root/HyperVCluster/v2")
    found = {}
    for vm in conn.EnumerateInstances("Msvm_ComputerSystem"):
        if vm["Caption"] == "Virtual Machine":
            (host,) = conn.AssociatorNames(vm.path, ResultClass="Msvm_ComputerSystem")
            found[str(vm["ElementName"])] = str(host.keybindings["Name"])
    return found


def migrate_to_the_end(conn: pywbem.WBEMConnection, name: str, destination: str) -> None:
    job = _migrate(conn, name, destination)
    deadline = time.monotonic() + 30
    while (state := _progress(conn, job)[0]) in (3, 4):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert state == 7


def test_an_exported_world_served_again_shows_the_same_instances(
        hvsim_server: Callable[..., HvsimServer], tmp_path: Path) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO, time_scale=TIME_SCALE)
    conn = wbem_connection(server.url("HV-01"))
    migrate_to_the_end(conn, "web-01", "HV-02")
    define_vm(conn, "added-01")
    reply = control(server, "GET", "/state")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith(
        "application/toml")
    document = tmp_path / "state.toml"
    document.write_text(reply.text, encoding="utf-8")
    again = hvsim_server(scenario=document, time_scale=TIME_SCALE)
    before = world_view(server)
    assert vm_hosts(server)["web-01"] == "HV-02" and "added-01" in vm_hosts(server)
    assert differences(world_view(again), before) == []
    # The export of the new server is the document it was started from.
    assert control(again, "GET", "/state").text == reply.text


def test_reset_after_a_migration_and_a_definition_restores_the_demo(
        hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO, time_scale=TIME_SCALE)
    demo = world_view(server)
    hosts = vm_hosts(server)
    conn = wbem_connection(server.url("HV-01"))
    migrate_to_the_end(conn, "web-01", "HV-02")
    define_vm(conn, "added-01")
    reply = control(server, "POST", "/reset")
    assert reply.status_code == 200, reply.text
    assert reply.json()["world"]["vms"] == 6
    assert vm_hosts(server) == hosts
    after = world_view(server)
    # Identities and settings are the start's; only the moments of seeding moved on.
    moments = {"installdate", "timeoflaststatechange", "timeoflastconfigurationchange",
               "creationtime"}

    def timeless(view: View) -> View:
        return {key: [(c, p, tuple(v for v in values if v[0] not in moments))
                      for c, p, values in rows] for key, rows in view.items()}

    assert differences(timeless(after), timeless(demo)) == []


def test_a_migration_in_flight_is_discarded_by_a_reset(
        hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO, time_scale=1)
    conn = wbem_connection(server.url("HV-01"))
    job = _migrate(conn, "web-01", "HV-02")
    assert _progress(conn, job)[0] in (3, 4)
    assert control(server, "POST", "/reset").status_code == 200
    path = job.copy()
    path.host = path.namespace = None
    with pytest.raises(pywbem.CIMError) as gone:
        conn.GetInstance(path)
    assert gone.value.status_code == pywbem.CIM_ERR_NOT_FOUND
    time.sleep(7)  # past the moment the migration would have ended
    assert vm_hosts(server)["web-01"] == "HV-01"


def test_a_snapshot_restores_the_world_it_kept(
        hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO, time_scale=TIME_SCALE)
    conn = wbem_connection(server.url("HV-01"))
    migrate_to_the_end(conn, "web-01", "HV-02")
    kept = world_view(server)
    reply = control(server, "POST", "/snapshots", json={"name": "web-moved"})
    assert reply.status_code == 201, reply.text
    assert reply.json()["vms"] == 6
    control(server, "POST", "/reset").raise_for_status()
    assert vm_hosts(server)["web-01"] == "HV-01"
    listed = control(server, "GET", "/snapshots").json()["snapshots"]
    assert [s["name"] for s in listed] == ["web-moved"]
    reply = control(server, "POST", "/snapshots/web-moved/restore")
    assert reply.status_code == 200, reply.text
    diff = differences(world_view(server), kept)
    assert diff == []


def test_bad_input_is_refused_saying_what_and_where_and_changes_nothing(
        hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO)
    state = control(server, "GET", "/state").text
    version = control(server, "GET", "/health").json()["world"]["world_version"]

    reply = control(server, "POST", "/snapshots/never-taken/restore")
    assert reply.status_code == 404
    assert reply.json() == {"detail": "no snapshot named 'never-taken'", "where": "name"}

    reply = control(server, "PUT", "/state", data=state.replace("[cluster]", "[cluster"),
                    headers={"Content-Type": "application/toml"})
    assert reply.status_code == 400
    assert reply.json()["where"].startswith("TOML line ")

    reply = control(server, "PUT", "/state", data=state.replace('state = "running"',
                                                               'state = "on"', 1))
    assert reply.status_code == 400
    assert reply.json()["where"] == "vms[0].state"
    assert "'on' is not one of" in reply.json()["detail"]

    reply = control(server, "PUT", "/state", data=state.replace('"HV-02"', '"HV-09"'))
    assert reply.status_code == 400 and reply.json()["where"] == "hosts"

    for body in ({"name": "a b"}, {"name": "ok", "extra": 1}, {}):
        reply = control(server, "POST", "/snapshots", json=body)
        assert reply.status_code == 422, body
        assert reply.json()["detail"][0]["loc"][0] == "body"
    control(server, "POST", "/snapshots", json={"name": "one"}).raise_for_status()
    reply = control(server, "POST", "/snapshots", json={"name": "one"})
    assert reply.status_code == 409 and reply.json()["where"] == "name"

    assert control(server, "GET", "/state").text == state
    health = control(server, "GET", "/health").json()
    assert health["world"]["world_version"] == version
    assert health["ready"] is True and health["database"]["reachable"] is True
    assert health["endpoints"] == server.endpoints


def test_two_processes_on_one_postgresql_see_a_reset_and_the_snapshots(
        hvsim_server: Callable[..., HvsimServer], postgres_url: str) -> None:
    database = fresh_database(postgres_url)
    first = hvsim_server(scenario=DEMO_SCENARIO, database=database, time_scale=TIME_SCALE)
    second = hvsim_server(scenario=DEMO_SCENARIO, database=database, time_scale=TIME_SCALE)
    migrate_to_the_end(wbem_connection(first.url("HV-01")), "web-01", "HV-02")
    assert vm_hosts(second)["web-01"] == "HV-02"
    control(first, "POST", "/snapshots", json={"name": "moved"}).raise_for_status()
    control(second, "POST", "/reset").raise_for_status()
    assert vm_hosts(first)["web-01"] == "HV-01"
    assert [s["name"] for s in control(first, "GET", "/snapshots").json()["snapshots"]] == [
        "moved"]
    control(first, "POST", "/snapshots/moved/restore").raise_for_status()
    assert vm_hosts(second)["web-01"] == "HV-02"
    assert differences(world_view(first), world_view(second)) == []


def test_the_cli_exports_the_state_and_resets_a_running_server(
        hvsim_server: Callable[..., HvsimServer], tmp_path: Path) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO, time_scale=TIME_SCALE)
    url = server.url("HV-01")
    migrate_to_the_end(wbem_connection(url), "web-01", "HV-02")

    def hvsim(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "emulator", *args], cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=60)

    exported = hvsim("state", "export", "--url", url)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == control(server, "GET", "/state").text
    reset = hvsim("reset", "--url", url)
    assert reset.returncode == 0, reset.stderr
    assert "cluster HVDEMO, 2 hosts, 6 VMs" in reset.stdout
    assert vm_hosts(server)["web-01"] == "HV-01"
    (tmp_path / "state.toml").write_text(exported.stdout, encoding="utf-8")
    loaded = hvsim("state", "import", str(tmp_path / "state.toml"), "--url", url)
    assert loaded.returncode == 0, loaded.stderr
    assert vm_hosts(server)["web-01"] == "HV-02"
    missing = hvsim("snapshot", "restore", "nope", "--url", url)
    assert missing.returncode == 2
    assert "HTTP 404: name: no snapshot named 'nope'" in missing.stderr
