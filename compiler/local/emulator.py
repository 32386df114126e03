"""local: the whole platform on a moto server on 127.0.0.1, for development without AWS.

`up` starts `python -m moto.server` on a free loopback port (nothing else is contacted),
packages the handlers, deploys the stage there and prints the endpoint and the outputs;
its pid and port are kept in .cache/platformc/local.json for `down`. moto's CloudFormation
models only some resource types: `adapt` leaves the others out, and `up` lists them.

`LocalDeployer` is `deploy.Deployer` with the emulator's workarounds, each an override of
one of the deployer's hooks, each with the moto limitation it works around. The real path
(CREATE change sets, termination protection, list_imports) stays in `Deployer`.

Why one module of this length: every adaptation of moto sits here, each named with the
limitation it works around, so the whole difference from the AWS path is read in one place.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any

from ..delivery import live, versions
from . import inplace
from ..delivery.deploy import Deployer
from ..delivery.drift import ResourceDrift
from ..delivery.handover import custom_name
from ..delivery.lifecycle import INTERRUPTED, StackResult
from ..manifest import Manifest
from ..delivery.versions import Live

STATE = Path(".cache/platformc/local.json")
LOG = Path(".cache/platformc/local.log")
GATEWAY_LOG = Path(".cache/platformc/gateway.log")
LOGS = Path(".cache/platformc/logs")  # one file per function: its workers' output
PORTS = Path(".cache/platformc/ports.json")  # stage -> the port its API was last served on (outlives `down`)
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def start() -> str:
    """Start the server (or reuse the running one); return its endpoint URL."""
    if STATE.exists():
        state = json.loads(STATE.read_text())
        if "pid" in state and _alive(state["pid"]):
            return str(state["endpoint"])
    port = free_port()
    STATE.parent.mkdir(parents=True, exist_ok=True)
    log = LOG.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "compiler.local.motopatch", "-H", HOST, "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    endpoint = f"http://{HOST}:{port}"
    for _ in range(100):  # up to 10 s
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(f"the moto server did not start; see {LOG}")
    STATE.write_text(json.dumps({"pid": process.pid, "port": port, "endpoint": endpoint}))
    return endpoint


def _free(port: int) -> bool:
    """Whether the gateway could listen on `port` now (as its server does: SO_REUSEADDR, so a
    port the last `up` left in TIME_WAIT counts as free)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def api_port(stage: str, asked: int | None) -> int:
    """The port of the stage's (first) API: the one asked for; else the one it was served on
    last time, if free, so a front end's URL stays the same across `up`s; else a free one."""
    if asked:
        return asked
    remembered = json.loads(PORTS.read_text()).get(stage) if PORTS.exists() else None
    return int(remembered) if isinstance(remembered, int) and _free(remembered) else free_port()


def start_gateway(stage: str, out_dir: Path, endpoint: str, handlers: Path, timeout: float = 60.0,
                  throttle: bool = True, port: int | None = None) -> list[str]:
    """(Re)start the local API gateway and queue consumers for the stage's deployed templates;
    its "API name URL" and "consumer ..." lines. The first API is served on `api_port`."""
    stop_gateway()
    port = api_port(stage, port)
    GATEWAY_LOG.parent.mkdir(parents=True, exist_ok=True)
    log = GATEWAY_LOG.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "compiler.local.gateway", "--stage", stage, "--out", str(out_dir), "--endpoint", endpoint,
         "--handlers", str(handlers), "--logs", str(LOGS), "--port", str(port), *([] if throttle else ["--no-throttle"])],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    deadline = time.time() + timeout
    while time.time() < deadline:
        lines = [line for line in GATEWAY_LOG.read_text().splitlines() if line.startswith(("API ", "consumer "))]
        if any(line.startswith("API ") for line in lines):
            state = json.loads(STATE.read_text()) if STATE.exists() else {}
            STATE.write_text(json.dumps({**state, "gateway": {"pid": process.pid, "apis": lines}}))
            ports = json.loads(PORTS.read_text()) if PORTS.exists() else {}
            PORTS.write_text(json.dumps({**ports, stage: port}, sort_keys=True))
            return lines
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the local API gateway did not start; see {GATEWAY_LOG}")


class LocalError(Exception):
    """The local platform is not in the state a command needs (not started, not deployed)."""


def endpoint() -> str:
    state = json.loads(STATE.read_text()) if STATE.exists() else {}
    if "pid" not in state or not _alive(state["pid"]):
        raise LocalError("no local AWS is running: start it with `make up` (platformc up)")
    return str(state["endpoint"])


def sign_in(stage: str, out_dir: Path, email: str, password: str | None, name: str, groups: tuple[str, ...]) -> dict[str, str]:
    """A confirmed user of the stage's user pool on the emulator, and its tokens (what a
    sign-in through the app would give)."""
    import boto3

    manifest = Manifest.read(out_dir, stage)
    if manifest is None:
        raise LocalError(f"{out_dir / stage}/manifest.json not found: run `make compile STAGE={stage}` first")
    pools, clients = [], []
    for stack in manifest.stacks:
        for resource in json.loads(manifest.template_path(out_dir, stack).read_text())["Resources"].values():
            if resource["Type"] == "AWS::Cognito::UserPool":
                pools.append(resource["Properties"]["UserPoolName"])
            elif resource["Type"] == "AWS::Cognito::UserPoolClient":
                clients.append(resource["Properties"]["ClientName"])
    idp = boto3.client("cognito-idp", endpoint_url=endpoint(), region_name=manifest.region,
                       aws_access_key_id="local", aws_secret_access_key="local")
    pool_id = next((found for name in pools if (found := live.pool_id(idp, name)) is not None), None)
    if pool_id is None:
        raise LocalError(f"stage {stage} has no user pool on the local AWS: run `make up STAGE={stage}` first")
    client_id = next(c["ClientId"] for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
                     if c["ClientName"] in clients)
    password = password or "Local-" + secrets.token_urlsafe(12) + "1a!"
    try:
        idp.admin_create_user(UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS", UserAttributes=[
            {"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}, {"Name": "name", "Value": name}])
    except idp.exceptions.UsernameExistsException:
        pass
    idp.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=group)
    auth = idp.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": email, "PASSWORD": password})["AuthenticationResult"]
    return {"email": email, "password": password, "id_token": auth["IdToken"], "access_token": auth["AccessToken"],
            "refresh_token": auth.get("RefreshToken", "")}


def clients(endpoint_url: str, region: str) -> Any:
    """service -> a boto3 client of the local AWS (any credentials do)."""
    import boto3

    session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local")
    return lambda service: session.client(service, region_name=region, endpoint_url=endpoint_url)


def _new_lines(path: Path, offset: int) -> tuple[list[str], int]:
    """The lines of a log file after `offset`, and the offset after them."""
    if not path.exists():
        return [], offset
    with path.open() as log:
        log.seek(offset)
        return log.read().splitlines(), log.tell()


def tail(path: Path, follow: bool, poll: float = 0.5) -> Any:
    """The lines of a log file; with `follow`, then those written later, until interrupted."""
    offset = 0
    while True:
        lines, offset = _new_lines(path, offset)
        yield from lines
        if not follow:
            return
        time.sleep(poll)


def follow_logs(echo: Any, poll: float = 0.5) -> None:
    """Print every function's log lines as they are written, until interrupted."""
    offsets: dict[Path, int] = {}
    while True:
        for path in sorted(LOGS.glob("*.log")) if LOGS.exists() else []:
            lines, offsets[path] = _new_lines(path, offsets.get(path, 0))
            for line in lines:
                echo(f"{path.stem}: {line}")
        time.sleep(poll)


def attach(echo: Any, poll: float = 0.5) -> None:
    """`up --attach`: print the functions' log lines until Ctrl-C, a `kill` (SIGTERM) or the
    terminal closing (SIGHUP), then stop everything `up` started, as `down` does. Without
    this, only Ctrl-C stopped them: a `kill` ended the command and left the gateway, its
    workers and the local AWS running until `platformc down`."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        follow_logs(echo, poll)
    except KeyboardInterrupt:
        pass
    finally:  # the stop below runs under the handlers the command had
        for number, handler in previous.items():
            signal.signal(number, handler)
    stop()
    echo("stopped: the gateway, its workers and the local AWS")


def stop_gateway() -> bool:
    state = json.loads(STATE.read_text()) if STATE.exists() else {}
    gateway = state.pop("gateway", None)
    if gateway is None:
        return False
    if _alive(gateway["pid"]):
        os.killpg(gateway["pid"], signal.SIGTERM)
    STATE.write_text(json.dumps(state))
    return True


def stop() -> bool:
    """Stop the gateway (and its function workers) and the emulator."""
    if not STATE.exists():
        return False
    stop_gateway()
    state = json.loads(STATE.read_text())
    if "pid" in state and _alive(state["pid"]):
        os.killpg(state["pid"], signal.SIGTERM)
    STATE.unlink()
    return True


def _stat(entry: Path) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command (state, ppid, pgrp...), or None."""
    try:
        return (entry / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def running(pid: int) -> bool:
    """Whether any process of the group `pid` leads (what `up` started) still runs."""
    proc = Path("/proc")
    if not proc.is_dir():
        return _alive(pid)
    stats = (_stat(entry) for entry in proc.iterdir() if entry.name.isdigit())
    return any(fields is not None and int(fields[2]) == pid and fields[0] != "Z" for fields in stats)


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie, exited but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    fields = _stat(Path(f"/proc/{pid}"))
    return fields is None or fields[0] != "Z"  # no /proc: kill(0) is all there is


# Modelled by moto, but left out locally: a record set points at the stage's hosted zone,
# which exists only in the real account; moto runs an event source mapping by invoking the
# function in Docker, which `up` does not need — the local consumers (compiler/local/consumers.py)
# run the mappings of generated/<stage> instead.
LOCAL_EXCLUDED = frozenset({"AWS::Route53::RecordSet", "AWS::Lambda::EventSourceMapping"})


def modelled_types() -> frozenset[str]:
    """The resource types moto's CloudFormation creates (its own registry), less LOCAL_EXCLUDED."""
    from moto.cloudformation.parsing import get_model_map

    return frozenset(get_model_map()) - LOCAL_EXCLUDED


def adapt(template: dict[str, object], modelled: frozenset[str],
          emulated: dict[str, dict[str, str]] | None = None) -> tuple[dict[str, object], list[str]]:
    """The template as the emulator can deploy it.

    Resources of types moto does not model are dropped; a Ref or GetAtt to one becomes its
    value when the resource was made through its service's API (`emulated`: logical id ->
    attribute -> value, "Ref" for Ref), else a labelled placeholder string
    ("local-unmodelled:<id>[.<attribute>]"), so that outputs and exports still exist and
    dependent stacks deploy. Returns the template and the resources left out ("<logical id>
    (<type>)"), which `up` reports; emulated ones are not left out.
    """
    emulated = emulated or {}
    resources = dict(template.get("Resources", {}))  # type: ignore[call-overload]
    dropped = {k: v["Type"] for k, v in resources.items() if v["Type"] not in modelled}

    def rewrite(value: object) -> object:
        if isinstance(value, dict):
            if set(value) == {"Ref"} and value["Ref"] in emulated:
                return emulated[value["Ref"]]["Ref"]
            if set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][0] in emulated:
                return emulated[value["Fn::GetAtt"][0]][value["Fn::GetAtt"][1]]
            if set(value) == {"Ref"} and value["Ref"] in dropped:
                return f"local-unmodelled:{value['Ref']}"
            if set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][0] in dropped:
                return f"local-unmodelled:{value['Fn::GetAtt'][0]}.{value['Fn::GetAtt'][1]}"
            return {k: rewrite(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        return value

    kept = {k: rewrite(v) for k, v in resources.items() if k not in dropped}
    for resource in kept.values():
        if isinstance(resource, dict) and "DependsOn" in resource:
            needs = resource["DependsOn"] if isinstance(resource["DependsOn"], list) else [resource["DependsOn"]]
            resource["DependsOn"] = [d for d in needs if d not in dropped]
            if not resource["DependsOn"]:
                del resource["DependsOn"]
    adapted = {**template, "Resources": kept, "Outputs": rewrite(template.get("Outputs", {}))}
    if not kept:  # CloudFormation needs one resource: keep the stack, and its outputs
        adapted["Resources"] = {"LocalPlaceholder": {"Type": "AWS::SQS::Queue", "Properties": {}}}
    return adapted, sorted(f"{k} ({t})" for k, t in dropped.items() if k not in emulated)


# Types moto's CloudFormation leaves out but its service APIs model: made through those APIs
# (idempotently, found again by name), in this order, with the template's properties.
EMULATED = ("AWS::SecretsManager::Secret", "AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient",
            "AWS::Cognito::UserPoolGroup", "AWS::IAM::OIDCProvider")


def relay_queue(rule: str, target: str) -> str:
    """The local queue standing in for a rule's function target (an SQS name, <= 80 characters)."""
    import hashlib

    return "platformc-relay-" + hashlib.sha256(f"{rule}/{target}".encode()).hexdigest()[:24]


def function_name(resources: dict[str, Any], value: Any) -> str | None:
    """The name of the function a trigger invokes: `GetAtt Function.Arn`, or `Ref` of the
    function's `live` alias (what the compiler emits); None for anything else."""
    if not isinstance(value, dict):
        return None
    logical = value.get("Ref") or (value.get("Fn::GetAtt") or [None])[0]
    resource = resources.get(logical, {}) if isinstance(logical, str) else {}
    if resource.get("Type") == "AWS::Lambda::Alias":
        return function_name(resources, {"Fn::GetAtt": [resource["Properties"]["FunctionName"].get("Ref"), "Arn"]})
    if resource.get("Type") == "AWS::Lambda::Function":
        return str(resource["Properties"]["FunctionName"])
    return None


def function_targets(template: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(rule name, target id, function name, target) for each rule target that is a function
    of the same template."""
    resources = template.get("Resources", {})
    found = []
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource.get("Type") != "AWS::Events::Rule" or not isinstance(props.get("Name"), str):
            continue
        for target in props.get("Targets", []):
            function = function_name(resources, target.get("Arn"))
            if function is not None:
                found.append((props["Name"], str(target["Id"]), function, target))
    return found


def alias_stand_ins(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """moto 5.2.5's CloudFormation has no AWS::Lambda::Alias: triggers that invoke a function's
    alias invoke the function itself there; the alias is made through the Lambda API after the
    stack deploys (`Deployer.settle_functions`), so rollback works as on AWS."""
    resources = template.get("Resources", {})
    return {logical: {"Ref": {"Fn::GetAtt": [resource["Properties"]["FunctionName"]["Ref"], "Arn"]}}
            for logical, resource in resources.items() if resource.get("Type") == "AWS::Lambda::Alias"}


class Emulator:
    """Makes a template's resources of EMULATED types through their service APIs on the
    emulator and returns their attributes as CloudFormation would (Ref, GetAtt)."""

    def __init__(self, client: Any, region: str):
        self.client = client  # service name -> boto3 client on the emulator
        self.region = region

    def relay(self, template: dict[str, Any]) -> None:
        """Point each rule target that is a function at a relay queue instead (moto would
        invoke the function in Docker); the local consumers run the function from it."""
        sqs = self.client("sqs")
        for rule, target_id, _, target in function_targets(template):
            url = sqs.create_queue(QueueName=relay_queue(rule, target_id))["QueueUrl"]
            target["Arn"] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def create(self, template: dict[str, Any]) -> dict[str, dict[str, str]]:
        resources = template.get("Resources", {})
        made: dict[str, dict[str, str]] = {}
        for type_ in EMULATED:
            for logical, resource in sorted(resources.items()):
                if resource.get("Type") != type_:
                    continue
                try:
                    props = {k: self._value(v, made) for k, v in resource.get("Properties", {}).items()}
                except KeyError:
                    continue  # it names something the emulator does not hold: left out, as before
                made[logical] = getattr(self, "_" + type_.split("::")[-1].lower())(props)
        return made

    def _value(self, value: Any, made: dict[str, dict[str, str]]) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Ref"}:
                return made[value["Ref"]]["Ref"]
            if set(value) == {"Fn::GetAtt"}:
                return made[value["Fn::GetAtt"][0]][value["Fn::GetAtt"][1]]
            if any(key.startswith("Fn::") for key in value):
                raise KeyError(next(iter(value)))
            return {k: self._value(v, made) for k, v in value.items()}
        if isinstance(value, list):
            return [self._value(v, made) for v in value]
        return value

    def _args(self, service: str, operation: str, props: dict[str, Any]) -> dict[str, Any]:
        """The template's properties that the API operation takes under the same name."""
        members = self.client(service).meta.service_model.operation_model(operation).input_shape.members
        return {k: v for k, v in props.items() if k in members}

    def _secret(self, props: dict[str, Any]) -> dict[str, str]:
        sm = self.client("secretsmanager")
        try:
            arn = str(sm.describe_secret(SecretId=props["Name"])["ARN"])
        except sm.exceptions.ResourceNotFoundException:
            value = secrets.token_urlsafe(24)  # GenerateSecretString: random, never printed
            arn = str(sm.create_secret(**self._args("secretsmanager", "CreateSecret", props), SecretString=value)["ARN"])
        return {"Ref": arn, "Id": arn, "Name": props["Name"]}

    def _userpool(self, props: dict[str, Any]) -> dict[str, str]:
        idp = self.client("cognito-idp")
        name = props["UserPoolName"]
        if (found := live.pool_id(idp, name)) is not None:
            pool_id = found
        else:
            args = self._args("cognito-idp", "CreateUserPool", props)
            pool_id = str(idp.create_user_pool(PoolName=name, **args)["UserPool"]["Id"])
        arn = str(idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Arn"])
        provider = f"cognito-idp.{self.region}.amazonaws.com/{pool_id}"
        return {"Ref": pool_id, "Arn": arn, "ProviderName": provider, "ProviderURL": f"https://{provider}", "UserPoolId": pool_id}

    def _userpoolclient(self, props: dict[str, Any]) -> dict[str, str]:
        idp = self.client("cognito-idp")
        pool, name = props["UserPoolId"], props["ClientName"]
        found = [c["ClientId"] for page in idp.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool, MaxResults=60)
                 for c in page["UserPoolClients"] if c["ClientName"] == name]
        client_id = str(found[0]) if found else str(
            idp.create_user_pool_client(**self._args("cognito-idp", "CreateUserPoolClient", props))["UserPoolClient"]["ClientId"])
        return {"Ref": client_id, "ClientId": client_id, "Name": name}

    def _oidcprovider(self, props: dict[str, Any]) -> dict[str, str]:
        """One per URL and account, as on AWS: found again by its URL."""
        iam = self.client("iam")
        host = str(props["Url"]).removeprefix("https://")
        for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
            if str(provider["Arn"]).endswith(f"oidc-provider/{host}"):
                return {"Ref": str(provider["Arn"]), "Arn": str(provider["Arn"])}
        arn = str(iam.create_open_id_connect_provider(Url=props["Url"], ClientIDList=props.get("ClientIdList", []),
                                                      ThumbprintList=props.get("ThumbprintList", []))["OpenIDConnectProviderArn"])
        return {"Ref": arn, "Arn": arn}

    def _userpoolgroup(self, props: dict[str, Any]) -> dict[str, str]:
        idp = self.client("cognito-idp")
        try:
            idp.get_group(GroupName=props["GroupName"], UserPoolId=props["UserPoolId"])
        except idp.exceptions.ResourceNotFoundException:
            idp.create_group(**self._args("cognito-idp", "CreateGroup", props))
        return {"Ref": props["GroupName"]}


@dataclass
class LocalDeployer(Deployer):
    """The deployer for the moto server that `up` starts (see the module docstring)."""

    dropped: dict[str, list[str]] = field(default_factory=dict)  # stack -> what the emulator could not model
    # moto 5.2.5 numbers a new version len(versions) + 1, so after a pruned version it reuses
    # a number still in use: locally every version is kept (its state goes with `down`)
    keep_versions: int | None = None
    local_updates: dict[str, inplace.Plan | None] = field(default_factory=dict)  # stack -> its update's needs (local/inplace.py)

    def session(self, default: Any) -> Any:
        """Any credentials do on the emulator: fake ones when the machine has none."""
        import boto3

        return default if default.get_credentials() else boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local")

    def template_argument(self, stack: str, body: str | None = None) -> dict[str, str]:
        """The template adapted to the types moto models (always inline: no S3 template URL);
        identity and secrets are made through their APIs first (`Emulator`)."""
        body = self.manifest.template_path(self.out_dir, stack).read_text() if body is None else body
        template = json.loads(body)
        region = self.manifest.region_of(stack)
        emulator = Emulator(lambda service: self.client(service, region), region)
        made = {**emulator.create(template), **alias_stand_ins(template)}
        emulator.relay(template)
        adapted, dropped = adapt(template, modelled_types(), made)
        self.dropped[stack] = dropped
        return {"TemplateBody": json.dumps(adapted)}

    def create_new(self, cfn: Any, stack: str, args: dict[str, Any]) -> StackResult | None:
        """moto 5.2.5 does not register Outputs (and so Exports) of stacks created by a CREATE
        change set: new stacks are created with create_stack instead."""
        name = self.stack_name(stack)
        if self.stopping.is_set():
            return StackResult(stack, "not started")
        self.echo(f"{stack}: creating (emulator: create_stack)")
        try:
            cfn.create_stack(**args)
        except Exception:
            # CloudFormation rolls a failed create back (ROLLBACK_COMPLETE, replaced on the
            # next run); the emulator raises and leaves a half-made stack: remove it likewise.
            cfn.delete_stack(StackName=name)
            raise
        status = self.lifecycle.wait(cfn, name, stack)
        if status == INTERRUPTED:
            return self.lifecycle.interrupted(stack, cfn, name)
        return self.finish(cfn, stack, status, "created")

    def apply_change_set(self, cfn: Any, stack: str, label: str, args: dict[str, Any], update: bool,
                         deployed: dict[str, Any] | None, new: dict[str, Any]) -> StackResult | None:
        """moto cannot update a table (or a key) in a stack (local/inplace.py): a change that
        would replace one is refused, as CloudFormation fails it for a custom name, before
        anything changes; a table's in-place changes are made through DynamoDB after the
        stack's update; what the emulator cannot make is said, never passed over."""
        region = self.manifest.region_of(stack)
        step = json.loads(args["TemplateBody"]) if "TemplateBody" in args else new
        needs = inplace.plan(self.deployed_template(cfn, self.stack_name(stack)), step, region) if update else None
        self.local_updates[stack] = needs  # `review` refuses after the gate: its refusal (--allow-risk) comes first
        result = super().apply_change_set(cfn, stack, label, args, update, deployed, new)
        if result is None and needs is not None:
            for line in needs.apply(lambda service: self.client(service, region)):
                self.echo(f"{label}: emulator: {line}")
        return result

    def review(self, cfn: Any, stack: str, label: str, described: dict[str, Any], update: bool,
               deployed: dict[str, Any] | None, new: dict[str, Any]) -> StackResult | None:
        refused = super().review(cfn, stack, label, described, update, deployed, new)
        needs = self.local_updates.get(stack)
        if refused is None and needs is not None and needs.refused:
            return StackResult(stack, "failed", f"{label}: " + "; ".join(needs.refused))
        return refused

    def live_version(self, cfn: Any, stack: str, live: Live) -> str:
        """moto 5.2.5 keeps no physical id for a version resource, and on an update it
        publishes the new version before it updates the function (AWS updates the function
        first: the version refers to it). So: the newest version, published here when it
        does not hold the function's code and configuration yet (as AWS would have)."""
        lam = self.client("lambda", self.manifest.region_of(stack))
        published = versions.published(lam, live.function)
        newest = published[-1] if published else {}  # a function an update added may have none yet
        latest = lam.get_function_configuration(FunctionName=live.function)
        if not published or newest.get("CodeSha256") != latest.get("CodeSha256") or newest.get("Environment") != latest.get("Environment"):
            newest = lam.publish_version(FunctionName=live.function)
        return str(newest["Version"])

    def expected_template(self, stack: str) -> dict[str, Any]:
        """The template deploy sends the emulator: generated/'s, adapted (the emulated
        resources are found again by name, as on every deploy)."""
        return dict(json.loads(self.template_argument(stack)["TemplateBody"]))

    def resource_drift(self, stacks: list[str]) -> tuple[list[ResourceDrift], str | None]:
        """moto 5.2.5 has no drift detection (DetectStackDrift answers 500)."""
        return [], "the emulator (moto) offers no CloudFormation drift detection; only templates were compared"

    def bootstrap_differs(self, stack: str) -> bool:
        """The emulator holds the adapted template (placeholders, real ids), never generated/'s
        bytes: `platformc bootstrap` re-applies it locally instead (`up` does, each time)."""
        return False

    def protect(self, cfn: Any, stack: str, enabled: bool) -> None:
        """moto 5.2.5 has no termination protection: said, and skipped."""
        try:
            super().protect(cfn, stack, enabled)
        except Exception:  # noqa: BLE001
            self.echo(f"{stack}: the emulator has no termination protection (skipped)")

    def importers(self, cfn: Any, exports: list[str]) -> dict[str, list[str]]:
        """moto 5.2.5 has no list_imports: what it would answer, from the templates every live
        stack of the region holds now (each read once; a stack imports what its template
        says), named as the AWS path names them: our stacks by id, others by name."""
        found: dict[str, list[str]] = {export: [] for export in exports}
        ids = {entry.name: stack for stack, entry in self.manifest.stacks.items()}
        live = sorted(s["StackName"] for page in cfn.get_paginator("list_stacks").paginate() if exports
                      for s in page["StackSummaries"] if s["StackStatus"] not in ("DELETE_COMPLETE", "REVIEW_IN_PROGRESS"))
        for name in live:
            for export in _imports(self.deployed_template(cfn, name)) & set(exports):
                found[export].append(ids.get(name, name))
        return {export: sorted(users) for export, users in found.items()}


    def outputs(self, stacks: list[str] | None = None) -> dict[str, dict[str, str]]:
        """moto 5.2.5 models no HTTP API, so an API's outputs read `local-unmodelled:...`: each
        stack holding an API also shows `<Api>LocalUrl`, where the local gateway serves it."""
        found = super().outputs(stacks)
        state = json.loads(STATE.read_text()) if STATE.exists() else {}
        urls = dict(line.split()[1:3] for line in state.get("gateway", {}).get("apis", []) if line.startswith("API "))
        for stack, values in found.items():
            for logical, resource in sorted(self.generated(stack).get("Resources", {}).items()):
                name = (resource.get("Properties") or {}).get("Name")
                if resource.get("Type") == "AWS::ApiGatewayV2::Api" and name in urls:
                    values[f"{logical}LocalUrl"] = urls[name]
        return found

    def template_upload(self, stack_name: str, body: str) -> dict[str, str]:
        """The emulator takes a template of any size inline (no deployment bucket needed)."""
        return {"TemplateBody": body}

    def importable(self, resource_type: str) -> bool:
        """An IMPORT change set joins the existing resource to the stack through motopatch,
        for the types moto's CloudFormation models and motopatch can find (`_existing`)."""
        return resource_type in IMPORTED and resource_type in modelled_types()

    def refactoring(self) -> str | None:
        """moto 5.2.5 has no stack refactoring (CreateStackRefactor answers "not yet
        implemented"): every move takes steps (a)-(c)."""
        return "the emulator (moto) has no stack refactoring"

    def importable_note(self, resource_type: str) -> str:
        if resource_type in EMULATED:
            return (f"not imported on the emulator (moto's CloudFormation does not model {resource_type}): the "
                    "emulator makes it through its API at deploy and finds this one again by its name, so it keeps "
                    "its id and data")
        return f"not imported on the emulator, which leaves {resource_type} out (moto does not model it): it stays as it is"

    def holder(self, cfn: Any, physical_id: str) -> tuple[str, str] | None:
        """moto 5.2.5's DescribeStackResources ignores PhysicalResourceId (it answers with the
        resources of some stack): the emulator reads every live stack's resources instead. Its
        stacks record a queue's URL on sqs.<region>.amazonaws.com while its SQS answers with the
        endpoint's host: a URL is compared by its path (account and queue name). And it records
        no physical id for an event bus or an archive: the name in the stack's template stands in."""
        def same(recorded: object) -> bool:
            if physical_id.startswith("http") and isinstance(recorded, str) and recorded.startswith("http"):
                return urlsplit(recorded).path == urlsplit(physical_id).path
            return recorded == physical_id

        paginator = cfn.get_paginator("list_stacks")
        live = sorted(s["StackName"] for page in paginator.paginate() for s in page["StackSummaries"]
                      if s["StackStatus"] != "DELETE_COMPLETE")
        for name in live:
            try:
                resources = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
            except cfn.exceptions.ClientError:  # moto resolves a stack's resources lazily: one whose import is
                continue  # gone cannot be listed (AWS lists it); it is skipped
            names: dict[str, str] | None = None  # read only for a resource without a physical id
            for resource in resources:
                recorded = resource.get("PhysicalResourceId")
                if not recorded:
                    names = _names(self.deployed_template(cfn, name)) if names is None else names
                    recorded = names.get(resource["LogicalResourceId"])
                if same(recorded) and resource.get("ResourceStatus") != "DELETE_COMPLETE":
                    return name, str(resource["LogicalResourceId"])
        return None


# What the emulator's IMPORT change sets can join to a stack (compiler/local/motopatch.py).
IMPORTED = frozenset({"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Logs::LogGroup",
                      "AWS::Events::EventBus", "AWS::Events::Archive", "AWS::KMS::Key", "AWS::KMS::Alias"})


def _names(template: dict[str, Any]) -> dict[str, str]:
    """Logical id -> the custom name a template gives it (literal names only)."""
    named = {logical: custom_name(resource) for logical, resource in (template.get("Resources") or {}).items()}
    return {logical: name for logical, name in named.items() if name is not None}


def _imports(value: object) -> set[str]:
    """Export names a template reads with Fn::ImportValue."""
    if isinstance(value, dict):
        if set(value) == {"Fn::ImportValue"} and isinstance(value["Fn::ImportValue"], str):
            return {value["Fn::ImportValue"]}
        return set().union(*(_imports(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_imports(v) for v in value)) if value else set()
    return set()
