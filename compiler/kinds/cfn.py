"""Small CloudFormation helpers shared by kinds: tags, deletion policies, ARNs."""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from awacs.aws import Action, Allow, PolicyDocument, Principal, Statement
from troposphere import Sub, Tags, awslambda, cloudwatch, encode_to_dict
from troposphere.validators import integer

DAY = 86_400


def tags(values: Mapping[str, str]) -> Tags:
    """A Tags property; troposphere sorts string keys, so the list order is fixed."""
    return Tags(dict(values))


def deletion_policies(retain: bool) -> dict[str, str]:
    """Both policies, always explicit, so the template says what happens to the data."""
    policy = "Retain" if retain else "Delete"
    return {"DeletionPolicy": policy, "UpdateReplacePolicy": policy}


def arn(service: str, resource: str) -> Sub:
    """An ARN in this stack's partition, region and account: arn('sqs', 'my-queue')."""
    return Sub(f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}")


# troposphere 4.11.1 generates two classes named LoggingConfig and two named ScalingConfig
# in awslambda; the later definition wins, so the Function's LogFormat and the event
# source mapping's MaximumConcurrency are missing. Subclasses with the right properties
# pass troposphere's isinstance check (the same fix troposphere's scripts/patches apply).
class FunctionLoggingConfig(awslambda.LoggingConfig):  # type: ignore[misc]
    props = {
        "ApplicationLogLevel": (str, False),
        "LogFormat": (str, False),
        "LogGroup": (str, False),
        "SystemLogLevel": (str, False),
    }


class SqsScalingConfig(awslambda.ScalingConfig):  # type: ignore[misc]
    props = {"MaximumConcurrency": (integer, False)}


COMPARISONS = {
    ">": "GreaterThanThreshold",
    ">=": "GreaterThanOrEqualToThreshold",
    "<": "LessThanThreshold",
    "<=": "LessThanOrEqualToThreshold",
}


def alarm(
    logical_id: str,
    name: str,
    description: str,
    actions: list[Any],
    threshold: float,
    comparison: str = ">",
    period: int = 300,
    evaluation_periods: int = 1,
    missing: str = "notBreaching",
    **metric: Any,
) -> cloudwatch.Alarm:
    """A CloudWatch alarm that notifies `actions` when it fires and when it recovers.

    `metric` is either Namespace/MetricName/Dimensions/Statistic (or ExtendedStatistic), or
    Metrics (metric math) for rates and sums of metrics.
    """
    props: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": description,
        "Threshold": threshold,
        "ComparisonOperator": COMPARISONS[comparison],
        "EvaluationPeriods": evaluation_periods,
        "TreatMissingData": missing,
        **metric,
    }
    if "Metrics" not in metric:
        props["Period"] = period
    if actions:
        props["AlarmActions"] = actions
        props["OKActions"] = actions
    return cloudwatch.Alarm(logical_id, **props)


def dimensions(**values: Any) -> list[cloudwatch.MetricDimension]:
    return [cloudwatch.MetricDimension(Name=k, Value=values[k]) for k in sorted(values)]


def math(expression: str, label: str, period: int = 300, **metrics: tuple[str, str, list[Any], str]) -> list[Any]:
    """Metric math: `metrics` maps an id to (namespace, metric name, dimensions, statistic)."""
    queries = [
        cloudwatch.MetricDataQuery(
            Id=key,
            ReturnData=False,
            MetricStat=cloudwatch.MetricStat(
                Metric=cloudwatch.Metric(Namespace=namespace, MetricName=metric, Dimensions=dims),
                Period=period,
                Stat=stat,
            ),
        )
        for key, (namespace, metric, dims, stat) in sorted(metrics.items())
    ]
    return [*queries, cloudwatch.MetricDataQuery(Id="result", Expression=expression, Label=label, ReturnData=True)]


def bounded(boundary: Any) -> dict[str, Any]:
    """A role's `PermissionsBoundary`, when the stage has one (`Context.boundary()`): every
    role a stage's stacks create carries it, so no change set can make a role that is more
    than the kinds' roles can ever need (kinds/delivery.py)."""
    return {"PermissionsBoundary": boundary} if boundary is not None else {}


def trust_policy(service: str) -> PolicyDocument:
    """The assume-role policy of a role that `service` (e.g. lambda.amazonaws.com) takes on."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[Statement(Effect=Allow, Principal=Principal("Service", service), Action=[Action("sts", "AssumeRole")])],
    )


# IAM's size quotas, in characters of the policy JSON without whitespace (IAM User Guide,
# "IAM and AWS STS quotas"): all inline policies of one role together, and one managed policy.
ROLE_INLINE_CHARS = 10_240
MANAGED_POLICY_CHARS = 6_144
# The longest values CloudFormation may put in for the pseudo parameters of an Fn::Sub.
_LONGEST = {"${AWS::Partition}": "aws-us-gov", "${AWS::AccountId}": "0" * 12, "${AWS::Region}": "x" * 14}


def policy_chars(document: Any) -> int:
    """How many characters IAM counts for a policy document (or statement) as deployed: its
    compact JSON, each Fn::Sub resolved with the longest pseudo-parameter values; another
    intrinsic (Ref, GetAtt, ImportValue) counts as its own JSON text, about the length of the
    ARN or name it stands for."""
    return plain_policy_chars(encode_to_dict(document))


def plain_policy_chars(document: Any) -> int:
    """`policy_chars` of a document that is plain JSON data already (a template read back):
    troposphere's `encode_to_dict` would only copy it, at three quarters of the cost."""
    text = json.dumps(document, separators=(",", ":"), sort_keys=True)
    text = re.sub(r'\{"Fn::Sub":("(?:[^"\\]|\\.)*")\}', r"\1", text)
    for name, value in _LONGEST.items():
        text = text.replace(name, value)
    return len(text)
