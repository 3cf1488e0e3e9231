"""The harness's error handling: a server that exits or never gets ready is a clear
EmulatorStartError carrying its log, leaves no process or temporary directory behind; misuse is
refused before anything starts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from emulator.testing.control import Clock, ControlClient
from hvsim.testing import Emulator, EmulatorStartError


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False  # stop() waited for it, so not even a zombie is left to answer


def test_a_scenario_that_does_not_validate_is_a_start_error_with_the_servers_words(
        tmp_path: Path) -> None:
    scenario = tmp_path / "broken.toml"
    scenario.write_text('[[hosts]]\nname = "HV-01"\nos = "windows-3.1"\n')
    emulator = Emulator(scenario)
    with pytest.raises(EmulatorStartError) as caught:
        emulator.start()
    message = str(caught.value)
    assert "hvsim serve exited with 2 before it was ready" in message
    assert f"--scenario {scenario}" in message
    log = message.split("--- server log ---\n")[1]
    assert "hosts[0].os: 'windows-3.1' is not one of Windows Server 2012 R2" in log
    assert emulator.workdir is not None and not emulator.workdir.exists()
    assert emulator.endpoints == {}


def test_a_server_that_never_gets_ready_is_stopped_and_reported(tmp_path: Path) -> None:
    stuck = [sys.executable, "-c", "import time; print('listening soon', flush=True); "
                                   "time.sleep(60)"]
    emulator = Emulator(command=stuck, startup_timeout=1, workdir=tmp_path / "run")
    with pytest.raises(EmulatorStartError, match=r"not ready after 1 s \(endpoints file .*: "
                                                 r"absent\)") as caught:
        emulator.start()
    assert "listening soon" in str(caught.value)
    assert "listening soon" in emulator.log_text()  # kept after stop
    assert (tmp_path / "run" / "server.log").exists()  # a given workdir stays


def test_a_command_that_cannot_run_is_a_start_error(tmp_path: Path) -> None:
    with pytest.raises(EmulatorStartError, match="cannot run /nonexistent/hvsim"):
        Emulator(command=["/nonexistent/hvsim", "serve"], workdir=tmp_path).start()


def test_the_process_is_gone_after_a_failed_start(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    stuck = [sys.executable, "-c", f"import os, time; open({str(pid_file)!r}, 'w')"
                                   ".write(str(os.getpid())); time.sleep(60)"]
    with pytest.raises(EmulatorStartError):
        Emulator(command=stuck, startup_timeout=1, workdir=tmp_path / "run").start()
    assert process_gone(int(pid_file.read_text()))


@pytest.mark.parametrize(("arguments", "message"), [
    ({"clock": "paused"}, "clock must be 'scaled' or 'frozen'"),
    ({"time_scale": 0}, "time_scale must be above 0"),
    ({"users": {}}, "users must name at least one"),
])
def test_bad_arguments_are_refused_before_anything_starts(arguments: dict[str, object],
                                                          message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Emulator(**arguments)  # type: ignore[arg-type]


def test_a_stopped_emulator_says_so() -> None:
    emulator = Emulator()
    with pytest.raises(RuntimeError, match="not running"):
        emulator.url("HV-01")
    with pytest.raises(RuntimeError, match="not running"):
        emulator.clock.freeze()


def test_advance_needs_seconds_or_a_target() -> None:
    clock = Clock(ControlClient("http://127.0.0.1:9", "u", "p"))
    with pytest.raises(ValueError, match="either seconds or to="):
        clock.advance()
    with pytest.raises(ValueError, match="either seconds or to="):
        clock.advance(5, to="idle")
