"""model: the pydantic base for every spec model, shared field types, and platform.yaml.

Why frozen and extra="forbid": a typo in a spec (`visiblity_timeout`) must be an error
with a did-you-mean, not a silently ignored key, and nothing downstream may mutate a spec.

Why defer_build: a model built at class definition makes its own validator, and every model
holding it as a field makes another with it inside; half of them (21 of the 42 a dev
compile uses) are only ever fields, so their own validators went unused. Deferred,
a model's validator is made when it first validates on its own, and a dev compile spends
about 7% less CPU (21 alternating pairs).

Why no pydantic plugins: a plugin installed beside the compiler (pydantic's `pydantic` entry
points) wraps every validator it builds, so it could change what a spec compiles to, and
looking for one reads every installed package's metadata (~15 ms of each compile). The models
are built with `PYDANTIC_DISABLE_PLUGINS=__all__` unless the caller's environment sets it.
pydantic's loader imports `importlib.metadata` (and with it `email`, `zipfile`, `csv`: ~25 ms
of a 0.3 s compile) even when plugins are off; `_lazy_plugin_loader` stands in for that module
and imports the real one only when plugins are asked for (same answer: no plugins, or the
real loader's).
"""

from __future__ import annotations

import enum
import json
import os
import re
import sys
import types
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Collection, Iterable, Literal, Mapping, Union, get_args, get_origin

os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")  # read when the first model is built: see above
_PLUGIN_LOADER = "pydantic.plugin._loader"


def _lazy_plugin_loader() -> None:
    """Stand in for pydantic's plugin loader until plugins are asked for (see above).

    pydantic imports `get_plugins` from that module when it builds a validator; ours answers
    as pydantic's does when PYDANTIC_DISABLE_PLUGINS disables them all, and otherwise
    imports the real loader (in place of this one) and returns its answer. Any other name a
    pydantic version asks of the module comes from the real loader too."""
    if _PLUGIN_LOADER in sys.modules:
        return
    loader = types.ModuleType(_PLUGIN_LOADER, "pydantic's plugin loader, imported on first need (compiler.model)")

    def real() -> Any:
        if sys.modules.get(_PLUGIN_LOADER) is loader:
            del sys.modules[_PLUGIN_LOADER]
        import importlib

        return importlib.import_module(_PLUGIN_LOADER)

    def get_plugins() -> Iterable[Any]:
        if os.environ.get("PYDANTIC_DISABLE_PLUGINS") in ("__all__", "1", "true"):  # pydantic's own test
            return ()
        found: Iterable[Any] = real().get_plugins()
        return found

    def other(name: str) -> Any:  # PEP 562: a name the module lacks
        if name.startswith("__"):  # the import system's questions (`__path__`...): a plain module's answers
            raise AttributeError(name)
        return getattr(real(), name)

    loader.get_plugins = get_plugins  # type: ignore[attr-defined]
    loader.__getattr__ = other  # type: ignore[method-assign]
    sys.modules[_PLUGIN_LOADER] = loader


_lazy_plugin_loader()

from pydantic import (  # noqa: E402 - after the loader's stand-in
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    GetCoreSchemaHandler,
    ValidationInfo,
)
from pydantic_core import core_schema  # noqa: E402 - after the loader's stand-in


@dataclass(frozen=True)
class WithJsonSchemaExtra:
    """Field metadata adding keys (e.g. examples) to the field's JSON Schema."""

    extra: dict[str, Any]

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: Any) -> dict[str, Any]:
        found: dict[str, Any] = handler(schema)
        found.update(self.extra)
        return found

    def __hash__(self) -> int:
        return hash(json.dumps(self.extra, sort_keys=True))

NAME_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"


@dataclass(frozen=True)
class matching:  # noqa: N801 - used like a function in annotations: Annotated[str, matching(...)]
    """A string check whose error says what is expected in words, not as a regex; the JSON
    Schema (editors) gets the pattern and the words."""

    pattern: str
    what: str
    max_length: int | None = None

    def check(self, value: str) -> str:
        if not re.fullmatch(self.pattern, value) or (self.max_length is not None and len(value) > self.max_length):
            raise ValueError(f"'{value}' is not {self.what}")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: Any) -> dict[str, Any]:
        found: dict[str, Any] = handler(schema)
        pattern = self.pattern if self.pattern.startswith("^") else f"^(?:{self.pattern})$"
        found.update(pattern=pattern, description=found.get("description") or self.what)
        if self.max_length is not None:
            found["maxLength"] = self.max_length
        return found


# A short resource name: the `<resource>` part of `<service>-<stage>-<resource>`.
Name = Annotated[str, matching(NAME_PATTERN, "a name: lowercase letters, digits and single hyphens, starting with a letter", 64)]
RuleId = Annotated[str, matching(r"P\d{3}|CKV2?_AWS_\d+", "a policy rule id such as P007, or a checkov check id such as CKV_AWS_117")]
CheckovId = Annotated[str, matching(r"CKV2?_AWS_\d+", "a checkov check id such as CKV_AWS_117")]
AwsType = Annotated[str, matching(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+", "a CloudFormation resource type such as AWS::Lambda::Function")]
StageName = Annotated[str, matching(r"[a-z][a-z0-9]*", "a stage name: lowercase letters and digits", 16)]


def _not_aws_prefixed(key: str) -> str:
    if key.lower().startswith("aws:"):
        raise ValueError("tag keys starting with 'aws:' are reserved for AWS")
    return key


TagKey = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\w\s.:/=+\-@]+$"), AfterValidator(_not_aws_prefixed)
]
TagValue = Annotated[str, StringConstraints(max_length=256, pattern=r"^[\w\s.:/=+\-@]*$")]
Tags = dict[TagKey, TagValue]
Reason = Annotated[str, StringConstraints(min_length=10, max_length=500)]
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)



def _check_retention(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(f"CloudWatch Logs keeps logs for one of {', '.join(map(str, LOG_RETENTION_DAYS))} days")
    return days


LogRetentionDays = Annotated[int, AfterValidator(_check_retention)]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_duration(value: Any) -> Any:
    """Seconds as an integer, or a string `30s`, `5m`, `2h`, `14d`."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string such as '30s', '5m', '14d'")
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", value)
        if not match:
            raise ValueError(f"'{value}' is not a duration: write seconds or e.g. '30s', '5m', '2h', '14d'")
        return int(match.group(1)) * _UNITS[match.group(2)]
    return value


DURATION_TEXT = r"^\s*\d+\s*[smhd]\s*$"
Duration = Annotated[
    int,
    BeforeValidator(_parse_duration, json_schema_input_type=int | Annotated[str, StringConstraints(pattern=DURATION_TEXT)]),
    WithJsonSchemaExtra({"examples": [30, "30s", "5m", "2h", "14d"]}),
]


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


@dataclass(frozen=True, order=True)
class Ref:
    """A reference `kind:name` (e.g. `table:users`) to a resource declared in any spec file,
    or `kind:name.part` to a resource that one generates (`queue:sync.dlq`: its dead-letter
    queue; the parts a kind offers are its `Kind.parts`)."""

    kind: str
    name: str
    part: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" + (f".{self.part}" if self.part else "")

    @property
    def base(self) -> Ref:
        """The declared resource (without the part): what the stage's index holds."""
        return Ref(self.kind, self.name) if self.part else self

    def attribute(self, attribute: str) -> str:
        """The declared resource's attribute that this reference's `attribute` is: a part's
        attributes are `<part>_<attribute>` (`queue:sync.dlq` arn -> dlq_arn)."""
        return f"{self.part}_{attribute}" if self.part else attribute


_REF = re.compile(r"^([a-z][a-z-]*):(.+)$")


def reference_kind(value: Any) -> str | None:
    """The kind part of a string written `kind:name` (registered or not), else None."""
    match = _REF.match(value) if isinstance(value, str) else None
    return match.group(1) if match else None


def known_kinds(info: ValidationInfo | None) -> Collection[str] | None:
    """The reference prefixes of the kind registry, which validate passes as the validation
    context (`{"kinds": ...}`): the models never import the registry, which imports them."""
    context = info.context if info is not None else None
    return context.get("kinds") if isinstance(context, dict) else None


def _parse_ref(value: Any, info: ValidationInfo | None = None) -> Ref:
    if isinstance(value, Ref):
        return value
    if not isinstance(value, str) or not (match := _REF.match(value)):
        raise ValueError("a reference is written `kind:name`, e.g. `queue:sync`")
    kind, written = match.groups()
    name, dot, part = written.partition(".")
    kinds = known_kinds(info)
    if kinds is not None and kind not in kinds:
        known = ", ".join(sorted(kinds))
        raise ValueError(f"unknown resource kind '{kind}' in reference (known: {known})")
    if not re.match(NAME_PATTERN, name):
        raise ValueError(f"'{name}' is not a resource name (lowercase letters, digits, single hyphens)")
    if dot and kinds is not None:
        parts = getattr(kinds[kind], "parts", {}) if isinstance(kinds, Mapping) else {}
        if part not in parts:
            offered = ", ".join(f"`{kind}:{name}.{p}` ({what})" for p, what in sorted(parts.items()))
            raise ValueError(f"a {kind} has no part '{part}'" + (f"; it offers {offered}" if offered else ""))
    elif dot and not re.fullmatch(r"[a-z]+", part):
        raise ValueError(f"'{part}' is not a part name")
    return Ref(kind, name, part)


@dataclass(frozen=True)
class RefTo:
    """Field metadata: a reference `kind:name`, optionally only to some kinds.

    `Annotated[Ref, RefTo("queue", why="a function consumes a queue")]` rejects `bus:events`
    while validating, with "a function consumes a queue, not a bus" at the reference (E203):
    kinds declare what a field may point at instead of checking it by hand.
    """

    kinds: tuple[str, ...] = ()
    why: str = ""

    def __init__(self, *kinds: str, why: str = "") -> None:
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "why", why or f"a reference to a {' or '.join(kinds)}")

    def validate(self, value: Any, info: ValidationInfo) -> Ref:
        ref = _parse_ref(value, info)
        if self.kinds and ref.kind not in self.kinds:
            raise ValueError(f"{self.why}, not a {ref.kind}")
        return ref

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(
            self.validate, json_schema_input_schema=core_schema.str_schema(pattern=self.pattern)
        )

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: Any) -> dict[str, Any]:
        found: dict[str, Any] = handler(schema)
        found["examples"] = [f"{kind}:NAME" for kind in self.kinds] or ["queue:sync", "table:users"]
        return found

    @property
    def pattern(self) -> str:
        kinds = "|".join(self.kinds) if self.kinds else "[a-z][a-z-]*"
        return f"^({kinds}):{NAME_PATTERN[1:-1]}(\\.[a-z]+)?$"


RefField = Annotated[Ref, RefTo()]


FoundRef = tuple[tuple[str | int, ...], Ref, str]
_SCALARS = (str, int, float, bool, type(None))
_ref_fields: dict[type, tuple[tuple[str, str], ...]] = {}


def _may_hold_refs(annotation: Any) -> bool:
    """False only for what certainly holds no Ref: str, numbers, bools, None, literals,
    enums, and unions or Annotated forms of those alone."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _may_hold_refs(get_args(annotation)[0])
    if origin is Literal:
        return False
    if origin is Union or origin is types.UnionType:
        return any(_may_hold_refs(arg) for arg in get_args(annotation))
    return not (annotation in _SCALARS or (isinstance(annotation, type) and issubclass(annotation, enum.Enum)))


def _fields_to_search(model: type[BaseModel]) -> tuple[tuple[str, str], ...]:
    """(name, key in the spec) of the fields of `model` that may hold a Ref, once per model."""
    found = _ref_fields.get(model)
    if found is None:
        found = _ref_fields[model] = tuple(
            (name, info.alias or name) for name, info in model.model_fields.items() if _may_hold_refs(info.annotation)
        )
    return found


def find_refs(value: Any) -> list[FoundRef]:
    """Every Ref inside a validated model, with its key path and whether it stands as a
    mapping "key" or a "value" (CDK's findAllReferences), in field order."""
    found: list[FoundRef] = []
    _collect_refs(value, (), found)
    return found


def _collect_refs(value: Any, path: tuple[str | int, ...], found: list[FoundRef]) -> None:
    if isinstance(value, Ref):
        found.append((path, value, "value"))
    elif isinstance(value, BaseModel):
        for name, key in _fields_to_search(type(value)):
            _collect_refs(getattr(value, name), path + (key,), found)
    elif isinstance(value, dict):
        for key in value:
            sub = path + (str(key),)
            if isinstance(key, Ref):  # e.g. a function's `access: {table:users: read}`
                found.append((sub, key, "key"))
            _collect_refs(value[key], sub, found)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _collect_refs(item, path + (i,), found)


class ResourceSpec(SpecModel):
    """Fields every resource kind has. `stages:` overrides are merged before validation."""

    tags: Tags = Field(default={})
    export: list[str] = Field(default=[], description="attributes to export even if unused")
    reasons: dict[str, Reason] = Field(
        default={}, description="field -> why an unsafe choice was made on purpose"
    )
    suppress: dict[RuleId, Reason] = Field(
        default={}, description="policy rule id (P007) or checkov check id (CKV_AWS_117) -> why it does not "
                                          "apply to this resource"
    )

    # field name -> predicate on its value telling that the value is an unsafe choice
    UNSAFE: ClassVar[dict[str, Any]] = {}
    # unsafe field -> the checkov checks that choice fails, as (check id, resource type);
    # the choice's reason (`reasons:`) waives them on resources of that type
    CHECKOV: ClassVar[dict[str, tuple[tuple[str, str], ...]]] = {}

    def unsafe_fields(self) -> list[str]:
        return [name for name, unsafe in self.UNSAFE.items() if unsafe(getattr(self, name))]

    def checkov_skips(self) -> dict[str, tuple[str, str | None]]:
        """checkov checks that do not apply to this resource: check -> (reason, the resource
        type it is written on, None for every object the declaration produces). Its unsafe
        choices' own reasons and `suppress:` entries; kinds add what their design settles."""
        skips: dict[str, tuple[str, str | None]] = {
            check: (f"{self.reasons[name]} (reasons: {name})", resource_type)
            for name in self.unsafe_fields() if name in self.reasons for check, resource_type in self.CHECKOV.get(name, ())
        }
        skips.update({k: (v, None) for k, v in self.suppress.items() if not k.startswith("P")})
        return skips


class StatefulSpec(ResourceSpec):
    """A resource that holds data (or logs): `Retain` on delete and replace in protected
    stages, unless `retain: false` says otherwise, with a reason."""

    retain: bool | None = Field(None, description="default: Retain in protected stages")

    UNSAFE: ClassVar[dict[str, Any]] = {"retain": lambda v: v is False}


Email = Annotated[str, matching(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", "an e-mail address")]
HttpsUrl = Annotated[str, matching(r"https://[^\s]+", "an https:// URL")]


class AlarmSettings(SpecModel):
    """Which alarms a stage raises, where they go, and how sensitive they are."""

    enabled: bool = True
    topic: Name | None = Field(None, description="the topic (topics: kind) alarms notify")
    email: list[Email] = Field(default=[], description="subscribed to the alarm topic")
    https: list[HttpsUrl] = Field(default=[], description="chat or paging endpoints")
    function_errors: int = Field(1, ge=1, description="errors in 5 minutes")
    function_throttles: int = Field(1, ge=1, description="throttles in 5 minutes")
    function_duration: float = Field(0.8, gt=0, le=1, description="maximum duration, as a share of the timeout")
    api_5xx_rate: float = Field(0.05, gt=0, le=1, description="share of requests answered 5xx in 5 minutes")
    api_latency_ms: int = Field(3000, ge=1, description="p99 latency")
    table_throttles: int = Field(1, ge=1, description="throttled reads + writes in 5 minutes")


class ConcurrencySettings(SpecModel):
    """How much of the account's Lambda concurrency each function may take in this stage.

    Reserving caps a function (a loop or a flood in one cannot starve the others) and
    guarantees it that much. Lambda keeps 100 of an account's quota unreserved; stages that
    share an account split the rest between them (`budget`), and a stage's reservations
    must fit in its budget (E215)."""

    reserved: int | None = Field(None, ge=1, description="reserved (and maximum) concurrent executions of each function "
                                                         "that sets no `reserved_concurrency`; null: none reserved")
    budget: int = Field(900, ge=1, description="this stage's share of the account's concurrency quota for reservations "
                                               "(quota - 100, split between the stages sharing the account)")


class StageSettings(SpecModel):
    protect: bool = Field(
        False,
        description="Retain stateful resources on delete/replace, deletion protection, stack termination protection",
    )
    point_in_time_recovery: bool = True
    log_retention_days: LogRetentionDays = 30
    domain: Annotated[str, matching(r"([a-z0-9-]+\.)+[a-z]{2,}", "a domain name")] | None = Field(
        None, description="the API's domain in this stage"
    )
    hosted_zone_id: Annotated[str, matching(r"Z[A-Z0-9]{5,32}", "a Route 53 hosted zone id")] | None = Field(
        None, description="the zone that validates certificates and holds the aliases"
    )
    tags: Tags = Field(default={})
    alarms: AlarmSettings = Field(default_factory=lambda: AlarmSettings())
    concurrency: ConcurrencySettings = Field(default_factory=lambda: ConcurrencySettings())
    access_logs: Name | None = Field(None, description="the bucket (`buckets:`) that receives the stage's S3 server "
                                                       "access logs and CloudFront standard logs; null: none")
    kms: Name | None = Field(None, description="the key (`keys:` in a stack file) that encrypts the stage's tables, "
                                               "queues, secrets, alarm topic, backup vault, log groups and function "
                                               "environments; null: each service's AWS managed key")


class Waiver(SpecModel):
    """A checkov check that does not apply to this design, for every resource of the given
    types (in the given stages): emitted into those resources' Metadata as a checkov skip
    with the reason, so checkov reports it as skipped and `platformc lint` lists it. A
    waiver that skips nothing fails `platformc security` (it is stale)."""

    MARK: ClassVar[str] = "(platform.yaml waivers)"  # ends the skip comment: `platformc security` finds them by it

    check: CheckovId
    types: list[AwsType] = Field(min_length=1, description="the resource types it covers")
    stages: list[StageName] | None = Field(None, description="the stages it covers (default: all)")
    reason: Reason = Field(description="why the check does not apply (a reviewer reads it)")


AccountId = Annotated[str, matching(r"\d{12}", "an AWS account id: 12 digits, quoted (\"012345678901\")")]


class Platform(SpecModel):
    service: Annotated[str, matching(NAME_PATTERN, "a service name: lowercase letters, digits and single hyphens", 24)]
    region: Annotated[str, matching(r"[a-z]{2}(-gov)?-[a-z]+-\d", "an AWS region such as us-west-2")]
    stages: dict[StageName, StageSettings] = Field(min_length=1)
    tags: Tags = Field(default={})
    repository: Annotated[str, matching(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}", "a GitHub repository: owner/name")] | None = Field(
        None, description="the GitHub repository whose workflows deploy (delivery: trusts its OIDC tokens)")
    waivers: list[Waiver] = Field(default=[], description="checkov checks that do not apply, platform-wide, "
                                                                    "each with its scope and reason")
    accounts: dict[StageName, AccountId] = Field(
        default={}, description="the AWS account of each stage named (quoted, 12 digits): deploy, bootstrap, "
                                          "destroy and rollback refuse to run with credentials of another account")
