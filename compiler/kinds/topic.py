"""topics: SNS topics (AWS::SNS::Topic) with their subscriptions.

The stage's alarm topic (`alarms: {topic: NAME}` in platform.yaml) also gets the stage's
alarm subscriptions (e-mail, HTTPS endpoints) and a policy that lets CloudWatch alarms of
this account publish to it.

Encrypted with the stage's key when the stage names one (`kms:`; its policy admits
CloudWatch alarms); otherwise not encrypted, on purpose: CloudWatch cannot publish to a topic
encrypted with the AWS managed SNS key, and alarm notices carry metric names, not customer
data. `kms_key` names another customer-managed key whose policy admits CloudWatch.
"""

from __future__ import annotations


from awacs import sns as sns_actions
from awacs.aws import Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from pydantic import Field
from troposphere import AccountId, Ref, sns

from .. import naming
from ..model import Email, HttpsUrl, ResourceSpec, SpecModel, StageSettings
from .base import Attr, Context, Grant, Kind, PhysicalName, Resource



class Subscriptions(SpecModel):
    email: list[Email] = Field(default=[])
    https: list[HttpsUrl] = Field(default=[])


class Spec(ResourceSpec):
    description: str | None = Field(None, max_length=100, description="what the topic announces")
    subscriptions: Subscriptions = Field(default_factory=lambda: Subscriptions(), description="who is notified: email addresses and HTTPS endpoints")
    kms_key: str | None = Field(None, description="a customer-managed KMS key id or alias; default: the stage's key (`kms:`)")


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    return [PhysicalName("sns-topic", naming_.physical(name), naming.TOPIC)]


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    alarms = ctx.settings.alarms
    is_alarm_topic = alarms.enabled and alarms.topic == resource.name
    email = sorted({*spec.subscriptions.email, *(alarms.email if is_alarm_topic else [])})
    https = sorted({*spec.subscriptions.https, *(alarms.https if is_alarm_topic else [])})
    props: dict[str, object] = {"TopicName": ctx.name(resource), "Tags": ctx.tags(resource)}
    if spec.description:
        props["DisplayName"] = spec.description
    if (key := spec.kms_key or ctx.stage_key()) is not None:
        props["KmsMasterKeyId"] = key
    subscriptions = [sns.Subscription(Protocol="email", Endpoint=e) for e in email]
    subscriptions += [sns.Subscription(Protocol="https", Endpoint=u) for u in https]
    if subscriptions:
        props["Subscription"] = subscriptions
    topic = sns.Topic(resource.logical_id, **props)
    out: list[object] = [topic]
    if is_alarm_topic:
        out.append(
            sns.TopicPolicy(
                resource.logical_id + "Policy",
                Topics=[Ref(topic)],
                PolicyDocument=PolicyDocument(
                    Version="2012-10-17",
                    Statement=[
                        Statement(
                            Sid="CloudWatchAlarms",
                            Effect=Allow,
                            Principal=Principal("Service", "cloudwatch.amazonaws.com"),
                            Action=[sns_actions.Publish],
                            Resource=[Ref(topic)],
                            Condition=Condition(StringEquals("aws:SourceAccount", AccountId)),
                        )
                    ],
                ),
            )
        )
    return out


KIND = Kind(
    section="topics",
    ref="topic",
    spec=Spec,
    id_suffix="Topic",
    attributes={"arn": Attr(description="topic ARN"), "name": Attr("TopicName", description="topic name")},
    names=names,
    synthesize=synthesize,
    access={"publish": (Grant(("sns:Publish",), key=("kms:Decrypt", "kms:GenerateDataKey")),)},
    encrypts=True,
    env={"TOPIC_ARN": "arn"},
)
