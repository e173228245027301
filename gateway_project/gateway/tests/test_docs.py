"""/docs lists every service's schema, relayed through the gateway."""

from __future__ import annotations

import re

from django.test import Client

from gateway.tests.conftest import FakeUpstream


def test_docs_page_lists_every_services_schema_url(client: Client) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui-bundle.js" in page
    for service in ["todo-service", "user-service", "notification-service"]:
        assert f"/schemas/{service}" in page


def test_swagger_uis_files_are_served_by_the_gateway_itself(client: Client) -> None:
    # No CDN: the page must work offline and behind egress rules.
    page = client.get("/docs").content.decode()
    [bundle] = re.findall(r'src="([^"]+swagger-ui-bundle\.js)"', page)

    response = client.get(bundle)

    assert bundle.startswith("/static/")
    assert response.status_code == 200
    assert b"SwaggerUIBundle" in b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_a_services_schema_is_relayed_without_a_token(client: Client, todo: FakeUpstream) -> None:
    response = client.get("/schemas/todo-service")

    assert response.status_code == 200
    assert todo.received[0].path == "/schema"


def test_an_unknown_service_has_no_schema(client: Client) -> None:
    assert client.get("/schemas/nope-service").status_code == 404


def test_a_schema_of_a_service_that_is_down_is_a_503(
    client: Client, settings, closed_port: int
) -> None:
    settings.UPSTREAMS = {**settings.UPSTREAMS, "user-service": [f"http://127.0.0.1:{closed_port}"]}

    response = client.get("/schemas/user-service")

    assert response.status_code == 503
    assert response.json()["service"] == "user-service"
