"""buses: EventBridge event buses (AWS::Events::EventBus) with their rules and archive.

A rule may send matching events to queues (`targets: [queue:alert]`). The queue may live
in another stack: its ARN and URL come through exports, and the queue policy that lets
EventBridge send to it is emitted here, beside the rule, scoped to this bus's rules by
`aws:SourceArn`. Functions subscribe to events from their own spec (a later kind).
`schema_discovery: true` adds a schema discoverer: the registry then holds a schema (and
code bindings) for every kind of event the bus carried, the seed's "schema registry".
"""

from __future__ import annotations

from typing import Annotated, Any

from awacs import sqs as sqs_actions
from awacs.aws import Allow, ArnEquals, Condition, PolicyDocument, Principal, Statement
from pydantic import Field, field_validator
from troposphere import GetAtt, events, eventschemas, sqs

from .. import naming
from ..model import Name, Ref, RefTo, SpecModel, StageSettings, StatefulSpec
from ..naming import camel
from .base import Attr, Context, Grant, Kind, PhysicalName, Resource, SpecProblem


PATTERN_KEYS = {"source", "detail-type", "detail", "account", "region", "resources", "id", "time", "version"}


class Archive(SpecModel):
    retention_days: int = Field(30, ge=0, description="0 keeps events forever")


class Rule(SpecModel):
    description: str | None = Field(None, max_length=512)
    pattern: dict[str, Any] = Field(min_length=1, description="an EventBridge event pattern")
    targets: list[Annotated[Ref, RefTo("queue", why="a rule can target queues here")]] = Field(default=[], max_length=5)
    enabled: bool = True

    @field_validator("pattern")
    @classmethod
    def _known_keys(cls, pattern: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(pattern) - PATTERN_KEYS)
        if unknown:
            raise ValueError(f"unknown event field(s) {', '.join(unknown)}; events have {', '.join(sorted(PATTERN_KEYS))}")
        return pattern


class Spec(StatefulSpec):
    """`retain` applies to the archive: the bus itself holds no data."""

    description: str | None = Field(None, max_length=512, description="what the bus carries")
    archive: Archive | None = Field(default_factory=lambda: Archive(), description="null: no archive")
    rules: dict[Name, Rule] = Field(default={}, description="rules by name: an event pattern and the queues it targets")
    schema_discovery: bool = Field(False, description="EventBridge infers the schema of every event on the bus into its schema registry (billed per event)")

def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    found = [PhysicalName("events-bus", naming_.physical(name), naming.EVENT_BUS)]
    if spec.archive is not None:
        found.append(PhysicalName("events-archive", naming_.physical(name, "-archive"), naming.EVENT_ARCHIVE))
    found += [PhysicalName(f"events-rule:{name}", naming_.physical(rule), naming.EVENT_RULE) for rule in spec.rules]
    return found


def _queue_policy(resource: Resource, ctx: Context, queue_ref: Any, rule_ids: list[str]) -> sqs.QueuePolicy:
    queue_arn = ctx.ref(queue_ref, "arn")
    document = PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="AllowEventBridgeRules",
                Effect=Allow,
                Principal=Principal("Service", "events.amazonaws.com"),
                Action=[sqs_actions.SendMessage],
                Resource=[queue_arn],
                Condition=Condition(ArnEquals("aws:SourceArn", [GetAtt(rule, "Arn") for rule in rule_ids])),
            )
        ],
    )
    return sqs.QueuePolicy(
        f"{resource.logical_id}{camel(queue_ref.name + (f'-{queue_ref.part}' if queue_ref.part else ''))}QueuePolicy",
        Queues=[ctx.ref(queue_ref, "url")],
        PolicyDocument=document,
    )


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    props: dict[str, object] = {"Name": ctx.name(resource), "Tags": ctx.tags(resource)}
    if spec.description:
        props["Description"] = spec.description
    bus = events.EventBus(resource.logical_id, **props)
    out: list[object] = [bus]
    if spec.archive is not None:
        out.append(
            events.Archive(
                resource.logical_id + "Archive",
                ArchiveName=ctx.name(resource, "-archive"),
                SourceArn=GetAtt(bus, "Arn"),
                RetentionDays=spec.archive.retention_days,
                Description=f"Every event on {ctx.name(resource)}",
                **ctx.deletion_policies(resource),
            )
        )
    if spec.schema_discovery:
        out.append(eventschemas.Discoverer(
            resource.logical_id + "SchemaDiscoverer", SourceArn=GetAtt(bus, "Arn"), CrossAccount=False,
            Description=f"Schemas of the events on {ctx.name(resource)}", Tags=ctx.tags(resource)))
    senders: dict[Any, list[str]] = {}
    for rule_name in sorted(spec.rules):
        rule = spec.rules[rule_name]
        rule_id = f"{resource.logical_id}{camel(rule_name)}Rule"
        targets = []
        for i, target in enumerate(rule.targets):
            # A queue has one policy: a second QueuePolicy from another bus would silently
            # replace this one at deploy time and drop its events.
            path = ("rules", rule_name, "targets", i)
            if (other := ctx.claim(("sqs-queue-policy", target), resource, path, resource.label)) is not None:
                raise SpecProblem(
                    path,
                    f"{target} already receives events from {other.owner.label}; a queue can take events from one bus",
                    other.owner,
                    other.path,
                )
            options = {}
            if ctx.resource(target).spec.fifo:
                options["SqsParameters"] = events.SqsParameters(MessageGroupId=rule_name)
            targets.append(events.Target(Id=f"queue-{target.name}", Arn=ctx.ref(target, "arn"), **options))
            senders.setdefault(target, []).append(rule_id)
        rule_props: dict[str, object] = {
            "Name": ctx.physical(rule_name),
            "EventBusName": GetAtt(bus, "Name"),
            "EventPattern": rule.pattern,
            "State": "ENABLED" if rule.enabled else "DISABLED",
        }
        if rule.description:
            rule_props["Description"] = rule.description
        if targets:
            rule_props["Targets"] = targets
        out.append(events.Rule(rule_id, **rule_props))
    for queue_ref in sorted(senders):
        out.append(_queue_policy(resource, ctx, queue_ref, senders[queue_ref]))
    return out


KIND = Kind(
    section="buses",
    ref="bus",
    spec=Spec,
    id_suffix="Bus",
    attributes={"name": Attr("Name", description="bus name"), "arn": Attr("Arn", description="bus ARN")},
    names=names,
    synthesize=synthesize,
    access={"publish": (Grant(("events:PutEvents",)),)},
    env={"BUS_NAME": "name"},
)
