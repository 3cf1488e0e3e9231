"""One live `hvsim serve` (demo cluster) for every WS-Management operations module here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pypsrp.wsman import WSMan

from tests.support.server import DEMO_SCENARIO, HvsimServer, wsman_client


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    with HvsimServer({"scenario": DEMO_SCENARIO},
                     workdir=tmp_path_factory.mktemp("wsman-ops")) as started:
        yield started


@pytest.fixture(scope="package")
def wsman(server: HvsimServer) -> WSMan:
    return wsman_client(server.url("HV-01"))
