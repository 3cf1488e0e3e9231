"""The dashboard at /_hvsim/ in headless Chromium: the demo cluster, a migration's bar going to
100 % with the VM arriving under its destination, an error showing up, and the active fault
rules. Screenshots land in the test's tmp dir (and the one taken
mid-migration at /tmp/dashboard.png) for a person to look at."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import pywbem
import requests

from tests.support.server import (
    DEMO_SCENARIO,
    TEST_PASSWORD,
    TEST_USER,
    HvsimServer,
    wbem_connection,
)

pytestmark = pytest.mark.e2e
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# The demo's web-01 migration takes about 10 simulated seconds: about 7 s at this scale, so
# the page (polling every second) sees it part way.
TIME_SCALE = 1.5
SHOWCASE = Path("/tmp/dashboard.png")
T = TypeVar("T")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    with HvsimServer({"scenario": DEMO_SCENARIO, "time_scale": TIME_SCALE},
                     workdir=tmp_path_factory.mktemp("dashboard")) as started:
        yield started


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromium-driver are not installed")
        pytest.skip("chromium and chromium-driver are not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1440,1100"):
        options.add_argument(argument)
    # Never let Selenium Manager look for a driver on the network: Debian's is given.
    os.environ["SE_OFFLINE"] = "true"
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(probe: Callable[[], T | None], timeout: float = 20.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = probe()
        except StaleElementReferenceException:  # the page redrew under us
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or probe}")
        time.sleep(0.1)


def vms_under(driver: WebDriver, host: str) -> list[str]:
    """The VMs the page lists under a host; read again when a poll redrew the list meanwhile."""
    for _ in range(50):
        try:
            return [node.get_attribute("data-vm") or "" for node in
                    driver.find_elements(By.CSS_SELECTOR, f'.host[data-host="{host}"] li.vm')]
        except StaleElementReferenceException:
            time.sleep(0.05)
    pytest.fail(f"the VM list of {host} never held still")


def start_migration(url: str, vm_name: str, destination: str) -> None:
    conn = wbem_connection(url)
    (service,) = conn.EnumerateInstanceNames("Msvm_VirtualSystemMigrationService")
    (vm,) = conn.ExecQuery("WQL", "SELECT * FROM Msvm_ComputerSystem "
                                  f"WHERE ElementName = '{vm_name}'")
    (settings,) = conn.ExecQuery("WQL", "SELECT * FROM Msvm_VirtualSystemMigrationSettingData "
                                        "WHERE MigrationType = 32768")
    settings["DestinationIPAddressList"] = ["10.0.0.12"]
    rc, _ = conn.InvokeMethod("MigrateVirtualSystemToHost", service, ComputerSystem=vm.path,
                              DestinationHost=destination,
                              MigrationSettingData=settings.tocimxmlstr())
    assert rc == 4096


def test_dashboard_follows_a_migration(server: HvsimServer, browser: WebDriver,
                                       tmp_path: Path) -> None:
    browser.get(server.url("HV-01") + "/_hvsim/")
    wait_for(lambda: vms_under(browser, "HV-02"), what="the hosts")
    assert "hvsim" in browser.title
    assert vms_under(browser, "HV-01") == ["db-01", "web-01", "web-02"]
    assert vms_under(browser, "HV-02") == ["app-01", "build-01", "legacy-01"]
    wait_for(lambda: "HVDEMO" in browser.find_element(By.ID, "cluster-title").text,
             what="the cluster's name")
    # No rule yet; one added through the control API shows up (it matches a VM nobody moves).
    wait_for(lambda: "No fault rule is active." in browser.find_element(By.ID, "faults").text,
             what="the empty fault panel")
    added = requests.post(server.url("HV-01") + "/_hvsim/faults", auth=(TEST_USER, TEST_PASSWORD),
                          json={"effect": "fail-job", "vm": "legacy-01", "at_percent": 40,
                                "error": "destination-out-of-memory"}, timeout=30)
    assert added.status_code == 201, added.text
    # Read through wait_for: the panel is redrawn by every poll.
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#faults [data-fault]")
             and "legacy-01" in browser.find_element(By.ID, "faults").text,
             what="the fault rule")

    start_migration(server.url("HV-01"), "web-01", "HV-02")
    bar = '#migrations .job[data-vm="web-01"] [role=progressbar]'
    seen: list[int] = []
    screenshot_taken = False
    deadline = time.monotonic() + 60
    while "web-01" not in vms_under(browser, "HV-02") or not seen or seen[-1] < 100:
        assert time.monotonic() < deadline, f"the migration did not finish on the page: {seen}"
        try:
            bars = browser.find_elements(By.CSS_SELECTOR, bar)
            value = int(bars[0].get_attribute("aria-valuenow") or 0) if bars else None
        except StaleElementReferenceException:
            value = None
        if value is not None and (not seen or value != seen[-1]):
            seen.append(value)
        # Part way, and late enough for the request log's poll to show the client's calls.
        if value is not None and 30 <= value < 100 and not screenshot_taken:
            phase = wait_for(lambda: browser.find_element(
                By.CSS_SELECTOR, '#migrations .job[data-vm="web-01"] .job-phase').text,
                what="the job's phase")
            assert phase  # the job's JobStatus, e.g. "Transferring memory"
            mid = tmp_path / "dashboard-migrating.png"
            browser.save_screenshot(str(mid))
            shutil.copyfile(mid, SHOWCASE)
            screenshot_taken = True
        time.sleep(0.2)
    assert seen == sorted(seen), f"the bar went back: {seen}"
    assert any(0 < value < 100 for value in seen), f"never seen part way: {seen}"
    assert seen[-1] == 100
    assert vms_under(browser, "HV-01") == ["db-01", "web-02"]
    assert vms_under(browser, "HV-02") == ["app-01", "build-01", "legacy-01", "web-01"]
    status = browser.find_element(By.CSS_SELECTOR, '#migrations .job[data-vm="web-01"] .badge')
    assert status.text == "Completed"
    browser.save_screenshot(str(tmp_path / "dashboard-done.png"))


def test_dashboard_shows_errors_and_the_request_log(server: HvsimServer, browser: WebDriver,
                                                    tmp_path: Path) -> None:
    conn = wbem_connection(server.url("HV-02"))
    missing = pywbem.CIMInstanceName(
        "Msvm_ComputerSystem", namespace="root/virtualization/v2",
        keybindings={"CreationClassName": "Msvm_ComputerSystem",
                     "Name": "00000000-0000-0000-0000-00000000DEAD"})
    with pytest.raises(pywbem.CIMError):
        conn.GetInstance(missing)
    browser.get(server.url("HV-01") + "/_hvsim/")
    errors = wait_for(lambda: [e.text for e in browser.find_elements(
        By.CSS_SELECTOR, "#errors .error-item") if "CIM_ERR_NOT_FOUND" in e.text],
        what="the error in Recent errors")
    assert "GetInstance" in errors[0] and "HV-02" in errors[0]
    browser.find_element(By.CSS_SELECTOR, "#request-filters input[name=errors]").click()
    rows = wait_for(lambda: [row.text for row in browser.find_elements(
        By.CSS_SELECTOR, "#requests tr.error")], what="error rows in the request log")
    assert all("CIM_ERR" in row or "HTTP" in row or "returned" in row for row in rows)
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#conformance details.session"),
             what="the conformance sessions")
    browser.save_screenshot(str(tmp_path / "dashboard-errors.png"))
