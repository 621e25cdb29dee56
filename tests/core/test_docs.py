"""The OpenAPI schema validates; the docs and the agents' guide are served, with no CDN."""

import re

import pytest
from openapi_spec_validator import validate
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_validates(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/me/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_the_interactive_docs_use_only_our_own_static_files(client) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(source.startswith("/") for source in sources), sources


def test_llms_txt_is_a_markdown_guide_for_agents(client) -> None:
    response = client.get("/llms.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    text = response.content.decode()
    assert text.startswith("# Sightline API")
    assert "Authorization: Bearer" in text and "problem+json" in text


def test_the_home_page_and_admin_login_render(client) -> None:
    assert client.get("/").status_code == 200
    assert client.get("/admin/login/").status_code == 200


def test_the_schema_generates_without_warnings(tmp_path) -> None:
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/wallet/" in target.read_text()
