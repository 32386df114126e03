"""secrets: values never in a spec; read by functions through access; rotation wiring."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import compile_spec, errors_of, template

SPEC = """\
secrets:
  api-keys: {description: Third-party API keys}
  db-password:
    rotation: {function: function:rotator, days: 14}
functions:
  rotator: {handler: h.f, access: {secret:db-password: rotate}}
  reader: {handler: h.f, access: {secret:api-keys: read}}
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "h.py").write_text("def f(e, c):\n    return 1\n")
    return tmp_path


def test_secret_rotation_and_access(root: Path) -> None:
    resources = template(compile_spec(root, {"s.yaml": SPEC}), "prod", "s")["Resources"]
    secret = resources["ApiKeysSecret"]
    assert secret["Properties"]["Name"] == "listbackup-prod-api-keys"
    assert "SecretString" not in secret["Properties"] and "GenerateSecretString" in secret["Properties"]
    assert (secret["DeletionPolicy"], secret["UpdateReplacePolicy"]) == ("Retain", "Retain")
    rotation = resources["DbPasswordSecretRotation"]["Properties"]
    assert rotation["RotationRules"] == {"AutomaticallyAfterDays": 14}
    assert rotation["RotationLambdaARN"] == {"Fn::GetAtt": ["RotatorFunction", "Arn"]}
    assert resources["DbPasswordSecretRotationInvoke"]["Properties"]["Principal"] == "secretsmanager.amazonaws.com"
    reader = resources["ReaderFunction"]["Properties"]["Environment"]["Variables"]
    assert reader["API_KEYS_SECRET_ARN"] == {"Ref": "ApiKeysSecret"}
    statements = resources["ReaderFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    read = next(s for s in statements if s["Sid"] == "SecretApiKeysRead")
    assert read["Action"] == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    assert read["Resource"] == [{"Ref": "ApiKeysSecret"}]


@pytest.mark.parametrize(
    ("spec", "what"),
    [
        ("functions:\n  f: {handler: h.f, environment: {AWS_KEY: AKIAABCDEFGHIJKLMNOP}}\n", "an AWS access key id"),
        ("functions:\n  f: {handler: h.f, environment: {STRIPE: sk_live_abcdefghijklmnop}}\n", "a Stripe key"),
        ("functions:\n  f: {handler: h.f, environment: {DB_PASSWORD: hunter2hunter22}}\n", "a secret value for 'DB_PASSWORD'"),
        ("functions:\n  f: {handler: h.f, environment: {URL: 'https://user:pw@db.example.com/x'}}\n", "a URL with a password"),
        ("topics:\n  t: {subscriptions: {https: ['https://hooks.slack.com/services/T000/B000/XXXX']}}\n", "a Slack webhook"),
        ("functions:\n  f: {handler: h.f, environment: {HOOK: 'https://x.example.com/a?token=abcdef123456'}}\n", "a URL with a token"),
    ],
)
def test_credentials_in_a_spec_are_errors(root: Path, spec: str, what: str) -> None:
    out = errors_of(root, {"s.yaml": spec})
    assert f"error[E213]: this looks like {what}: credentials never go in a spec" in out
    assert "spec/s.yaml:2:" in out


def test_ordinary_values_are_not_credentials(root: Path) -> None:
    spec = "user_pools:\n  p: {client: {access_token: 1h, refresh_token: 30d}}\n"
    spec += "functions:\n  f: {handler: h.f, environment: {TOKEN_TTL: '3600', PASSWORD_POLICY: strong}}\n"
    spec += "secrets:\n  edge-origin-2026: {}\napis:\n  a: {origin_secret: secret:edge-origin-2026}\n"  # a reference
    assert compile_spec(root, {"s.yaml": spec})
    out = errors_of(root / "other", {"s.yaml": "functions:\n  f: {handler: h.f, environment: {DB_PASSWORD: 'db:hunter2hunter2'}}\n"})
    assert "error[E213]" in out  # a value shaped like a reference, but of no kind
