"""What a resource kind is: the one vertical slice a new kind of resource adds.

A kind module defines its pydantic `Spec`, a `synthesize(resource, ctx)` that returns
troposphere objects, the physical names it creates, and a `KIND` record that joins them.
Stage modules loop over the registry's kinds and never test a kind's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

from ..diagnostics import KeyPath, Where
from ..model import Ref, ResourceSpec, StageSettings
from ..naming import NameRule, Naming


@dataclass(frozen=True)
class Attr:
    """A referable attribute: `Ref` of (or `GetAtt` on) the resource's logical id + `part`."""

    att: str | None = None  # None: Ref
    part: str = ""  # suffix of a companion resource's logical id, e.g. "DeadLetter"
    description: str = ""


@dataclass(frozen=True)
class PhysicalName:
    namespace: str  # names in one namespace must be unique in a stage (region/account/global)
    value: str
    rule: NameRule


@dataclass(frozen=True)
class Resource:
    """A declared resource after resolve: where it lives and what it is called."""

    kind: "Kind"
    name: str
    spec: Any  # the kind's Spec, validated for one stage
    stack: str
    logical_id: str
    where: Where  # the resource's key in its spec file

    @property
    def ref(self) -> Ref:
        return Ref(self.kind.ref, self.name)

    @property
    def label(self) -> str:
        return f"{self.kind.section}.{self.name}"


class SpecProblem(Exception):
    """Raised by a kind's synthesize for a conflict only visible across resources."""

    def __init__(self, path: KeyPath, message: str, other: Resource | None = None, other_path: KeyPath = ()):
        super().__init__(message)
        self.path, self.message, self.other, self.other_path = path, message, other, other_path


@dataclass(frozen=True)
class Grant:
    """What an access level allows: IAM actions on some of the resource's ARNs.

    `resources` are (attribute, suffix) pairs, e.g. ("arn", "") and ("arn", "/index/*").
    `key`: the KMS actions the level needs on the stage's key when the resource is
    encrypted with it (the kind `encrypts`, and the stage names a key).
    """

    actions: tuple[str, ...]
    resources: tuple[tuple[str, str], ...] = (("arn", ""),)
    key: tuple[str, ...] = ()


ARN = "arn:${AWS::Partition}"  # the start of every ARN pattern of a Permission
ACCOUNT = "${AWS::AccountId}"
STAGE_KEYS = f"{ARN}:kms:*:{ACCOUNT}:key/*"  # with STAGE_TAGGED: the stage's own keys
STAGE_TAGGED = (("StringEquals", "aws:ResourceTag/Stage", "{stage}"),)


@dataclass(frozen=True)
class Permission:
    """IAM actions on ARN patterns, where `{p}` stands for the stage's prefix
    (`<service>-<stage>-`) and `{stage}` for the stage: what the execution role needs to
    manage a kind, or what the roles a kind creates may ever need (`Kind.role_needs`)."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[tuple[str, str, Any], ...] = ()  # (operator, key, value), all must hold


@dataclass(frozen=True)
class CheckEnv:
    """What checks and synthesis may consult besides the spec: facts `load` recorded."""

    handlers: frozenset[str] = frozenset()  # "module.function" for every handler in handlers/
    digests: Mapping[str, str] = field(default_factory=dict)  # handler module -> code digest
    kinds: Mapping[str, Kind] = field(default_factory=dict)  # the registry by reference prefix (validate sets it)


# A check's finding: (path inside the spec, message) or (path, message, help) — a
# did-you-mean or the valid choices go in the help, never in the message.
Problem = tuple[KeyPath, str] | tuple[KeyPath, str, str]
Check = Callable[[Any, CheckEnv], Sequence[Problem]]


@dataclass(frozen=True)
class Chart:
    """Metrics a resource adds to its stack's section of a stage dashboard.

    Charts with the same title in one section merge (every function's invocations on one
    chart); `order` places the chart in the section.
    """

    order: int
    title: str
    metrics: tuple[tuple[str, ...], ...]  # (namespace, metric, dimension, value)
    stat: str = "Sum"


class StackView(Protocol):
    """One stack of the stage, as a kind may see it (resolve's StackPlan)."""

    @property
    def id(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def region(self) -> str: ...
    @property
    def resources(self) -> tuple[Resource, ...]: ...


class Context(Protocol):
    """What a kind's `synthesize` may ask while building one stack (synth implements it).

    Kinds depend on this protocol, never on synth or resolve: the floors stay in pipeline order.
    """

    stage: str
    service: str
    region: str  # the region of the stack being built
    naming: Naming
    settings: StageSettings
    digests: Mapping[str, str]  # handler module -> code digest
    repository: str | None  # platform.yaml's GitHub `owner/name`

    def stacks(self) -> Sequence[StackView]: ...
    def resource(self, ref: Ref) -> Resource: ...
    def ref(self, ref: Ref, attribute: str) -> Any: ...
    def name(self, resource: Resource, suffix: str = "") -> str: ...
    def physical(self, short: str, suffix: str = "") -> str: ...
    def setting(self, value: Any, stage_setting: str) -> Any: ...
    def deletion_policies(self, resource: Resource) -> dict[str, str]: ...
    def tags(self, resource: Resource, **extra: str) -> Any: ...
    def tag_map(self, resource: Resource, **extra: str) -> dict[str, str]: ...
    def stage_tags(self) -> dict[str, str]: ...
    def alarm_actions(self) -> list[Any]: ...
    def stage_key(self) -> Any: ...
    def boundary(self) -> Any: ...
    def claim(self, key: object, owner: Resource, path: KeyPath = (), value: object = None) -> Any: ...


@dataclass(frozen=True)
class Kind:
    section: str  # top-level YAML key: "tables"
    ref: str  # reference prefix: "table" in `table:users`
    spec: type[ResourceSpec]
    id_suffix: str  # logical id suffix: "Table"
    attributes: Mapping[str, Attr]
    names: Callable[[str, Any, Naming, StageSettings], Sequence[PhysicalName]]
    synthesize: Callable[[Resource, Context], Sequence[Any]]
    checks: tuple[Check, ...] = field(default=())  # spec -> [(relative path, message)]
    # access level -> grants, for functions' `access: {kind:name: level}`
    access: Mapping[str, tuple[Grant, ...]] = field(default_factory=dict)
    # environment variable suffix -> attribute: `<NAME>_<SUFFIX>` for each accessed resource
    env: Mapping[str, str] = field(default_factory=dict)
    # emits CloudWatch alarms: depends on the stage's alarm topic when alarms are on (a
    # callable: whether this resource's spec emits any)
    alarms: bool | Callable[[Any], bool] = False
    # encrypts with the stage's key when the stage names one (`kms:`): depends on its stack
    encrypts: bool = False
    # what the resource draws on a stage dashboard (kinds/dashboard.py lays them out)
    charts: Callable[[Resource, Context], Sequence[Chart]] | None = None
    # references the resource makes without writing them, through resources it names (a
    # function behind an API reads the API's origin secret): (target, why) for the deploy
    # order; `lookup` finds a declared resource (None if undeclared)
    implied: Callable[[Resource, Callable[[Ref], Resource | None]], Sequence[tuple[Ref, str]]] | None = None
    # its stack is the stage's bootstrap stack: `platformc bootstrap` deploys it, `deploy` never does
    bootstrap: bool = False
    # what the IAM roles this kind creates may ever need, beyond the access levels of what a
    # role reaches: the stage's permissions boundary is made of these (kinds/delivery.py)
    role_needs: tuple[Permission, ...] = field(default=())
    # what CloudFormation's execution role needs to deploy this resource beyond its kind's
    # own management actions (kinds/delivery.py SERVICES), given its spec
    deploy_needs: Callable[[Any], Sequence[Permission]] | None = None
    # resources it generates that references may name: part -> what it is (`queue:x.dlq`);
    # a part's attributes are `<part>_<attribute>` in `attributes`
    parts: Mapping[str, str] = field(default_factory=dict)
