"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) for the browser tests,
and the one copy of the suite they all use: started with ``up -d``, given ``demo``'s data."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from support import Suite

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


SERVICES = ("todo-service", "user-service", "notification-service")


@dataclass(frozen=True)
class Demo:
    token: str
    admin_passwords: dict[str, str]


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    suite = Suite(var_dir=tmp_path_factory.mktemp("first-run"))
    suite.up()
    yield suite
    suite.down()


@pytest.fixture(scope="session")
def demo(suite: Suite) -> Demo:
    result = suite.manage("demo")
    assert result.returncode == 0, f"demo failed:\n{result.stdout}\n{result.stderr}"
    passwords = dict(re.findall(r"^\s+(\S+-service)\s+http://\S+/admin/\s+admin / (\S+)$",
                                result.stdout, re.M))  # fmt: skip
    assert set(passwords) == set(SERVICES), result.stdout
    token = re.search(r"export TOKEN=(\S+)", result.stdout)
    assert token, result.stdout
    _delete_an_account(suite)  # so that the saga console has a saga to show
    return Demo(token=token.group(1), admin_passwords=passwords)


def _delete_an_account(suite: Suite) -> None:
    gateway = suite.url("api-gateway", "")
    account = {
        "username": "leaving",
        "email": "leaving@example.com",
        "password": "so-long-and-thanks",
    }
    requests.post(f"{gateway}/auth/register", json=account, timeout=10).raise_for_status()
    token = requests.post(f"{gateway}/auth/login", json=account, timeout=10).json()["access"]
    deleted = requests.delete(
        f"{gateway}/users/me",
        json={"password": account["password"]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert deleted.status_code == 202, deleted.text


def wait_for_text(browser: WebDriver, text: str, *, timeout: float = 20) -> None:
    # While a page loads (after a form is submitted), the body found may be the old one.
    WebDriverWait(browser, timeout, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda driver: text in driver.find_element(By.TAG_NAME, "body").text,
        message=f"{text!r} never appeared on {browser.current_url}",
    )
