"""Raw HTTP to a bench server, below any client library: one keep-alive connection, the
headers of a CIM-XML and a WS-Management request, and the demo-cluster server they go to.

Used by reliability.py (memory, bystander) and outageload.py.
"""

from __future__ import annotations

import http.client
from pathlib import Path

from benchserver import BenchServer

BASIC = "Basic YmVuY2g6YmVuY2g="  # bench:bench; the sandbox accepts any Basic credentials
MAX_ENVELOPE_BYTES = 500 * 1024  # MaxEnvelopeSizekb of hvsim's WinRM config resource


def cimxml_headers(method: str) -> dict[str, str]:
    return {"Content-Type": 'application/xml; charset="utf-8"', "CIMOperation": "MethodCall",
            "CIMMethod": method, "CIMObject": "root/virtualization/v2", "Authorization": BASIC}


WSMAN_HEADERS = {"Content-Type": "application/soap+xml;charset=UTF-8", "Authorization": BASIC}


class RawHttp:
    """One keep-alive HTTP connection to the server, reopened after a failure."""

    def __init__(self, port: int, path: str, timeout: float = 300) -> None:
        self.path = path
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            self.connection.request("POST", self.path, body, headers)
            response = self.connection.getresponse()
            return response.status, response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            raise

    def close(self) -> None:
        self.connection.close()


def start_server(workdir: Path, options: list[str] | None = None) -> BenchServer:
    """A demo-cluster server, given time to start on a loaded machine."""
    return BenchServer(workdir, options or [], startup_seconds=120)
