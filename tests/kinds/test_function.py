"""functions: role from access levels, environment, log group, routes, consumers, subscriptions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import compile_spec, errors_of, platform, template

HANDLERS = "def get_me(event, context):\n    return {}\n\n\ndef work(event, context):\n    return {}\n"
DATA = """\
tables:
  users: {hash_key: userId:S}
queues:
  sync: {fifo: true, visibility_timeout: 6m}
buckets:
  data: {}
buses:
  events: {}
user_pools:
  main: {}
apis:
  main: {auth: user-pool:main}
  open: {}
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "users.py").write_text(HANDLERS)
    return tmp_path


def _function(root: Path, body: str, stage: str = "dev", stack: str = "api") -> dict:
    result = compile_spec(root, {"data.yaml": DATA, f"{stack}.yaml": "functions:\n" + body})
    return template(result, stage, stack)["Resources"]


def _statements(resources: dict, logical: str) -> dict[str, dict]:
    doc = resources[logical + "Role"]["Properties"]["Policies"][0]["PolicyDocument"]
    return {s["Sid"]: s for s in doc["Statement"]}


def test_function_defaults(root: Path) -> None:
    resources = _function(root, "  users-get-me:\n    handler: users.get_me\n")
    fn = resources["UsersGetMeFunction"]["Properties"]
    assert fn["FunctionName"] == "listbackup-dev-users-get-me"
    assert (fn["Runtime"], fn["Architectures"], fn["Handler"]) == ("python3.12", ["arm64"], "users.get_me")
    assert (fn["MemorySize"], fn["Timeout"]) == (512, 10)
    assert fn["TracingConfig"] == {"Mode": "Active"}
    from compiler.spec.handlers import scan_handlers
    from compiler.delivery.package import artifact_key

    bundle = scan_handlers(root / "handlers").bundles["users"]
    assert fn["Code"] == {"S3Bucket": "listbackup-dev-deployment", "S3Key": artifact_key(bundle)}
    assert fn["Code"]["S3Key"].startswith("handlers/users-")
    # VERSION tells which code runs: the digest in the artifact's key
    assert fn["Environment"]["Variables"] == {"SERVICE": "listbackup", "STAGE": "dev", "VERSION": bundle.digest[:12]}
    assert fn["LoggingConfig"] == {"LogFormat": "JSON", "LogGroup": {"Ref": "UsersGetMeFunctionLogs"}}
    logs = resources["UsersGetMeFunctionLogs"]["Properties"]
    assert logs == {
        "LogGroupName": "/aws/lambda/listbackup-dev-users-get-me",
        "RetentionInDays": 30,
        "Tags": logs["Tags"],
    }
    assert resources["UsersGetMeFunctionRole"]["Properties"]["RoleName"] == "listbackup-dev-users-get-me"
    assert set(_statements(resources, "UsersGetMeFunction")) == {"WriteOwnLogs", "Tracing"}


def test_access_levels_become_exact_statements_and_environment(root: Path) -> None:
    body = """\
  users-get-me:
    handler: users.get_me
    access:
      table:users: read
      queue:sync: send
      bucket:data: read-write
      bus:events: publish
      user-pool:main: admin
"""
    resources = _function(root, body)
    statements = _statements(resources, "UsersGetMeFunction")
    assert statements["TableUsersRead"]["Action"] == [
        "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable",
        "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan",
    ]
    assert statements["TableUsersRead"]["Resource"] == [
        {"Fn::ImportValue": "listbackup-dev-table-users:arn"},
        {"Fn::Join": ["", [{"Fn::ImportValue": "listbackup-dev-table-users:arn"}, "/index/*"]]},
    ]
    assert statements["QueueSyncSend"]["Action"] == ["sqs:GetQueueAttributes", "sqs:SendMessage"]
    assert statements["BucketDataReadWrite"]["Action"] == ["s3:ListBucket"]
    assert statements["BucketDataReadWrite"]["Resource"] == [{"Fn::ImportValue": "listbackup-dev-bucket-data:arn"}]
    assert statements["BucketDataReadWrite2"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert statements["BucketDataReadWrite3"]["Action"] == ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"]
    assert statements["BusEventsPublish"]["Action"] == ["events:PutEvents"]
    assert "cognito-idp:AdminCreateUser" in statements["UserPoolMainAdmin"]["Action"]
    env = resources["UsersGetMeFunction"]["Properties"]["Environment"]["Variables"]
    assert env["USERS_TABLE"] == {"Fn::ImportValue": "listbackup-dev-table-users:name"}
    assert env["SYNC_QUEUE_URL"] == {"Fn::ImportValue": "listbackup-dev-queue-sync:url"}
    assert env["DATA_BUCKET"] == {"Fn::ImportValue": "listbackup-dev-bucket-data:name"}
    assert env["EVENTS_BUS_NAME"] == {"Fn::ImportValue": "listbackup-dev-bus-events:name"}
    assert env["MAIN_USER_POOL_ID"] == {"Fn::ImportValue": "listbackup-dev-user-pool-main:id"}
    assert env["MAIN_USER_POOL_CLIENT_ID"] == {"Fn::ImportValue": "listbackup-dev-user-pool-main:client-id"}


def test_same_stack_access_uses_getatt(root: Path) -> None:
    body = "  w:\n    handler: users.work\n    access: {table:users: write}\n"
    resources = template(compile_spec(root, {"one.yaml": DATA + "functions:\n" + body}), "dev", "one")["Resources"]
    assert _statements(resources, "WFunction")["TableUsersWrite"]["Resource"] == [{"Fn::GetAtt": ["UsersTable", "Arn"]}]


def test_routes_with_jwt_and_public(root: Path) -> None:
    body = """\
  users-get-me:
    handler: users.get_me
    api: api:main
    routes:
      - GET /users/{userId}
      - {route: POST /auth/refresh, auth: none}
"""
    resources = _function(root, body)
    integration = resources["UsersGetMeFunctionIntegration"]["Properties"]
    assert integration["IntegrationType"] == "AWS_PROXY" and integration["PayloadFormatVersion"] == "2.0"
    assert integration["IntegrationUri"] == {"Ref": "UsersGetMeFunctionLive"}  # the live alias: rollback moves it
    private = resources["UsersGetMeFunctionRouteGetUsersUserId"]["Properties"]
    assert private["RouteKey"] == "GET /users/{userId}"
    assert private["AuthorizationType"] == "JWT"
    assert private["AuthorizerId"] == {"Fn::ImportValue": "listbackup-dev-api-main:authorizer-id"}
    public = resources["UsersGetMeFunctionRoutePostAuthRefresh"]["Properties"]
    assert public["AuthorizationType"] == "NONE" and "AuthorizerId" not in public
    permission = resources["UsersGetMeFunctionRouteGetUsersUserIdInvoke"]["Properties"]
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["FunctionName"] == {"Ref": "UsersGetMeFunctionLive"}  # the qualified ARN it is invoked by
    assert permission["SourceArn"]["Fn::Sub"][0].endswith("${ApiId}/*/GET/users/*")


def test_consumer_and_subscription(root: Path) -> None:
    body = """\
  worker:
    handler: users.work
    timeout: 1m
    consumes: {queue: queue:sync, batch_size: 5, max_concurrency: 4}
    subscribes:
      jobs: {bus: bus:events, pattern: {source: [listbackup.jobs]}}
"""
    resources = _function(root, body)
    mapping = resources["WorkerFunctionConsumer"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::ImportValue": "listbackup-dev-queue-sync:arn"}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (mapping["BatchSize"], mapping["ScalingConfig"]) == (5, {"MaximumConcurrency": 4})
    consume = _statements(resources, "WorkerFunction")["QueueSyncConsume"]
    assert consume["Action"] == [
        "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage",
    ]
    rule = resources["WorkerFunctionOnJobs"]["Properties"]
    assert rule["Name"] == "listbackup-dev-worker-jobs"
    assert rule["EventBusName"] == {"Fn::ImportValue": "listbackup-dev-bus-events:name"}
    assert rule["Targets"] == [{"Arn": {"Ref": "WorkerFunctionLive"}, "Id": "function"}]
    assert mapping["FunctionName"] == {"Ref": "WorkerFunctionLive"}
    invoke = resources["WorkerFunctionOnJobsInvoke"]["Properties"]
    assert invoke["Principal"] == "events.amazonaws.com"
    assert invoke["SourceArn"] == {"Fn::GetAtt": ["WorkerFunctionOnJobs", "Arn"]}


def test_an_asynchronously_invoked_function_keeps_its_failed_events(root: Path) -> None:
    """A bus subscriber is invoked asynchronously: after Lambda's two retries a failed event
    goes to the function's own DLQ (standard, encrypted, 14 days, alarmed), never dropped;
    a function invoked only synchronously has none, and checkov is told why."""
    body = ("  worker:\n    handler: users.work\n    subscribes:\n      jobs: {bus: bus:events, pattern: {source: [x]}}\n"
            "  reader: {handler: users.get_me}\n")
    resources = _function(root, body)
    dlq = resources["WorkerFunctionDlq"]["Properties"]
    assert dlq["QueueName"] == "listbackup-dev-worker-dlq" and "FifoQueue" not in dlq
    assert (dlq["MessageRetentionPeriod"], dlq["SqsManagedSseEnabled"]) == (14 * 86400, True)
    assert resources["WorkerFunction"]["Properties"]["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["WorkerFunctionDlq", "Arn"]}}
    assert _statements(resources, "WorkerFunction")["DeadLetters"]["Action"] == ["sqs:SendMessage"]
    assert resources["WorkerFunctionDlqAlarm"]["Properties"]["Threshold"] == 0
    assert "CKV_AWS_116" not in json.dumps(resources["WorkerFunction"]["Metadata"])
    assert "ReaderFunctionDlq" not in resources and "DeadLetterConfig" not in resources["ReaderFunction"]["Properties"]
    assert [s["id"] for s in resources["ReaderFunction"]["Metadata"]["checkov"]["skip"]] == ["CKV_AWS_116"]


def test_provisioned_concurrency_only_where_declared(root: Path) -> None:
    body = "  f:\n    handler: users.work\n    stages:\n      prod: {provisioned_concurrency: 3}\n"
    result = compile_spec(root, {"data.yaml": DATA, "api.yaml": "functions:\n" + body})
    dev, prod = template(result, "dev", "api")["Resources"], template(result, "prod", "api")["Resources"]
    assert "ProvisionedConcurrencyConfig" not in dev["FFunctionLive"]["Properties"]  # every stage has the alias
    alias = prod["FFunctionLive"]["Properties"]
    assert alias["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": 3}
    assert any(name.startswith("FFunctionVersion") for name in prod)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  f:\n    handler: users.get_mee\n", "no function 'get_mee' in handlers/users.py\n  3 |     handler: users.get_mee\n    |              ^^^^^^^^^^^^^\n  = help: did you mean 'users.get_me'?"),
        ("  f:\n    handler: users\n", "is not a handler `module.function`"),
        ("  f:\n    handler: users.work\n    access: {table:users: reed}\n", "unknown access level 'reed' for a table\n  4 |     access: {table:users: reed}\n    |                           ^^^^\n  = help: did you mean 'read'?"),
        ("  f:\n    handler: users.work\n    access: {table:userz: read}\n", "error[E305]: unknown table 'userz' in reference 'table:userz'"),
        ("  f:\n    handler: users.work\n    access: {function:f: read}\n", "a function cannot be granted access to a function"),
        ("  f:\n    handler: users.work\n    environment: {AWS_REGION: x}\n", "'AWS_REGION' is reserved by Lambda"),
        ("  f:\n    handler: users.work\n    environment: {R: x}\n", "'R' is not an environment variable name (a letter, then"),
        ("  f:\n    handler: users.work\n    environment: {VERSION: x}\n", "'VERSION' is set by the compiler"),
        ("  f:\n    handler: users.work\n    access: {table:users: read}\n    environment: {USERS_TABLE: x}\n",
         "'USERS_TABLE' is set by the compiler"),
        ("  f:\n    handler: users.work\n    routes: [GET /x]\n", "routes need the API they belong to"),
        ("  f:\n    handler: users.work\n    timeout: 30s\n    api: api:main\n    routes: [GET /x]\n",
         "a function behind API Gateway must answer within 29 s, not 30 s"),
        ("  f:\n    handler: users.work\n    api: api:main\n    routes: [GET users]\n", "is not a route `METHOD /path`"),
        ("  f:\n    handler: users.work\n    api: api:main\n    routes: ['GET /a/{x}/b/{y+}/c']\n", "is not a route"),
        ("  f:\n    handler: users.work\n    api: api:open\n    routes: [GET /x]\n",
         "api:open has no authorizer, so 'GET /x' would be public: say `auth: none` to mean it"),
        ("  f:\n    handler: users.work\n    timeout: 7m\n    consumes: {queue: queue:sync}\n",
         "queue:sync has a visibility timeout of 360 s, shorter than this function's timeout (420 s)"),
        ("  f:\n    handler: users.work\n    consumes: {queue: bus:events}\n", "a function consumes a queue, not a bus"),
    ],
)
def test_function_errors(root: Path, body: str, expected: str) -> None:
    assert expected in errors_of(root, {"data.yaml": DATA, "api.yaml": "functions:\n" + body})


def test_duplicate_route_in_another_stack(root: Path) -> None:
    one = "functions:\n  a:\n    handler: users.work\n    api: api:main\n    routes: [GET /users/me]\n"
    two = "functions:\n  b:\n    handler: users.work\n    api: api:main\n    routes: [POST /users, GET /users/me]\n"
    out = errors_of(root, {"data.yaml": DATA, "one.yaml": one, "two.yaml": two})
    assert "spec/two.yaml:5:27: error[E308]: route 'GET /users/me' is already declared on api:main" in out
    assert "the other one at spec/one.yaml:5:14" in out


def test_sibling_path_variables_need_one_name(root: Path) -> None:
    spec = """\
functions:
  a:
    handler: users.work
    api: api:main
    routes:
      - GET /accounts/{accountId}
      - POST /accounts/{parentAccountId}/sub-accounts
"""
    out = errors_of(root, {"data.yaml": DATA, "api.yaml": spec})
    assert "error[E308]: path variable '{parentAccountId}' after '/accounts' is '{accountId}'" in out
    assert "spec/api.yaml:7:9" in out


def test_no_policy_has_a_wildcard_resource_outside_the_allow_list(root: Path) -> None:
    from compiler.awstypes import WILDCARD_ALLOWED

    body = "  f:\n    handler: users.work\n    access: {table:users: read-write, bucket:data: read-write}\n"
    result = compile_spec(root, {"data.yaml": DATA, "api.yaml": "functions:\n" + body})
    for path, text in result.outputs.items():
        if not path.endswith(".json"):
            continue
        for statement in _all_statements(json.loads(text)):
            if "*" in statement.get("Resource", []):
                assert set(statement["Action"]) <= WILDCARD_ALLOWED, statement


def _all_statements(template: dict) -> list[dict]:
    found = []
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        docs = [p["PolicyDocument"] for p in props.get("Policies", [])] if resource["Type"] == "AWS::IAM::Role" else []
        docs += [props["PolicyDocument"]] if "PolicyDocument" in props else []
        for doc in docs:
            found += [s for s in doc["Statement"] if s["Effect"] == "Allow"]
    return found


@pytest.mark.parametrize(
    ("route", "ok"),
    [
        ("GET /", True),
        ("ANY /{proxy+}", True),
        ("GET /files/{fileId}/{rest+}", True),
        ("DELETE /users/{userId}", True),
        ("GET /a/{x+}/b", False),
        ("GET /users/", False),
        ("GET //users", False),
        ("FETCH /users", False),
        ("get /users", False),
        ("GET /users/{user-id}", False),
        ("GET users", False),
    ],
)
def test_route_keys(route: str, ok: bool) -> None:
    from pydantic import ValidationError

    from compiler.kinds.function.spec import Route

    try:
        Route(route=route)
    except ValidationError:
        assert not ok
    else:
        assert ok


def test_function_name_limit_is_64_with_service_and_stage(root: Path) -> None:
    name = "f" * 48  # listbackup-prod-<48> is 64: fine; one more is not
    ok = f"  {name}:\n    handler: users.work\n"
    assert compile_spec(root, {"data.yaml": DATA, "api.yaml": "functions:\n" + ok})
    out = errors_of(root, {"data.yaml": DATA, "api.yaml": f"functions:\n  {name}g:\n    handler: users.work\n"})
    assert f"Lambda function name 'listbackup-prod-{name}g' is 65 characters; AWS allows 1 to 64" in out


def test_a_queues_dead_letter_queue_is_referable_as_a_part(root: Path) -> None:
    """`queue:sync.dlq` names the DLQ the queue generates: a redrive worker consumes it, with
    exactly the DLQ's ARN in its role and its URL in its environment."""
    body = ("  redrive:\n    handler: users.work\n    timeout: 1m\n    consumes: {queue: queue:sync.dlq}\n"
            "    access: {queue:sync: send, queue:sync.dlq: consume}\n")
    resources = _function(root, body)
    mapping = resources["RedriveFunctionConsumer"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::ImportValue": "listbackup-dev-queue-sync:dlq-arn"}
    statements = _statements(resources, "RedriveFunction")
    assert statements["QueueSyncDlqConsume"]["Resource"] == [{"Fn::ImportValue": "listbackup-dev-queue-sync:dlq-arn"}]
    assert statements["QueueSyncSend"]["Resource"] == [{"Fn::ImportValue": "listbackup-dev-queue-sync:arn"}]
    env = resources["RedriveFunction"]["Properties"]["Environment"]["Variables"]
    assert env["SYNC_DLQ_QUEUE_URL"] == {"Fn::ImportValue": "listbackup-dev-queue-sync:dlq-url"}
    assert env["SYNC_QUEUE_URL"] == {"Fn::ImportValue": "listbackup-dev-queue-sync:url"}


@pytest.mark.parametrize(("reference", "message"), [
    ("queue:sync.dlx", "a queue has no part 'dlx'; it offers `queue:sync.dlq` (its dead-letter queue)"),
    ("table:users.dlq", "a table has no part 'dlq'"),
])
def test_an_unknown_part_is_an_error_at_the_reference(root: Path, reference: str, message: str) -> None:
    out = errors_of(root, {"data.yaml": DATA, "api.yaml": f"functions:\n  f:\n    handler: users.work\n    access: {{{reference}: read}}\n"})
    assert message in out and "spec/api.yaml:4:" in out


def test_concurrency_stage_default_own_reservation_and_the_queue_cap(root: Path) -> None:
    """Every function is capped by the stage default unless it reserves its own; a consumer's
    event source never scales past its reservation (throttled messages would reach the DLQ)."""
    settings = platform("{concurrency: {reserved: 4, budget: 50}}", "{protect: true}")
    body = ("functions:\n  me: {handler: users.get_me}\n  big: {handler: users.get_me, reserved_concurrency: 20}\n"
            "  worker: {handler: users.work, timeout: 30s, consumes: {queue: queue:sync}}\n")
    result = compile_spec(root, {"data.yaml": DATA, "api.yaml": body}, platform=settings)
    dev, prod = template(result, "dev", "api")["Resources"], template(result, "prod", "api")["Resources"]
    assert [dev[f"{n}Function"]["Properties"].get("ReservedConcurrentExecutions") for n in ("Me", "Big", "Worker")] == [4, 20, 4]
    assert dev["WorkerFunctionConsumer"]["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 4}
    assert "ReservedConcurrentExecutions" not in prod["MeFunction"]["Properties"]  # prod reserves nothing here
    assert "ScalingConfig" not in prod["WorkerFunctionConsumer"]["Properties"]


def test_concurrency_over_the_stage_budget_and_under_the_queue(root: Path) -> None:
    settings = platform("{concurrency: {reserved: 30, budget: 50}}", "{protect: true}")
    body = ("functions:\n  me: {handler: users.get_me}\n"
            "  worker: {handler: users.work, timeout: 30s, consumes: {queue: queue:sync, max_concurrency: 40}}\n")
    out = errors_of(root, {"data.yaml": DATA, "api.yaml": body}, platform=settings)
    assert "spec/platform.yaml:5:22: error[E215]: the functions of stage dev reserve 60 concurrent executions, 10 over " \
           "its budget of 50. The account's quota these budgets assume is 1050 (100 kept unreserved by Lambda + 50 + 900); " \
           "reserved now: dev 60 of 50, prod 0 of 900" in " ".join(out.split())
    # the smallest changes: the default down by 5 (2 functions), budget from prod, or more quota
    for fix in ("lower stage dev's `concurrency.reserved` from 30 to 25 (2 function(s) use it: frees 10)",
                "move 10 of budget from stage prod (it uses 0 of 900): budget 890 there, 60 here",
                "raise the account's Lambda concurrency quota to at least 1060 (Service Quotas, code L-B99A9384)"):
        assert fix in " ".join(out.split()), out
    assert "spec/api.yaml:3:94: error[E207]: the queue may invoke function worker 40 times at once, but it is reserved " \
           "30 in stage dev" in out
    assert "stage prod reserve" not in out  # prod reserves nothing: no limit to break
