"""Small CloudFormation helpers shared by kinds: tags, deletion policies, ARNs."""

from __future__ import annotations

from typing import Mapping

from troposphere import Sub, Tags

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
