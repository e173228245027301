"""The OpenAPI schema and its Swagger UI."""

from __future__ import annotations

import pytest
from django.test import Client


def test_the_schema_describes_the_auth_and_user_endpoints(client: Client) -> None:
    response = client.get("/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    for path in ("/auth/login", "/auth/register", "/users/me", "/internal/users/{user_id}"):
        assert path in schema["paths"], path
    assert "delete" in schema["paths"]["/users/me"]
    assert "get" in schema["paths"]["/users/deletions/{saga_id}"]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.django_db
def test_swagger_ui_and_its_assets_are_served(client: Client) -> None:
    page = client.get("/docs/")
    script = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")

    assert page.status_code == 200
    assert b"swagger-ui" in page.content
    assert script.status_code == 200
