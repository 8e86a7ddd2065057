"""Debian's headless Chromium, driven through chromedriver by Selenium, for the tests of pages
the receiver serves. A fresh profile each time, and nothing that calls out to the network."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

INSTALL_HINT = (
    "Chromium and its driver are not installed: apt-get update && apt-get install -y chromium chromium-driver"
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class BrowserMissing(RuntimeError):
    pass


@contextmanager
def chromium() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        raise BrowserMissing(INSTALL_HINT)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        browser.set_page_load_timeout(30)
        # A click that submits a form returns before the next page is there: finding an element
        # waits for it (up to 20 s on a loaded machine) instead of failing at once.
        browser.implicitly_wait(20)
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)
