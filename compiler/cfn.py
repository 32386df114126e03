"""Small CloudFormation helpers shared by kinds: tags, deletion policies, ARNs."""

from __future__ import annotations

from typing import Mapping

from troposphere import Sub, Tags, awslambda
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
