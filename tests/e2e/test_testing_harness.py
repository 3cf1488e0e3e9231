"""The test harness end to end (issue 10 items 4 and 5): README's example test runs through the
pytest plugin exactly as printed, the function-scoped fixture gives each test a clean world with
the configured clock, and two Emulators side by side never see each other.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from pathlib import Path

import pytest

from hvsim.testing import ControlError, Emulator

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "README.md"
PLUGIN_MODULE = "emulator.testing.pytest_plugin"

FIXTURE_RESET_TESTS = """
def test_a_changes_the_clock_the_faults_and_the_world(hvsim, hvsim_emulator):
    assert hvsim is hvsim_emulator
    hvsim.clock.run(scale=5)
    hvsim.clock.set(progression="polls")
    hvsim.faults.add(effect="latency", latency_ms=1)
    hvsim.snapshot("left-by-a")


def test_b_starts_from_the_scenario_with_the_configured_clock(hvsim):
    clock = hvsim.clock.state()
    assert (clock["mode"], clock["scale"], clock["progression"]) == ("frozen", 2.0, {"*": "clock"})
    assert hvsim.faults.list() == []
    assert [s["name"] for s in hvsim.snapshots()] == ["left-by-a"]  # snapshots are kept


def test_c_fails_on_purpose(hvsim):
    assert hvsim.hosts == ["HV-01", "HV-02"] and False
"""


def readme_example_test() -> str:
    """The README's complete example test: the python block that starts with `# test_`."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    (example,) = [block for block in blocks if block.startswith("# test_")]
    return example


def plugin_arguments() -> list[str]:
    """Load the plugin by module unless its installed entry point already does (loading it
    twice is an error)."""
    installed = any(entry.name == "hvsim" and entry.value == PLUGIN_MODULE
                    for entry in importlib.metadata.entry_points(group="pytest11"))
    autoload = not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    return [] if installed and autoload else ["-p", PLUGIN_MODULE]


def test_readme_example_fixture_reset_and_failure_report_through_the_plugin(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_move_vm=readme_example_test(),
                        test_fixture_reset=FIXTURE_RESET_TESTS)
    # The command line's time scale wins over the ini file's.
    pytester.makeini("[pytest]\nhvsim_clock = frozen\nhvsim_time_scale = 7\n")
    result = pytester.runpytest(*plugin_arguments(), "--hvsim-time-scale", "2", "-p",
                                "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    # A failed test's report ends with the server's log.
    result.stdout.fnmatch_lines(["*hvsim server log (last lines)*",
                                 "hvsim: HV-01 serves CIM-XML at http://127.0.0.1:*"])


def test_two_emulators_side_by_side_are_isolated() -> None:
    with Emulator(clock="frozen") as first, Emulator() as second:
        assert set(first.endpoints.values()).isdisjoint(second.endpoints.values())
        assert first.workdir != second.workdir
        assert first.health()["database"] != second.health()["database"]
        first.faults.add(effect="latency", latency_ms=1)
        first.snapshot("only-in-first")
        assert second.faults.list() == []
        assert second.snapshots() == []
        assert second.clock.state()["mode"] == "scaled"
        # The same refusals a user sees from the control API, as ControlError.
        with pytest.raises(ControlError, match="HTTP 404: name: no snapshot named 'only-in-first'"):
            second.restore("only-in-first")
        with pytest.raises(ControlError, match="HTTP 409"):
            second.clock.advance(5)
        workdirs = [first.workdir, second.workdir]
    assert workdirs[0] is not None and workdirs[1] is not None
    assert not workdirs[0].exists() and not workdirs[1].exists()
