"""DRF's browsable API in a real browser, through the gateway, as the demo user.

A person opens ``/todos`` on the gateway, is shown the login page, logs in
and then uses DRF's own pages: the list, a todo created with the HTML form,
completed with the page's PUT form, the pagination links, the completion's
notification, and "Log out", after which the API refuses the browser. The
pages are saved as screenshots for docs/first-run.md (browser/conftest.py).
"""

from __future__ import annotations

import re
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from browser.conftest import Demo, Screenshots, wait_for_text
from support import Suite

pytestmark = pytest.mark.browser

DEMO_USER, DEMO_PASSWORD = "demo", "todo-demo-password"
TITLE = "Water the plants"


def body_text(browser: WebDriver) -> str:
    return str(browser.find_element(By.TAG_NAME, "body").text)


def show(browser: WebDriver, css: str) -> None:
    element = browser.find_element(By.CSS_SELECTOR, css)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)


def test_a_person_logs_in_and_uses_the_browsable_api_through_the_gateway(
    suite: Suite, demo: Demo, browser: WebDriver, screenshots: Screenshots
) -> None:
    gateway = suite.url("api-gateway", "")
    browser.delete_all_cookies()

    # /todos without a session: the login page, which comes back to /todos
    browser.get(f"{gateway}/todos")
    wait_for_text(browser, "Log in to see this page.")
    browser.find_element(By.ID, "id_username").send_keys(DEMO_USER)
    browser.find_element(By.ID, "id_password").send_keys(DEMO_PASSWORD)
    screenshots.take(browser, "browsable-api-login")
    browser.find_element(By.ID, "log-in").click()

    # the demo user's todos, as DRF's page served through the gateway
    wait_for_text(browser, "Buy milk")
    assert browser.current_url == f"{gateway}/todos"
    assert browser.find_element(By.ID, "signed-in-user").text == DEMO_USER
    screenshots.take(browser, "browsable-api-todos")

    # a todo created with the HTML form
    form = browser.find_element(By.CSS_SELECTOR, "#post-object-form form")
    form.find_element(By.NAME, "title").send_keys(TITLE)
    show(browser, "#post-object-form")
    screenshots.take(browser, "browsable-api-create-form")
    form.find_element(By.CSS_SELECTOR, "button.btn-primary").click()
    wait_for_text(browser, "HTTP 201 Created")
    created = re.search(r'"id": (\d+)', body_text(browser))
    assert created, body_text(browser)
    todo_id = created.group(1)

    # completed with the detail page's PUT form (DRF's AJAX form, X-CSRFToken)
    browser.get(f"{gateway}/todos/{todo_id}")
    wait_for_text(browser, TITLE)
    put_form = browser.find_element(By.CSS_SELECTOR, "#put-object-form form")
    show(browser, "#put-object-form")
    put_form.find_element(By.NAME, "completed").click()
    put_form.find_element(By.CSS_SELECTOR, "button.btn-primary").click()
    wait_for_text(browser, '"completed": true')
    assert "HTTP 200 OK" in body_text(browser)
    screenshots.take(browser, "browsable-api-completed")

    # pagination links point at the gateway, and following one works
    browser.get(f"{gateway}/todos?page_size=2")
    browser.find_element(By.PARTIAL_LINK_TEXT, "page=2").click()
    wait_for_text(browser, '"previous"')
    assert browser.current_url.startswith(f"{gateway}/todos?")
    assert "page=2" in browser.current_url
    assert "HTTP 200 OK" in body_text(browser)

    # the completion's notification (notification-service, after the event)
    deadline = time.monotonic() + 60
    browser.get(f"{gateway}/notifications")
    while f"Todo completed: {TITLE}" not in body_text(browser) and time.monotonic() < deadline:
        time.sleep(1)
        browser.refresh()
    assert f"Todo completed: {TITLE}" in body_text(browser)
    screenshots.take(browser, "browsable-api-notifications")

    browser.get(f"{gateway}/users/me")
    wait_for_text(browser, f"{DEMO_USER}@example.com")

    # logging out: the login page, and the API refuses the browser
    browser.find_element(By.ID, "logout").click()
    wait_for_text(browser, "You have logged out.")
    assert {c["name"] for c in browser.get_cookies()} & {
        "gateway_access",
        "gateway_refresh",
    } == set()
    screenshots.take(browser, "browsable-api-logged-out")
    browser.get(f"{gateway}/todos")
    wait_for_text(browser, "Log in to see this page.")
    assert "Buy milk" not in body_text(browser)


def test_a_service_port_page_says_to_log_in_at_the_gateway(
    suite: Suite, demo: Demo, browser: WebDriver, screenshots: Screenshots
) -> None:
    browser.get(suite.url("todo-service", "/todos"))
    wait_for_text(browser, "People log in through the gateway")
    browser.find_element(By.CSS_SELECTOR, "#login-hint a").click()

    WebDriverWait(browser, 20).until(
        lambda b: b.current_url.startswith(suite.url("api-gateway", ""))
    )
    wait_for_text(browser, "Log in")
    assert browser.find_element(By.NAME, "next").get_attribute("value") == "/todos"
