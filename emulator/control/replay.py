"""`hvsim replay`: send logged requests again and compare the answers.

Each record that kept its body is posted to the same protocol endpoint of the host it went to
(the unsealed body of a sealed WS-Man request, sent in the clear with Basic credentials), with
the original pauses between requests unless told to hurry. Jobs and enumeration contexts get
new identifiers in the new run: those the original answers handed out are mapped to the new
ones in the bodies that follow. An answer matches when its HTTP status, CIM status, ReturnValue
and WS-Man fault subcode are the original's.
"""

from __future__ import annotations

import html
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from emulator.transport.request_log import RequestRecord

MAX_PAUSE_SECONDS = 30.0
_CIM_ERROR = re.compile(rb"<ERROR CODE=\"(\d+)\"")
_CIM_RETURN = re.compile(rb"<RETURNVALUE[^>]*>\s*<VALUE>([^<]*)</VALUE>")
_CIM_JOB = re.compile(rb"<PARAMVALUE NAME=\"Job\"[^>]*>.*?<KEYBINDING NAME=\"InstanceID\">"
                      rb"<KEYVALUE[^>]*>([^<]*)</KEYVALUE>", re.DOTALL | re.IGNORECASE)
_CIM_CONTEXT = re.compile(rb"<PARAMVALUE NAME=\"EnumerationContext\"[^>]*><VALUE>([^<]+)</VALUE>")
_WS_SUBCODE = re.compile(rb"<s:Subcode><s:Value>([^<]*)</s:Value>")
_WS_CIM_STATUS = re.compile(rb"<p:CIMStatusCode[^>]*>(\d+)</p:CIMStatusCode>")
_WS_RETURN = re.compile(rb"<p:ReturnValue[^>]*>([^<]*)</p:ReturnValue>")
_WS_JOB = re.compile(rb"<p:Job>.*?<w:Selector Name=\"InstanceID\">([^<]*)</w:Selector>",
                     re.DOTALL)
_WS_CONTEXT = re.compile(rb"<n:EnumerationContext>([^<]+)</n:EnumerationContext>")


@dataclass(frozen=True)
class Answer:
    http_status: int | None
    cim_status: int | None = None
    return_value: str | None = None
    fault_subcode: str | None = None
    job: str | None = None
    context: str | None = None
    error: str | None = None  # the request could not be sent

    def outcome(self) -> str:
        parts = [f"HTTP {self.http_status}" if self.http_status else (self.error or "no answer")]
        if self.cim_status is not None:
            parts.append(f"CIM status {self.cim_status}")
        if self.return_value is not None:
            parts.append(f"ReturnValue {self.return_value}")
        if self.fault_subcode:
            parts.append(self.fault_subcode)
        return ", ".join(parts)


@dataclass(frozen=True)
class Replayed:
    record: RequestRecord
    answer: Answer

    @property
    def original(self) -> Answer:
        r = self.record
        return Answer(r.http_status, r.cim_status, r.return_value, r.fault_subcode)

    @property
    def matches(self) -> bool:
        a, b = self.original, self.answer
        return (a.http_status, a.cim_status, a.return_value, a.fault_subcode) == (
            b.http_status, b.cim_status, b.return_value, b.fault_subcode)


def replayable(record: RequestRecord) -> bool:
    """A request that reached the service: it kept its whole body and was not a log-in."""
    return (record.body is not None and record.body_complete and record.http_status is not None
            and record.http_status != 401 and record.operation is not None
            and not record.operation.endswith("log-in"))


def replay(records: Iterable[RequestRecord], targets: Mapping[str, str], default: str | None,
           auth: Mapping[str, str], *, pace: bool = True,
           timeout: float = 120.0) -> Iterator[Replayed]:
    """Replay `records` in order; `targets` maps a host name to its base URL, `default` is
    the URL of hosts it does not name."""
    renamed: dict[str, str] = {}
    previous: float | None = None
    for record in records:
        if not replayable(record):
            continue
        base = targets.get(record.host, default)
        if base is None:
            yield Replayed(record, Answer(None, error=f"no URL for host {record.host}"))
            continue
        if pace and previous is not None:
            time.sleep(min(max(record.time - previous, 0.0), MAX_PAUSE_SECONDS))
        previous = record.time
        assert record.body is not None
        body = record.body
        for old, new in renamed.items():
            body = body.replace(old, new)
        answer = post(base, record, body.encode("utf-8"), auth, timeout)
        for was, now in ((record.observed.get("job"), answer.job),
                         (record.observed.get("context"), answer.context)):
            if was and now and was != now:
                renamed[str(was)] = now
        yield Replayed(record, answer)


def post(base: str, record: RequestRecord, body: bytes, auth: Mapping[str, str],
         timeout: float) -> Answer:
    path = "/cimom" if record.protocol == "cim-xml" else "/wsman"
    headers = {**{name.title(): value for name, value in record.headers.items()}, **auth}
    if record.protocol == "ws-man":
        headers["Content-Type"] = "application/soap+xml;charset=UTF-8"
    request = urllib.request.Request(base.rstrip("/") + path, data=body, headers=headers,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            status, payload = reply.status, reply.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        return Answer(None, error=str(getattr(error, "reason", error)))
    return read_answer(record.protocol, status, payload)


def read_answer(protocol: str, status: int, payload: bytes) -> Answer:
    if protocol == "cim-xml":
        error = _CIM_ERROR.search(payload)
        value = _CIM_RETURN.search(payload)
        return Answer(status, int(error.group(1)) if error else None,
                      _text(value) if value and not error else None, None,
                      _text(_CIM_JOB.search(payload)), _text(_CIM_CONTEXT.search(payload[-4096:])))
    fault = b"<s:Fault>" in payload
    cim_status = _WS_CIM_STATUS.search(payload) if fault else None
    return Answer(status, int(cim_status.group(1)) if cim_status else None,
                  None if fault else _text(_WS_RETURN.search(payload)),
                  _text(_WS_SUBCODE.search(payload)) if fault else None,
                  _text(_WS_JOB.search(payload)), _text(_WS_CONTEXT.search(payload)))


def _text(match: re.Match[bytes] | None) -> str | None:
    return html.unescape(match.group(1).decode("utf-8", "replace")) if match else None
