from __future__ import annotations

from tests.handlers.platform import Platform, api_event, json_body


def test_health(aws: Platform) -> None:
    response = aws.invoke("health", api_event("GET", "/health"))
    assert response["statusCode"] == 200
    assert json_body(response) == {"status": "ok", "service": "listbackup", "stage": "dev", "version": "dev"}
