"""naming: every name the compiler emits, and the rules AWS sets for each kind of name.

Physical names are never chosen per resource: `<service>-<stage>-<resource>`
(`listbackup-dev-users`). Stacks follow the same scheme, and export names add the
referable kind and the attribute after a colon (`listbackup-dev-table-users:arn`) so that
no two attributes or kinds can produce the same export. Logical IDs are API: they come
only from here, and a rename shows up in the golden diff as a replacement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class NameRule:
    """AWS's limits for one kind of name (checked against the service documentation)."""

    what: str
    min_len: int
    max_len: int
    pattern: str  # full-match regular expression
    charset: str  # the pattern in words, for the message
    extra: tuple[Callable[[str], str | None], ...] = field(default=())

    def problem(self, value: str) -> str | None:
        """Why `value` is not a valid name of this kind, or None when it is."""
        if not self.min_len <= len(value) <= self.max_len:
            return f"{self.what} '{value}' is {len(value)} characters; AWS allows {self.min_len} to {self.max_len}"
        if not re.fullmatch(self.pattern, value):
            return f"{self.what} '{value}' may contain only {self.charset}"
        for check in self.extra:
            if (why := check(value)) is not None:
                return f"{self.what} '{value}' {why}"
        return None


def _s3_extra(value: str) -> str | None:
    if ".." in value:
        return "must not contain two adjacent periods"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value):
        return "must not look like an IP address"
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if value.startswith(prefix):
            return f"must not start with '{prefix}'"
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if value.endswith(suffix):
            return f"must not end with '{suffix}'"
    return None


def _not_default(value: str) -> str | None:
    return "is reserved for the account's default bus" if value == "default" else None


TABLE = NameRule("DynamoDB table name", 3, 255, r"[A-Za-z0-9_.-]+", "letters, digits, '_', '-' and '.'")
QUEUE = NameRule(
    "SQS queue name", 1, 80, r"[A-Za-z0-9_-]+(\.fifo)?", "letters, digits, '_' and '-' (and a final '.fifo')"
)
BUCKET = NameRule(
    "S3 bucket name",
    3,
    63,
    r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
    "lowercase letters, digits, '.' and '-', starting and ending with a letter or digit",
    (_s3_extra,),
)
EVENT_BUS = NameRule(
    "EventBridge event bus name", 1, 256, r"[.\-_A-Za-z0-9]+", "letters, digits, '.', '-' and '_'", (_not_default,)
)
EVENT_RULE = NameRule("EventBridge rule name", 1, 64, r"[.\-_A-Za-z0-9]+", "letters, digits, '.', '-' and '_'")
EVENT_ARCHIVE = NameRule("EventBridge archive name", 1, 48, r"[.\-_A-Za-z0-9]+", "letters, digits, '.', '-' and '_'")
USER_POOL = NameRule("Cognito user pool or client name", 1, 128, r"[\w\s+=,.@-]+", "letters, digits, spaces and + = , . @ -")
LAMBDA = NameRule("Lambda function name", 1, 64, r"[A-Za-z0-9_-]+", "letters, digits, '_' and '-'")
IAM_ROLE = NameRule("IAM role name", 1, 64, r"[\w+=,.@-]+", "letters, digits and + = , . @ _ -")
IAM_POLICY = NameRule("IAM managed policy name", 1, 128, r"[\w+=,.@-]+", "letters, digits and + = , . @ _ -")
HTTP_API = NameRule("HTTP API name", 1, 128, r"[\w\s+=,.@-]+", "letters, digits, spaces and + = , . @ -")
SECRET = NameRule("Secrets Manager secret name", 1, 512, r"[A-Za-z0-9/_+=.@-]+", "letters, digits and / _ + = . @ -")
BACKUP_VAULT = NameRule("AWS Backup vault or plan name", 2, 50, r"[A-Za-z0-9_-]+", "letters, digits, '_' and '-'")
DASHBOARD = NameRule("CloudWatch dashboard name", 1, 255, r"[A-Za-z0-9_-]+", "letters, digits, '_' and '-'")
ORIGIN_ACCESS = NameRule("CloudFront origin access control name", 1, 64, r"[A-Za-z0-9_.-]+", "letters, digits, '_', '-' and '.'")
DOMAIN = NameRule("domain name", 1, 253, r"[a-z0-9*][a-z0-9.-]*", "lower-case letters, digits, '-' and '.'")
WEB_ACL = NameRule("WAF web ACL name", 1, 128, r"[A-Za-z0-9_-]+", "letters, digits, '_' and '-'")
TOPIC = NameRule("SNS topic name", 1, 256, r"[A-Za-z0-9_-]+", "letters, digits, '_' and '-'")
ALARM = NameRule("CloudWatch alarm name", 1, 255, r"[^\x00-\x1f]+", "printable characters")
KMS_ALIAS = NameRule("KMS alias name", 7, 256, r"alias/[A-Za-z0-9/_-]+", "'alias/' and letters, digits, '/', '_' and '-'")
LOG_GROUP = NameRule("log group name", 1, 512, r"[\w.#/-]+", "letters, digits and _ - / . #")
STACK = NameRule(
    "CloudFormation stack name", 1, 128, r"[A-Za-z][-A-Za-z0-9]*", "letters, digits and '-', starting with a letter"
)
EXPORT = NameRule("CloudFormation export name", 1, 255, r"[A-Za-z0-9:-]+", "letters, digits, ':' and '-'")
LOGICAL_ID = NameRule("CloudFormation logical id", 1, 255, r"[A-Za-z0-9]+", "letters and digits")


DEPLOYMENT_BUCKET = "deployment"  # short name of the stage's deployment bucket
BOUNDARY = "boundary"  # short name of the stage's permissions boundary (a managed policy)
ALL = "all"  # the stage selector meaning every stage of platform.yaml
HANDLERS_DIR = "handlers"  # beside the spec folder: the Lambda code root
ARTIFACTS_DIR = ".build/artifacts"  # where `platformc package` writes and deploy uploads from
LIVE_ALIAS = "live"  # every function's alias: triggers invoke it, `platformc rollback` moves it
# Versions a function keeps for `platformc rollback`: deploy deletes older ones (never one an
# alias points at). Each version holds a copy of its code and Lambda's code storage per region
# is limited (75 GB by default), so keeping every version fills it on a busy service.
KEEP_VERSIONS = 5


def artifact_key(module: str, digest: str) -> str:
    """The S3 key of a handler module's zip: its code digest makes it change exactly when the code does."""
    return f"handlers/{module}-{digest[:20]}.zip"


@dataclass(frozen=True)
class Naming:
    service: str
    stage: str

    @property
    def deployment_bucket(self) -> str:
        """Where deploy puts artifacts and large templates, and functions take their code."""
        return self.physical(DEPLOYMENT_BUCKET)

    @property
    def boundary(self) -> str:
        """The managed policy that bounds every role the stage's stacks create (delivery kind)."""
        return self.physical(BOUNDARY)

    def physical(self, name: str, suffix: str = "") -> str:
        """`listbackup-dev-users`; `suffix` carries fixed endings such as '-dlq' or '.fifo'."""
        return f"{self.service}-{self.stage}-{name}{suffix}"

    def stack(self, stack_id: str) -> str:
        return f"{self.service}-{self.stage}-{stack_id}"

    def export(self, ref_kind: str, name: str, attribute: str) -> str:
        return f"{self.service}-{self.stage}-{ref_kind}-{name}:{attribute.replace('_', '-')}"


def camel(name: str) -> str:
    """`user-accounts` -> `UserAccounts`; `dlq_arn` -> `DlqArn`.

    >>> camel("user-accounts"), camel("dlq_arn")
    ('UserAccounts', 'DlqArn')
    """
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", name) if part)


def logical_id(name: str, suffix: str) -> str:
    """The CloudFormation logical id of a resource: `sync` + `Queue` -> `SyncQueue`."""
    return camel(name) + suffix


def stack_id(rel_path: str) -> str:
    """`infrastructure/dynamodb.yaml` -> `infrastructure-dynamodb`."""
    return rel_path.rsplit(".", 1)[0].replace("/", "-")
