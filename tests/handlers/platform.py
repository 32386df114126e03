"""An in-process ListBackup platform for handler tests: moto resources made from the
compiled templates in generated/<stage>/, and functions invoked with the environment and
checked against the role that those templates give them."""

from __future__ import annotations

import base64
import functools
import importlib
import json
import os
import secrets
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import boto3

from compiler.local.iamcheck import Call, covers, public, targets
from tests.conftest import REPO

REGION = "us-west-2"
HANDLERS = REPO / "handlers"
# What CloudFront sends in X-Origin-Verify for the platform under test (set by Platform.build
# from the distribution's dynamic reference and the secret it names); api_event sends it.
ORIGIN: dict[str, str] = {}
# Every call a handler made in this test session: function -> {(action, target)}, for
# tests/handlers/test_grants.py (which runs last).
USED: dict[str, set[tuple[str, str]]] = {}

# The platform under test: the one the session's hook records calls for.
CURRENT: list["Platform"] = []


@functools.lru_cache(maxsize=None)
def _session() -> boto3.Session:
    """One boto3 session per test process, for the platform's clients and the handlers' (their
    default session): its loader keeps the service models it parsed, which a new session reads
    again (~0.2 s a test). Made after moto's import, so its clients carry moto's stubber, which
    each test's mock_aws turns on and off; the hook records the calls of the platform in use."""
    session = boto3.Session(region_name=REGION)
    session.events.register("before-parameter-build", lambda **kw: CURRENT[0]._record(**kw) if CURRENT else None)
    return session


@dataclass
class Function:
    name: str  # short name, e.g. users-get-me
    handler: str
    environment: dict[str, str]
    granted: set[str]
    statements: list[tuple[set[str], list[str]]] = field(default_factory=list)  # (actions, resource ARNs)

    def allows(self, call: Call) -> bool:
        action, target = call
        return any(action in actions and any(covers(arn, target) for arn in arns) for actions, arns in self.statements)


@dataclass
class Platform:
    stage: str = "dev"
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    values: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (stack, logical) -> attrs
    calls: list[Call] = field(default_factory=list)  # (IAM action, target) of the last invocation
    names: dict[str, str] = field(default_factory=dict)  # generated id -> physical name (user pools)
    clients: dict[str, Any] = field(default_factory=dict)  # service -> the client that builds it (one each: a client costs ~15 ms)

    # ---------------------------------------------------------------- building
    @classmethod
    def build(cls, stage: str = "dev") -> "Platform":
        folder = REPO / "generated" / stage
        manifest = json.loads((folder / "manifest.json").read_text())
        platform = cls(stage, {s: json.loads((folder / f"{s}.json").read_text()) for s in manifest["stacks"]})
        for level in manifest["levels"]:
            for stack in level:
                platform._create(stack)
        ORIGIN.clear()
        for template in platform.templates.values():
            for resource in template["Resources"].values():
                for origin in resource["Properties"].get("DistributionConfig", {}).get("Origins", []):
                    for header in origin.get("OriginCustomHeaders", []):
                        name = header["HeaderValue"].removeprefix("{{resolve:secretsmanager:").removesuffix("}}")
                        ORIGIN["value"] = platform._client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
        boto3.DEFAULT_SESSION = _session()
        CURRENT[:] = [platform]
        return platform

    def _create(self, stack: str) -> None:
        resources = self.templates[stack]["Resources"]
        order = ["AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::DynamoDB::Table", "AWS::SQS::Queue",
                 "AWS::S3::Bucket", "AWS::Events::EventBus", "AWS::SecretsManager::Secret", "AWS::SNS::Topic"]
        for type_ in order:
            for logical, resource in sorted(resources.items()):
                if resource["Type"] == type_:
                    self.values[(stack, logical)] = getattr(self, "_" + type_.split("::")[-1].lower())(stack, resource["Properties"])

    def _client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = _session().client(service)  # type: ignore[call-overload]
        return self.clients[service]

    def _table(self, stack: str, p: dict[str, Any]) -> dict[str, str]:
        args: dict[str, Any] = {k: p[k] for k in ("TableName", "KeySchema", "AttributeDefinitions") if k in p}
        if "GlobalSecondaryIndexes" in p:
            args["GlobalSecondaryIndexes"] = [{k: v for k, v in gsi.items() if k != "ProvisionedThroughput"} for gsi in p["GlobalSecondaryIndexes"]]
        table = self._client("dynamodb").create_table(BillingMode="PAY_PER_REQUEST", **args)
        return {"Ref": p["TableName"], "Arn": table["TableDescription"]["TableArn"]}

    def _queue(self, stack: str, p: dict[str, Any]) -> dict[str, str]:
        attributes = {k: str(p[k]).lower() for k in ("FifoQueue", "ContentBasedDeduplication") if k in p}
        sqs = self._client("sqs")
        url = sqs.create_queue(QueueName=p["QueueName"], Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return {"Ref": url, "Arn": arn, "QueueName": p["QueueName"]}

    def _bucket(self, stack: str, p: dict[str, Any]) -> dict[str, str]:
        self._client("s3").create_bucket(
            Bucket=p["BucketName"], CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        return {"Ref": p["BucketName"], "Arn": f"arn:aws:s3:::{p['BucketName']}"}

    def _eventbus(self, stack: str, p: dict[str, Any]) -> dict[str, str]:
        arn = self._client("events").create_event_bus(Name=p["Name"])["EventBusArn"]
        return {"Ref": p["Name"], "Name": p["Name"], "Arn": arn}

    def _secret(self, stack: str, p: dict[str, Any]) -> dict[str, str]:
        value = secrets.token_hex(16)  # as GenerateSecretString would: random
        arn = self._client("secretsmanager").create_secret(Name=p["Name"], SecretString=value)["ARN"]
        return {"Ref": arn, "Name": p["Name"]}

    def _topic(self, stack: str, p: dict[str, Any]) -> dict[str, str]:
        arn = self._client("sns").create_topic(Name=p["TopicName"])["TopicArn"]
        return {"Ref": arn, "TopicName": p["TopicName"]}

    def _userpool(self, stack: str, p: dict[str, Any]) -> dict[str, str]:
        args = {k: p[k] for k in ("UsernameAttributes", "AutoVerifiedAttributes", "Policies", "Schema") if k in p}
        pool = self._client("cognito-idp").create_user_pool(PoolName=p["UserPoolName"], **args)["UserPool"]
        self.names[pool["Id"]] = p["UserPoolName"]
        return {"Ref": pool["Id"], "Arn": pool["Arn"], "ProviderURL": f"https://cognito-idp.{REGION}.amazonaws.com/{pool['Id']}"}

    def _userpoolclient(self, stack: str, p: dict[str, Any]) -> dict[str, str]:
        pool_id = self.resolve(stack, p["UserPoolId"])
        flows = p.get("ExplicitAuthFlows", [])
        created = self._client("cognito-idp").create_user_pool_client(
            UserPoolId=pool_id, ClientName=p["ClientName"], ExplicitAuthFlows=flows, GenerateSecret=False
        )
        return {"Ref": created["UserPoolClient"]["ClientId"]}

    # ---------------------------------------------------------------- values
    def resolve(self, stack: str, value: Any) -> Any:
        """A template value as deployed: Ref, GetAtt, ImportValue (through the producer), Join."""
        if isinstance(value, str):
            return value
        (function, argument), = value.items()
        if function == "Ref":
            return self.values[(stack, argument)]["Ref"]
        if function == "Fn::GetAtt":
            return self.values[(stack, argument[0])][argument[1]]
        if function == "Fn::ImportValue":
            for producer, template in self.templates.items():
                for output in template.get("Outputs", {}).values():
                    if output.get("Export", {}).get("Name") == argument:
                        return self.resolve(producer, output["Value"])
            raise KeyError(f"no stack exports {argument}")
        if function == "Fn::Join":
            return argument[0].join(str(self.resolve(stack, part)) for part in argument[1])
        raise NotImplementedError(function)

    def function(self, name: str) -> Function:
        physical = f"listbackup-{self.stage}-{name}"
        for stack, template in self.templates.items():
            for resource in template["Resources"].values():
                props = resource["Properties"]
                if resource["Type"] == "AWS::Lambda::Function" and props["FunctionName"] == physical:
                    env = {k: str(self.resolve(stack, v)) for k, v in props["Environment"]["Variables"].items()}
                    role = template["Resources"][props["Role"]["Fn::GetAtt"][0]]["Properties"]
                    statements = [(set(s["Action"]), [str(self._arn(stack, r)) for r in s["Resource"]])
                                  for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
                    granted = {a for actions, _ in statements for a in actions}
                    return Function(name, props["Handler"], env, granted, statements)
        raise KeyError(f"no function {physical} in generated/{self.stage}")

    def _arn(self, stack: str, value: Any) -> Any:
        try:
            return self.resolve(stack, value)
        except (KeyError, NotImplementedError):  # e.g. a log group this platform does not create
            return json.dumps(value, sort_keys=True)

    # ---------------------------------------------------------------- invoking
    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.extend(targets(model.service_model.signing_name, model.name, params))

    @contextmanager
    def running(self, name: str) -> Iterator[tuple[Function, Any]]:
        """The function's module, imported with the environment its template gives it (set
        once: threads of one test may then run its handler side by side)."""
        function = self.function(name)
        saved = dict(os.environ)
        os.environ.update(function.environment)
        if str(HANDLERS) not in sys.path:
            sys.path.insert(0, str(HANDLERS))
        try:
            importlib.import_module("shared").reset_clients()
            yield function, importlib.import_module(function.handler.rsplit(".", 1)[0])
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        """Run a function in-process as Lambda would, then check its calls against its role."""
        with self.running(name) as (function, module):
            self.calls = []
            result = getattr(module, function.handler.rsplit(".", 1)[1])(event, None)
        private = [c for c in self.calls if not public(c[0])]
        USED.setdefault(name, set()).update((action, self.names.get(target, target)) for action, target in private)
        denied = sorted({action for action, target in private if action not in function.granted})
        assert not denied, f"{name} called {denied}, which its role does not grant"
        elsewhere = sorted({f"{action} on {target}" for action, target in private if not function.allows((action, target))})
        assert not elsewhere, f"{name} called {elsewhere}, which its role grants on other resources only"
        return result



def api_event(method: str, path: str, body: Any = None, claims: dict[str, Any] | None = None,
              params: dict[str, str] | None = None, query: dict[str, str] | None = None, token: str | None = None,
              address: str = "192.0.2.10", via_cloudfront: bool = True) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, with the JWT claims its authorizer passes,
    from `address` through CloudFront (which appends the viewer to X-Forwarded-For and adds
    the origin secret), or straight to the execute-api endpoint."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "headers": {"content-type": "application/json", "x-forwarded-for": address,
                    **({"authorization": f"Bearer {token}"} if token else {})},
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": "130.176.0.1"}},
        "isBase64Encoded": False,
    }
    if via_cloudfront and "value" in ORIGIN:
        event["headers"]["x-origin-verify"] = ORIGIN["value"]
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    if params:
        event["pathParameters"] = params
    if query:
        event["queryStringParameters"] = query
    return event


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT (the authorizer verified it; the handler only reads it)."""
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def json_body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None
