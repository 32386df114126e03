"""CloudFormation's quotas, checked at compile time against the stack's spec file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.build import limits
from tests.conftest import PLATFORM, compile_spec, errors_of


def _tables(n: int, export: bool = False) -> str:
    extra = ", export: [name]" if export else ""
    return "tables:\n" + "".join(f"  t{i}: {{hash_key: id:S{extra}}}\n" for i in range(n))


NO_ALARMS = PLATFORM.replace("  dev: {protect: false}", "  dev: {protect: false, alarms: {enabled: false}}").replace(
    "  prod: {protect: true}", "  prod: {protect: true, alarms: {enabled: false}}"
)  # one resource per table


def test_resources_per_stack(tmp_path: Path) -> None:
    assert compile_spec(tmp_path / "ok", {"big.yaml": _tables(500)}, stage="dev", platform=NO_ALARMS)
    out = errors_of(tmp_path / "bad", {"big.yaml": _tables(501)}, platform=NO_ALARMS)
    assert "spec/big.yaml:1:1: error[E310]: stack listbackup-dev-big has 501 resources in stage dev; CloudFormation allows 500" in out


def test_outputs_per_stack(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"big.yaml": _tables(201, export=True)})
    assert "error[E311]: stack listbackup-dev-big has 201 outputs in stage dev; CloudFormation allows 200" in out


@pytest.fixture
def small(tmp_path: Path):
    result = compile_spec(tmp_path, {"s.yaml": "queues:\n  q: {}\n"})
    return result.resolved["dev"], dict(result.outputs)


def test_parameters_per_stack(small) -> None:
    resolved, outputs = small
    template = json.loads(outputs["dev/s.json"])
    template["Parameters"] = {f"P{i}": {"Type": "String"} for i in range(201)}
    outputs["dev/s.json"] = json.dumps(template)
    (diag,) = limits.check(resolved, outputs)
    assert (diag.code, diag.message) == ("E312", "stack listbackup-dev-s has 201 parameters in stage dev; CloudFormation allows 200")


def test_template_size(small) -> None:
    resolved, outputs = small
    outputs["dev/s.json"] = outputs["dev/s.json"] + " " * limits.MAX_BYTES
    (diag,) = limits.check(resolved, outputs)
    assert diag.code == "E313" and "CloudFormation accepts at most 1,000,000" in diag.message


def test_inline_limit_is_recorded_for_deploy(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, {"small.yaml": "queues:\n  q: {}\n", "big.yaml": _tables(60)})
    stacks = json.loads(result.outputs["dev/manifest.json"])["stacks"]
    assert stacks["small"]["upload_required"] is False
    assert stacks["big"]["bytes"] > limits.MAX_INLINE_BYTES and stacks["big"]["upload_required"] is True


def test_export_names_are_unique_across_stages_of_a_region(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, {"a.yaml": "tables:\n  t: {hash_key: id:S, export: [name, arn]}\n"})
    names = [n for stage in ("dev", "prod") for n in json.loads(result.outputs[f"{stage}/manifest.json"])["exports"]]
    assert len(names) == len(set(names)) == 4


def test_iam_policy_sizes_are_checked_as_iam_counts_them(tmp_path: Path) -> None:
    """A role's inline policies hold 10,240 characters in all, whitespace not counted: a
    function with read access to sixty tables (a statement per table and its indexes) is
    refused at compile time, not by CloudFormation halfway through a deploy."""
    def spec(n: int) -> str:
        access = ", ".join(f"table:t{i}: read" for i in range(n))
        return _tables(n) + f"functions:\n  reader: {{handler: app.run, access: {{{access}}}}}\n"

    for root in (tmp_path / "ok", tmp_path / "bad"):
        (root / "handlers").mkdir(parents=True)
        (root / "handlers" / "app.py").write_text("def run(event, context):\n    return None\n")
    assert compile_spec(tmp_path / "ok", {"big.yaml": spec(10)}, platform=NO_ALARMS)
    out = errors_of(tmp_path / "bad", {"big.yaml": spec(60)}, platform=NO_ALARMS)
    assert "error[E315]: the inline policies of role ReaderFunctionRole of listbackup-dev-big hold" in out
    assert "IAM allows 10,240" in out


def test_the_execution_roles_grants_fit_iams_quotas_in_every_stage() -> None:
    """The delivery kind packs the execution role's grants into managed policies: every
    role and managed policy of the generated stages fits (E315 finds none)."""
    from compiler.kinds.cfn import MANAGED_POLICY_CHARS, ROLE_INLINE_CHARS, policy_chars
    from tests.conftest import REPO

    checked = 0
    for path in sorted((REPO / "generated").glob("*/*.json")):
        for resource in json.loads(path.read_text()).get("Resources", {}).values():
            props = resource.get("Properties") or {}
            if resource["Type"] == "AWS::IAM::Role":
                assert sum(policy_chars(p["PolicyDocument"]) for p in props.get("Policies", [])) <= ROLE_INLINE_CHARS, path
                checked += 1
            elif resource["Type"] == "AWS::IAM::ManagedPolicy":
                assert policy_chars(props["PolicyDocument"]) <= MANAGED_POLICY_CHARS, path
                checked += 1
    assert checked


def test_managed_policies_are_filled_as_far_as_iam_counts() -> None:
    """The execution role's statements packed for many limits: every document fits as IAM
    counts it (the whole document measured), and the next document's first statement
    would not have fitted in it: each pack is as full as allowed, with Fn::Sub, GetAtt and
    escaped characters inside the statements."""
    from awacs.aws import Action, Allow, Condition, PolicyDocument, Statement, StringEquals
    from troposphere import GetAtt, Sub

    from compiler.kinds.cfn import policy_chars
    from compiler.kinds.delivery import pack_statements

    statements = [
        Statement(Sid=f"S{i}", Effect=Allow, Action=[Action("s3", "GetObject"), Action("sqs", "SendMessage")][: 1 + i % 2],
                  Resource=[Sub("arn:${AWS::Partition}:s3:::bucket-" + "x" * i + "/*"), GetAtt(f"Q{i}", "Arn"), f'quote"{i}'],
                  **({"Condition": Condition(StringEquals({"aws:ResourceTag/Stage": "dev"}))} if i % 3 == 0 else {}))
        for i in range(12)
    ]

    def size(pack: list) -> int:
        return policy_chars(PolicyDocument(Version="2012-10-17", Statement=pack))

    largest = max(size([s]) for s in statements)
    for limit in range(largest, size(statements) + 2, 7):
        packs = pack_statements(statements, limit)
        assert [s for pack in packs for s in pack] == statements
        assert all(size(pack) <= limit for pack in packs), limit
        assert all(size([*pack, after[0]]) > limit for pack, after in zip(packs, packs[1:])), limit
