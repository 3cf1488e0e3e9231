"""pywbemcli and sblim wbemcli, unmodified, against a live demo cluster."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import HvsimServer

pytestmark = pytest.mark.e2e
WEB01 = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"
SERVICE = ('Msvm_VirtualSystemMigrationService.CreationClassName='
           '"Msvm_VirtualSystemMigrationService",Name="migrationwmi",'
           'SystemCreationClassName="Msvm_ComputerSystem",SystemName="HV-01"')


def run(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{args}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout


def pywbemcli(server: HvsimServer, *args: str, output: str = "mof",
              namespace: str = "root/virtualization/v2") -> str:
    cli = shutil.which("pywbemcli") or str(Path(sys.executable).with_name("pywbemcli"))
    return run([cli, "-s", server.url("HV-01"), "-u", "testuser", "-p", "Passw0rd",
                "-d", namespace, "--no-verify", "-o", output, *args])


def test_pywbemcli_namespaces_and_profiles(demo_server: HvsimServer) -> None:
    listing = pywbemcli(demo_server, "namespace", "list", output="plain")
    for namespace in ("root/interop", "root/virtualization/v2", "root/HyperVCluster/v2"):
        assert namespace in listing
    assert "root/interop" in pywbemcli(demo_server, "namespace", "interop", output="text")
    assert "Virtual System Migration" in pywbemcli(demo_server, "profile", "list",
                                                   output="plain")


def test_pywbemcli_instances_and_associations(demo_server: HvsimServer) -> None:
    listing = pywbemcli(demo_server, "instance", "enumerate", "Msvm_ComputerSystem")
    for name in ("HV-01", "web-01", "web-02", "db-01"):
        assert f'ElementName = "{name}"' in listing
    legacy = pywbemcli(demo_server, "-U", "no", "instance", "enumerate", "Msvm_ComputerSystem")
    assert 'ElementName = "web-01"' in legacy
    vm = pywbemcli(demo_server, "instance", "get",
                   f'Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",Name="{WEB01}"')
    assert "EnabledState = 2;" in vm
    settings = pywbemcli(demo_server, "instance", "associators", SERVICE,
                         "--rc", "Msvm_VirtualSystemMigrationServiceSettingData")
    assert "EnableVirtualSystemMigration = true;" in settings
    klass = pywbemcli(demo_server, "class", "get", "Msvm_VirtualSystemMigrationService")
    assert "MigrateVirtualSystemToHost(" in klass


def test_pywbemcli_query(demo_server: HvsimServer) -> None:
    cli = shutil.which("pywbemcli") or str(Path(sys.executable).with_name("pywbemcli"))
    done = subprocess.run(
        [cli, "-s", demo_server.url("HV-01"), "-u", "testuser", "-p", "Passw0rd",
         "-d", "root/virtualization/v2", "-o", "mof", "-U", "no", "instance", "query", "--ql",
         "WQL", "SELECT * FROM Msvm_ComputerSystem WHERE ElementName = 'db-01'"],
        capture_output=True, text=True, timeout=120, check=False)
    if "'IterQueryInstancesReturn' object is not iterable" in done.stderr:
        # pywbemtools 1.4.1 with pywbem 1.9.1 fails on the client side after the server's
        # answer arrived, with or without pull operations (shared/wire/README.md).
        pytest.xfail("pywbemcli instance query is broken in pywbemtools 1.4.1 + pywbem 1.9.1")
    assert done.returncode == 0, done.stderr
    assert 'ElementName = "db-01"' in done.stdout and "web-01" not in done.stdout


@pytest.fixture(scope="module")
def wbemcli() -> str:
    path = shutil.which("wbemcli")
    if path is None:
        pytest.skip("sblim wbemcli is not installed (Debian package sblim-wbemcli)")
    return path


def wbem_url(server: HvsimServer, tail: str, namespace: str = "root/virtualization/v2") -> str:
    base = server.url("HV-01").removeprefix("http://")
    return f"http://testuser:Passw0rd@{base}/{namespace}:{tail}"


# sblim wbemcli 1.6.3 has no query operation (its usage lists none), so WQL is not driven
# through it; pywbem and pywbemcli cover ExecQuery.
def test_wbemcli_enumerates_and_gets(demo_server: HvsimServer, wbemcli: str) -> None:
    names = run([wbemcli, "ein", wbem_url(demo_server, "Msvm_ComputerSystem")])
    assert WEB01 in names and "HV-01" in names
    instances = run([wbemcli, "ei", wbem_url(demo_server, "Msvm_ComputerSystem")])
    assert "ElementName=\"db-01\"" in instances
    vm = run([wbemcli, "gi", wbem_url(
        demo_server, f'Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem",'
                     f'Name="{WEB01}"')])
    assert "EnabledState=2" in vm
    klass = run([wbemcli, "gc", wbem_url(demo_server, "Msvm_VirtualSystemMigrationService")])
    assert "MigrationServiceListenerIPAddressList" in klass



def test_wbemcli_associations_and_namespaces(demo_server: HvsimServer, wbemcli: str) -> None:
    settings = run([wbemcli, "ai", "-ac", "Msvm_ElementSettingData",
                    wbem_url(demo_server, SERVICE)])
    assert "EnableVirtualSystemMigration=TRUE" in settings
    namespaces = run([wbemcli, "ei", wbem_url(demo_server, "CIM_Namespace", "root/interop")])
    assert "root/HyperVCluster/v2" in namespaces
