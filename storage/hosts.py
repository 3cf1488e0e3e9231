"""`Hosts` in SQL: the host rows a method changes (migration settings, networks)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Host, MigrationNetwork


class SqlHosts:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, host_id: int) -> Host | None:
        return self._session.get(Host, host_id)

    def all(self) -> list[Host]:
        return list(self._session.scalars(select(Host).order_by(Host.ordinal)))

    def add_network(self, host: Host, *, instance_id: str, subnet: str, prefix_length: int,
                    metric: int, tags: list[str]) -> MigrationNetwork:
        network = MigrationNetwork(instance_id=instance_id, subnet=subnet,
                                   prefix_length=prefix_length, metric=metric, tags=tags)
        host.networks.append(network)
        return network

    def remove_network(self, host: Host, network: MigrationNetwork) -> None:
        # delete-orphan: leaving the collection deletes the row at the next flush.
        if network in host.networks:
            host.networks.remove(network)
