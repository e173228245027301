"""The first run, in a real browser: what a person reaches after ``up`` and ``demo``.

One copy of the suite is started (``manage-all.sh up -d``) and given the demo
data (``manage-all.sh demo``); headless Chromium then logs in to each admin
and opens its main lists, uses the gateway's Swagger UI with a token, opens
Flower and the mail viewer. Every page is saved as a screenshot in
``SCREENSHOT_DIR`` (default ``var/test-artifacts/screenshots``);
``SCREENSHOT_DIR=docs/screenshots ./manage-all.sh test browser`` refreshes the
pictures in the docs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from browser.conftest import Screenshots
from support import Suite

pytestmark = pytest.mark.browser

SERVICES = ("todo-service", "user-service", "notification-service")


@dataclass(frozen=True)
class Demo:
    token: str
    admin_passwords: dict[str, str]


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    suite = Suite(var_dir=tmp_path_factory.mktemp("first-run"))
    suite.up()
    yield suite
    suite.down()


@pytest.fixture(scope="module")
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


def admin_login(browser: WebDriver, base: str, password: str) -> None:
    browser.get(f"{base}/admin/login/")
    if "Site administration" in browser.find_element(By.TAG_NAME, "body").text:
        return  # logged in already (each service has its own session cookie)
    browser.find_element(By.ID, "id_username").send_keys("admin")
    browser.find_element(By.ID, "id_password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for_text(browser, "Site administration")


ADMIN_PAGES = {
    "todo-service": [
        ("/admin/todos/todo/", "Buy milk", "todo-admin-todos"),
        ("/admin/outbox/outboxmessage/", "todo.completed", "todo-admin-outbox"),
    ],
    "user-service": [
        ("/admin/accounts/user/", "demo", "user-admin-users"),
        ("/admin/outbox/outboxmessage/", "user.registered", "user-admin-outbox"),
        ("/admin/sagas/saga/", "account_deletion", "user-admin-sagas"),
    ],
    "notification-service": [
        (
            "/admin/notifications/notification/",
            "Todo completed: Try the suite",
            "notification-admin",
        ),
    ],
}


@pytest.mark.parametrize("service", SERVICES)
def test_each_admin_logs_in_and_shows_its_main_lists(
    suite: Suite, demo: Demo, browser: WebDriver, screenshots: Screenshots, service: str
) -> None:
    base = suite.url(service, "")
    admin_login(browser, base, demo.admin_passwords[service])

    for path, expected, name in ADMIN_PAGES[service]:
        browser.get(base + path)
        browser.find_element(By.ID, "changelist")
        wait_for_text(browser, expected)
        screenshots.take(browser, name)


def test_the_saga_console_shows_a_deletion_step_by_step(
    suite: Suite, demo: Demo, browser: WebDriver, screenshots: Screenshots
) -> None:
    base = suite.url("user-service", "")
    admin_login(browser, base, demo.admin_passwords["user-service"])
    browser.get(f"{base}/admin/sagas/saga/")
    browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr th a").click()

    for step in ("lock_account", "erase_todos", "erase_notifications", "delete_account"):
        wait_for_text(browser, step)
    timeline = browser.find_element(By.CSS_SELECTOR, ".inline-group")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", timeline)
    screenshots.take(browser, "user-admin-saga-timeline")


def test_swagger_ui_lists_every_service_and_runs_get_todos_with_a_token(
    suite: Suite, demo: Demo, browser: WebDriver, screenshots: Screenshots
) -> None:
    browser.get(suite.url("api-gateway", "/docs"))
    wait = WebDriverWait(browser, 20)
    definitions = Select(wait.until(ec.presence_of_element_located((By.ID, "select"))))
    assert [option.text for option in definitions.options] == list(SERVICES)
    definitions.select_by_visible_text("todo-service")
    wait_for_text(browser, "/todos/stats")

    # Authorize with the demo user's token ...
    browser.find_element(By.CSS_SELECTOR, "button.authorize").click()
    modal = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".dialog-ux")))
    modal.find_element(By.CSS_SELECTOR, "input").send_keys(demo.token)
    modal.find_element(By.CSS_SELECTOR, "button.authorize").click()
    modal.find_element(By.CSS_SELECTOR, "button.btn-done").click()
    # ... and run GET /todos from the page, through the gateway.
    operation = browser.find_element(
        By.XPATH,
        "//div[contains(@class, 'opblock-get')]"
        "[.//*[contains(@class, 'opblock-summary-path') and @data-path='/todos']]",
    )
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda _: operation.find_element(By.CSS_SELECTOR, ".try-out__btn")).click()
    operation.find_element(By.CSS_SELECTOR, "button.execute").click()
    status = wait.until(
        lambda _: operation.find_element(
            By.CSS_SELECTOR, ".live-responses-table tbody .response-col_status"
        )
    )
    WebDriverWait(browser, 20).until(lambda _: status.text.strip() != "")
    assert status.text.strip() == "200"
    live = operation.find_element(By.CSS_SELECTOR, ".live-responses-table")
    assert "Buy milk" in live.text
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", live)
    screenshots.take(browser, "gateway-swagger-ui")


def test_flower_shows_both_celery_workers_online(
    suite: Suite, demo: Demo, browser: WebDriver, screenshots: Screenshots
) -> None:
    browser.get(f"http://127.0.0.1:{suite.flower_port}/")

    def workers() -> dict[str, str]:
        rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
        cells = [row.text.replace("\n", "") for row in rows]
        return {text.split("@")[0]: text for text in cells if "@" in text}

    WebDriverWait(browser, 30).until(
        lambda _: {"notification", "user-saga"} <= set(workers()),
        message="Flower does not list both workers",
    )
    assert all("Online" in text for text in workers().values()), workers()
    screenshots.take(browser, "flower")


def test_the_mail_viewer_shows_the_demo_email(
    suite: Suite, demo: Demo, browser: WebDriver, screenshots: Screenshots
) -> None:
    base = suite.url("notification-service", "")
    admin_login(browser, base, demo.admin_passwords["notification-service"])
    browser.get(f"{base}/admin/mailbox/")
    wait_for_text(browser, "Todo completed: Try the suite")
    screenshots.take(browser, "mail-viewer")

    browser.find_element(By.LINK_TEXT, "Todo completed: Try the suite").click()
    wait_for_text(browser, "demo@example.com")
    assert "Try the suite" in browser.find_element(By.ID, "text-body").text
    screenshots.take(browser, "mail-viewer-email")
