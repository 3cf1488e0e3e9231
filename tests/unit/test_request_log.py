"""format_record: one line per record, fields that do not apply left out, client-supplied
text quoted so that it can neither split the line nor forge a field."""

from __future__ import annotations

import dataclasses
import json
import logging
import shlex

import pytest

from emulator.transport.request_log import RequestRecord, emit, format_record, shorten

RECORD = RequestRecord(
    protocol="cim-xml", host="HV-01", client="127.0.0.1:5000", user="alice",
    operation="GetInstance", namespace="root/virtualization/v2", target="Msvm_ComputerSystem",
    keys="CreationClassName=Msvm_ComputerSystem,Name=X", query=None, http_status=200,
    cim_status=6, return_value=None, fault_subcode=None, wsman_code=None,
    message="no such instance", duration_ms=1.234)


def test_a_failed_get_instance_on_one_line() -> None:
    assert format_record(RECORD) == (
        "cim-xml HV-01 client=127.0.0.1:5000 user=alice op=GetInstance "
        "ns=root/virtualization/v2 class=Msvm_ComputerSystem "
        "keys=CreationClassName=Msvm_ComputerSystem,Name=X status=200 "
        'cim=CIM_ERR_NOT_FOUND(6) msg="no such instance" ms=1.2')
    assert RECORD.cim_status_name == "CIM_ERR_NOT_FOUND"


def test_ws_man_fields_and_a_client_that_went_away() -> None:
    record = dataclasses.replace(
        RECORD, protocol="ws-man", operation="Invoke RequestStateChange", target="uri:x",
        cim_status=None, http_status=None, fault_subcode="w:InvalidSelectors",
        wsman_code=2150858843, message=None)
    line = format_record(record)
    assert ' op="Invoke RequestStateChange" ns=root/virtualization/v2 resource=uri:x ' in line
    assert " status=client-gone fault=w:InvalidSelectors wsman_code=2150858843 ms=" in line


@pytest.mark.parametrize("hostile", ["a\nb status=200", 'x" user="root', "tab\there"])
def test_client_text_cannot_split_or_forge_a_line(hostile: str) -> None:
    line = format_record(dataclasses.replace(RECORD, keys=hostile, user=None))
    assert "\n" not in line and "\t" not in line
    tokens = shlex.split(line)
    assert f" keys={json.dumps(hostile)} " in line
    assert sum(t.startswith("status=") for t in tokens) == 1
    assert not any(t.startswith("user=") for t in tokens)


def test_shorten_keeps_both_ends() -> None:
    text = "start " + "x" * 500 + " the detail"
    short = shorten(text, 60)
    assert short is not None and len(short) == 60
    assert short.startswith("start ") and short.endswith(" the detail") and "..." in short
    assert shorten("short", 60) == "short" and shorten(None) is None


def test_emit_hands_the_record_to_handlers(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="hvsim.requests"):
        emit(RECORD)
    (logged,) = caplog.records
    assert logged.name == "hvsim.requests" and logged.levelno == logging.DEBUG
    # emit() passes the record through logging's `extra`, which LogRecord does not declare.
    assert logged.request_record is RECORD  # type: ignore[attr-defined]
    assert logged.getMessage() == format_record(RECORD)
