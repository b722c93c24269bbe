"""Headless Chromium for the page tests (the preview page, the studio): start it, and wait on the page;
and the data a preview page draws from."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def start_browser():
    """Yield a headless Chromium selenium driver (quit afterwards); skip without Chromium and chromedriver,
    unless MVGEN_REQUIRE_BROWSER=1 (then fail)."""
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("MVGEN_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium and chromedriver are required (apt-get install chromium chromium-driver)")
        pytest.skip("no chromium/chromedriver on this machine (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--window-size=1400,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def wait_until(condition, timeout_s: float = 20.0):
    """Poll ``condition()`` until it is truthy (returned) or ``timeout_s`` passes (AssertionError)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def page_data(page: Path) -> dict:
    """The JSON a preview page draws from (its ``mvgen-data`` script)."""
    found = re.search(r'<script id="mvgen-data" type="application/json">(.*?)</script>', Path(page).read_text(), re.S)
    return json.loads(found.group(1))  # the page writes "</" as "<\/", which JSON reads back
