"""The JSON-lines request log: records written on a background thread, rotation bounding the
disk, reading back with filters and following like tail -f; where `hvsim serve` puts it."""

from __future__ import annotations

import threading
from pathlib import Path

from emulator.cli import request_log_path
from emulator.transport.request_log import RequestRecord, body_text, redact_params
from emulator.transport.request_log_file import (
    JsonLinesLog,
    follow,
    log_files,
    parse_time,
    read_records,
    reversed_lines,
)


def record(n: int, user: str = "alice") -> RequestRecord:
    return RequestRecord(
        protocol="cim-xml", host="HV-01", client=f"10.0.0.{n % 3}:4000{n % 10}", user=user,
        operation="GetInstance", namespace="root/virtualization/v2",
        target="Msvm_ComputerSystem", keys=f"Name={n}", query=None, http_status=200,
        cim_status=None, return_value=None, fault_subcode=None, wsman_code=None, message=None,
        duration_ms=1.0, time=1000.0 + n, user_agent="tool/1", id=f"1-{n}",
        body="<x/>" * 50)


def test_written_rotated_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    log = JsonLinesLog(path, max_bytes=20_000)
    for n in range(200):
        log.submit(lambda n=n: record(n, "bob" if n % 2 else "alice"))  # type: ignore[misc]
    log.submit(lambda: None)  # a request its front end could not describe
    assert log.flush()
    log.close()
    files = log_files(path)
    assert files == [path.with_name("requests.jsonl.1"), path]
    assert all(f.stat().st_size < 25_000 for f in files)
    kept = read_records(path)
    assert kept and [r.id for r in kept] == [f"1-{n}" for n in range(200 - len(kept), 200)]
    assert {r.user for r in read_records(path, client="BOB")} == {"bob"}
    assert [r.id for r in read_records(path, since=1198.0)] == ["1-198", "1-199"]
    assert [r.id for r in read_records(path, limit=1)] == ["1-199"]
    # The newest N are read from the end, across the rotation, in file order.
    everything = [r.id for r in kept]
    for limit in (3, len(everything) - 1, len(everything) + 5):
        assert [r.id for r in read_records(path, limit=limit)] == everything[-limit:]
    assert [r.id for r in read_records(path, client="bob", since=1190.0, limit=2)] == [
        "1-197", "1-199"]
    assert read_records(path, client="10.0.0.1:40001")[0].client == "10.0.0.1:40001"


def test_follow_sees_new_records_across_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    log = JsonLinesLog(path, max_bytes=5_000)  # one rotation on the way
    log.submit(lambda: record(0))
    log.flush()
    seen: list[str] = []
    done = threading.Event()

    def tail() -> None:
        for found in follow(path, poll_seconds=0.02, stop=done.is_set):
            seen.append(found.id)
            if len(seen) == 10:
                done.set()

    reader = threading.Thread(target=tail)
    reader.start()
    threading.Event().wait(0.2)
    for n in range(1, 11):
        log.submit(lambda n=n: record(n))  # type: ignore[misc]
        log.flush()
    reader.join(10)
    done.set()
    log.close()
    assert seen == [f"1-{n}" for n in range(1, 11)]  # history (1-0) is not repeated


def test_secrets_are_redacted() -> None:
    body = (b'<p:Connect_INPUT><p:UserName>me</p:UserName><p:Password>hunter2</p:Password>'
            b'</p:Connect_INPUT><PARAMVALUE NAME="AdminPassword" PARAMTYPE="string">'
            b"<VALUE>hunter2</VALUE></PARAMVALUE>")
    text, complete = body_text(body)
    assert complete and text is not None and "hunter2" not in text and "me" in text
    assert redact_params({"Password": "x", "Name": "y"}) == {"Password": "***", "Name": "y"}


def test_times_and_default_paths() -> None:
    assert parse_time("1700000000.5") == 1700000000.5
    assert parse_time("2023-11-14T22:13:20Z") == 1700000000.0
    assert request_log_path(None, "sqlite:///data/hvsim.db") == Path("data/hvsim.requests.jsonl")
    assert request_log_path(None, "postgresql://u@h/db") == Path("hvsim.requests.jsonl")
    assert request_log_path("off", "sqlite:///x.db") is None
    assert request_log_path("/tmp/r.jsonl", "sqlite:///x.db") == Path("/tmp/r.jsonl")


def test_reversed_lines_cross_block_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    lines = [f"line {n} " + "é" * (n % 7) for n in range(500)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert list(reversed_lines(path, block=37)) == ["", *reversed(lines)]
    path.write_text("no newline at the end", encoding="utf-8")
    assert list(reversed_lines(path)) == ["no newline at the end"]
