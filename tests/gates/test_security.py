"""security: checkov as a gate over generated templates, with waivers a reviewer reads.

Runs the pinned checkov (installed once under the repository's .cache, as `make security`
does) over small fixture specs: a failed check fails with its place, a platform waiver and
a resource's `suppress:` make checkov itself report the check as skipped with the reason,
and a waiver that skips nothing fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.gates import security
from compiler.cli import EXIT_FINDINGS, main
from tests.conftest import platform, write_spec

APP = "functions:\n  worker: {handler: h.run}\n"
VPC = ("waivers:\n  - check: CKV_AWS_117\n    types: [AWS::Lambda::Function]\n"
       "    reason: nothing the functions reach lives in a VPC\n")
ENV = ("  - check: CKV_AWS_173\n    types: [AWS::Lambda::Function]\n"
       "    reason: the environment holds names and ARNs only\n")
LOGS = "  - check: CKV_AWS_158\n    types: [AWS::Logs::LogGroup]\n    reason: CloudWatch Logs encrypts with its own keys\n"


@pytest.fixture(scope="module")
def checkov() -> Path:
    return security.checkov_program()


def _scan(root: Path, checkov: Path, settings: str, app: str = APP) -> tuple[int, str]:
    write_spec(root, {"app.yaml": app}, platform=settings)
    (root / "handlers").mkdir(exist_ok=True)
    (root / "handlers" / "h.py").write_text("def run(event, context):\n    return {}\n")
    runner = CliRunner()
    assert runner.invoke(main, ["compile", "--stage", "all"]).exit_code == 0
    result = runner.invoke(main, ["security", "--checkov", str(checkov), "--sarif", "checkov.sarif"])
    return result.exit_code, result.output


def test_failed_checks_fail_with_their_place_and_waivers_are_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    checkov: Path) -> None:
    monkeypatch.chdir(tmp_path)
    bare = platform("{protect: false}", "{protect: true, concurrency: {reserved: 5}}")
    code, out = _scan(tmp_path, checkov, bare)
    assert code == EXIT_FINDINGS
    assert "generated/dev/app.json:" in out and "CKV_AWS_115 WorkerFunction" in out  # no reservation in dev
    assert "generated/prod/app.json:" in out and "CKV_AWS_117 WorkerFunction" in out
    assert "CKV_AWS_115" not in "".join(line for line in out.splitlines() if "generated/prod" in line)  # reserved
    assert "waived CKV_AWS_116" in out  # the function kind's own decision, with its reason
    assert Path("checkov.sarif").read_text().startswith("{")

    waived = platform("{protect: false, concurrency: {reserved: 2}}", "{protect: true, concurrency: {reserved: 5}}")
    code, out = _scan(tmp_path, checkov, waived + VPC + ENV + LOGS)
    assert code == 0, out
    assert "waived CKV_AWS_117 on 2 resource(s): nothing the functions reach lives in a VPC (platform.yaml waivers)" in out
    assert "0 failed" in out
    lint = CliRunner().invoke(main, ["lint", "--no-cache"]).output
    assert "checkov waiver CKV_AWS_117 on 2 resource(s): nothing the functions reach lives in a VPC" in lint


def test_a_waiver_that_skips_nothing_fails_and_suppress_waives_one_resource(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch,
                                                                           checkov: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = platform("{protect: false, concurrency: {reserved: 2}}", "{protect: true, concurrency: {reserved: 2}}")
    stale = "  - check: CKV_AWS_27\n    types: [AWS::SQS::Queue]\n    reason: SSE-SQS encrypts every queue at rest\n"
    code, out = _scan(tmp_path, checkov, settings + VPC + ENV + LOGS + stale)
    assert code == EXIT_FINDINGS
    assert "stale waiver: CKV_AWS_27: no resource of its types in dev, prod" in out
    app = APP.replace("{handler: h.run}", "{handler: h.run, suppress: {CKV_AWS_117: only AWS APIs are called here}}")
    code, out = _scan(tmp_path, checkov, settings + "waivers:\n" + ENV + LOGS, app)
    assert code == 0, out
    assert "waived CKV_AWS_117 on 2 resource(s): only AWS APIs are called here" in out


def test_a_waiver_is_checked_like_the_rest_of_the_spec(tmp_path: Path) -> None:
    from tests.conftest import errors_of

    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "h.py").write_text("def run(event, context):\n    return {}\n")
    bad = platform() + ("waivers:\n  - check: CKV_AWS_117\n    types: [Lambda]\n    stages: [qa]\n    reason: short\n")
    out = errors_of(tmp_path, {"app.yaml": APP}, platform=bad)
    assert "spec/platform.yaml:9:13: error[E203]" in out and "AWS::Lambda::Function" in out  # the type's form
    assert "spec/platform.yaml:11:13: error[E203]" in out  # a reason, not a word
    bad = platform() + ("waivers:\n  - check: CKV_AWS_117\n    types: [AWS::Lambda::Function]\n    stages: [qa]\n"
                        "    reason: nothing here lives in a VPC\n")
    assert "spec/platform.yaml:10:14: error[E206]: unknown stage 'qa'" in errors_of(tmp_path, {"app.yaml": APP}, platform=bad)
