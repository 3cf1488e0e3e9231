"""Which emulated host a request reached: one listening port per host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class EndpointMap:
    def __init__(self, port_hosts: Mapping[int, str], default_host: str) -> None:
        self.port_hosts = dict(port_hosts)
        self.default_host = default_host

    def host_for(self, scope: Mapping[str, Any]) -> str:
        server = scope.get("server")
        if server and len(server) >= 2:
            return self.port_hosts.get(int(server[1]), self.default_host)
        return self.default_host
