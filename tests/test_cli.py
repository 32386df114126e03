"""Everyday command-line behaviour: version, colour rules, help texts that stay true."""

from __future__ import annotations

import json
from importlib.metadata import version
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main, use_colour
from tests.conftest import REPO, write_spec


def test_version_names_the_installed_package() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert (result.exit_code, result.output) == (0, f"platformc {version('listbackup-platformc')}\n")


@pytest.mark.parametrize(("asked", "terminal", "environ", "expected"), [
    (None, True, {}, True),                       # a terminal: colour
    (None, False, {}, False),                     # a pipe or a file: none
    (None, True, {"NO_COLOR": "1"}, False),       # NO_COLOR wins over the terminal
    (None, True, {"NO_COLOR": ""}, True),         # ...when it is set to something (no-color.org)
    (True, False, {"NO_COLOR": "1"}, True),       # an explicit --color wins over both
    (False, True, {}, False),                     # --no-color
])
def test_colour_follows_the_terminal_no_color_and_the_flags(asked: bool | None, terminal: bool, environ: dict[str, str],
                                                             expected: bool) -> None:
    assert use_colour(asked, terminal, environ) is expected


def test_every_command_has_a_one_line_summary_that_fits() -> None:
    listing = CliRunner().invoke(main, ["--help"]).output
    commands = listing.split("Commands:")[1].strip().splitlines()
    assert commands and all(len(line) <= 100 and not line.rstrip().endswith("...") for line in commands), commands


def test_json_errors_keep_every_did_you_mean_in_help(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tool reading --format json finds the suggestion in `help`, never inside `message`."""
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "users.py").write_text("def get_me(event, context):\n    return {}\n")
    body = ("tables:\n  users: {hash_key: id:S}\nfunctions:\n  a: {handler: users.get_mee}\n  b: {handler: user.get_me}\n"
            "  c: {handler: users.get_me, access: {table:users: reed}}\nqueues:\n  q: {visiblity_timeout: 5}\n")
    write_spec(tmp_path, {"app.yaml": body})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["compile", "--stage", "dev", "--format", "json"])
    records = json.loads(result.output)
    assert result.exit_code == 1 and len(records) == 4
    for record in records:
        assert "did you mean" not in record["message"], record
        assert record["help"] and "did you mean" in record["help"], record


@pytest.mark.parametrize(("flags", "expected"), [([], False), (["--allow-risk"], True)])
def test_up_passes_allow_risk_to_the_deployer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str],
                                              expected: bool) -> None:
    """Locally, a change deploy refuses (a replaced table) needs a way past it other than
    losing every local datum: `up --allow-risk` is deploy's --allow-risk."""
    from compiler.cli import local_cmds
    from compiler.local import emulator as local
    from compiler.delivery.deploy import DeployError

    monkeypatch.chdir(tmp_path)
    write_spec(tmp_path, {"data.yaml": "tables:\n  items: {hash_key: id:S}\n"})
    assert CliRunner().invoke(main, ["compile", "--stage", "dev"]).exit_code == 0
    seen: dict[str, object] = {}

    def deployer(*args: object, **kwargs: object) -> object:
        seen.update(kwargs)
        raise DeployError("stopped here by the test")

    monkeypatch.setattr(local, "start", lambda: "http://127.0.0.1:9")
    monkeypatch.setattr(local_cmds, "_deployer", deployer)
    result = CliRunner().invoke(main, ["up", "--stage", "dev", *flags])
    assert "stopped here by the test" in result.output
    assert seen["allow_risk"] is expected and seen["local"] is True


def test_destroy_asks_even_in_ci_and_a_closed_stdin_answers_no(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CI=true no longer skips destroy's question; with nothing on standard input the answer
    is no: exit 1 and nothing deleted (it was exit 123, and CI deleted without asking)."""
    from compiler.build.emit import write
    from tests.conftest import compile_spec

    result = compile_spec(tmp_path, {"data.yaml": "tables:\n  t: {hash_key: id:S}\n"})
    write(tmp_path / "generated", result.outputs, list(result.stages))
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "none")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "none")
    run = CliRunner().invoke(main, ["destroy", "--stage", "dev", "--out", str(tmp_path / "generated")], input="")
    assert run.exit_code == 1, run.output
    assert "not confirmed: nothing deleted" in run.output


AWS_COMMANDS = [
    ["deploy", "--stage", "dev"], ["bootstrap", "--stage", "dev", "--yes"], ["drift", "--stage", "dev"],
    ["rollback", "health", "--stage", "dev", "--yes"], ["destroy", "--stage", "dev", "--yes"],
    ["outputs", "--stage", "dev"], ["logs", "health", "--stage", "dev", "--aws"], ["adopt", "--stage", "dev"],
    ["diff", "--stage", "dev", "--against", "deployed"], ["doctor", "--stage", "dev"],
]
# Commands that never call AWS with the machine's credentials: the build, the review gate over
# git, and the local platform (fake credentials when the machine has none, on 127.0.0.1).
NO_AWS = {"compile", "check", "graph", "lint", "security", "schema", "package", "new", "risk-approval", "event",
          "up", "down", "token", "invoke"}


def test_every_command_is_run_without_credentials_or_never_calls_aws() -> None:
    """A new command is added to one list or the other, so the no-credentials test reaches it."""
    assert set(main.commands) == {args[0] for args in AWS_COMMANDS} | NO_AWS, (
        set(main.commands) ^ ({args[0] for args in AWS_COMMANDS} | NO_AWS))


@pytest.mark.parametrize("args", AWS_COMMANDS, ids=lambda a: a[0])
def test_no_aws_credentials_is_one_line_and_exit_1_never_an_internal_error(
        args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command that talks to AWS, run where no credentials can be found (no environment,
    no files, no instance role): one line that says what was looked for and how to set it."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.chdir(REPO)
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # as in a fresh process: no session other tests made
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, (result.exit_code, result.output[-2000:])
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert "no AWS credentials found" in result.output, result.output[-500:]


def test_every_aws_error_a_user_causes_reads_as_one_line() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoRegionError

    from compiler.delivery.errors import aws_user_error

    def client_error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "m"}}, "GetCallerIdentity")

    assert "expired" in str(aws_user_error(client_error("ExpiredToken")))
    assert "refused" in str(aws_user_error(client_error("AccessDenied")))
    assert "throttling" in str(aws_user_error(client_error("ThrottlingException")))
    assert "could not be reached" in str(aws_user_error(EndpointConnectionError(endpoint_url="https://sts.example")))
    assert "AWS_REGION" in str(aws_user_error(NoRegionError()))
    assert aws_user_error(client_error("ValidationError")) is None  # ours to explain, or a bug
    assert aws_user_error(KeyError("x")) is None
