"""lint: cfn-lint findings fail the gate, point back at the spec, are cached and ignorable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.gates import lint
from compiler.build.emit import write
from tests.conftest import REPO, compile_spec

SPEC = "buckets:\n  data: {}\n"


@pytest.fixture
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A compiled project whose dev bucket template has been broken by hand."""
    result = compile_spec(tmp_path, {"s3.yaml": SPEC})
    out = tmp_path / "generated"
    write(out, result.outputs, list(result.stages))
    path = out / "dev" / "s3.json"
    template = json.loads(path.read_text())
    encryption = template["Resources"]["DataBucket"]["Properties"]["BucketEncryption"]
    encryption["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] = "AES257"
    path.write_text(json.dumps(template, indent=2))
    monkeypatch.chdir(tmp_path)  # the cache lives in ./.cache
    return out


def test_finding_fails_and_points_at_template_and_spec(generated: Path) -> None:
    report = lint.run(generated, "all")
    assert report.failed
    (finding,) = report.findings
    assert finding.rule == "E3030" and finding.resource == "DataBucket"
    assert finding.template.endswith("generated/dev/s3.json")
    assert finding.source == "spec/s3.yaml:2:3"
    assert "(spec/s3.yaml:2:3)" in report.text


def test_clean_templates_pass(generated: Path) -> None:
    report = lint.run(generated, "prod")
    assert not report.failed and report.findings == ()


def test_second_run_comes_from_the_cache(generated: Path) -> None:
    first = lint.run(generated, "all")
    second = lint.run(generated, "all")
    assert (first.linted, first.cached) == (2, 0)
    assert (second.linted, second.cached) == (0, 2)
    assert second.findings == first.findings  # cached findings still fail the gate
    (generated / "prod" / "s3.json").write_text((generated / "prod" / "s3.json").read_text() + " ")
    third = lint.run(generated, "all")
    assert (third.linted, third.cached) == (1, 1)  # only the template whose bytes changed


def test_policy_findings_come_from_the_cache_until_a_template_changes(generated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy rules run once per stage's template bytes (and the compiler's code): a warm
    lint runs none, `use_cache=False` runs all, and one changed template runs its stage's."""
    from compiler import rules

    (generated / "dev" / "s3.json").write_text((generated / "dev" / "s3.json").read_text().replace(
        '"AES257"', '"AES256"'))  # clean, so that only policy findings matter
    calls: list[str] = []
    real = rules.run
    monkeypatch.setattr(rules, "run", lambda stage, *a: calls.append(stage) or real(stage, *a))
    first = lint.run(generated, "all")
    assert sorted(calls) == ["dev", "prod"]
    second = lint.run(generated, "all")
    assert sorted(calls) == ["dev", "prod"] and second.findings == first.findings and second.waived == first.waived
    lint.run(generated, "all", use_cache=False)
    assert sorted(calls) == ["dev", "dev", "prod", "prod"]
    (generated / "prod" / "s3.json").write_text((generated / "prod" / "s3.json").read_text() + " ")
    lint.run(generated, "all")
    assert sorted(calls) == ["dev", "dev", "prod", "prod", "prod"]


def test_parallel_run_gives_the_same_findings(generated: Path) -> None:
    serial = lint.run(generated, "all", jobs=1, use_cache=False)
    parallel = lint.run(generated, "all", jobs=2, use_cache=False)
    assert serial.findings == parallel.findings


def test_ignore_needs_rule_scope_and_reason(generated: Path, tmp_path: Path) -> None:
    config = tmp_path / "cfn-lint.yaml"
    config.write_text("ignore:\n  - {rule: E3030, scope: 'dev/s3:DataBucket', reason: a test of the ignore file}\n")
    report = lint.run(generated, "all", config_path=config)
    assert not report.failed
    assert "waived E3030 on " in report.text and "cfn-lint.yaml (dev/s3:DataBucket): a test of the ignore file" in report.text
    config.write_text("ignore:\n  - {rule: E3030, scope: 'prod/*:*', reason: only covers prod, not dev}\n")
    assert lint.run(generated, "all", config_path=config).failed
    config.write_text("ignore:\n  - {rule: E3030, scope: '*'}\n")
    report = lint.run(generated, "all", config_path=config)
    assert report.failed and "needs exactly rule, scope and reason" in report.text


def test_a_warm_lint_imports_neither_the_models_nor_troposphere_nor_cfn_lint(tmp_path: Path) -> None:
    """Start-up is the cost of a warm lint: with every template's hash cached it must not import
    what compiling or linting needs (pydantic models, troposphere, cfn-lint), nor what only a
    cold lint uses (worker processes) or package metadata (~35 ms with its email parser)."""
    import subprocess
    import sys

    out = REPO / "tests" / "kinds" / "fixtures" / "queues" / "generated"
    script = (
        "import json, sys\n"
        "from compiler.cli import main\n"
        f"sys.argv = ['platformc', 'lint', '--out', {str(out)!r}, '--config', {str(REPO / 'cfn-lint.yaml')!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(json.dumps(sorted(m for m in ('pydantic', 'troposphere', 'cfnlint', 'importlib.metadata',\n"
        "                                    'concurrent.futures', 'multiprocessing') if m in sys.modules)))\n"
    )
    env = {**__import__("os").environ, "PYTHONPATH": str(REPO)}
    cold = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert "cfnlint" in cold.stdout.splitlines()[-1]  # the first run lints
    warm = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert warm.stdout.splitlines()[-1] == "[]", warm.stdout


def test_the_version_in_the_cache_key_is_the_installed_cfn_lints() -> None:
    """Read from cfn-lint's version.py (no metadata import): the same as its package metadata
    says, so an upgrade of cfn-lint re-lints every template."""
    from importlib.metadata import version

    assert lint._cfnlint_version() == version("cfn-lint")


def test_rules_loaded_once_find_what_cfn_lints_own_api_finds() -> None:
    """The rules are loaded once per process (compiler.gates.lint._cfn_rules); findings on several
    templates in a row are exactly `cfnlint.api.lint`'s, which loads them afresh each time."""
    import json

    from cfnlint.api import lint as api_lint

    from compiler.gates.lint import _cfn_lint

    broken = json.dumps({"Parameters": {"Unused": {"Type": "String"}}, "Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"AccessControl": "Everyone", "Nope": 1}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": "soon"}}}}, indent=2)
    clean = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}, indent=2)

    def found(matches: list) -> list[tuple[str, int, int, str]]:
        return sorted((m.rule.id, m.linenumber, m.columnnumber, m.message) for m in matches)

    for text, region in ((broken, "us-west-2"), (clean, "us-east-1"), (broken, "us-east-1")):
        expected = found(api_lint(text, regions=[region]))
        assert found(_cfn_lint(text, region)) == expected
    assert len(found(_cfn_lint(broken, "us-west-2"))) >= 3


def _broken(template: dict, salt: int) -> dict:
    """The template with every other property of every resource given a wrong value (a number
    where a string is, a string where anything else is) and an unknown one added, so that the
    schema validator takes its error paths as well as its clean ones."""
    for n, resource in enumerate(sorted(template.get("Resources", {}))):
        properties = template["Resources"][resource].get("Properties")
        if not isinstance(properties, dict):
            continue
        for i, name in enumerate(sorted(properties)):
            if (i + n + salt) % 2 == 0:
                properties[name] = 12345 if isinstance(properties[name], str) else "not-this"
        properties["NoSuchProperty"] = True
    return template


def test_the_validator_caches_find_exactly_what_plain_cfn_lint_finds(tmp_path: Path) -> None:
    """compiler.gates.cfnlint_fast caches five pure functions inside cfn-lint and makes its
    contexts and validators directly; the findings must be those of an unpatched cfn-lint, rule, position and
    message alike, on every kind's fixture templates broken (half of their properties stay
    valid). Both run in a child process with one hash seed: some of cfn-lint's messages print
    a set, whose order follows the seed."""
    import os
    import subprocess
    import sys

    from compiler.gates import cfnlint_fast

    texts = []
    for path in sorted((REPO / "tests" / "kinds" / "fixtures").glob("*/generated/prod/*.json")):
        if path.name != "manifest.json":
            texts.append(json.dumps(_broken(json.loads(path.read_text()), len(texts)), indent=2))
    corpus = tmp_path / "corpus.json"
    corpus.write_text(json.dumps(texts))
    script = (
        "import json, sys\n"
        "from compiler.gates import cfnlint_fast, lint\n"
        "if sys.argv[2] == 'plain':\n    cfnlint_fast.apply = lambda: False\n    cfnlint_fast.index_keywords = lambda rules: None\n"
        "rules = lint._cfn_rules()\n"
        "import cfnlint.jsonschema.validators as v, cfnlint.context.context as c, cfnlint.schema.resolver._resolver as r\n"
        "import cfnlint.rules.jsonschema.Base as b, regex\n"
        "print(json.dumps([' '.join(f.__qualname__ for f in (v.create, type(rules['E1101']).cfnLint, c.Context.evolve,\n"
        "                                                    r.RefResolver.resolve_from_url, b.BaseJsonSchema.extend_validator,\n"
        "                                                    regex.search))] + [sorted([m.rule.id, m.linenumber, m.columnnumber, m.message] "
        "for m in lint._cfn_lint(t, 'us-east-1')) for t in json.load(open(sys.argv[1]))]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(REPO)}
    runs = [subprocess.Popen([sys.executable, "-c", script, str(corpus), mode], env=env, stdout=subprocess.PIPE, text=True)
            for mode in ("plain", "patched")]
    (plain_create, *plain), (patched_create, *patched) = (json.loads(run.communicate()[0]) for run in runs)
    assert plain_create == ("create CfnLint.cfnLint Context.evolve RefResolver.resolve_from_url "
                            "BaseJsonSchema.extend_validator search")
    assert patched_create == ("apply.<locals>.cached_create index_keywords.<locals>.cfnLint "
                              "_evolve_contexts_directly.<locals>.evolve _resolve_urls_once.<locals>.resolve_from_url "
                              "_extend_directly.<locals>.extend_validator _patterns_compiled_once.search")  # in place
    assert patched == plain
    assert all(patched) and sum(map(len, patched)) > 10 * len(texts)  # full of findings
    assert cfnlint_fast.PINNED in (REPO / "pyproject.toml").read_text()  # a new pin means reading cfn-lint again


def test_a_finding_reads_the_same_under_every_hash_seed(tmp_path: Path) -> None:
    """E3019 prints a set of resources, ordered by the process's hash seed in cfn-lint's own
    message; ours sorts it, so the report (and the cache, and SARIF) is the same in every run."""
    import os
    import subprocess
    import sys

    alarm = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": "same", "ComparisonOperator": "GreaterThanThreshold", "EvaluationPeriods": 1,
        "MetricName": "Errors", "Namespace": "AWS/Lambda", "Period": 60, "Statistic": "Sum", "Threshold": 1}}
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"Resources": {f"Alarm{c}": alarm for c in "ABCDEFGH"}}, indent=2))
    script = ("import json, sys\nfrom compiler.gates import lint\n"
              "print(json.dumps(sorted(f['message'] for f in lint._lint_text((open(sys.argv[1]).read(), 'us-east-1')))))\n")
    runs = [subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}) for seed in ("1", "2")]
    outputs = {run.communicate()[0] for run in runs}
    (only,) = outputs
    messages = json.loads(only)
    assert "{'AlarmA', 'AlarmB', 'AlarmC', 'AlarmD', 'AlarmE', 'AlarmF', 'AlarmG', 'AlarmH'}" in messages[0]


def test_a_ref_resolves_in_its_own_schema_whatever_other_schemas_resolved() -> None:
    """cfnlint_fast keeps `$ref` resolutions across cfn-lint's resolvers: by the schema they
    resolve in as well as the URL, so that `#/definitions/Tag` of one resource type never
    answers for another's, and a schema made anew with the same content resolves on its own."""
    from cfnlint.schema.resolver import RefResolver

    from compiler.gates import cfnlint_fast

    assert cfnlint_fast.apply()
    queue = {"definitions": {"Tag": {"type": "string"}}}
    bucket = {"definitions": {"Tag": {"type": "object", "required": ["Key"]}}}
    for _ in range(2):  # the second round is answered from what the first kept
        assert RefResolver.from_schema(queue).resolve("#/definitions/Tag")[1] is queue["definitions"]["Tag"]
        assert RefResolver.from_schema(bucket).resolve("#/definitions/Tag")[1] is bucket["definitions"]["Tag"]
    fresh = {"definitions": {"Tag": {"type": "string"}}}
    assert RefResolver.from_schema(fresh).resolve("#/definitions/Tag")[1] is fresh["definitions"]["Tag"]
