"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) for the browser tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


class Screenshots:
    """Saves each page as ``<name>.png`` where the run (or a person) wants them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def take(self, browser: WebDriver, name: str) -> Path:
        path = self.directory / f"{name}.png"
        assert browser.save_screenshot(str(path)), f"no screenshot of {browser.current_url}"
        return path


@pytest.fixture(scope="session")
def screenshots() -> Screenshots:
    default = ROOT / "var" / "test-artifacts" / "screenshots"
    return Screenshots(Path(os.environ.get("SCREENSHOT_DIR") or default).resolve())


@pytest.fixture(scope="session")
def browser() -> Iterator[WebDriver]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        pytest.fail(
            f"browser tests need {' and '.join(missing)}: "
            "apt-get install chromium chromium-driver (or set CHROMIUM / CHROMEDRIVER)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--window-size=1366,900", "--disable-gpu"):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run as root otherwise
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.implicitly_wait(5)
    yield driver
    driver.quit()
