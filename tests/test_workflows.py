"""The CI workflow for the project's host: valid by GitHub's schema, and free of the
security findings zizmor knows (pinned actions, no injection, least permissions)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent


def test_there_are_the_workflows() -> None:
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "deploy-stage.yml", "deploy.yml", "drift.yml", "risk-gate.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_githubs_schema(workflow: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_has_no_zizmor_findings(workflow: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--persona", "pedantic", "--no-progress", str(workflow)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_runs_the_gates() -> None:
    text = (REPO / ".github" / "workflows" / "ci.yml").read_text()
    assert "run: make test" in text
    assert "platformc lint --format sarif" in text
    assert "platformc diff" not in text and "pr-number" not in text  # PR code must not decide the gate


def _gate() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / ".github" / "workflows" / "risk-gate.yml").read_text()))


def test_the_risk_gate_runs_only_the_bases_code() -> None:
    """The gate job runs the base commit's Makefile and compiler; the head is read as git
    objects. So a pull request that edits the Makefile, the compiler or a pr-number file
    can neither turn the gate green nor send the comment elsewhere."""
    gate = _gate()
    triggers = gate[True]["pull_request_target"]["types"]  # YAML 1.1 reads `on` as True
    assert {"synchronize", "labeled", "unlabeled", "opened", "reopened"} <= set(triggers)
    steps = gate["jobs"]["gate"]["steps"]
    checkouts = {step["with"]["path"]: step["with"] for step in steps if "actions/checkout" in step.get("uses", "")}
    assert checkouts["trusted"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert checkouts["pr"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert all(c["persist-credentials"] is False for c in checkouts.values())
    for step in (s for s in steps if "run" in s):
        script, where = step["run"], step.get("working-directory", ".")
        assert where in (".", "trusted"), step["name"]  # nothing runs inside the head's checkout
        assert "../pr" not in script or script.startswith("git fetch --quiet --no-tags ../pr"), step["name"]
        assert "pr/" not in script.replace("../pr ", "").replace("refs/pr/head", ""), step["name"]
    scripts = "\n".join(s["run"] for s in steps if "run" in s)
    assert "--new refs/pr/head" in scripts and "make venv" in scripts
    assert '"$PR_NUMBER"' in scripts and gate["jobs"]["gate"]["env"]["PR_NUMBER"] == "${{ github.event.pull_request.number }}"
    assert "pr-number" not in scripts  # nothing the head wrote says where the comment goes


def _verdict(tmp_path: Path, verdict: str, pull: dict[str, Any], reviews: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """The gate's API-reading and verdict steps as the workflow runs them, with `gh` answering
    `pull` and `reviews` (what GitHub's API would) and the trusted compiler in trusted/.venv."""
    steps = _gate()["jobs"]["gate"]["steps"]
    fetch = next(s for s in steps if s.get("name", "").startswith("The pull request and its reviews"))
    decide = next(s for s in steps if s.get("name") == "The verdict")
    (tmp_path / "trusted" / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / "trusted" / ".venv" / "bin" / "platformc").symlink_to(BIN / "platformc")
    (tmp_path / "bin").mkdir()
    (tmp_path / "pull.api").write_text(json.dumps(pull))
    (tmp_path / "reviews.api").write_text("".join(json.dumps(r) + "\n" for r in reviews))
    gh = tmp_path / "bin" / "gh"  # answers like `gh api`: the pull request, or its reviews one per line
    gh.write_text('#!/bin/sh\ncase "$*" in *reviews*) cat "$GH_FAKE/reviews.api" ;; *) cat "$GH_FAKE/pull.api" ;; esac\n')
    gh.chmod(0o755)
    (tmp_path / "verdict.txt").write_text(verdict + "\n")
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "GH_FAKE": str(tmp_path), "GH_REPO": "acme/platform",
           "PR_NUMBER": "7", "HEAD_SHA": "a" * 40}
    script = fetch["run"] + "\n" + decide["run"]
    return subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env)


HEAD, OLD = "a" * 40, "b" * 40
PULL = {"head": {"sha": HEAD}, "user": {"login": "mallory"}, "labels": [{"name": "infra-risk-approved"}]}


def _review(login: str, state: str = "APPROVED", commit: str = HEAD, body: str = "infra-risk-approved: the table goes",
            association: str = "MEMBER", at: str = "2026-12-01T10:00:00Z", id_: int = 1) -> dict[str, Any]:
    return {"id": id_, "user": {"login": login}, "state": state, "commit_id": commit, "body": body,
            "author_association": association, "submitted_at": at}


@pytest.mark.parametrize("case, pull, reviews, passes", [
    ("safe diff", PULL, [], True),
    ("the label alone approves nothing", PULL, [], False),
    ("an approval of the head commit", PULL, [_review("ada")], True),
    ("an approval of an older commit", PULL, [_review("ada", commit=OLD)], False),
    ("the author approving herself", PULL, [_review("mallory", association="OWNER")], False),
    ("an approval without the risk marker", PULL, [_review("ada", body="LGTM")], False),
    ("a reviewer who cannot write", PULL, [_review("eve", association="CONTRIBUTOR")], False),
    ("approved, then changes requested", PULL, [_review("ada"), _review("ada", "CHANGES_REQUESTED", id_=2,
                                                                         at="2026-12-01T11:00:00Z")], False),
    ("an approval later dismissed", PULL, [_review("ada"), _review("ada", "DISMISSED", id_=2, at="2026-12-01T11:00:00Z")], False),
    ("a comment after the approval keeps it", PULL, [_review("ada"), _review("ada", "COMMENTED", body="", id_=2,
                                                                               at="2026-12-01T11:00:00Z")], True),
    ("a run that judged a head since replaced", {**PULL, "head": {"sha": "c" * 40}}, [_review("ada")], False),
])
def test_the_risk_gate_passes_only_on_an_approval_of_the_commit_it_judged(
        tmp_path: Path, case: str, pull: dict[str, Any], reviews: list[dict[str, Any]], passes: bool) -> None:
    """The approval names the commit and is read through the API when the verdict is made:
    a label (from the event or the API), an approval of another commit, a self-approval, or
    a run that judged a head a new push replaced (a queued reopened/labeled run) fail."""
    proc = _verdict(tmp_path, "risky=0" if case == "safe diff" else "risky=4", pull, reviews)
    assert (proc.returncode == 0) == passes, (case, proc.stdout + proc.stderr)
    gate = _gate()
    assert "labels" not in json.dumps(gate["jobs"]["gate"]["env"])  # nothing of the event's labels decides
    assert not any("remove-label" in s.get("run", "") for s in gate["jobs"]["gate"]["steps"])


def test_the_gate_reads_the_heads_generated_templates_as_data(tmp_path: Path) -> None:
    """A head that rewrites the Makefile and the compiler, plants a pr-number file and a
    symlink, and deletes a table: the base's `platformc diff --new` still says DATA LOSS,
    and reads no file the symlink points at."""
    from compiler.build.emit import write
    from tests.conftest import compile_spec

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=tmp_path,
                              capture_output=True, text=True, check=True).stdout.strip()

    result = compile_spec(tmp_path, {"data.yaml": "tables:\n  items: {hash_key: id:S}\n  other: {hash_key: id:S}\n"})
    write(tmp_path / "generated", result.outputs, list(result.stages))
    (tmp_path / "Makefile").write_text("test:\n\tpython -m pytest\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "base")
    base = git("rev-parse", "HEAD")

    result = compile_spec(tmp_path, {"data.yaml": "tables:\n  items: {hash_key: id:S}\n"})  # drops a table
    write(tmp_path / "generated", result.outputs, list(result.stages))
    (tmp_path / "Makefile").write_text("test:\n\ttrue\n")
    (tmp_path / "compiler").mkdir()
    (tmp_path / "compiler" / "diff.py").write_text("RISKS = set()  # the head's own idea of risk\n")
    (tmp_path / "pr-number.txt").write_text("1\n")
    secret = tmp_path.parent / "runner-secret.txt"
    secret.write_text("TOKEN=do-not-leak\n")
    (tmp_path / "generated" / "dev" / "leak.json").symlink_to(secret)
    git("add", "-A")
    git("commit", "-qm", "head")
    head = git("rev-parse", "HEAD")
    git("checkout", "-q", base)  # what the gate's trusted/ holds

    proc = subprocess.run([str(BIN / "platformc"), "diff", "--stage", "all", "--against", base, "--new", head,
                           "--no-color"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "DATA LOSS" in proc.stdout and "OtherTable" in proc.stdout
    assert "do-not-leak" not in proc.stdout + proc.stderr


# ------------------------------------------------------------------------------ delivery

def _workflow(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / ".github" / "workflows" / name).read_text()))


def _stages() -> list[str]:
    return list(yaml.safe_load((REPO / "spec" / "platform.yaml").read_text())["stages"])


def test_deploy_goes_through_the_stages_in_order_each_in_its_environment() -> None:
    deploy, stage_job = _workflow("deploy.yml"), _workflow("deploy-stage.yml")["jobs"]["deploy"]
    assert deploy[True]["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    chain = [name for name in jobs if name != "package"]
    assert chain == _stages() == ["dev", "staging", "prod"]
    for before, job in zip(["package", *chain], chain):
        assert jobs[job]["needs"] == before
        assert jobs[job]["uses"] == "./.github/workflows/deploy-stage.yml" and jobs[job]["with"]["stage"] == job
        assert jobs[job]["permissions"] == {"contents": "read", "id-token": "write"}
        # risky change sets only when a person started the run and said so
        assert jobs[job]["with"]["allow-risk"] == "${{ github.event_name == 'workflow_dispatch' && inputs.allow-risk }}"
    assert deploy["permissions"] == {"contents": "read"} and "id-token" not in jobs["package"]["permissions"]
    assert stage_job["environment"] == {"name": "${{ inputs.stage }}", "url": "${{ steps.deploy.outputs.url }}"}
    assert stage_job["concurrency"] == {"group": "deploy-${{ inputs.stage }}", "cancel-in-progress": False}
    assert deploy["concurrency"]["cancel-in-progress"] is False
    credentials = next(s for s in stage_job["steps"] if "configure-aws-credentials" in s.get("uses", ""))
    assert re.fullmatch(r"aws-actions/configure-aws-credentials@[0-9a-f]{40}", credentials["uses"])
    assert credentials["with"]["role-to-assume"] == "${{ vars.DEPLOY_ROLE_ARN }}"
    uploads = [s for s in jobs["package"]["steps"] if "upload-artifact" in s.get("uses", "")]
    downloads = [s for s in stage_job["steps"] if "download-artifact" in s.get("uses", "")]
    assert uploads[0]["with"]["name"] == downloads[0]["with"]["name"]  # built once, the same bytes everywhere
    assert downloads[0]["with"]["path"] == ".build/artifacts/"


def test_the_drift_check_reads_each_stage_with_its_review_role() -> None:
    from compiler.manifest import Manifest

    drift = _workflow("drift.yml")
    assert "schedule" in drift[True]
    job = drift["jobs"]["drift"]
    entries = job["strategy"]["matrix"]["include"]
    assert [e["stage"] for e in entries] == _stages()
    for entry in entries:
        manifest = Manifest.read(REPO / "generated", entry["stage"])
        assert manifest is not None
        template = json.loads(manifest.template_path(REPO / "generated", manifest.bootstrap_stacks[0]).read_text())
        review = [r["Properties"]["RoleName"] for r in template["Resources"].values()
                  if (r.get("Metadata") or {}).get("Delivery") == "review-role"]
        assert review == [entry["role"]]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert any(s.get("run") == '.venv/bin/platformc drift --stage "$STAGE"' for s in job["steps"])


def test_the_deploy_workflows_steps_deploy_dev_on_the_moto_server(endpoint: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The package job's and the stage job's commands, run as the workflow runs them (CI set,
    GitHub's output files), against the emulator (`--endpoint-url`, the local adaptation)
    after the administrator's one-time bootstrap."""
    from compiler.local.emulator import LocalDeployer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    package_steps = [s["run"] for s in _workflow("deploy.yml")["jobs"]["package"]["steps"] if "run" in s]
    deploy_step = next(s for s in _workflow("deploy-stage.yml")["jobs"]["deploy"]["steps"] if s.get("id") == "deploy")
    assert package_steps == ["make check", "make package"]
    for script in package_steps:
        proc = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    LocalDeployer(REPO / "generated", "dev", endpoint_url=endpoint, yes=True, echo=lambda _: None, poll=0.01).bootstrap()
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    env = {**os.environ, **{k: v for k, v in deploy_step["env"].items() if not v.startswith("${{")},
           "STAGE": "dev", "ALLOW_RISK": "false", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)}
    assert env["CI"] == "true"
    proc = subprocess.run(["bash", "-c", deploy_step["run"] + f" --endpoint-url {endpoint}"], cwd=REPO,
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = summary.read_text()
    assert text.startswith("## Deploy dev: deployed") and "### Stack outputs" in text
    manifest = json.loads((REPO / "generated" / "dev" / "manifest.json").read_text())
    assert all(f"| {stack} |" in text for stack, entry in manifest["stacks"].items() if not entry.get("bootstrap"))
    assert outputs.read_text() == f"url=https://{manifest['domain']}\n"


def _lock() -> dict[str, tuple[str, list[str]]]:
    """.github/deploy-requirements.txt: name -> (version, hashes); names as pip normalises them."""
    text = (REPO / ".github" / "deploy-requirements.txt").read_text()
    found: dict[str, tuple[str, list[str]]] = {}
    for block in re.split(r"\n(?=\S)", text):
        if block.startswith("#") or not block.strip():
            continue
        head = re.match(r"([A-Za-z0-9_.-]+)==([^ ;\\]+)", block)
        assert head, block
        found[re.sub(r"[-_.]+", "-", head[1]).lower()] = (head[2], re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return found


def test_the_jobs_holding_aws_credentials_install_only_hash_locked_wheels() -> None:
    """The deploy and drift jobs build .venv with `make venv-locked` (pip --require-hashes,
    no resolution, no index for the project itself) and install nothing else; the lock
    carries every pin of pyproject (runtime, the deploy extra, the build backend), each with
    hashes, so a pin moved without `make lock` fails here."""
    import tomllib

    for workflow, job in (("deploy-stage.yml", "deploy"), ("drift.yml", "drift")):
        runs = [s["run"] for s in _workflow(workflow)["jobs"][job]["steps"] if "run" in s]
        assert any(run.startswith("make venv-locked") for run in runs), workflow
        assert not any(re.search(r"pip install|make venv(\s|$)|uv pip|make test", run) for run in runs), workflow
    recipe = subprocess.run(["make", "-n", "venv-locked"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    installs = [line for line in recipe.splitlines() if "pip install" in line]
    assert len(installs) == 2 and "--require-hashes --no-deps -r .github/deploy-requirements.txt" in installs[0]
    assert "--no-deps --no-build-isolation --no-index -e ." in installs[1]

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    pins = [*project["project"]["dependencies"], *project["project"]["optional-dependencies"]["deploy"]]
    lock = _lock()
    for pin in pins:
        name, version = pin.split("==")
        name = re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()
        assert lock.get(name, ("missing",))[0] == version, f"{pin}: the lock has {lock.get(name)}; run make lock"
    assert all(hashes for _, hashes in lock.values())
    backend = project["build-system"]["requires"][0]
    assert backend.startswith("setuptools>=") and int(lock["setuptools"][0].split(".")[0]) >= int(backend.split(">=")[1])


def test_the_dev_virtualenv_is_installed_by_the_dev_extras_own_uv() -> None:
    """`make test` and `make compile` build .venv with uv at the dev extra's pin (so `make lock`
    and the install use one uv), byte-compiled like pip's install; a pin moved in pyproject
    moves the recipe's, and an unreadable pin would leave `pip install ''` failing here."""
    import tomllib

    dev = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    (pin,) = [p for p in dev if p.startswith("uv==")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}  # as from a shell, also under `make test`
    recipe = subprocess.run(["make", "--no-print-directory", "-n", "-W", "pyproject.toml", "venv"], cwd=REPO, env=env,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    installs = [line for line in recipe if " install " in line]
    assert len(installs) == 2, recipe
    assert installs[0].endswith(f"-m pip install --quiet --disable-pip-version-check '{pin}'")
    assert "/uv pip install" in installs[1] and installs[1].endswith("--compile-bytecode -e '.[dev]'")
