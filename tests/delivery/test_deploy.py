"""Deploy end to end against a moto server started here, on 127.0.0.1 (a free port).

The repository's dev stage is deployed in order and inspected through the AWS APIs; a
small platform in a temporary folder exercises updates, a failing stack, the re-run that
converges, and destroy with a retained table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from compiler.delivery.deploy import Deployer, DeployError
from compiler.local.emulator import LocalDeployer
from compiler.build.emit import write
from compiler.delivery.package import package
from compiler.build.pipeline import build
from tests.conftest import REPO, deployable, platform, stack_names, write_spec

REGION = "us-west-2"


pytestmark = pytest.mark.usefixtures("local_credentials")  # any credentials do on the emulator


def _client(endpoint: str, service: str, region: str = REGION) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=region)


def _deployer(out: Path, stage: str, endpoint: str, artifacts: Path, lines: list[str]) -> LocalDeployer:
    return LocalDeployer(out, stage, endpoint_url=endpoint, yes=True, echo=lines.append, artifacts=artifacts, poll=0.01)


@pytest.fixture(scope="module")
def endpoint(endpoint: str) -> str:
    """The shared moto server, emptied first: this module deploys the repository's stage,
    whose names are fixed, and checks that every stack is created, whatever modules before
    it deployed (moto keeps one state per process, which every server in it shares)."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()
    return endpoint


@pytest.fixture(scope="module")
def dev(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The repository's dev stage, deployed once for the tests that inspect it."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    package(REPO / "handlers", artifacts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "local")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "local")
        lines: list[str] = []
        deployer = _deployer(REPO / "generated", "dev", endpoint, artifacts, lines)
        results = deployer.bootstrap() + deployer.deploy()
        again = deployer.deploy()
    return {"results": results, "again": again, "lines": lines, "dropped": deployer.dropped, "deployer": deployer}


def _declared(type_: str, name: str) -> set[str]:
    """Physical names of one type in generated/dev (what the tests expect grows with the spec)."""
    found = set()
    for path in (REPO / "generated" / "dev").glob("*.json"):
        for resource in json.loads(path.read_text()).get("Resources", {}).values():
            if isinstance(resource, dict) and resource.get("Type") == type_:
                found.add(resource["Properties"][name])
    return found


def test_dev_deploys_in_order(dev: dict[str, Any]) -> None:
    manifest = json.loads((REPO / "generated" / "dev" / "manifest.json").read_text())
    assert {r.stack: r.status for r in dev["results"]} == {stack: "created" for stack in manifest["stacks"]}
    order = [line.split(":")[0] for line in dev["lines"] if line.endswith("creating (emulator: create_stack)")]
    for level in manifest["levels"][1:]:
        for stack in level:
            assert all(order.index(dep) < order.index(stack) for dep in manifest["stacks"][stack]["depends_on"])
    # identity and secrets are made through their APIs (moto's CloudFormation leaves them out)
    assert not [item for items in dev["dropped"].values() for item in items if "Cognito" in item or "SecretsManager" in item]


def test_identity_and_secrets_reach_the_functions_as_on_aws(dev: dict[str, Any], endpoint: str) -> None:
    """The user pool, its client and groups exist with the template's settings, and the values
    the templates pass on (ids, ARNs) are real ones, not placeholders."""
    idp = _client(endpoint, "cognito-idp")
    pools = {p["Name"]: p["Id"] for p in idp.list_user_pools(MaxResults=60)["UserPools"]}
    declared = _declared("AWS::Cognito::UserPool", "UserPoolName")
    assert declared <= set(pools)
    for name in declared:
        pool = idp.describe_user_pool(UserPoolId=pools[name])["UserPool"]
        assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 8
        groups = {g["GroupName"] for g in idp.list_groups(UserPoolId=pools[name])["Groups"]}
        assert groups and groups <= _declared("AWS::Cognito::UserPoolGroup", "GroupName")
    lam = _client(endpoint, "lambda")
    values = [v for f in lam.list_functions()["Functions"] for v in f.get("Environment", {}).get("Variables", {}).values()]
    assert not [v for v in values if v.startswith("local-unmodelled:")]
    assert any(v in pools.values() for v in values)  # a function's USER_POOL_ID is the pool's real id


def test_second_deploy_is_a_no_op(dev: dict[str, Any]) -> None:
    assert {r.status for r in dev["again"]} == {"unchanged"}


def test_data_tier_exists_as_the_spec_says(dev: dict[str, Any], endpoint: str) -> None:
    dynamodb = _client(endpoint, "dynamodb")
    assert {t for t in dynamodb.list_tables()["TableNames"] if t.startswith("listbackup-dev-")} == _declared("AWS::DynamoDB::Table", "TableName")
    jobs = dynamodb.describe_table(TableName="listbackup-dev-jobs")["Table"]
    assert jobs["KeySchema"] == [{"AttributeName": "jobId", "KeyType": "HASH"}]
    assert sorted(i["IndexName"] for i in jobs["GlobalSecondaryIndexes"]) == [
        "AccountIndex", "AccountTimeIndex", "SourceIndex", "StatusTimeIndex", "UserIndex",
    ]
    sqs = _client(endpoint, "sqs")
    url = sqs.get_queue_url(QueueName="listbackup-dev-sync.fifo")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":listbackup-dev-sync-dlq.fifo") and int(redrive["maxReceiveCount"]) == 3
    assert attributes["VisibilityTimeout"] == "300" and attributes["FifoQueue"] == "true"
    # moto's CloudFormation applies a bucket's encryption and tags (not versioning, public
    # access blocks or lifecycle, which the template tests pin instead)
    s3 = _client(endpoint, "s3")
    rule = s3.get_bucket_encryption(Bucket="listbackup-dev-data")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket="listbackup-dev-assets")["TagSet"]}
    assert (tags["Service"], tags["Stage"]) == ("listbackup", "dev")
    assert _client(endpoint, "events").describe_event_bus(Name="listbackup-dev-events")["Name"] == "listbackup-dev-events"


def test_functions_roles_and_mappings(dev: dict[str, Any], endpoint: str) -> None:
    lam = _client(endpoint, "lambda")
    functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    assert {n for n in functions if n.startswith("listbackup-dev-")} == _declared("AWS::Lambda::Function", "FunctionName")
    worker = functions["listbackup-dev-sync-worker"]
    assert (worker["Handler"], worker["Runtime"], worker["Timeout"]) == ("workers.sync", "python3.12", 50)
    assert worker["Environment"]["Variables"]["JOBS_TABLE"] == "listbackup-dev-jobs"  # an import, resolved
    role = _client(endpoint, "iam").get_role(RoleName="listbackup-dev-sync-worker")["Role"]
    assert role["Arn"] == worker["Role"]
    # moto would run event source mappings in Docker: the local consumers run them from the templates
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    from compiler.local.consumers import load_mappings

    templates = {p.stem: json.loads(p.read_text()) for p in (REPO / "generated" / "dev").glob("*.json") if p.stem != "manifest"}
    exports = {e["Name"]: e["Value"] for e in _client(endpoint, "cloudformation").list_exports()["Exports"]}
    mappings = load_mappings(templates, exports, _client(endpoint, "sqs"))
    declared = sum(1 for t in templates.values() for r in t["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == declared
    sources = {m.function: m.queue_arn.rsplit(":", 1)[1] for m in mappings}
    assert sources["listbackup-dev-sync-worker"] == "listbackup-dev-sync.fifo"
    assert sources["listbackup-dev-backup-worker"] == "listbackup-dev-backup.fifo"


def test_exports_are_listed(dev: dict[str, Any], endpoint: str) -> None:
    exports = {e["Name"] for e in _client(endpoint, "cloudformation").list_exports()["Exports"]}
    manifest = json.loads((REPO / "generated" / "dev" / "manifest.json").read_text())
    assert set(manifest["exports"]) <= exports


# ------------------------------------------------------------------------ a small platform

PLATFORM = platform("{alarms: {enabled: false}}", "{protect: true, alarms: {enabled: false}}", service="mini", tags=None)
DATA = "tables:\n  items: {hash_key: id:S}\nqueues:\n  work: {visibility_timeout: 2m}\n"
APP = "functions:\n  worker: {handler: jobs.run, timeout: 20s, consumes: {queue: queue:work}, access: {table:items: write}}\n"


def stubbed_deploy(out: Path, stage: str, artifacts: Path, cfn: Any, stub: Any, lines: list[str]) -> Any:
    """The real deployer's deploy_stack("data"), every CloudFormation call answered by
    botocore's Stubber: in the order added, each one used."""
    deployer = Deployer(out, stage, yes=True, echo=lines.append, artifacts=artifacts, poll=0)
    with stub:
        deployer.client = lambda service, region=None: cfn  # type: ignore[method-assign]
        result = deployer.deploy_stack("data")
        stub.assert_no_pending_responses()
    return result


def _platform(root: Path, data: str = DATA, service: str = "mini", extra: dict[str, str] | None = None,
              repository: str | None = None) -> tuple[Path, Path]:
    """A small platform (a table, a queue, a worker; `extra` spec files) compiled and packaged."""
    settings = PLATFORM.replace("service: mini", f"service: {service}") + (f"repository: {repository}\n" if repository else "")
    return deployable(root, {"data.yaml": data, "app.yaml": APP, **(extra or {})}, platform=settings)


def test_update_failure_rerun_and_destroy(endpoint: str, tmp_path: Path) -> None:
    out, artifacts = _platform(tmp_path)
    lines: list[str] = []
    first = _deployer(out, "prod", endpoint, artifacts, lines).deploy()
    assert {r.stack: r.status for r in first} == {"data": "created", "app": "created"}

    # an edited spec deploys as an update, through a change set
    _platform(tmp_path, DATA.replace("2m", "3m"))
    updated = {r.stack: r for r in _deployer(out, "prod", endpoint, artifacts, lines).deploy()}
    assert (updated["data"].status, updated["app"].status) == ("updated", "unchanged")
    assert any(line.startswith("data: change set") and "Modify" in line for line in lines)
    sqs = _client(endpoint, "sqs")
    url = sqs.get_queue_url(QueueName="mini-prod-work")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]["VisibilityTimeout"] == "180"

    # a risky change (a new hash key replaces the table) is shown and not executed
    _platform(tmp_path, DATA.replace("2m", "3m").replace("id:S", "key:S"))
    risky = {r.stack: r for r in _deployer(out, "prod", endpoint, artifacts, lines).deploy()}
    assert risky["data"].status == "failed" and "--allow-risk" in risky["data"].detail
    assert any("! ItemsTable (AWS::DynamoDB::Table): REPLACE, BLOCKED" in line for line in lines)
    table = _client(endpoint, "dynamodb").describe_table(TableName="mini-prod-items")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]  # untouched
    _platform(tmp_path, DATA.replace("2m", "3m"))

    # a stack that fails stops its dependents; the run says so; a fixed re-run converges
    dynamodb = _client(endpoint, "dynamodb")
    dynamodb.create_table(  # a stray table holding the name (e.g. retained by an earlier destroy)
        TableName="mini-prod-extra", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )
    (tmp_path / "spec" / "extra.yaml").write_text("tables:\n  extra: {hash_key: id:S}\n")
    (tmp_path / "spec" / "watch.yaml").write_text(  # depends on extra: must not start when extra fails
        "alarms:\n  extra-throttled:\n    namespace: AWS/DynamoDB\n    metric: ReadThrottleEvents\n"
        "    dimensions: {TableName: table:extra}\n    threshold: 1\n    enabled: true\n"
    )
    result = build(tmp_path / "spec", "all", display_root=tmp_path)
    write(out, result.outputs, list(result.stages))
    failed = {r.stack: r for r in _deployer(out, "prod", endpoint, artifacts, lines).deploy()}
    assert failed["extra"].status == "failed"
    assert failed["watch"].status == "skipped" and "depends on extra" in failed["watch"].detail
    assert failed["data"].status == failed["app"].status == "unchanged"  # finished stacks stay as they are
    dynamodb.delete_table(TableName="mini-prod-extra")  # the fix
    fixed = {r.stack: r.status for r in _deployer(out, "prod", endpoint, artifacts, lines).deploy()}
    assert fixed["data"] == fixed["app"] == "unchanged"
    assert fixed["extra"] in ("updated", "created") and fixed["watch"] == "created"
    assert "mini-prod-extra" in dynamodb.list_tables()["TableNames"]

    # destroy: prod needs the explicit flag; retained resources stay
    with pytest.raises(DeployError, match="protected"):
        _deployer(out, "prod", endpoint, artifacts, lines).destroy()
    deleted = _deployer(out, "prod", endpoint, artifacts, lines).destroy(force_protected=True)
    order = [r.stack for r in deleted]
    assert order.index("watch") < order.index("extra") and order.index("app") < order.index("data")
    assert {r.status for r in deleted} == {"deleted"} and len(order) == 4
    assert "mini-prod-items" in _client(endpoint, "dynamodb").list_tables()["TableNames"]  # DeletionPolicy Retain
    stacks = _client(endpoint, "cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])
    assert not [s for s in stacks["StackSummaries"] if s["StackName"].startswith("mini-prod-")]


def test_a_stage_named_to_an_account_is_not_touched_from_another(endpoint: str, tmp_path: Path) -> None:
    """platform.yaml `accounts:` reaches the manifest; deploy, destroy and rollback with
    credentials of another account (the emulator's is 123456789012) refuse before any change."""
    out, artifacts = _platform(tmp_path, service="acct")
    settings = (tmp_path / "spec" / "platform.yaml").read_text() + 'accounts:\n  prod: "111122223333"\n'
    (tmp_path / "spec" / "platform.yaml").write_text(settings)
    result = build(tmp_path / "spec", "all", display_root=tmp_path)
    write(out, result.outputs, list(result.stages))
    assert json.loads((out / "prod" / "manifest.json").read_text())["account"] == "111122223333"
    lines: list[str] = []
    for act in (lambda d: d.deploy(), lambda d: d.destroy(force_protected=True), lambda d: d.rollback("worker", None)):
        with pytest.raises(DeployError, match="belongs to account 111122223333.*of account 123456789012: nothing was changed"):
            act(_deployer(out, "prod", endpoint, artifacts, lines))
    stacks = _client(endpoint, "cloudformation").list_stacks()["StackSummaries"]
    assert not [s for s in stacks if s["StackName"].startswith("acct-prod-")]
    # dev names no account: it deploys with any
    assert {r.status for r in _deployer(out, "dev", endpoint, artifacts, lines).deploy()} == {"created"}


def test_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="run `make compile STAGE=dev` first"):
        Deployer(tmp_path, "dev")


def test_two_new_indexes_deploy_as_two_updates(tmp_path: Path) -> None:
    """DynamoDB creates one index per update: deploy applies each step as its own change set.

    moto 5.2.5 fails any index change made through CloudFormation, so the calls to the real
    service are asserted with botocore's Stubber: the templates sent, in order."""
    from botocore.stub import ANY, Stubber

    from compiler.review import updates

    out, artifacts = _platform(tmp_path)
    deployed = (out / "dev" / "data.json").read_text()
    indexes = "indexes: {ByOwner: {hash_key: owner:S}, ByState: {hash_key: state:S}}"
    _platform(tmp_path, DATA.replace("{hash_key: id:S}", "{hash_key: id:S, " + indexes + "}"))
    final = (out / "dev" / "data.json").read_text()
    steps = updates.stack_steps(json.loads(deployed), json.loads(final))
    assert len(steps) == 2 and steps[-1] == json.loads(final)
    assert [len(s["Resources"]["ItemsTable"]["Properties"]["GlobalSecondaryIndexes"]) for s in steps] == [1, 2]

    cfn = boto3.client("cloudformation", region_name=REGION)
    stub = Stubber(cfn)
    stack = {"StackName": "mini-dev-data", "StackStatus": "UPDATE_COMPLETE", "CreationTime": "2026-01-01T00:00:00Z"}
    stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "mini-dev-data"})
    stub.add_response("get_template", {"TemplateBody": deployed}, {"StackName": "mini-dev-data", "TemplateStage": "Original"})
    for number, body in enumerate([json.dumps(steps[0]), final], start=1):
        stub.add_response("create_change_set", {"Id": f"cs{number}"}, {
            "ChangeSetName": ANY, "ChangeSetType": "UPDATE", "StackName": "mini-dev-data",
            "Capabilities": ["CAPABILITY_NAMED_IAM"], "Parameters": [], "TemplateBody": body})
        change = {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "ItemsTable",
                                                         "ResourceType": "AWS::DynamoDB::Table", "Replacement": "False"}}
        stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": [change]},
                          {"StackName": "mini-dev-data", "ChangeSetName": ANY})
        if number == 1:  # the gate's verdicts, with the importers CloudFormation reports
            for name in sorted(o["Export"]["Name"] for o in json.loads(deployed).get("Outputs", {}).values() if "Export" in o):
                stub.add_response("list_imports", {"Imports": ["mini-dev-app"]}, {"ExportName": name})
        stub.add_response("execute_change_set", {}, {"StackName": "mini-dev-data", "ChangeSetName": ANY})
        stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "mini-dev-data"})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": "mini-dev-data"})
    lines: list[str] = []
    result = stubbed_deploy(out, "dev", artifacts, cfn, stub, lines)
    assert result.status == "updated", result
    assert [line.splitlines()[0] for line in lines if "change set" in line] == [
        "data (step 1/2): change set", "data (step 2/2): change set"]


def test_deploy_refuses_to_drop_an_export_a_deployed_stack_still_imports(endpoint: str, tmp_path: Path) -> None:
    """The review gate's export verdicts at deploy time, against what is deployed now: the new
    spec no longer imports the queue, but the deployed app stack does until it is updated."""
    out, artifacts = _platform(tmp_path, service="exports")
    lines: list[str] = []
    assert {r.status for r in _deployer(out, "dev", endpoint, artifacts, lines).deploy()} == {"created"}
    write_spec(tmp_path, {"data.yaml": DATA, "app.yaml": "functions:\n  worker: {handler: jobs.run, timeout: 20s}\n"},
               platform=PLATFORM.replace("service: mini", "service: exports"))
    result = build(tmp_path / "spec", "all", display_root=tmp_path)
    write(out, result.outputs, list(result.stages))
    [refused] = _deployer(out, "dev", endpoint, artifacts, lines).deploy(only={"data"})
    assert refused.status == "failed" and "--allow-risk" in refused.detail
    assert any("BLOCKED (export in use): export exports-dev-queue-work:arn is removed while app still import(s) it" in line
               for line in lines), lines
    # the finding's advice: the importer first, then the producer
    assert [r.status for r in _deployer(out, "dev", endpoint, artifacts, lines).deploy(only={"app"})] == ["updated"]
    assert [r.status for r in _deployer(out, "dev", endpoint, artifacts, lines).deploy(only={"data"})] == ["updated"]


def test_widened_access_is_judged_by_the_review_and_executed_by_deploy(endpoint: str, tmp_path: Path) -> None:
    """BROADENS stops the review (diff exits 4 until a reviewer approves) but not deploy: a
    merged, approved widening is what main deploys, without --allow-risk."""
    out, artifacts = _platform(tmp_path, service="widen")
    lines: list[str] = []
    assert {r.status for r in _deployer(out, "dev", endpoint, artifacts, lines).deploy()} == {"created"}
    _platform(tmp_path, service="widen", extra={"app.yaml": APP.replace("table:items: write", "table:items: read-write")})
    live = _deployer(out, "dev", endpoint, artifacts, lines).deployed_diff()
    assert live.risky and [(r, f.verdict, f.cause) for _, r, f in live.findings()] == [
        ("WorkerFunctionRole", "BROADENS", "permission")]
    results = {r.stack: r.status for r in _deployer(out, "dev", endpoint, artifacts, lines).deploy()}
    assert results == {"data": "unchanged", "app": "updated"}
    # the stack now holds the widened role (the emulator does not rewrite an updated role's
    # inline policy, so the stack's template is the evidence here)
    assert _deployer(out, "dev", endpoint, artifacts, lines).deployed_diff().stacks == ()


def test_a_renamed_stack_file_needs_prune_which_deletes_the_old_stack_first(endpoint: str, tmp_path: Path) -> None:
    out, artifacts = _platform(tmp_path)
    lines: list[str] = []
    assert {r.status for r in _deployer(out, "dev", endpoint, artifacts, lines).deploy()} == {"created"}
    (tmp_path / "spec" / "app.yaml").rename(tmp_path / "spec" / "workers.yaml")  # same function, new stack id
    result = build(tmp_path / "spec", "all", display_root=tmp_path)
    write(out, result.outputs, list(result.stages))

    with pytest.raises(DeployError, match="mini-dev-app left the spec .* --prune"):
        _deployer(out, "dev", endpoint, artifacts, lines).deploy()
    assert "mini-dev-worker" in [f["FunctionName"] for f in _client(endpoint, "lambda").list_functions()["Functions"]]

    lines.clear()
    results = {r.stack: r.status for r in _deployer(out, "dev", endpoint, artifacts, lines).deploy(prune=True)}
    # the function's log group (a custom name, its logs) is carried across first: the new
    # stack exists from its import on, and is then updated with the rest
    assert results == {"mini-dev-app": "deleted", "data": "unchanged", "workers": "updated"}
    assert "workers/WorkerFunctionLogs: moves from mini-dev-app/WorkerFunctionLogs; carried across with its data" in lines
    created = next(i for i, line in enumerate(lines) if line.startswith("workers: change set") and "Add     WorkerFunction " in line)
    assert lines.index("mini-dev-app: deleted (left the spec; retained resources stay)") < created  # the name was released first
    names = stack_names(_client(endpoint, "cloudformation"))
    assert "mini-dev-app" not in names and "mini-dev-workers" in names
