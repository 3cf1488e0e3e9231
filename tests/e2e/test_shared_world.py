"""Several hvsim processes on one PostgreSQL database serve one world."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from tests.support.postgres import fresh_database
from tests.support.server import DEMO_SCENARIO, HvsimServer, wbem_connection

pytestmark = pytest.mark.e2e


def test_two_processes_started_together_share_one_world(
        hvsim_server: Callable[..., HvsimServer], postgres_url: str) -> None:
    database = fresh_database(postgres_url)
    servers: list[HvsimServer] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            servers.append(hvsim_server(scenario=DEMO_SCENARIO, database=database))
        except BaseException as error:  # reported below, with the server log
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    views = []
    for server in servers:
        conn = wbem_connection(server.url("HV-02"), "root/HyperVCluster/v2")
        views.append(sorted(i["Name"] for i in conn.EnumerateInstances("Msvm_ComputerSystem")))
    assert views[0] == views[1] and len(views[0]) == 8
