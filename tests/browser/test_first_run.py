"""The first run, in a real browser: what a person reaches after ``up`` and ``demo``.

One copy of the suite is started (``manage-all.sh up -d``) and given the demo
data (``manage-all.sh demo``) by browser/conftest.py; headless Chromium then logs in to each admin
and opens its main lists, uses the gateway's Swagger UI with a token, opens
Flower and the mail viewer. Every page is saved as a screenshot in
``SCREENSHOT_DIR`` (default ``var/test-artifacts/screenshots``);
``SCREENSHOT_DIR=docs/screenshots ./manage-all.sh test browser`` refreshes the
pictures in the docs.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from browser.conftest import SERVICES, Demo, Screenshots, wait_for_text
from support import Suite

pytestmark = pytest.mark.browser


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
