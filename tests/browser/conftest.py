"""Debian's headless chromium, driven by Selenium, for the tests in this folder.

Both binaries are given explicitly and Selenium Manager is kept offline: nothing is ever
downloaded (the machine's chromium comes from `apt-get install chromium chromium-driver`).
Without them, the tests here are skipped with that instruction.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    missing = not (CHROMIUM.exists() and CHROMEDRIVER.exists())
    for item in items:
        if Path(str(item.fspath)).parent != here:
            continue
        item.add_marker(pytest.mark.browser)
        if missing:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"needs Debian's {CHROMIUM} and {CHROMEDRIVER} "
                    "(apt-get install chromium chromium-driver)"
                )
            )


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A headless chromium with its DevTools network events and console kept for reading."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,1000",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        # Every request the page makes (DevTools' Network events), and the console, where the
        # browser reports what a Content-Security-Policy blocked.
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        driver = webdriver.Chrome(
            service=Service(executable_path=str(CHROMEDRIVER), log_output=os.devnull),
            options=options,
        )
        driver.set_page_load_timeout(30)
        try:
            yield driver
        finally:
            driver.quit()
