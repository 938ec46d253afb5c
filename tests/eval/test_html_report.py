"""The HTML report in a real headless browser: Debian's chromium, driven by selenium (nothing downloaded)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eval_support import invoke, providers_file, write_yaml

from llmswitch.testing import MockServer

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                    reason="Debian's chromium and chromium-driver are not installed "
                                           "(apt-get install chromium chromium-driver; .ci/run does)")


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-extensions", "--no-first-run"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def report(workdir: Path, server: MockServer) -> Path:
    """2 tests × 2 targets: alpha passes one and fails one; every call to beta is refused (errors)."""
    server.mount("beta").fail("401*100")
    config = providers_file(workdir / "providers.yaml", server)
    suite = write_yaml(workdir / "suite.yaml", {
        "description": "report <check> & friends",
        "prompts": ["Say hello to {{name}}"], "targets": ["alpha/m-1", "beta/m-1"],
        "tests": [
            {"description": "greets", "vars": {"name": "Ada"}, "assert": [{"type": "contains", "value": "Ada"}]},
            {"description": "strict", "vars": {"name": "<b>Bob</b>"},
             "assert": [{"type": "contains", "value": "nope"}, {"type": "latency", "threshold": 30}]},
        ]})
    result = invoke("eval", str(suite), "--config", str(config), "-o", "report.html")
    assert result.exit_code == 1, result.output
    return workdir / "report.html"


@needs_chromium
def test_report_renders_and_opens_a_cell(browser: Any, report: Path) -> None:
    from selenium.webdriver.common.by import By

    html = report.read_text(encoding="utf-8")
    assert "<script src" not in html and "<link" not in html  # self-contained
    browser.get(report.as_uri())
    cells = browser.find_elements(By.CSS_SELECTOR, "#matrix tbody button.cell")
    assert [c.get_attribute("data-status") for c in cells] == ["pass", "error", "fail", "error"]
    assert [c.text for c in cells] == ["✓ 1.00", "! error", "✗ 0.50", "! error"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#matrix tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "th").text for r in rows] == ["greets", "strict"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.chart")) == 3
    assert browser.find_element(By.TAG_NAME, "h1").text == "llmswitch eval: report <check> & friends"

    dialog = browser.find_element(By.ID, "detail")
    assert dialog.get_attribute("open") is None
    cells[2].click()  # strict × alpha: failed
    assert dialog.get_attribute("open") is not None
    detail = browser.find_element(By.ID, "detail-body").text
    assert "'nope' not found" in detail
    assert "[alpha:m-1] Say hello to <b>Bob</b>" in detail  # the output, escaped, shown as text
    assert "latency" in detail and "≤ 30 s" in detail
    browser.find_element(By.ID, "close").click()
    assert dialog.get_attribute("open") is None
    cells[1].click()  # greets × beta: the call failed
    assert "AuthenticationError" in browser.find_element(By.ID, "detail-body").text

    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0  # no network
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
