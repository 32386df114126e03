"""validate: every shape and value mistake is reported, at the right place, all at once."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import compile_spec, errors_of, resource, write_spec


def test_unknown_field_with_did_you_mean(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"q.yaml": "queues:\n  sync:\n    visiblity_timeout: 30\n"})
    assert "spec/q.yaml:3:5: error[E202]: unknown field 'visiblity_timeout'" in out
    assert "did you mean 'visibility_timeout'?" in out


def test_unknown_nested_field_suggests_fields_of_the_nested_model(tmp_path: Path) -> None:
    spec = "tables:\n  t:\n    hash_key: id:S\n    indexes:\n      ByName: {hash_key: name:S, projecton: all}\n"
    out = errors_of(tmp_path, {"t.yaml": spec})
    assert "spec/t.yaml:5:34: error[E202]: unknown field 'projecton'" in out
    assert "did you mean 'projection'?" in out


def test_missing_field_points_at_the_resource(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"t.yaml": "tables:\n  users:\n    ttl: ttl\n"})
    assert "spec/t.yaml:2:3: error[E201]: missing required field 'hash_key'" in out


def test_wrong_type_and_bad_value_point_at_the_value(tmp_path: Path) -> None:
    spec = "queues:\n  a:\n    max_receives: many\n  b:\n    visibility_timeout: 13h\n  c:\n    retention: 3 weeks\n"
    out = errors_of(tmp_path, {"q.yaml": spec})
    assert "spec/q.yaml:3:19: error[E203]: max_receives: Input should be a valid integer" in out
    assert "spec/q.yaml:5:25: error[E203]: visibility_timeout: Input should be less than or equal to 43200" in out
    assert "spec/q.yaml:7:16: error[E203]: retention: '3 weeks' is not a duration" in out


def test_all_errors_of_all_files_in_one_run(tmp_path: Path) -> None:
    out = errors_of(
        tmp_path,
        {
            "a.yaml": "queues:\n  a:\n    bogus: 1\n",
            "b.yaml": "tables:\n  b:\n    hash_key: id\n",
            "c.yaml": "buckets:\n  c: {public: yes}\n",
        },
    )
    assert "spec/a.yaml:3:5" in out and "spec/b.yaml:3:15" in out and "spec/c.yaml:2:15" in out
    assert out.rstrip().endswith("3 error(s), 0 warning(s)")


def test_unknown_section_and_bad_resource_name(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"x.yaml": "tabels:\n  a: {}\nqueues:\n  Bad_Name: {}\n"})
    assert "spec/x.yaml:1:1: error[E202]: unknown section 'tabels'" in out
    assert "did you mean 'tables'?" in out
    assert "spec/x.yaml:4:3: error[E205]: 'Bad_Name' is not a resource name" in out


def test_stage_override_is_merged_and_errors_point_into_it(tmp_path: Path) -> None:
    spec = "queues:\n  a:\n    visibility_timeout: 30\n    stages:\n      prod: {visibility_timeout: 99999}\n"
    out = errors_of(tmp_path, {"q.yaml": spec})
    assert "spec/q.yaml:5:34: error[E203]: visibility_timeout" in out


def test_stage_override_changes_only_its_stage(tmp_path: Path) -> None:
    spec = "queues:\n  a:\n    visibility_timeout: 30\n    stages:\n      prod: {visibility_timeout: 2m}\n"
    result = compile_spec(tmp_path, {"q.yaml": spec})
    assert resource(result, "dev", "q", "AQueue")["Properties"]["VisibilityTimeout"] == 30
    assert resource(result, "prod", "q", "AQueue")["Properties"]["VisibilityTimeout"] == 120


def test_unknown_stage_in_override(tmp_path: Path) -> None:
    spec = "queues:\n  a:\n    stages:\n      prd: {delay: 1}\n"
    out = errors_of(tmp_path, {"q.yaml": spec})
    assert "spec/q.yaml:4:7: error[E206]: unknown stage 'prd'" in out
    assert "did you mean 'prod'?" in out


def test_unsafe_choice_needs_a_reason(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"b.yaml": "buckets:\n  logs:\n    versioning: false\n"})
    assert "spec/b.yaml:3:17: error[E209]: 'versioning: false' turns off a safe default" in out
    assert "reasons: {versioning: ...}" in out


def test_unsafe_choice_with_reason_is_kept_in_the_template(tmp_path: Path) -> None:
    spec = "buckets:\n  logs:\n    versioning: false\n    reasons: {versioning: logs are rewritten every hour anyway}\n"
    result = compile_spec(tmp_path, {"b.yaml": spec})
    bucket = resource(result, "dev", "b", "LogsBucket")
    assert "VersioningConfiguration" not in bucket["Properties"]
    assert bucket["Metadata"]["UnsafeChoices"] == {"versioning": "logs are rewritten every hour anyway"}


def test_reason_for_something_that_is_not_a_safety_setting(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"b.yaml": "buckets:\n  logs:\n    reasons: {versoning: because it is what it is}\n"})
    assert "error[E210]: reason given for 'versoning'" in out
    assert "did you mean 'versioning'?" in out


def test_platform_errors(tmp_path: Path) -> None:
    platform = "service: ListBackup\nregion: mars-1\nstages: {dev: {log_retention_days: 10}}\n"
    out = errors_of(tmp_path, {}, platform=platform)
    assert "spec/platform.yaml:1:10: error[E203]: service: 'ListBackup' is not a service name" in out
    assert "spec/platform.yaml:2:9: error[E203]: region: 'mars-1' is not an AWS region" in out
    assert "spec/platform.yaml:3:36: error[E203]: log_retention_days: CloudWatch Logs keeps logs for one of" in out


def test_reference_syntax_is_checked_at_validation(tmp_path: Path) -> None:
    spec = "buses:\n  b:\n    rules:\n      r: {pattern: {source: [x]}, targets: [queue-alert, widget:x]}\n"
    out = errors_of(tmp_path, {"b.yaml": spec})
    assert "targets[0]: a reference is written `kind:name`" in out
    assert "targets[1]: unknown resource kind 'widget'" in out


DEFAULTS = """\
defaults:
  queues: {visibility_timeout: 5m, tags: {Team: sync}}
queues:
  a: {}
  b: {visibility_timeout: 1m, tags: {Priority: High}}
  c:
    stages:
      prod: {visibility_timeout: 10m}
"""


def test_file_defaults_are_inherited_and_overridden(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, {"q.yaml": DEFAULTS})
    props = {name: resource(result, "prod", "q", f"{name.upper()}Queue")["Properties"] for name in "abc"}
    assert props["a"]["VisibilityTimeout"] == 300  # inherited
    assert props["b"]["VisibilityTimeout"] == 60  # the resource's own value wins
    assert props["c"]["VisibilityTimeout"] == 600  # a stage override wins over both
    assert resource(result, "dev", "q", "CQueue")["Properties"]["VisibilityTimeout"] == 300
    tags = {t["Key"]: t["Value"] for t in props["b"]["Tags"]}
    assert (tags["Team"], tags["Priority"]) == ("sync", "High")  # mappings merge key by key


def test_an_error_in_a_default_points_at_the_default(tmp_path: Path) -> None:
    spec = "defaults:\n  queues: {visibility_timeout: 13h}\nqueues:\n  a: {}\n  b: {visibility_timeout: 13h}\n"
    out = errors_of(tmp_path, {"q.yaml": spec})
    assert "spec/q.yaml:2:32: error[E203]: visibility_timeout:" in out  # a inherits the bad value: the default's line
    assert "spec/q.yaml:5:27: error[E203]: visibility_timeout:" in out  # b's own value: b's line


def test_defaults_are_checked_as_a_stack_key(tmp_path: Path) -> None:
    spec = "defaults:\n  queus: {fifo: true}\n  tables: [1]\n  buckets: {stages: {prod: {}}}\nqueues:\n  a: {}\n"
    out = errors_of(tmp_path, {"q.yaml": spec})
    assert "spec/q.yaml:2:3: error[E202]: unknown section 'queus' in defaults" in out and "did you mean 'queues'?" in out
    assert "spec/q.yaml:3:3: error[E204]: defaults.tables: must be a mapping of fields" in out
    assert "spec/q.yaml:4:13: error[E204]: defaults cannot hold `stages:`" in out


def test_substitutions_are_resolved_per_stage(tmp_path: Path) -> None:
    spec = "queues:\n  q:\n    tags: {Owner: '${service}-${stage}', Where: '${region}'}\n"
    files = {"q.yaml": spec, "far.yaml": "region: eu-west-1\nqueues:\n  far:\n    tags: {Where: '${ region }'}\n"}
    result = compile_spec(tmp_path, files)
    for stage in ("dev", "prod"):
        tags = {t["Key"]: t["Value"] for t in resource(result, stage, "q", "QQueue")["Properties"]["Tags"]}
        assert (tags["Owner"], tags["Where"]) == (f"listbackup-{stage}", "us-west-2")
    far = {t["Key"]: t["Value"] for t in resource(result, "dev", "far", "FarQueue")["Properties"]["Tags"]}
    assert far["Where"] == "eu-west-1"  # the stack's own region


def test_mistakes_of_every_stage_and_kind_come_in_one_run(tmp_path: Path) -> None:
    """A bad value, a missing handler, a prod-only bad override, an unknown reference and a
    name declared twice: all five in one run, none hiding another — and a reference to a
    resource that has errors of its own is not reported as dangling."""
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "h.py").write_text("def f(event, context):\n    return {}\n")
    app = """\
queues:
  work:
    visibility_timeout: forever
  jobs:
    delay: 1
    stages:
      prod: {delay: 99999}
functions:
  f:
    handler: h.missing
  g:
    handler: h.f
    access: {table:nowhere: read, queue:work: send}
"""
    out = errors_of(tmp_path, {"app.yaml": app, "other.yaml": "queues:\n  jobs: {}\n"})
    assert "spec/app.yaml:3:25: error[E203]" in out                  # work: the bad value
    assert "spec/app.yaml:7:21: error[E203]: delay: Input should be less than or equal to 900 (in stage prod)" in out
    assert "spec/app.yaml:10:14: error[E207]" in out                 # f: the missing handler
    assert "error[E305]: unknown table 'nowhere'" in out             # g: the dangling reference
    assert "error[E302]: queue 'jobs' is declared twice" in out      # the name clash, checked although others failed
    assert "unknown queue 'work'" not in out                         # work has errors of its own: not dangling


def test_a_resource_the_same_in_every_stage_validates_once(tmp_path: Path) -> None:
    """Stages share a resource's model when nothing about it depends on the stage; an
    override, a `${stage}` (in the resource or in the file's defaults) or a problem makes
    each stage validate its own, and what every stage compiles to stays its own."""
    from compiler.spec.load import load_tree
    from compiler.spec.validate import validate

    spec = write_spec(tmp_path, {
        "q.yaml": """\
            defaults:
              topics: {tags: {Owner: '${stage}'}}
            queues:
              same: {visibility_timeout: 30}
              staged: {tags: {Owner: '${stage}'}}
              over:
                stages:
                  prod: {visibility_timeout: 2m}
            topics:
              inherits: {}
            """,
    })
    files, problems = load_tree(spec, tmp_path)
    stages, diags = validate(files)
    assert not problems and not diags and len(stages) > 1
    models = {name: [decl.spec for stage in stages.values() for decl in stage.stacks[0].resources if decl.name == name]
              for name in ("same", "staged", "over", "inherits")}
    assert all(model is models["same"][0] for model in models["same"])
    for name in ("staged", "over", "inherits"):
        assert len({id(model) for model in models[name]}) == len(stages), name
    assert [m.tags["Owner"] for m in models["staged"]] == list(stages)
    assert [m.visibility_timeout for m in models["over"]] == [120 if s == "prod" else 30 for s in stages]
