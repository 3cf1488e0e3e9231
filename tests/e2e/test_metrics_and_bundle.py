"""/_hvsim/metrics and /_hvsim/bundle against a live strict-mode server after pywbem (Basic)
and pypsrp (NTLM, sealed) clients used it: the metrics parse with prometheus_client's parser and
count what happened; the bundle holds the log, the report, the cluster and the flags, and no
password or NTLM token."""

from __future__ import annotations

import io
import json
import re
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import pywbem
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pypsrp.wsman import SelectorSet, WSMan

from emulator.control.client import basic_header
from tests.support.server import DEMO_SCENARIO, WMI_V2, HvsimServer, wbem_connection, wsman_client

pytestmark = pytest.mark.e2e
PASSWORD = "Bundl3-Secret-pw"
NTLM_USER = "ops-ntlm"
CIM_USER = "ops-cim"
MISSING_VM = "00000000-0000-0000-0000-00000000DEAD"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    folder = tmp_path_factory.mktemp("metrics-bundle")
    users = folder / "users.txt"
    users.write_text(f"{CIM_USER}:{PASSWORD}\n{NTLM_USER}:{PASSWORD}\n")
    with HvsimServer({"scenario": DEMO_SCENARIO, "users": users, "time_scale": 50},
                     workdir=folder) as started:
        use_the_cluster(started)
        yield started


def use_the_cluster(server: HvsimServer) -> None:
    conn = wbem_connection(server.url("HV-01"), user=CIM_USER, password=PASSWORD)
    (service,) = conn.EnumerateInstanceNames("Msvm_VirtualSystemMigrationService")
    (vm,) = conn.ExecQuery("WQL", "SELECT * FROM Msvm_ComputerSystem "
                                  "WHERE ElementName = 'web-01'")
    (settings,) = conn.ExecQuery("WQL", "SELECT * FROM Msvm_VirtualSystemMigrationSettingData "
                                        "WHERE MigrationType = 32768")
    settings["DestinationIPAddressList"] = ["10.0.0.12"]
    rc, out = conn.InvokeMethod("MigrateVirtualSystemToHost", service, ComputerSystem=vm.path,
                                DestinationHost="HV-02",
                                MigrationSettingData=settings.tocimxmlstr())
    assert rc == 4096
    deadline = time.monotonic() + 30
    while (job := conn.GetInstance(out["Job"]))["JobState"] in (2, 3, 4):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert job["JobState"] == 7
    missing = pywbem.CIMInstanceName("Msvm_ComputerSystem",
                                     namespace="root/virtualization/v2",
                                     keybindings={"CreationClassName": "Msvm_ComputerSystem",
                                                  "Name": MISSING_VM})
    with pytest.raises(pywbem.CIMError):
        conn.GetInstance(missing)
    wsman: WSMan = wsman_client(server.url("HV-02"), auth="ntlm", user=NTLM_USER,
                                password=PASSWORD)
    host = SelectorSet()
    host.add_option("CreationClassName", "Msvm_ComputerSystem")
    host.add_option("Name", "HV-02")
    with wsman:
        wsman.get(WMI_V2 + "Msvm_ComputerSystem", selector_set=host)


def control(server: HvsimServer, path: str, user: str | None = CIM_USER) -> bytes:
    request = urllib.request.Request(server.url("HV-01") + "/_hvsim" + path,
                                     headers=basic_header(user, PASSWORD) if user else {})
    with urllib.request.urlopen(request, timeout=60) as reply:
        body: bytes = reply.read()
        return body


def samples(server: HvsimServer) -> dict[str, list[Sample]]:
    deadline = time.monotonic() + 10
    while True:  # records (and so the counters) trail the answers by a moment
        text = control(server, "/metrics").decode()
        found = {family.name: list(family.samples)
                 for family in text_string_to_metric_families(text)}
        counted = {s.labels["protocol"] for s in found.get("hvsim_requests", [])}
        if counted == {"cim-xml", "ws-man"} or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def value(found: dict[str, list[Sample]], sample_name: str, **labels: str) -> float:
    return sum(s.value for family in found.values() for s in family
               if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items()))


def test_metrics_count_requests_jobs_and_caches(server: HvsimServer) -> None:
    found = samples(server)
    assert value(found, "hvsim_requests_total", protocol="cim-xml",
                 operation="MigrateVirtualSystemToHost", outcome="ok") == 1
    assert value(found, "hvsim_requests_total", protocol="cim-xml", operation="GetInstance",
                 outcome="CIM_ERR_NOT_FOUND") == 1
    assert value(found, "hvsim_requests_total", protocol="ws-man", operation="Get",
                 outcome="ok") == 1
    polls = value(found, "hvsim_requests_total", protocol="cim-xml", operation="GetInstance")
    assert value(found, "hvsim_request_duration_seconds_count", protocol="cim-xml",
                 operation="GetInstance") == polls
    assert value(found, "hvsim_request_duration_seconds_bucket", protocol="cim-xml",
                 operation="GetInstance", le="+Inf") == polls
    assert value(found, "hvsim_world_up") == 1
    assert value(found, "hvsim_migrations_finished_total", outcome="completed") == 1
    assert value(found, "hvsim_jobs", kind="migration", state="Completed") == 1
    assert value(found, "hvsim_vms", host="HV-02", state="Running") == 1
    caches = {s.labels["cache"] for s in found["hvsim_cache_hits"]}
    assert {"cimxml.replies", "wsman.listings"} <= caches
    lookups = value(found, "hvsim_cache_hits_total") + value(found, "hvsim_cache_misses_total")
    assert lookups > 0
    # Counted once: a second scrape sees the same finished migration.
    assert value(samples(server), "hvsim_migrations_finished_total", outcome="completed") == 1


def test_control_routes_need_a_login_in_strict_mode(server: HvsimServer) -> None:
    for path in ("/metrics", "/bundle", "/cluster", "/"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            control(server, path, user=None)
        assert refused.value.code == 401


def test_bundle_holds_log_report_cluster_and_flags_but_no_secret(server: HvsimServer,
                                                                 tmp_path: Path) -> None:
    archive = control(server, "/bundle")
    (tmp_path / "bundle.zip").write_bytes(archive)
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        files = {Path(name).name: bundle.read(name) for name in bundle.namelist()}
    assert set(files) == {"README.txt", "server.json", "requests.jsonl", "conformance.json",
                          "conformance.txt", "cluster.json", "world.toml"}
    # The world as a scenario file: the migrated VM is on its destination there too.
    world = tomllib.loads(files["world.toml"].decode())
    assert {vm["name"]: vm["host"] for vm in world["vms"]}["web-01"] == "HV-02"
    log = files["requests.jsonl"].decode()
    assert CIM_USER in log and NTLM_USER in log and "MigrateVirtualSystemToHost" in log
    report = json.loads(files["conformance.json"])
    assert report["requests"] == len(log.splitlines())
    cluster = json.loads(files["cluster.json"])
    assert "web-01" in [vm["name"] for host in cluster["hosts"] if host["name"] == "HV-02"
                        for vm in host["vms"]]
    flags = json.loads(files["server.json"])
    assert flags["time_scale"] == 50 and flags["hosts"] == ["HV-01", "HV-02"]
    assert flags["strict_users_file"].endswith("users.txt") and flags["hvsim"]
    everything = b"\n".join(files.values()).decode()
    assert PASSWORD not in everything and "Hvsim-NTLM-1" not in everything
    # No Authorization value: Basic credentials, or an NTLM message (base64 of "NTLMSSP").
    assert not re.search(r"(?i)(basic|negotiate|ntlm) [a-z0-9+/=]{8}", everything)
    assert "TlRMTVNT" not in everything and '"authorization"' not in everything.lower()
