"""synth: Resolved -> one troposphere Template per stack, plus the export table.

Loops over resources and calls their kind's `synthesize`; never names a kind. A kind asks
the context for values of other resources (`ctx.ref(ref, "arn")`): in the same stack that
is a Ref/GetAtt, across stacks an `Fn::ImportValue`, and the producer then gets an Output
with an Export. Only exports that something imports (or that the spec publishes with
`export:`) are emitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from troposphere import Export as CfnExport
from troposphere import GetAtt, ImportValue, Output, Parameter, Ref, Sub, Template

from .. import awstypes
from ..kinds import cfn
from . import construct
from ..diagnostics import Diagnostic, InternalError, KeyPath, Where
from ..kinds import Resource
from ..kinds.base import SpecProblem
from ..model import Ref as SpecRef
from ..naming import camel
from .resolve import Resolved, StackPlan

TEMPLATE_VERSION = "2010-09-09"
construct.install()  # troposphere's constructor without its bookkeeping overhead (same objects)


@dataclass
class Export:
    name: str
    producer: Resource
    attribute: str
    importers: set[str] = field(default_factory=set)

    @property
    def output_key(self) -> str:
        return self.producer.logical_id + camel(self.attribute)


@dataclass
class CrossRegion:
    """A value another region's stack produces: an Output there, a Parameter here, filled
    by deploy from the producer's outputs (exports are regional and cannot cross)."""

    parameter: str  # in the consumer's template
    consumer: str
    producer: Resource
    attribute: str

    @property
    def output_key(self) -> str:
        return self.producer.logical_id + camel(self.attribute)


@dataclass(frozen=True)
class Claim:
    owner: Resource
    path: KeyPath  # inside the owner's spec
    value: object


@dataclass(frozen=True)
class StackTemplate:
    plan: StackPlan
    template: Template


class StackBody(Template):  # type: ignore[misc]
    """troposphere's Template without its own quota checks: it raises a bare ValueError at
    the 501st resource or 201st output; `limits` reports those against the spec file."""

    def add_resource(self, resource: Any) -> Any:
        return self._update(self.resources, resource)

    def add_output(self, output: Any) -> Any:
        return self._update(self.outputs, output)

    def add_parameter(self, parameter: Any) -> Any:
        return self._update(self.parameters, parameter)


def local_value(resource: Resource, attribute: str) -> Any:
    attr = resource.kind.attributes[attribute]
    logical = resource.logical_id + attr.part
    return Ref(logical) if attr.att is None else GetAtt(logical, attr.att)


class SynthContext:
    """What a kind's `synthesize` may ask while building one stack's resources: the
    `Context` protocol of kinds/base.py (kinds never import this module)."""

    def __init__(
        self,
        resolved: Resolved,
        stack: StackPlan,
        exports: dict[str, Export],
        claims: dict[object, Claim],
        cross: dict[tuple[str, str], CrossRegion],
    ):
        self.resolved = resolved
        self.stack = stack
        self.stage = resolved.stage
        self.service = resolved.platform.service
        self.region = stack.region
        self.naming = resolved.naming
        self.settings = resolved.settings
        self.digests = resolved.facts.digests
        self.repository = resolved.platform.repository
        self._exports = exports
        self._claims = claims
        self._cross = cross

    def claim(self, key: object, owner: Resource, path: KeyPath = (), value: object = None) -> Claim | None:
        """Claim something one stage may have only once (a route, a queue's policy...).

        With `value=None` the claim is exclusive: any earlier claim conflicts. With a value,
        only an earlier claim with a different value does (one name per path position).
        Returns the earlier, conflicting claim, or None.
        """
        first = self._claims.get(key)
        if first is None:
            self._claims[key] = Claim(owner, path, value)
            return None
        return first if value is None or first.value != value else None

    def stacks(self) -> tuple[StackPlan, ...]:
        return tuple(self.resolved.stacks.values())

    def name(self, resource: Resource, suffix: str = "") -> str:
        return self.resolved.naming.physical(resource.name, suffix)

    def physical(self, short: str, suffix: str = "") -> str:
        return self.resolved.naming.physical(short, suffix)

    def setting(self, value: Any, stage_setting: str) -> Any:
        """A resource's explicit value, or the stage's setting (`a.b` for nested) when the spec left it out."""
        if value is not None:
            return value
        found: Any = self.settings
        for part in stage_setting.split("."):
            found = getattr(found, part)
        return found

    def deletion_policies(self, resource: Resource) -> dict[str, str]:
        return cfn.deletion_policies(self.setting(resource.spec.retain, "protect"))

    def tags(self, resource: Resource, **extra: str) -> Any:
        return cfn.tags(self.tag_map(resource, **extra))

    def tag_map(self, resource: Resource, **extra: str) -> dict[str, str]:
        """Tags as a plain mapping (Cognito and API Gateway v2 take maps, not lists)."""
        return {
            **self.resolved.platform.tags,
            **self.settings.tags,
            **resource.spec.tags,
            **extra,
            **self.stage_tags(),
        }

    def stage_tags(self) -> dict[str, str]:
        """The tags every resource of the stage carries (backup selections match on them)."""
        return {"Service": self.service, "Stage": self.stage}

    def alarm_actions(self) -> list[Any]:
        """Where alarms notify: the stage's alarm topic, if it has one."""
        topic = self.settings.alarms.topic
        return [self.ref(SpecRef("topic", topic), "arn")] if topic else []

    def stage_key(self) -> Any:
        """The ARN of the stage's key (`kms:` in platform.yaml), or None: AWS managed keys."""
        key = self.settings.kms
        return self.ref(SpecRef("key", key), "arn") if key else None

    def boundary(self) -> Any:
        """The ARN of the permissions boundary every role of the stage carries, or None when
        the stage has no bootstrap stack to hold it (and so no execution role to bound)."""
        if not self.resolved.bootstrapped:
            return None
        return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy/{self.naming.boundary}")

    def resource(self, ref: SpecRef) -> Resource:
        return self.resolved.index[ref.base]

    def ref(self, ref: SpecRef, attribute: str) -> Any:
        target = self.resolved.index[ref.base]
        attribute = ref.attribute(attribute)  # a part's own attribute: queue:x.dlq arn -> dlq_arn
        if attribute not in target.kind.attributes:
            raise InternalError(f"{target.kind.ref} has no attribute '{attribute}'")
        if target.stack == self.stack.id:
            return local_value(target, attribute)
        if self.resolved.stacks[target.stack].region != self.stack.region:
            parameter = "From" + camel(target.stack) + target.logical_id + camel(attribute)
            self._cross.setdefault((self.stack.id, parameter), CrossRegion(parameter, self.stack.id, target, attribute))
            return Ref(parameter)
        export = self._export(target, attribute)
        export.importers.add(self.stack.id)
        return ImportValue(export.name)

    def _export(self, target: Resource, attribute: str) -> Export:
        name = self.resolved.naming.export(target.kind.ref, target.name, attribute)
        return self._exports.setdefault(name, Export(name, target, attribute))


def _emitted_names(obj: Any) -> list[str]:
    """The literal physical names an object sets (the name properties awstypes lists)."""
    found: list[str] = []
    for path in awstypes.name_paths(obj.resource_type):
        value: Any = obj
        for part in path.split("."):
            value = value.properties.get(part) if hasattr(value, "properties") else None
        values = value if isinstance(value, list) else [value]
        found += [v for v in values if isinstance(v, str)]
    return found


def _check_names(resolved: Resolved, resource: Resource, objects: Any) -> None:
    """Names once: the literal names synthesis emits are exactly those resolve declared and
    checked for AWS's rules and collisions (`Kind.names`). A difference is a compiler bug:
    an undeclared name escapes the collision check, a declared one nothing emits reserves
    a name for nothing."""
    declared = resolved.physical.get(resource.ref, frozenset())
    emitted = {value for obj in objects for value in _emitted_names(obj)}
    if emitted - declared:
        raise InternalError(f"{resource.label} emits names its kind's names() does not declare: {sorted(emitted - declared)}")
    if declared - emitted:
        raise InternalError(f"{resource.label} declares names it does not emit: {sorted(declared - emitted)}")


def _metadata(resource: Resource) -> dict[str, Any]:
    """Where a template resource came from, and the reviewed exceptions that apply to every
    object its declaration produced: reasons for unsafe choices and policy rule suppressions
    (checkov's, in `_checkov_skips`)."""
    meta: dict[str, Any] = {"Source": f"{resource.where.file}#{resource.kind.section}.{resource.name}"}
    if resource.spec.reasons:
        meta["UnsafeChoices"] = dict(resource.spec.reasons)
    if rules := {k: v for k, v in resource.spec.suppress.items() if k.startswith("P")}:
        meta["Suppress"] = rules
    return meta


def _checkov_skips(resolved: Resolved, resource: Resource) -> Callable[[str], list[dict[str, str]]]:
    """checkov's own skip list for each object a declaration produced, by its type
    (`Metadata.checkov.skip`, each with its comment), so checkov reports the check as
    skipped with the reason: the resource's own (its unsafe choices' reasons, its kind's
    design, `suppress:`), then platform.yaml's waivers for this type and stage. The
    resource's own are asked once per declaration, not once per object."""
    own = resource.spec.checkov_skips()
    waivers = [w for w in resolved.platform.waivers if w.stages is None or resolved.stage in w.stages]

    def for_type(resource_type: str) -> list[dict[str, str]]:
        skips = {check: reason for check, (reason, only) in own.items() if only in (None, resource_type)}
        for waiver in waivers:
            if resource_type in waiver.types:
                skips.setdefault(waiver.check, f"{waiver.reason} {waiver.MARK}")
        return [{"id": check, "comment": skips[check]} for check in sorted(skips)]

    return for_type


def _description(resolved: Resolved, plan: StackPlan) -> str:
    text = f"{resolved.platform.service} {resolved.stage}: {plan.id}"
    if plan.description:
        text += f" - {plan.description.strip()}"
    return (text + f". Generated by platformc from {plan.file}; do not edit.")[:1024]


def _cross_region(resolved: Resolved, templates: dict[str, StackTemplate], cross: Mapping[tuple[str, str], CrossRegion]) -> None:
    """Parameters in consumers, plain Outputs (never Exports) in producers (of those in `templates`)."""
    produced: set[tuple[str, str]] = set()
    for (consumer, parameter), value in sorted(cross.items()):
        if value.producer.stack not in resolved.stacks[consumer].depends_on:
            raise InternalError(f"{consumer} reads {value.output_key} from {value.producer.stack} without depending on it")
        producer_region = resolved.stacks[value.producer.stack].region
        if consumer in templates:
            templates[consumer].template.add_parameter(
                Parameter(
                    parameter,
                    Type="String",
                    Description=f"filled by deploy: output {value.output_key} of {resolved.stacks[value.producer.stack].name} ({producer_region})",
                )
            )
        if (value.producer.stack, value.output_key) not in produced and value.producer.stack in templates:
            produced.add((value.producer.stack, value.output_key))
            templates[value.producer.stack].template.add_output(
                Output(
                    value.output_key,
                    Description=f"{value.producer.kind.ref}:{value.producer.name} {value.attribute} (read from another region)",
                    Value=local_value(value.producer, value.attribute),
                )
            )


@dataclass(frozen=True)
class Synthesis:
    templates: dict[str, StackTemplate]
    exports: dict[str, Export]
    cross_region: dict[tuple[str, str], CrossRegion]
    diagnostics: list[Diagnostic]
    claims: dict[object, Claim] = field(default_factory=dict)  # the first claim of each key


def synth(resolved: Resolved) -> Synthesis:
    """Every stack of the stage, with the Outputs and Parameters that wire them together."""
    synthesis = synth_stacks(resolved, resolved.stacks)
    finish(resolved, synthesis.templates, synthesis.exports, synthesis.cross_region)
    return synthesis


def synth_stacks(resolved: Resolved, stacks: Iterable[str]) -> Synthesis:
    """The resources of some stacks of the stage (all of them, or one process's share of a
    stage split across processes: see pipeline), and what they ask of other stacks: the
    exports and cross-region values they read and the claims they make. Nothing is added
    for those yet: `finish` does, once every stack's requests are known."""
    exports: dict[str, Export] = {}
    claims: dict[object, Claim] = {}
    cross: dict[tuple[str, str], CrossRegion] = {}
    diags: list[Diagnostic] = []
    templates: dict[str, StackTemplate] = {}
    for plan in (resolved.stacks[stack_id] for stack_id in stacks):
        template = StackBody(Description=_description(resolved, plan))
        template.set_version(TEMPLATE_VERSION)
        ctx = SynthContext(resolved, plan, exports, claims, cross)
        owners: dict[str, Resource] = {}
        for resource in plan.resources:
            for attribute in resource.spec.export:
                ctx._export(resource, attribute)
            try:
                objects = resource.kind.synthesize(resource, ctx)
            except SpecProblem as problem:
                related: tuple[tuple[str, Where], ...] = ()
                if problem.other is not None:
                    other = problem.other
                    related = (("the other one", Where(other.where.file, (other.kind.section, other.name, *problem.other_path))),)
                where = Where(resource.where.file, (resource.kind.section, resource.name, *problem.path))
                diags.append(Diagnostic("E308", problem.message, where, related=related))
                continue
            except (ValueError, TypeError) as exc:
                raise InternalError(f"{resource.label} ({resource.where.file}): {exc}") from exc
            _check_names(resolved, resource, objects)
            skips_for = _checkov_skips(resolved, resource)
            for obj in objects:
                first = owners.setdefault(obj.title, resource)
                if obj.title in template.resources:
                    diags.append(
                        Diagnostic(
                            "E307",
                            f"logical id '{obj.title}' of {resource.label} is also produced by {first.label}",
                            resource.where,
                            help="rename one of them: logical ids are built from names without their hyphens",
                            related=(("the other one", first.where),),
                        )
                    )
                    continue
                # read from troposphere's attribute dict: a missing attribute through getattr
                # costs a KeyError turned AttributeError, ~20x the lookup (0.17 s at 100x)
                obj.Metadata = {**_metadata(resource), **obj.resource.get("Metadata", {})}
                if skips := skips_for(obj.resource_type):
                    obj.Metadata["checkov"] = {"skip": skips}
                template.add_resource(obj)
        templates[plan.id] = StackTemplate(plan, template)
    return Synthesis(templates, exports, cross, diags, claims)


def finish(
    resolved: Resolved, templates: dict[str, StackTemplate], exports: Mapping[str, Export],
    cross: Mapping[tuple[str, str], CrossRegion],
) -> None:
    """Add the Outputs and Parameters that the stage's exports and cross-region values need
    to those of `templates` that produce or receive them (`exports` and `cross` are the
    whole stage's: a share of the stage gets its producers' Outputs however far away the
    importers are)."""
    _cross_region(resolved, templates, cross)
    for name in sorted(exports):
        export = exports[name]
        producer_region = resolved.stacks[export.producer.stack].region
        if any(resolved.stacks[importer].region != producer_region for importer in export.importers):
            raise InternalError(f"export {name} would cross regions")  # ctx.ref sends those through parameters
        for importer in sorted(export.importers):
            # resolve derives the deploy order from the references it finds in the specs;
            # an import it did not see would deploy before its producer exists.
            if export.producer.stack not in resolved.stacks[importer].depends_on:
                raise InternalError(f"{importer} imports {name} but does not depend on {export.producer.stack}")
        if export.producer.stack not in templates:
            continue  # produced in another share of the stage
        templates[export.producer.stack].template.add_output(
            Output(
                export.output_key,
                Description=f"{export.producer.kind.ref}:{export.producer.name} {export.attribute}",
                Value=local_value(export.producer, export.attribute),
                Export=CfnExport(name),
            )
        )
