from __future__ import annotations

import json

from tests.conftest import REPO
from tests.handlers.platform import Platform, api_event, json_body


def test_health_tells_which_code_runs(aws: Platform) -> None:
    response = aws.invoke("health", api_event("GET", "/health"))
    assert response["statusCode"] == 200
    body = json_body(response)
    assert (body["status"], body["service"], body["stage"]) == ("ok", "listbackup", "dev")
    # the version is the digest in the artifact key the template deploys: it changes with the code
    template = json.loads((REPO / "generated" / "dev" / "api-gateway.json").read_text())
    key = template["Resources"]["HealthFunction"]["Properties"]["Code"]["S3Key"]
    assert len(body["version"]) == 12 and key.startswith(f"handlers/health-{body['version']}")
