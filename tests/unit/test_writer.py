"""The direct CIM-XML writer against pywbem: for every instance of every served class in the
demo cluster, in every namespace and view, pywbem's parser reads back exactly what pywbem's own
element code would have written."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pywbem import CIMInstance
from pywbem._tupleparse import TupleParser
from pywbem._tupletree import xml_to_tupletree_sax

from emulator.app import Runtime, Settings, open_world
from emulator.cimxml import encode
from emulator.core.catalog import load_catalog
from emulator.core.instances import View
from emulator.core.results import InstanceResult
from emulator.setup.scenario import demo_scenario


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    path = tmp_path_factory.mktemp("writer") / "w.db"
    world = open_world(Settings(database_url=f"sqlite:///{path}", scenario=demo_scenario()),
                       catalog=load_catalog())
    yield world
    world.store.dispose()


def parse(xml: str) -> object:
    return TupleParser().parse_any(xml_to_tupletree_sax(xml.encode("utf-8"), "test"))


def all_results(world: Runtime, host: str) -> Iterator[InstanceResult]:
    for namespace in world.catalog.namespaces:
        top = "CIM_ManagedElement" if world.catalog.has_class(namespace, "CIM_ManagedElement") \
            else None
        names = [top] if top else []
        names += [n for n in world.catalog.class_names(namespace)
                  if world.catalog.get_class(namespace, n).superclass is None and n != top]
        for classname in names:
            yield from world.dispatcher.enumerate_instances(host, namespace, classname)


VIEWS = [View(), View.of(None, include_class_origin=True),
         View.of(["ElementName", "Name", "InstanceID", "EnabledState"])]


@pytest.mark.parametrize("view", VIEWS, ids=["full", "class-origin", "property-list"])
@pytest.mark.parametrize("host", ["HV-01", "HV-02"])
def test_instances_match_pywbem(world: Runtime, host: str, view: View) -> None:
    count = 0
    for result in all_results(world, host):
        result.view = view
        mine = parse(encode.instance_xml(result))
        theirs = parse(result.instance().tocimxmlstr(ignore_path=True))
        assert isinstance(mine, CIMInstance)
        assert mine == theirs, result.record.classname
        path = parse(encode.result_path_xml(result, form="full"))
        assert path == result.path, result.record.classname
        count += 1
    assert count > 100


def test_null_properties_are_not_empty_element_tags(world: Runtime) -> None:
    (result,) = [r for r in world.dispatcher.enumerate_instances(
        "HV-01", "root/virtualization/v2", "Msvm_VirtualSystemMigrationService")]
    xml = encode.instance_xml(result)
    assert '<PROPERTY NAME="InstanceID" TYPE="string"></PROPERTY>' in xml
    assert not re.search(r"<PROPERTY[^>]*/>", xml)


def test_datetimes_are_cim_datetimes(world: Runtime) -> None:
    results = world.dispatcher.enumerate_instances("HV-01", "root/virtualization/v2",
                                                   "Msvm_ComputerSystem")
    xml = "".join(encode.instance_xml(r) for r in results)
    stamps = re.findall(r'NAME="InstallDate" TYPE="datetime"[^>]*><VALUE>([^<]+)<', xml)
    assert stamps and all(re.fullmatch(r"\d{14}\.\d{6}[+-]\d{3}", s) for s in stamps)
    assert datetime.now(UTC).year >= 2026
