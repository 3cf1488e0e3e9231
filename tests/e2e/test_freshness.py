"""Replies are cached, yet a change made by anyone sharing the database (here: the test, as
another hvsim process would) shows in the very next request, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from storage.db import Store
from storage.models import Host, VirtualMachine
from tests.support.server import DEMO_SCENARIO, HvsimServer, wbem_connection

pytestmark = pytest.mark.e2e


def test_changes_behind_the_server_are_seen(hvsim_server: Callable[..., HvsimServer],
                                            database_url: str) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO, database=database_url)
    conn = wbem_connection(server.url("HV-01"))
    query = "SELECT * FROM Msvm_VirtualSystemMigrationServiceSettingData"
    (before,) = conn.ExecQuery("WQL", query)
    assert before["EnableVirtualSystemMigration"] is True
    assert conn.ExecQuery("WQL", query)[0]["EnableVirtualSystemMigration"] is True  # cached
    names_before = {i["ElementName"] for i in conn.EnumerateInstances("Msvm_ComputerSystem")}

    store = Store(database_url)
    try:
        with store.unit_of_work() as uow:
            host = uow.session.scalars(select(Host).where(Host.name == "HV-01")).one()
            host.migration_enabled = False
            vm = uow.session.scalars(select(VirtualMachine)
                                     .where(VirtualMachine.element_name == "db-01")).one()
            vm.element_name = "db-01-renamed"
            uow.commit()
    finally:
        store.dispose()

    (after,) = conn.ExecQuery("WQL", query)
    assert after["EnableVirtualSystemMigration"] is False
    names_after = {i["ElementName"] for i in conn.EnumerateInstances("Msvm_ComputerSystem")}
    assert names_after == (names_before - {"db-01"}) | {"db-01-renamed"}
    (svc,) = conn.EnumerateInstances("Msvm_VirtualSystemMigrationService")
    assert svc["MigrationServiceListenerIPAddressList"] is None
