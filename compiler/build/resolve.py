"""resolve: StageSpec -> Resolved (ids, physical names, references, stacks, deploy order).

This is where the cross-stack decision is made (CDK's refs.ts): a reference to a resource
in another stack is an edge from the consumer stack to the producer stack, carrying the
reason, so that cycles can be printed with their causes and the deploy order computed as
topological levels (stacks in one level can deploy in parallel). Pure: no I/O.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Mapping

from .. import naming
from ..diagnostics import Diagnostic, KeyPath, Where, did_you_mean
from ..kinds import BY_REF, Resource
from ..kinds.base import CheckEnv
from ..model import Platform, Ref, StageSettings, find_refs
from ..spec.stage import StageSpec


@dataclass(frozen=True)
class Edge:
    consumer: str  # stack id
    producer: str  # stack id
    reason: str  # "buses.events.rules.system.targets[0] -> queue:alert"
    where: Where


@dataclass(frozen=True)
class StackPlan:
    id: str
    name: str  # physical stack name: listbackup-dev-infrastructure-sqs
    file: str
    description: str | None
    resources: tuple[Resource, ...]
    depends_on: tuple[str, ...]
    region: str  # where the stack is deployed


@dataclass(frozen=True)
class Resolved:
    platform: Platform
    stage: str
    settings: StageSettings
    naming: naming.Naming
    stacks: Mapping[str, StackPlan]  # by stack id, sorted
    levels: tuple[tuple[str, ...], ...]
    index: Mapping[Ref, Resource]
    facts: CheckEnv  # what load recorded (handler code digests for artifact keys)
    physical: Mapping[Ref, frozenset[str]]  # the physical names each resource declared (and resolve checked)

    @functools.cached_property
    def bootstrapped(self) -> bool:
        """Whether the stage declares a bootstrap stack (delivery): its roles and boundary."""
        return any(r.kind.bootstrap for r in self.index.values())


UNKNOWN_REFERENCE = "E305"  # a reference to something no spec declares


def _path_text(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


NEWER = 1.0  # seconds between two files' mtimes for one to count as the newer (a checkout writes all at once)


def blame(first: Resource, second: Resource, modified: Mapping[str, float] | None = None) -> tuple[Resource, Resource]:
    """Which of two clashing resources an error points at, and which is its note: the one in
    the file edited last (the newcomer, against a file nobody touched), when their mtimes
    are apart; else the one outside infrastructure/ when the other is inside (shared
    resources live there; a service file is usually the newcomer), else the one declared
    later (file order)."""
    times = [(modified or {}).get(resource.where.file, 0.0) for resource in (first, second)]
    if abs(times[0] - times[1]) > NEWER:
        return (first, second) if times[0] > times[1] else (second, first)
    shared = [resource.stack.split("-", 1)[0] == "infrastructure" for resource in (first, second)]
    return (first, second) if shared == [False, True] else (second, first)


class _Resolver:
    def __init__(self, spec: StageSpec):
        self.spec = spec
        self.naming = naming.Naming(spec.platform.service, spec.stage)
        self.diags: list[Diagnostic] = []
        self.index: dict[Ref, Resource] = {}
        self.physical: dict[Ref, frozenset[str]] = {}  # the names each resource declared
        self.collided = False  # two files map to one stack id: there is no graph to order

    def stacks(self) -> None:
        files: dict[str, str] = {}  # stack id -> the file that took it first
        for stack in self.spec.stacks:
            if (first := files.setdefault(stack.id, stack.file)) != stack.file:
                self.diags.append(
                    Diagnostic(
                        "E301",
                        f"stack id '{stack.id}' is also the stack id of another file: both would deploy as one stack",
                        Where(stack.file),
                        help="a stack is named after its file path with '/' as '-': rename one of the files",
                        related=(("the other file", Where(first)),),
                    )
                )
                self.collided = True
                continue
            if not stack.resources and not stack.incomplete:
                self.diags.append(
                    Diagnostic(
                        "E309",
                        f"stack '{stack.id}' declares no resources; CloudFormation needs at least one",
                        Where(stack.file),
                        help="add resources or delete the file",
                    )
                )
            problem = naming.STACK.problem(self.naming.stack(stack.id))
            if problem or not stack.id[:1].isalpha():
                self.diags.append(
                    Diagnostic(
                        "E301",
                        problem or f"stack id '{stack.id}' must start with a letter",
                        Where(stack.file),
                        help="the stack is named <service>-<stage>-<file path with '/' as '-'>: rename the file",
                    )
                )

    def declare(self) -> None:
        """Index every resource by reference; a second declaration of a name is an error."""
        for stack in self.spec.stacks:
            for d in stack.resources:
                where = Where(d.file, (d.kind.section, d.name), "key")
                resource = Resource(d.kind, d.name, d.spec, stack.id, naming.logical_id(d.name, d.kind.id_suffix), where)
                first = self.index.setdefault(resource.ref, resource)
                if first is not resource:
                    blamed, other = blame(first, resource, self.spec.modified)
                    self.diags.append(
                        Diagnostic(
                            "E302",
                            f"{d.kind.ref} '{d.name}' is declared twice",
                            blamed.where,
                            help="references `kind:name` are global across spec files: rename one",
                            related=(("the other declaration", other.where),),
                        )
                    )

    def names(self) -> None:
        """Physical names obey AWS's rules and are unique in their namespace for the stage."""
        taken: dict[tuple[str, str], Resource] = {}
        for resource in self.index.values():
            declared = resource.kind.names(resource.name, resource.spec, self.naming, self.spec.settings)
            self.physical[resource.ref] = frozenset(physical.value for physical in declared)
            too_long: list[tuple[int, str]] = []  # (short-name budget, problem): one report per resource
            for physical in declared:
                if problem := physical.rule.problem(physical.value):
                    if len(physical.value) > physical.rule.max_len and resource.name in physical.value:
                        too_long.append((physical.rule.max_len - (len(physical.value) - len(resource.name)), problem))
                    else:
                        self.diags.append(Diagnostic("E303", problem, resource.where, help="choose a shorter or simpler name"))
                    continue
                first = taken.setdefault((physical.namespace, physical.value), resource)
                if first is not resource:
                    blamed, other = blame(first, resource, self.spec.modified)
                    self.diags.append(
                        Diagnostic(
                            "E304",
                            f"{physical.rule.what} '{physical.value}' is also the name of {other.label}",
                            blamed.where,
                            related=(("the other one", other.where),),
                        )
                    )
            if too_long:
                budget, problem = min(too_long, key=lambda found: found[0])  # the tightest; the first declared on a tie
                self.diags.append(Diagnostic(
                    "E303", problem, resource.where,
                    help=f"in stage {self.spec.stage} the short name '{resource.name}' may have at most {max(budget, 0)} "
                         f"characters ({len(resource.name)} now): the service, stage and suffixes take the rest"))
            for attribute in resource.kind.attributes:
                export = self.naming.export(resource.kind.ref, resource.name, attribute)
                if problem := naming.EXPORT.problem(export):
                    self.diags.append(Diagnostic("E303", problem, resource.where))
            if problem := naming.LOGICAL_ID.problem(resource.logical_id):
                self.diags.append(Diagnostic("E303", problem, resource.where))

    def references(self) -> list[Edge]:
        edges = []
        for resource in self.index.values():
            for path, ref, at in find_refs(resource.spec):
                where = Where(resource.where.file, (resource.kind.section, resource.name, *path), at)
                target = self.index.get(ref.base)
                if target is None and ref.base in self.spec.invalid:
                    continue  # declared, with its own errors: not a dangling reference
                if target is None:
                    same_kind = sorted({r.name for r in (*self.index, *self.spec.invalid) if r.kind == ref.kind})
                    self.diags.append(
                        Diagnostic(
                            UNKNOWN_REFERENCE,
                            f"unknown {BY_REF[ref.kind].ref} '{ref.name}' in reference '{ref}'",
                            where,
                            help=did_you_mean(ref.name, same_kind)
                            or f"declared {BY_REF[ref.kind].section}: {', '.join(sorted(same_kind)) or 'none'}",
                        )
                    )
                elif target.stack != resource.stack:
                    reason = f"{resource.label}.{_path_text(path)} -> {ref}"
                    edges.append(Edge(resource.stack, target.stack, reason, where))
        return edges + self.alarm_topic() + self.stage_key() + self.access_logs() + self.implied()

    def implied(self) -> list[Edge]:
        """References a kind implies without their being written (`Kind.implied`)."""
        edges = []
        for resource in self.index.values():
            for ref, reason in resource.kind.implied(resource, self.index.get) if resource.kind.implied else ():
                target = self.index.get(ref)
                if target is not None and target.stack != resource.stack:
                    edges.append(Edge(resource.stack, target.stack, reason, resource.where))
        return edges

    def _named_by_setting(self, setting: str, name: str, kind: str, what: str) -> tuple[Resource | None, Where]:
        """The resource a stage setting names (`kms: main` -> key:main), or E305 at the setting."""
        where = Where(self.spec.platform_file, ("stages", self.spec.stage, setting))
        target = self.index.get(Ref(kind, name))
        if target is None:
            declared = [r.name for r in self.index if r.kind == kind]
            self.diags.append(Diagnostic(
                UNKNOWN_REFERENCE, f"stage {self.spec.stage} {what} {kind}:{name}, which no spec declares", where,
                help=did_you_mean(name, declared) or f"declare it under `{BY_REF[kind].section}:` in a stack file"))
        return target, where

    def _in_order(self) -> list[Resource]:
        """Every resource, by stack, section and name: diagnostics in a fixed order."""
        return sorted(self.index.values(), key=lambda r: (r.stack, r.kind.section, r.name))

    def _regions(self) -> dict[str, str]:
        return {s.id: s.region or self.spec.platform.region for s in self.spec.stacks}

    def stage_key(self) -> list[Edge]:
        """Kinds that encrypt with the stage's key (`kms:`) use it: an implicit reference.
        A key serves its own region only, so what it encrypts must live there too."""
        name = self.spec.settings.kms
        if name is None:
            return []
        key, where = self._named_by_setting("kms", name, "key", "encrypts with")
        if key is None:
            return []
        if not getattr(key.spec, "enabled", True):
            self.diags.append(Diagnostic(
                "E207", f"stage {self.spec.stage} encrypts with key:{name}, which is disabled in that stage", where,
                help=f"enable key:{name} in {self.spec.stage}, or set `kms: null` there", related=(("the key", key.where),)))
            return []
        region = self._regions()
        edges = []
        for r in self._in_order():
            if not r.kind.encrypts or r.stack == key.stack or r.kind.bootstrap:
                continue
            if region[r.stack] != region[key.stack]:
                self.diags.append(Diagnostic(
                    "E207", f"{r.label} is in {region[r.stack]}, but the stage's key:{name} is in {region[key.stack]}: "
                    "a KMS key serves its own region only", r.where,
                    help="keep what the stage key encrypts in the key's region", related=(("the stage key", key.where),)))
                continue
            edges.append(Edge(r.stack, key.stack, f"{r.label} is encrypted with key:{name} (stage setting)", where))
        return edges

    def access_logs(self) -> list[Edge]:
        """Buckets and distributions log into the stage's access-log bucket (`access_logs:`):
        an implicit reference. S3 delivers server access logs only within a region, and the
        log bucket cannot log into itself: both must say `access_logs: false`, with a reason."""
        name = self.spec.settings.access_logs
        if name is None:
            return []
        target, where = self._named_by_setting("access_logs", name, "bucket", "sends access logs to")
        if target is None:
            return []
        region = self._regions()
        edges = []
        for r in self._in_order():
            if r.kind.section not in ("buckets", "distributions") or not r.spec.access_logs:
                continue
            at = Where(r.where.file, (r.kind.section, r.name), "key")
            if r is target:
                self.diags.append(Diagnostic(
                    "E207", f"bucket:{name} receives the stage's access logs and cannot log into itself", at,
                    help="say `access_logs: false` with its reason (`reasons: {access_logs: ...}`)"))
            elif r.kind.section == "buckets" and region[r.stack] != region[target.stack]:
                self.diags.append(Diagnostic(
                    "E207", f"{r.label} is in {region[r.stack]}, but the stage's access-log bucket:{name} is in "
                    f"{region[target.stack]}: S3 delivers server access logs only within a region", at,
                    help="say `access_logs: false` with its reason, or give that region its own log bucket",
                    related=(("the access-log bucket", target.where),)))
            elif r.stack != target.stack:
                edges.append(Edge(r.stack, target.stack, f"{r.label} logs into bucket:{name} (stage setting)", where))
        return edges

    def alarm_topic(self) -> list[Edge]:
        """Kinds that raise alarms notify the stage's alarm topic: an implicit reference."""
        alarms = self.spec.settings.alarms
        if not alarms.enabled or alarms.topic is None:
            return []
        where = Where(self.spec.platform_file, ("stages", self.spec.stage, "alarms", "topic"))
        topic = self.index.get(Ref("topic", alarms.topic))
        if topic is None:
            topics = [r.name for r in self.index if r.kind == "topic"]
            self.diags.append(
                Diagnostic(
                    UNKNOWN_REFERENCE,
                    f"stage {self.spec.stage} sends alarms to topic:{alarms.topic}, which no spec declares",
                    where,
                    help=did_you_mean(alarms.topic, topics) or "declare it under `topics:` in a stack file",
                )
            )
            return []
        return [
            Edge(r.stack, topic.stack, f"alarms of {r.label} -> topic:{alarms.topic} (stage setting)", where)
            for r in self.index.values()
            if (r.kind.alarms(r.spec) if callable(r.kind.alarms) else r.kind.alarms) and r.stack != topic.stack
        ]

    def concurrency(self) -> None:
        """Reserved concurrency fits the stage's budget, and does not starve a queue's consumer.

        Lambda keeps 100 of an account's quota unreserved; the stages sharing an account
        split the rest (`concurrency.budget`), and every function's reservation (its own,
        else the stage default) comes out of its stage's share. A consumer reserved below
        its event source's maximum concurrency is throttled, and throttled messages count as
        receives: they end in the DLQ without having run."""
        settings = self.spec.settings.concurrency
        at = Where(self.spec.platform_file, ("stages", self.spec.stage, "concurrency"))
        functions = sorted((r for r in self.index.values() if r.kind.section == "functions"), key=lambda r: r.name)
        reserved = {r.name: r.spec.reserved(self.spec.settings) for r in functions}
        for r in functions:
            cap = reserved[r.name]

            def where(*path: str | int, r: Resource = r) -> Where:
                return Where(r.where.file, (r.kind.section, r.name, *path))

            if cap is None:
                continue
            if r.spec.consumes and cap < 2:
                self.diags.append(Diagnostic(
                    "E207", f"function {r.name} consumes a queue but is reserved {cap} in stage {self.spec.stage}: a queue's event "
                    "source runs at least 2 at once, and throttled messages end in the DLQ unrun",
                    where("reserved_concurrency") if r.spec.reserved_concurrency is not None else at,
                    help="reserve at least 2"))
            elif r.spec.consumes and r.spec.consumes.max_concurrency and r.spec.consumes.max_concurrency > cap:
                self.diags.append(Diagnostic(
                    "E207", f"the queue may invoke function {r.name} {r.spec.consumes.max_concurrency} times at once, but it is "
                    f"reserved {cap} in stage {self.spec.stage}: throttled messages count as receives and end in the DLQ",
                    where("consumes", "max_concurrency"),
                    help=f"set max_concurrency to at most {cap}, or reserved_concurrency to at least {r.spec.consumes.max_concurrency}"))
            if r.spec.provisioned_concurrency and r.spec.provisioned_concurrency > cap:
                self.diags.append(Diagnostic(
                    "E207", f"provisioned concurrency {r.spec.provisioned_concurrency} exceeds the {cap} reserved in stage "
                    f"{self.spec.stage}", where("provisioned_concurrency"),
                    help="reserve at least as much as is provisioned (`reserved_concurrency:`)"))
        total = sum(v for v in reserved.values() if v)
        budget = settings.budget
        if total > budget:
            biggest = sorted(((v or 0, n) for n, v in reserved.items()), reverse=True)[:3]
            self.diags.append(Diagnostic(
                "E215", f"the functions of stage {self.spec.stage} reserve {total} concurrent executions, over the stage's "
                f"budget of {budget} (its share of the account's quota; Lambda keeps 100 unreserved)", at,
                help=f"lower `reserved` (the default of {sum(1 for r in functions if r.spec.reserved_concurrency is None)} "
                     "function(s)) or "
                     f"functions' own `reserved_concurrency` (largest: {', '.join(f'{n} {v}' for v, n in biggest)}), or "
                     "raise the budget (after AWS raised the account's quota, or another stage gave some up)"))

    def order(self, edges: list[Edge]) -> tuple[tuple[str, ...], ...] | None:
        """Topological levels (Kahn); on a cycle, one diagnostic that prints it with reasons."""
        ids = sorted(stack.id for stack in self.spec.stacks)
        deps: dict[str, set[str]] = {stack_id: set() for stack_id in ids}
        for edge in edges:  # grouped once: scanning every edge per stack grows with the square of the spec
            deps[edge.consumer].add(edge.producer)
        levels: list[tuple[str, ...]] = []
        done: set[str] = set()
        while len(done) < len(ids):
            ready = tuple(s for s in ids if s not in done and deps[s] <= done)
            if not ready:
                self.diags.append(self._cycle([s for s in ids if s not in done], deps, edges))
                return None
            levels.append(ready)
            done.update(ready)
        return tuple(levels)

    @staticmethod
    def _cycle(remaining: list[str], deps: dict[str, set[str]], edges: list[Edge]) -> Diagnostic:
        path = [remaining[0]]
        while True:  # every remaining stack waits on another remaining one: walk until a repeat
            following = sorted(d for d in deps[path[-1]] if d in remaining)[0]
            if following in path:
                cycle = path[path.index(following) :] + [following]
                break
            path.append(following)
        hops = []
        for consumer, producer in zip(cycle, cycle[1:], strict=False):
            hops.append(min((e for e in edges if e.consumer == consumer and e.producer == producer), key=lambda e: e.reason))
        return Diagnostic(
            "E306",
            "stacks depend on each other in a cycle: " + " -> ".join(cycle),
            hops[0].where,
            help="CloudFormation cannot deploy a cycle of imports: move one of the resources to break it",
            related=tuple((f"{hop.consumer} needs {hop.producer} because {hop.reason}", hop.where) for hop in hops),
        )


def resolve(spec: StageSpec) -> tuple[Resolved | None, list[Diagnostic]]:
    r = _Resolver(spec)
    r.stacks()
    r.declare()
    r.names()
    r.concurrency()
    edges = r.references()
    levels = None if r.collided else r.order(edges)
    if r.diags or levels is None:
        return None, r.diags
    held: dict[str, list[Resource]] = {}
    producers: dict[str, set[str]] = {}
    for res in r.index.values():
        held.setdefault(res.stack, []).append(res)
    for edge in edges:
        producers.setdefault(edge.consumer, set()).add(edge.producer)
    stacks = {
        stack.id: StackPlan(
            stack.id,
            r.naming.stack(stack.id),
            stack.file,
            stack.description,
            tuple(held.get(stack.id, ())),
            tuple(sorted(producers.get(stack.id, ()))),
            stack.region or spec.platform.region,
        )
        for stack in sorted(spec.stacks, key=lambda s: s.id)
    }
    resolved = Resolved(spec.platform, spec.stage, spec.settings, r.naming, stacks, levels, dict(r.index), spec.facts, dict(r.physical))
    return resolved, []
