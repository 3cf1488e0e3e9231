"""open_world takes its clock and random source from the caller: a world opened with a fake
clock answers with that clock's time (and its jobs settle only when that clock says so), and
the same random seed gives a world the same identities."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pywbem import CIMInstance, CIMInstanceName, Uint16

from emulator.app import Runtime, Settings, open_world
from emulator.core.catalog import Catalog, load_catalog
from emulator.setup.scenario import demo_scenario

NS = "root/virtualization/v2"
T0 = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)
WEB_01 = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"  # running on HV-01 in the demo scenario


class FakeClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def world(tmp_path: Path, catalog: Catalog, clock: FakeClock) -> Iterator[Runtime]:
    opened = open_world(Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}",
                                 scenario=demo_scenario()), catalog, clock=clock)
    yield opened
    opened.store.dispose()


def vm_path(guid: str) -> CIMInstanceName:
    return CIMInstanceName("Msvm_ComputerSystem", namespace=NS, keybindings={
        "CreationClassName": "Msvm_ComputerSystem", "Name": guid})


def vm(world: Runtime, host: str, guid: str) -> CIMInstance:
    return world.dispatcher.get_instance(host, NS, vm_path(guid)).instance()


def test_the_world_is_seeded_and_answers_at_the_fake_clocks_time(world: Runtime,
                                                                 clock: FakeClock) -> None:
    (host,) = [r.instance() for r in world.dispatcher.enumerate_instances(
        "HV-01", NS, "Msvm_ComputerSystem") if r.instance()["Caption"] != "Virtual Machine"]
    assert host["InstallDate"].datetime == T0
    assert vm(world, "HV-01", WEB_01)["OnTimeInMilliseconds"] == 0

    clock.advance(3600)
    assert vm(world, "HV-01", WEB_01)["OnTimeInMilliseconds"] == 3600 * 1000
    assert vm(world, "HV-01", WEB_01)["OnTimeInMilliseconds"] == 3600 * 1000


def test_a_job_moves_only_when_the_fake_clock_moves(world: Runtime, clock: FakeClock) -> None:
    service = world.dispatcher.enumerate_instance_names(
        "HV-01", NS, "Msvm_VirtualSystemMigrationService")[0]
    setting = CIMInstance("Msvm_VirtualSystemMigrationSettingData",
                          properties={"MigrationType": Uint16(32768)})
    outcome = world.dispatcher.invoke_method(
        "HV-01", NS, service, "MigrateVirtualSystemToHost",
        {"ComputerSystem": vm_path(WEB_01), "DestinationHost": "HV-02",
         "MigrationSettingData": setting})
    assert outcome.return_value == 4096
    job_path = outcome.output_values()["Job"]

    def job() -> CIMInstance:
        return world.dispatcher.get_instance("HV-01", NS, job_path).instance()

    started = job()
    assert started["PercentComplete"] == 0
    assert job().items() == started.items()  # no time passed, nothing moved

    clock.advance(2)
    running = job()
    assert running["ElapsedTime"].timedelta == timedelta(seconds=2)
    assert 0 < running["PercentComplete"] < 100
    assert world.dispatcher.enumerate_instance_names("HV-02", NS, "Msvm_ComputerSystem") \
        .count(vm_path(WEB_01)) == 0

    clock.advance(60)  # past the end: the read settles the job through the hook
    finished = job()
    assert (finished["JobState"], finished["PercentComplete"]) == (7, 100)
    assert vm(world, "HV-02", WEB_01)["EnabledState"] == 2


def identities(tmp_path: Path, catalog: Catalog, name: str, seed: int) -> list[str]:
    opened = open_world(Settings(database_url=f"sqlite:///{tmp_path / name}",
                                 scenario=demo_scenario()), catalog,
                        clock=FakeClock(T0), rng=random.Random(seed))
    try:
        found = []
        for classname in ("Msvm_VirtualSystemMigrationNetworkSettingData",
                          "Msvm_SyntheticEthernetPortSettingData"):
            for result in opened.dispatcher.enumerate_instances("HV-01", NS, classname):
                instance = result.instance()
                found.append(str(instance["InstanceID"]))
                if "Address" in instance.properties:
                    found.append(str(instance["Address"]))
        return found
    finally:
        opened.store.dispose()


def test_the_same_seed_gives_the_same_identities(tmp_path: Path, catalog: Catalog) -> None:
    first = identities(tmp_path, catalog, "a.db", 7)
    assert first, "the demo world has migration networks and network adapters"
    assert identities(tmp_path, catalog, "b.db", 7) == first
    assert identities(tmp_path, catalog, "c.db", 8) != first
