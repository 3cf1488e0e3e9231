"""Every declared method of every served class answers: through its provider's handler, or with
the method's own "Not Supported" after its parameters were checked against the declaration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pywbem import CIMInstanceName, Uint16

from emulator.app import Runtime, Settings, open_world
from emulator.core.catalog import Catalog, load_catalog
from emulator.setup.scenario import demo_scenario
from providers import INSTANCE_PROVIDERS, method_providers
from providers.migration.job_timeline import JobTimeline
from providers.unsupported import in_value_map, not_supported_code

V2 = "root/virtualization/v2"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def served_methods(catalog: Catalog) -> Iterator[tuple[str, str, str]]:
    for provider in INSTANCE_PROVIDERS:
        for namespace in provider.namespaces:
            served = catalog.canonical_namespace(namespace)
            assert served is not None
            for classname in provider.classnames:
                for method in catalog.get_class(served, classname).methods:
                    yield served, classname, method


def test_every_declared_method_of_every_served_class_is_reachable(catalog: Catalog) -> None:
    handlers = {(namespace.lower(), classname.lower()): provider
                for provider in method_providers(JobTimeline())
                for namespace in provider.namespaces for classname in provider.classnames}
    unreachable = []
    checked = 0
    for namespace, classname, name in served_methods(catalog):
        checked += 1
        provider = handlers.get((namespace.lower(), classname.lower()))
        if provider is not None and provider.handles(name):
            continue
        method = catalog.get_class(namespace, classname).methods[name]
        if not_supported_code(method) is None:
            unreachable.append(f"{namespace}:{classname}.{name}")
    assert checked > 100
    assert unreachable == [], ("declared methods with neither a handler nor a "
                               f"'Not Supported' value: {unreachable}")


@pytest.mark.parametrize(("entries", "value", "admitted"), [
    (["0", "2", "11..32767"], 2, True),
    (["0", "2", "11..32767"], 1, False),
    (["0", "2", "11..32767"], 32767, True),
    (["32768.."], 40000, True),
    (["..9"], 10, False),
])
def test_value_maps_admit_values_and_ranges(entries: list[str], value: int,
                                            admitted: bool) -> None:
    assert in_value_map(value, entries) is admitted


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> Iterator[Runtime]:
    path = tmp_path_factory.mktemp("unsupported") / "w.db"
    world = open_world(Settings(database_url=f"sqlite:///{path}", scenario=demo_scenario()),
                       catalog=catalog)
    yield world
    world.store.dispose()


def first_path(world: Runtime, classname: str, caption: str | None = None) -> CIMInstanceName:
    for result in world.dispatcher.enumerate_instances("HV-01", V2, classname):
        if caption is None or result.values().get("Caption") == caption:
            return result.path
    raise AssertionError(f"no {classname}")


@pytest.mark.parametrize(("classname", "caption", "method", "params", "expected"), [
    # Hyper-V's own list (§0.3 Family B): 32770 Not Supported, 32773 Invalid parameter.
    ("Msvm_ComputerSystem", "Virtual Machine", "InjectNonMaskableInterrupt", {}, 32770),
    ("Msvm_VirtualSystemManagementService", None, "ExportSystemDefinition", {}, 32770),
    # The DMTF list of CIM_VirtualSystemManagementService: 1 Not Supported, 4 Invalid Parameter.
    ("Msvm_VirtualEthernetSwitchManagementService", None, "DestroySystem", {}, 1),
    ("Msvm_VirtualEthernetSwitchManagementService", None, "ModifySystemSettings",
     {"SystemSettings": "<INSTANCE CLASSNAME='Msvm_ComputerSystem'></INSTANCE>"}, 4),
    ("Msvm_VirtualEthernetSwitchManagementService", None, "ModifySystemSettings",
     {"SystemSettings": "<INSTANCE CLASSNAME="}, 4),
    # RequestStateChange of a logical device: 1 Not Supported, 5 Invalid Parameter.
    ("Msvm_Processor", None, "RequestStateChange", {"RequestedState": Uint16(2)}, 1),
    ("Msvm_Processor", None, "RequestStateChange", {"RequestedState": Uint16(1)}, 5),
    # No ValueMap: CIM's descriptions give 1 for "not supported", any other number for errors.
    ("Msvm_VirtualEthernetSwitch", None, "SetPowerState", {}, 1),
    ("Msvm_VirtualEthernetSwitch", None, "SetPowerState", {"PowerState": 99}, 2),
])
def test_unemulated_methods_answer_their_own_codes(world: Runtime, classname: str,
                                                   caption: str | None, method: str,
                                                   params: dict[str, object],
                                                   expected: int) -> None:
    target = first_path(world, classname, caption)
    outcome = world.dispatcher.invoke_method("HV-01", V2, target, method, params)
    assert int(outcome.return_value) == expected
    assert outcome.outputs == ()


def test_a_reference_to_the_wrong_class_is_an_invalid_parameter(world: Runtime) -> None:
    service = first_path(world, "Msvm_VirtualSystemManagementService")
    processor = first_path(world, "Msvm_Processor")
    outcome = world.dispatcher.invoke_method("HV-01", V2, service, "ExportSystemDefinition",
                                             {"ComputerSystem": processor})
    assert int(outcome.return_value) == 32773
