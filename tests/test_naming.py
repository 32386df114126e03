"""naming: one scheme for every name, and AWS's real limits per kind of name."""

from __future__ import annotations

import pytest

from compiler import naming


@pytest.mark.parametrize(
    ("rule", "value", "ok"),
    [
        (naming.BUCKET, "listbackup-dev-data", True),
        (naming.BUCKET, "ab", False),  # 3 at least
        (naming.BUCKET, "a" * 63, True),
        (naming.BUCKET, "a" * 64, False),
        (naming.BUCKET, "Listbackup-dev-data", False),  # lowercase only
        (naming.BUCKET, "listbackup_dev", False),
        (naming.BUCKET, "a..b", False),
        (naming.BUCKET, "192.168.1.1", False),
        (naming.BUCKET, "xn--abc", False),
        (naming.BUCKET, "abc-s3alias", False),
        (naming.QUEUE, "q" * 75 + ".fifo", True),  # 80 including .fifo
        (naming.QUEUE, "q" * 76 + ".fifo", False),
        (naming.QUEUE, "a.b", False),
        (naming.TABLE, "ab", False),
        (naming.TABLE, "a" * 255, True),
        (naming.TABLE, "a" * 256, False),
        (naming.EVENT_BUS, "default", False),
        (naming.EVENT_RULE, "r" * 64, True),
        (naming.EVENT_RULE, "r" * 65, False),
        (naming.EVENT_ARCHIVE, "a" * 49, False),
        (naming.STACK, "listbackup-dev-api-auth", True),
        (naming.STACK, "1stack", False),
        (naming.STACK, "s" * 129, False),
        (naming.EXPORT, "listbackup-dev-table-users:arn", True),
        (naming.EXPORT, "listbackup-dev-table-users.arn", False),
        (naming.LOGICAL_ID, "UsersTable", True),
        (naming.LOGICAL_ID, "Users-Table", False),
    ],
)
def test_rules(rule: naming.NameRule, value: str, ok: bool) -> None:
    assert (rule.problem(value) is None) is ok


def test_problem_message_says_the_limit() -> None:
    assert naming.BUCKET.problem("a" * 64) == f"S3 bucket name '{'a' * 64}' is 64 characters; AWS allows 3 to 63"


def test_scheme() -> None:
    n = naming.Naming("listbackup", "dev")
    assert n.physical("users") == "listbackup-dev-users"
    assert n.physical("sync", "-dlq.fifo") == "listbackup-dev-sync-dlq.fifo"
    assert n.stack("infrastructure-sqs") == "listbackup-dev-infrastructure-sqs"
    assert n.export("queue", "sync", "dlq_arn") == "listbackup-dev-queue-sync:dlq-arn"
    assert naming.logical_id("user-accounts", "Table") == "UserAccountsTable"
    assert naming.stack_id("api/auth.yaml") == "api-auth"
