"""local: the whole platform on a moto server on 127.0.0.1, for development without AWS.

`up` starts `python -m moto.server` on a free loopback port (nothing else is contacted),
packages the handlers, deploys the stage there and prints the endpoint and the outputs;
its pid and port are kept in .cache/platformc/local.json for `down`. moto's CloudFormation
models only some resource types: `adapt` leaves the others out, and `up` lists them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

STATE = Path(".cache/platformc/local.json")
LOG = Path(".cache/platformc/local.log")
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def start() -> str:
    """Start the server (or reuse the running one); return its endpoint URL."""
    if STATE.exists():
        state = json.loads(STATE.read_text())
        if _alive(state["pid"]):
            return str(state["endpoint"])
    port = free_port()
    STATE.parent.mkdir(parents=True, exist_ok=True)
    log = LOG.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
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


def stop() -> bool:
    if not STATE.exists():
        return False
    state = json.loads(STATE.read_text())
    if _alive(state["pid"]):
        os.killpg(state["pid"], signal.SIGTERM)
    STATE.unlink()
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


# Modelled, but pointing at things that exist only in the real account (the stage's hosted
# zone), so left out locally too.
LOCAL_EXCLUDED = frozenset({"AWS::Route53::RecordSet"})


def modelled_types() -> frozenset[str]:
    """The resource types moto's CloudFormation creates (its own registry), less LOCAL_EXCLUDED."""
    from moto.cloudformation.parsing import get_model_map

    return frozenset(get_model_map()) - LOCAL_EXCLUDED


def adapt(template: dict[str, object], modelled: frozenset[str]) -> tuple[dict[str, object], list[str]]:
    """The template as the emulator can deploy it.

    Resources of types moto does not model are dropped; a Ref or GetAtt to one becomes a
    labelled placeholder string ("local-unmodelled:<id>[.<attribute>]"), so that outputs and
    exports still exist and dependent stacks deploy. Returns the template and the dropped
    resources ("<logical id> (<type>)"), which `up` reports.
    """
    resources = dict(template.get("Resources", {}))  # type: ignore[call-overload]
    dropped = {k: v["Type"] for k, v in resources.items() if v["Type"] not in modelled}

    def rewrite(value: object) -> object:
        if isinstance(value, dict):
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
    return adapted, sorted(f"{k} ({t})" for k, t in dropped.items())
