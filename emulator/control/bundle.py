"""GET /_hvsim/bundle: one zip to attach to a bug report.

It holds the request log as written (secrets were redacted when it was written), the
conformance report over it (JSON and text), the cluster as the hosts show it now, the world
as a scenario file, and the server's version and flags (no passwords: the composition root
leaves them out). With it, anyone can start `hvsim serve --scenario world.toml` with the same
flags and `hvsim replay requests.jsonl`.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emulator.conformance import build_report
from emulator.control.class_model import CatalogClassModel
from emulator.control.context import ControlContext
from emulator.transport.request_log_file import log_files, read_records

router = APIRouter(tags=["bug report"])

README = """hvsim bug-report bundle, made {made}

server.json         hvsim's version and the flags the server runs with
requests.jsonl      the request log (one JSON record per request; credentials never logged)
conformance.json    the conformance report over the request log (also conformance.txt)
cluster.json        hosts, VMs and jobs as the server showed them when the bundle was made
world.toml          the world when the bundle was made, as a scenario file

To reproduce: start `hvsim serve --scenario world.toml` with the flags of server.json on a
fresh database (or with the scenario the server started with, to replay from the start),
then `hvsim replay requests.jsonl --to HV-01=URL --to HV-02=URL` (one --to per host).
{missing}"""


def bundle_bytes(context: ControlContext) -> bytes:
    made = time.time()
    files: dict[str, str | bytes] = {}
    missing: list[str] = []
    files["server.json"] = json.dumps({**context.server_info, "bundle_time": made}, indent=2,
                                      default=str)
    if context.request_log is not None:
        context.request_log.flush()
        files["requests.jsonl"] = b"".join(path.read_bytes()
                                           for path in log_files(context.request_log.path))
        report = build_report(read_records(context.request_log.path),
                              CatalogClassModel(context.catalog))
        files["conformance.json"] = json.dumps(report.to_dict(), indent=2)
        files["conformance.txt"] = report.to_text()
    else:
        missing.append("The request log was off (--request-log off): no requests, no report.")
    if context.cluster is not None:
        files["cluster.json"] = json.dumps(context.cluster.snapshot().as_dict(), indent=2)
    files["world.toml"] = context.world.export()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(made))
    files["README.txt"] = README.format(made=stamp, missing="\n".join(missing))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(f"hvsim-bundle/{name}", content)
    return buffer.getvalue()


@router.get("/bundle", summary="A zip for a bug report: request log, conformance report, "
                               "cluster, version and flags", response_class=Response)
def bundle(request: Request) -> Response:
    context: ControlContext = request.app.state.control
    name = time.strftime("hvsim-bundle-%Y%m%d-%H%M%S.zip")
    headers: dict[str, Any] = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(bundle_bytes(context), media_type="application/zip", headers=headers)
