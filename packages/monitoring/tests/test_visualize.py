"""parsl-visualize in a real headless Chromium (Debian chromium + chromedriver, selenium)
against a real ``parsl-visualize`` server process over a database written by a real HTEX
run. Screenshots of every page are kept in tests/artifacts/ (ignored by git)."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Iterator, List, NamedTuple

import monitoring_test_tasks as tasks
import pytest
from monitoring_support import ARTIFACTS, free_port, htex_config, threads_config, wait_for

import parsl
from parsl.app.app import python_app

square = python_app(tasks.square)
busy = python_app(tasks.busy)
explode = python_app(tasks.explode)
sleepy = python_app(tasks.sleepy)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class Site(NamedTuple):
    base: str
    run_id: str
    task_id: int
    failed_task_id: int


@contextlib.contextmanager
def _serve(url: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "parsl_monitoring.visualize.cli", url,
                             "--port", str(port), "--listen", "127.0.0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"parsl-visualize exited: {proc.stdout.read()!r}")  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(base + "/", timeout=5) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, ConnectionError):
            return False

    try:
        wait_for(up, timeout=60, what="parsl-visualize to answer")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("visualize")
    url = f"sqlite:///{tmp}/monitoring.db"
    config = htex_config(str(tmp / "runinfo"), url, resource_monitoring_interval=0.2,
                         node_poll_period=0.2)
    with parsl.load(config) as dfk:
        squares = [square(i) for i in range(12)]
        cpu = busy(1.0)
        bad = explode("visible in the browser")
        for f in squares:
            f.result(timeout=120)
        cpu.result(timeout=120)
        with pytest.raises(RuntimeError):
            bad.result(timeout=120)
        run_id = dfk.run_id
    with _serve(url) as base:
        yield Site(base, run_id, cpu.tid, bad.tid)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            raise RuntimeError(f"{path} is missing; run .ci/setup-chromium.sh")
    profile = tempfile.mkdtemp(prefix="parsl-visualize-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                "--window-size=1400,1800"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def _open(driver: Any, url: str, name: str) -> List[Dict[str, Any]]:
    """Load ``url`` (after checking it answers 200), wait for its plots, save a screenshot,
    and return the browser console's errors."""
    assert _status(url) == 200, url
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete",
             what=f"{url} to load")
    wait_for(lambda: driver.execute_script(
        "return Array.from(document.querySelectorAll('.plot'))"
        ".every(p => p.classList.contains('js-plotly-plot'))"), what=f"plots of {url}")
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver.save_screenshot(os.path.join(ARTIFACTS, f"{name}.png"))
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _points(driver: Any, plot_id: str) -> int:
    return int(driver.execute_script(
        "const p = document.getElementById(arguments[0]);"
        "return (p.data || []).reduce((n, t) => n + (t.x || []).length, 0);", plot_id))


def _trace_values(driver: Any, plot_id: str, field: str) -> List[Any]:
    return list(driver.execute_script(
        "const p = document.getElementById(arguments[0]);"
        "return (p.data || []).flatMap(t => Array.from(t[arguments[1]] || []));",
        plot_id, field))


def test_runs_page_lists_the_run(site: Site, browser: Any) -> None:
    errors = _open(browser, site.base + "/", "runs")
    assert errors == []
    assert site.run_id in browser.find_element("id", "runs").text


def test_run_page_plots_contain_the_runs_data(site: Site, browser: Any) -> None:
    errors = _open(browser, f"{site.base}/workflow/{site.run_id}/", "run")
    assert errors == []
    assert set(_trace_values(browser, "plot-apps", "x")) == {"square", "busy", "explode"}
    assert sum(_trace_values(browser, "plot-apps", "y")) == 14
    assert _points(browser, "plot-states") > 0
    assert _points(browser, "plot-stream") == 14
    assert "busy" in _trace_values(browser, "plot-resources", "x")
    assert _points(browser, "plot-infra") >= 2


def test_run_page_shows_the_failure_with_its_traceback(site: Site, browser: Any) -> None:
    _open(browser, f"{site.base}/workflow/{site.run_id}/", "run-failures")
    failures = browser.find_element("id", "failures")
    assert "RuntimeError: visible in the browser" in failures.text
    assert "in explode" in failures.get_attribute("textContent")


def test_task_page_shows_history_tries_and_resources(site: Site, browser: Any) -> None:
    errors = _open(browser, f"{site.base}/workflow/{site.run_id}/task/{site.task_id}", "task")
    assert errors == []
    states = [row.text.split()[-2] for row in
              browser.find_elements("css selector", "#statuses tbody tr")]
    assert states == ["pending", "launched", "running", "running_ended", "exec_done"]
    assert len(browser.find_elements("css selector", "#tries tbody tr")) == 1
    assert _points(browser, "plot-task-resources") >= 6  # 2 series x >= 3 samples


def test_dependency_graph_page_draws_every_task(site: Site, browser: Any) -> None:
    errors = _open(browser, f"{site.base}/workflow/{site.run_id}/dag", "dag")
    assert errors == []
    assert len(_trace_values(browser, "plot-dag", "text")) == 14


def test_compare_page_shows_two_runs_side_by_side(site: Site, browser: Any) -> None:
    url = f"{site.base}/compare?a={site.run_id}&b={site.run_id}"
    errors = _open(browser, url, "compare")
    assert errors == []
    assert _points(browser, "plot-apps-left") == _points(browser, "plot-apps-right") > 0


def test_unknown_run_is_a_404_not_an_error(site: Site) -> None:
    assert _status(f"{site.base}/workflow/no-such-run/") == 404


def test_no_asset_comes_from_another_host(site: Site, browser: Any) -> None:
    _open(browser, f"{site.base}/workflow/{site.run_id}/", "run-assets")
    sources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert sources
    assert all(s.startswith(site.base) for s in sources), sources


@pytest.mark.slow
def test_run_page_updates_while_the_run_is_going(tmp_path: Any, browser: Any) -> None:
    url = f"sqlite:///{tmp_path}/monitoring.db"
    config = threads_config(str(tmp_path / "runinfo"), url)
    with parsl.load(config) as dfk:
        first = sleepy(0.1)
        first.result()
        wait_for(lambda: os.path.exists(f"{tmp_path}/monitoring.db"), what="the database")
        with _serve(url) as base:
            page = f"{base}/workflow/{dfk.run_id}/"
            assert _status(page) == 200
            _open(browser, page, "run-live")
            assert "running" in browser.find_element("id", "live").text
            later = [sleepy(0.1) for _ in range(3)]
            for f in later:
                f.result()
            time.sleep(0.5)  # let the writer flush; the page itself is polled below
            wait_for(lambda: "exec_done: 4" in browser.find_element("id", "counts").text,
                     timeout=30, what="the page to show the new tasks")
