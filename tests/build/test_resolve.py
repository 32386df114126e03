"""resolve + synth wiring: references, cross-stack exports, deploy order, collisions."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from compiler.diagnostics import InternalError
from tests import conftest
from tests.conftest import compile_spec, errors_of, template, write_spec
from compiler.build.pipeline import BuildError, build
from compiler.diagnostics import render_text

QUEUES = "queues:\n  alert: {fifo: true}\n  plain: {}\n"
BUS = """\
buses:
  events:
    rules:
      errors:
        pattern: {source: [listbackup.system]}
        targets: [queue:alert]
"""


def test_same_stack_reference_is_a_getatt(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, {"one.yaml": QUEUES + BUS})
    t = template(result, "dev", "one")
    target = t["Resources"]["EventsBusErrorsRule"]["Properties"]["Targets"][0]
    assert target["Arn"] == {"Fn::GetAtt": ["AlertQueue", "Arn"]}
    assert target["SqsParameters"] == {"MessageGroupId": "errors"}
    assert "Outputs" not in t  # nothing crosses a stack: no export at all


def test_cross_stack_reference_is_an_export_and_an_import(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, {"infra/sqs.yaml": QUEUES, "infra/events.yaml": BUS})
    producer, consumer = template(result, "dev", "infra-sqs"), template(result, "dev", "infra-events")
    assert producer["Outputs"]["AlertQueueArn"] == {
        "Description": "queue:alert arn",
        "Export": {"Name": "listbackup-dev-queue-alert:arn"},
        "Value": {"Fn::GetAtt": ["AlertQueue", "Arn"]},
    }
    assert set(producer["Outputs"]) == {"AlertQueueArn", "AlertQueueUrl"}  # only what is used: not `plain`
    rule = consumer["Resources"]["EventsBusErrorsRule"]["Properties"]
    assert rule["Targets"][0]["Arn"] == {"Fn::ImportValue": "listbackup-dev-queue-alert:arn"}
    manifest = json.loads(result.outputs["dev/manifest.json"])
    assert manifest["levels"] == [["infra-sqs"], ["infra-events"]]
    assert manifest["stacks"]["infra-events"]["depends_on"] == ["infra-sqs"]
    assert manifest["exports"]["listbackup-dev-queue-alert:arn"]["importers"] == ["infra-events"]
    assert manifest["exports"]["listbackup-dev-queue-alert:arn"]["producer"] == "infra-sqs"


def test_explicit_export_is_emitted_without_an_importer(tmp_path: Path) -> None:
    spec = "tables:\n  jobs:\n    hash_key: id:S\n    stream: new_image\n    export: [stream_arn]\n"
    result = compile_spec(tmp_path, {"t.yaml": spec})
    output = template(result, "prod", "t")["Outputs"]["JobsTableStreamArn"]
    assert output["Export"] == {"Name": "listbackup-prod-table-jobs:stream-arn"}


def test_export_of_unknown_attribute(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"t.yaml": "tables:\n  jobs:\n    hash_key: id:S\n    export: [streamarn]\n"})
    assert "spec/t.yaml:4:14: error[E208]: 'streamarn' is not an attribute of a table" in out
    assert "did you mean 'stream_arn'?" in out


def test_unknown_reference_with_did_you_mean(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"sqs.yaml": QUEUES, "events.yaml": BUS.replace("queue:alert", "queue:alrt")})
    assert "spec/events.yaml:6:19: error[E305]: unknown queue 'alrt' in reference 'queue:alrt'" in out
    assert "did you mean 'alert'?" in out


def test_same_name_declared_in_two_files(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"a.yaml": "queues:\n  jobs: {}\n", "b.yaml": "queues:\n  jobs: {}\n"})
    assert "spec/b.yaml:2:3: error[E302]: queue 'jobs' is declared twice" in out  # the later file
    assert "the other declaration at spec/a.yaml:2:3" in out


def test_a_clash_with_a_shared_resource_points_at_the_service_file(tmp_path: Path) -> None:
    """infrastructure/ holds what services share; the service file is the newcomer, even when
    it comes first in file order (api/ before infrastructure/)."""
    files = {"infrastructure/sqs.yaml": "queues:\n  jobs: {}\n", "api/jobs.yaml": "queues:\n  jobs: {}\n",
             "infrastructure/more.yaml": "queues:\n  work-dlq: {}\n", "core.yaml": "queues:\n  work: {}\n"}
    out = errors_of(tmp_path, files)
    assert "spec/api/jobs.yaml:2:3: error[E302]: queue 'jobs' is declared twice" in out
    assert "the other declaration at spec/infrastructure/sqs.yaml:2:3" in out
    assert "spec/core.yaml:2:3: error[E304]: SQS queue name 'listbackup-dev-work-dlq' is also the name of queues.work-dlq" in out


def test_a_clash_points_at_the_file_edited_last(tmp_path: Path) -> None:
    """A new file that takes a name an untouched file holds is the newcomer, wherever it
    sits in file order or in infrastructure/; files written together fall back to that order."""
    import os

    files = {"api/jobs.yaml": "queues:\n  jobs: {}\n", "infrastructure/sqs.yaml": "queues:\n  jobs: {}\n"}
    write_spec(tmp_path, files)
    untouched = (tmp_path / "spec" / "api" / "jobs.yaml").stat().st_mtime - 3600
    os.utime(tmp_path / "spec" / "api" / "jobs.yaml", (untouched, untouched))
    with pytest.raises(BuildError) as info:
        build(tmp_path / "spec", "dev", display_root=tmp_path)
    out = render_text(info.value.diagnostics, info.value.files)
    assert "spec/infrastructure/sqs.yaml:2:3: error[E302]: queue 'jobs' is declared twice" in out
    assert "the other declaration at spec/api/jobs.yaml:2:3" in out


def test_physical_name_collision_with_a_generated_dlq(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"q.yaml": "queues:\n  sync: {}\n  sync-dlq: {}\n"})
    assert "error[E304]: SQS queue name 'listbackup-dev-sync-dlq' is also the name of queues.sync" in out


def test_collisions_are_checked_on_the_names_a_stage_emits(tmp_path: Path) -> None:
    """A queue's DLQ alarm exists only where alarms are on; its name is taken only there."""
    platform = conftest.platform(dev="{alarms: {enabled: false}}", prod="{}")
    spec = {"q.yaml": "queues:\n  sync: {}\nalarms:\n  sync-dlq-messages:\n    namespace: AWS/SQS\n    metric: NumberOfMessagesSent\n"
            "    dimensions: {QueueName: queue:sync}\n    threshold: 1\n    enabled: true\n"}
    out = errors_of(tmp_path, spec, platform)
    assert "error[E304]: CloudWatch alarm name 'listbackup-prod-sync-dlq-messages' is also the name of" in out
    assert "listbackup-dev-sync-dlq-messages" not in out  # dev emits no DLQ alarm: the name is free


def test_every_emitted_name_was_declared_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Names once: a kind that emits a name its names() did not declare (so no collision or
    length check saw it) is a compiler bug, reported as one, not a template."""
    from compiler.kinds import BY_SECTION

    kind = BY_SECTION["queues"]
    monkeypatch.setitem(BY_SECTION, "queues", dataclasses.replace(kind, names=lambda *_: kind.names(*_)[1:]))
    with pytest.raises(InternalError, match="emits names its kind's names\\(\\) does not declare"):
        compile_spec(tmp_path, {"q.yaml": QUEUES})


def test_physical_name_too_long_for_its_kind(tmp_path: Path) -> None:
    name = "b" * 50  # fine as a short name; listbackup-prod-<50> is 66 > 63 for S3
    out = errors_of(tmp_path, {"b.yaml": f"buckets:\n  {name}: {{}}\n"})
    assert f"spec/b.yaml:2:3: error[E303]: S3 bucket name 'listbackup-prod-{name}' is 66 characters" in out


def test_queue_name_limit_counts_the_fifo_suffix(tmp_path: Path) -> None:
    name = "q" * 56  # listbackup-prod-<56>-dlq.fifo is 81 characters
    out = errors_of(tmp_path, {"q.yaml": f"queues:\n  {name}: {{fifo: true}}\n"})
    assert f"SQS queue name 'listbackup-prod-{name}-dlq.fifo' is 81 characters; AWS allows 1 to 80" in out


def test_logical_id_collision(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"t.yaml": "tables:\n  a-b1: {hash_key: id:S}\n  a-b-1: {hash_key: id:S}\n"})
    assert "error[E307]: logical id 'AB1Table' of tables.a-b-1 is also produced by tables.a-b1" in out


def test_cycle_between_stacks_is_printed_with_reasons(tmp_path: Path) -> None:
    a = "queues:\n  qa: {}\nbuses:\n  ba:\n    rules:\n      r: {pattern: {source: [x]}, targets: [queue:qb]}\n"
    b = "queues:\n  qb: {}\nbuses:\n  bb:\n    rules:\n      r: {pattern: {source: [x]}, targets: [queue:qa]}\n"
    out = errors_of(tmp_path, {"a.yaml": a, "b.yaml": b})
    assert "spec/a.yaml:6:45: error[E306]: stacks depend on each other in a cycle: a -> b -> a" in out
    assert "a needs b because buses.ba.rules.r.targets[0] -> queue:qb" in out
    assert "b needs a because buses.bb.rules.r.targets[0] -> queue:qa" in out


def test_deploy_levels_put_independent_stacks_together(tmp_path: Path) -> None:
    files = {
        "a.yaml": "queues:\n  qa: {}\n",
        "b.yaml": "tables:\n  tb: {hash_key: id:S}\n",
        "c.yaml": "buses:\n  bc:\n    rules:\n      r: {pattern: {source: [x]}, targets: [queue:qa]}\n",
    }
    result = compile_spec(tmp_path, files)
    assert result.resolved["dev"].levels == (("a", "b"), ("c",))


def test_stack_names_follow_the_scheme(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, {"api/auth.yaml": "queues:\n  q: {}\n"})
    manifest = json.loads(result.outputs["prod/manifest.json"])
    assert manifest["stacks"]["api-auth"]["name"] == "listbackup-prod-api-auth"
    assert manifest["stacks"]["api-auth"]["termination_protection"] is True


def test_bad_stack_file_name(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"my_stack.yaml": "queues:\n  q: {}\n"})
    assert "spec/my_stack.yaml:1:1: error[E301]: CloudFormation stack name 'listbackup-dev-my_stack' may contain only" in out


def test_stack_without_resources(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"empty.yaml": "description: nothing yet\n", "q.yaml": "queues:\n  q: {}\n"})
    assert "spec/empty.yaml:1:1: error[E309]: stack 'empty' declares no resources" in out


def test_resource_with_empty_body_takes_every_default(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, {"b.yaml": "buckets:\n  files:\n"})
    assert template(result, "dev", "b")["Resources"]["FilesBucket"]["Properties"]["BucketName"] == "listbackup-dev-files"


def test_a_name_too_long_is_reported_once_per_resource_with_the_short_names_budget(tmp_path: Path) -> None:
    name = "q" * 56  # listbackup-prod-<56>.fifo is 77 (fine), its DLQ ...-dlq.fifo 81 (> 80); in dev 80 fits
    out = errors_of(tmp_path, {"q.yaml": f"queues:\n  {name}: {{fifo: true}}\n"})
    assert out.count("error[E303]") == 1  # the queue and its DLQ: one report
    assert f"in stage prod the short name '{name}' may have at most 55 characters (56 now)" in out


def test_reference_search_skips_only_fields_that_cannot_hold_a_reference() -> None:
    """find_refs visits a model's fields by their annotations: strings, numbers, literals,
    enums and unions of them are skipped; anything else, Any included, is searched."""
    import enum
    from typing import Annotated, Any, Literal

    from compiler.model import Ref, SpecModel, _fields_to_search, find_refs

    class Colour(enum.Enum):
        RED = "red"

    class Inner(SpecModel):
        target: Ref
        note: str = ""

    class Outer(SpecModel):
        name: str = "x"
        size: int | None = None
        mode: Literal["a", "b"] = "a"
        colour: Colour = Colour.RED
        label: Annotated[str, "meta"] = ""
        loose: Any = None
        access: dict[Ref, str] = {}
        inner: list[Inner] = []

    table, queue, bus = Ref("table", "users"), Ref("queue", "sync"), Ref("bus", "events")
    value = Outer(loose={"deep": [bus]}, access={table: "read"}, inner=[Inner(target=queue)])
    assert find_refs(value) == [
        (("loose", "deep", 0), bus, "value"),
        (("access", "table:users"), table, "key"),
        (("inner", 0, "target"), queue, "value"),
    ]
    skipped = set(Outer.model_fields) - {name for name, _ in _fields_to_search(Outer)}
    assert skipped == {"name", "size", "mode", "colour", "label"}
