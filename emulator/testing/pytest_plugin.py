"""pytest plugin (entry point `pytest11: hvsim`): one `hvsim serve` per test session, a clean
world for each test.

- `hvsim_emulator` (session): the running `Emulator`.
- `hvsim` (function): the same Emulator, reset to the scenario (VMs, fault rules) with the
  clock as configured (mode, scale, progression `clock`) before the test.

Configured by ini keys or command-line options, the command line winning: `hvsim_scenario` /
`--hvsim-scenario` (a path; ini: relative to the ini file), `hvsim_clock` / `--hvsim-clock`
(`scaled` or `frozen`), `hvsim_time_scale` / `--hvsim-time-scale`, `hvsim_database` /
`--hvsim-database` (default: a fresh SQLite file per session), `hvsim_serve_args` /
`--hvsim-serve-args` (more `hvsim serve` flags). A failed test's report shows the end of the
server's log.
"""

from __future__ import annotations

import shlex
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from emulator.testing.emulator import Emulator

LOG_LINES_IN_REPORT = 60


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hvsim", "hvsim emulator (fixtures hvsim, hvsim_emulator)")
    group.addoption("--hvsim-scenario", metavar="FILE",
                    help="scenario file (TOML) for the hvsim fixtures; default the demo cluster")
    group.addoption("--hvsim-clock", choices=("scaled", "frozen"),
                    help="world clock at the start of each test (default scaled)")
    group.addoption("--hvsim-time-scale", type=float, metavar="X",
                    help="simulated time runs X times as fast as real time (default 1)")
    group.addoption("--hvsim-database", metavar="URL",
                    help="database URL; default a fresh SQLite file per session")
    group.addoption("--hvsim-serve-args", metavar="ARGS",
                    help="further `hvsim serve` flags, as one shell-quoted string")
    parser.addini("hvsim_scenario", "scenario file (TOML), relative to the ini file")
    parser.addini("hvsim_clock", "world clock at the start of each test: scaled or frozen",
                  default="scaled")
    parser.addini("hvsim_time_scale", "simulated seconds per real second", default="1")
    parser.addini("hvsim_database", "database URL (default: a fresh SQLite file per session)")
    parser.addini("hvsim_serve_args", "further `hvsim serve` flags", type="args")


def emulator_settings(config: pytest.Config) -> dict[str, Any]:
    """The Emulator's keyword arguments from the command line and the ini file."""
    ini_dir = config.inipath.parent if config.inipath else config.rootpath
    scenario: Path | None = None
    if config.getoption("hvsim_scenario"):
        scenario = config.invocation_params.dir / config.getoption("hvsim_scenario")
    elif config.getini("hvsim_scenario"):
        scenario = ini_dir / str(config.getini("hvsim_scenario"))
    clock = config.getoption("hvsim_clock") or str(config.getini("hvsim_clock"))
    if clock not in ("scaled", "frozen"):
        raise pytest.UsageError(f"hvsim_clock must be scaled or frozen, not {clock!r}")
    scale = config.getoption("hvsim_time_scale")
    if scale is None:
        try:
            scale = float(str(config.getini("hvsim_time_scale")))
        except ValueError:
            raise pytest.UsageError("hvsim_time_scale must be a number, not "
                                    f"{config.getini('hvsim_time_scale')!r}") from None
    serve_args = (shlex.split(config.getoption("hvsim_serve_args"))
                  if config.getoption("hvsim_serve_args")
                  else list(config.getini("hvsim_serve_args")))
    return {"scenario": scenario, "clock": clock, "time_scale": scale,
            "database": config.getoption("hvsim_database")
            or str(config.getini("hvsim_database")) or None,
            "serve_args": serve_args}


@pytest.fixture(scope="session")
def hvsim_emulator(pytestconfig: pytest.Config) -> Iterator[Emulator]:
    """One hvsim server for the whole session (per pytest-xdist worker: each its own)."""
    from emulator.testing.emulator import Emulator

    with Emulator(**emulator_settings(pytestconfig)) as emulator:
        yield emulator


@pytest.fixture
def hvsim(hvsim_emulator: Emulator) -> Emulator:
    """The session's emulator with the world reset and the clock as configured."""
    hvsim_emulator.reset()
    hvsim_emulator.clock.set(mode=hvsim_emulator.clock_mode, scale=hvsim_emulator.time_scale,
                             progression="clock")
    return hvsim_emulator


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    emulator = getattr(item, "funcargs", {}).get("hvsim_emulator")
    if report.failed and emulator is not None:
        tail = emulator.log_text().splitlines()[-LOG_LINES_IN_REPORT:]
        report.sections.append(("hvsim server log (last lines)", "\n".join(tail)))
    return report
