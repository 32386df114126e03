"""validate: SourceFiles -> one StageSpec per stage (validated, frozen models).

Per-stage overrides (`stages: {prod: {...}}` on any resource) are merged into the resource
*before* validation, so each stage's model is complete and checked on its own; an error in
an override points at the override. Errors of every file, resource and stage are collected
and returned together: nothing here raises on bad input.

Why one module of this length: one pass over the files per stage (defaults, overrides, unsafe
choices and their reasons, waivers, references to kinds), whose diagnostics share positions.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import replace
from typing import Any, Callable, Iterable

from pydantic import BaseModel, ValidationError

from . import credentials
from ..diagnostics import Diagnostic, KeyPath, Where, did_you_mean
from ..kinds import BY_REF, BY_SECTION, Kind
from ..kinds.base import CheckEnv
from .load import PLATFORM_FILE, SourceFile
from ..model import NAME_PATTERN, Platform, Ref, ResourceSpec
from ..naming import stack_id
from ..rules import BY_ID as RULE_IDS
from .stage import Declared, StackSpec, StageSpec

STACK_KEYS = ("description", "region", "defaults")
DEFAULTS_KEY = "defaults"
REGION = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d")
STAGES_KEY = "stages"


# ---------------------------------------------------------------------------- pydantic errors


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types inside Annotated/Optional/Union."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _fields_at(model: type[BaseModel], loc: KeyPath) -> set[str]:
    """Field names of the model(s) found at `loc` below `model` (for did-you-mean)."""
    current: list[Any] = [model]
    for segment in loc:
        following: list[Any] = []
        for candidate in current:
            for t in _unwrap(candidate):
                origin, args = typing.get_origin(t), typing.get_args(t)
                if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(segment, str):
                    if segment in t.model_fields:
                        following.append(t.model_fields[segment].annotation)
                elif origin is dict and args:
                    following.append(args[1])
                elif origin in (list, tuple) and args:
                    following.append(args[0])
        current = following
    names: set[str] = set()
    for candidate in current:
        for t in _unwrap(candidate):
            if isinstance(t, type) and issubclass(t, BaseModel):
                names.update(t.model_fields)
    return names


def _field_at(model: type[BaseModel], loc: KeyPath) -> Any:
    """The pydantic FieldInfo of the field at `loc` below `model`, when one model holds it."""
    current: list[Any] = [model]
    found = None
    for segment in loc:
        following: list[Any] = []
        found = None
        for candidate in current:
            for t in _unwrap(candidate):
                origin, args = typing.get_origin(t), typing.get_args(t)
                if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(segment, str):
                    if segment in t.model_fields:
                        found = t.model_fields[segment]
                        following.append(found.annotation)
                elif origin is dict and args:
                    following.append(args[1])
                elif origin in (list, tuple) and args:
                    following.append(args[0])
        current = following
    return found


# pydantic's type errors, and what the field takes, in words
TAKES = {"int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number",
         "float_parsing": "a number", "float_type": "a number", "bool_parsing": "true or false",
         "bool_type": "true or false", "string_type": "text", "dict_type": "a mapping", "list_type": "a list",
         "model_type": "a mapping", "model_attributes_type": "a mapping"}


def _takes(model: type[BaseModel], loc: KeyPath, error_types: list[str]) -> str | None:
    """For a value of the wrong type: what the field takes, with its unit (its description)
    and an example (its default)."""
    takes = next((TAKES[t] for t in error_types if t in TAKES), None)
    field = _field_at(model, loc) if takes else None
    if takes is None or field is None:
        return None
    text = f"`{loc[-1]}` takes {takes}"
    if field.description:
        text += f": {field.description}"
    default = None if field.is_required() else field.get_default(call_default_factory=True)
    if isinstance(default, (str, int, float, bool)):  # a scalar default is the example
        text += f" (e.g. {json.dumps(default)}, the default)"
    return text


def _clean_loc(data: Any, loc: tuple[Any, ...], keep_last: bool) -> KeyPath:
    """Drop pydantic's union/validator segments: keep only segments that exist in the data."""
    out: list[str | int] = []
    current = data
    for i, segment in enumerate(loc):
        if isinstance(current, dict) and segment in current:
            current = current[segment]
        elif isinstance(current, list) and isinstance(segment, int) and 0 <= segment < len(current):
            current = current[segment]
        elif keep_last and i == len(loc) - 1:
            pass
        else:
            continue
        out.append(segment)
    return tuple(out)


def _label(loc: KeyPath) -> str:
    """The name a user sees for a location: its last key plus any list indices after it."""
    keys = [i for i, part in enumerate(loc) if isinstance(part, str)]
    if not keys:
        return "".join(f"[{part}]" for part in loc)
    last = keys[-1]
    return str(loc[last]) + "".join(f"[{part}]" for part in loc[last + 1 :])


def _message(error: Any) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def pydantic_diagnostics(
    exc: ValidationError, data: Any, model: type[BaseModel], where: Callable[[KeyPath, str], Where]
) -> list[Diagnostic]:
    """One diagnostic per failing location; alternatives of a union are joined with 'or'."""
    grouped: dict[tuple[str, KeyPath], list[str]] = {}
    types_at: dict[KeyPath, list[str]] = {}
    for error in exc.errors(include_url=False):
        kind = error["type"]
        raw = tuple(error["loc"])
        if raw and raw[-1] == "[key]":  # a bad mapping key: point at the key itself
            kind = "key"
        loc = _clean_loc(data, raw, keep_last=kind == "missing")
        types_at.setdefault(loc, []).append(str(error["type"]))
        grouped.setdefault((kind if kind in ("missing", "extra_forbidden", "key") else "value", loc), []).append(
            _message(error)
        )
    diags = []
    for (kind, loc), messages in grouped.items():
        field = _label(loc)
        if kind == "missing":
            diags.append(Diagnostic("E201", f"missing required field '{field}'", where(loc[:-1], "key")))
        elif kind == "extra_forbidden":
            diags.append(
                Diagnostic(
                    "E202",
                    f"unknown field '{field}'",
                    where(loc, "key"),
                    help=did_you_mean(field, _fields_at(model, loc[:-1])),
                )
            )
        else:
            text = " or ".join(dict.fromkeys(messages))
            at = "key" if kind == "key" else "value"
            takes = _takes(model, loc, types_at.get(loc, [])) if kind == "value" and loc else None
            diags.append(Diagnostic("E203", text if kind == "key" or not field else f"{field}: {text}", where(loc, at),
                                    help=takes))
    return diags


# ---------------------------------------------------------------------------- stage overrides


def merge(base: Any, override: Any) -> Any:
    """Deep merge: mappings merge key by key, anything else is replaced by the override."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base[key], value) if key in base else value
        return merged
    return override


def _from_override(override: Any, loc: KeyPath) -> bool:
    """Whether the value at `loc` of the merged data came from the override."""
    current = override
    for segment in loc:
        if isinstance(current, dict):
            if segment not in current:
                return False
            current = current[segment]
        else:
            return True  # the override replaced a whole value above this point
    return True


# ---------------------------------------------------------------------------- the stage


SUBSTITUTION = re.compile(r"\$\{([^}]*)\}")
SUBSTITUTIONS = ("stage", "service", "region")


def mentions_substitution(value: Any) -> bool:
    """Whether any string in `value` holds `${`: data without one substitutes to itself."""
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, (dict, list)):
        for item in value.values() if isinstance(value, dict) else value:  # a loop: any() is 2x slower here
            if mentions_substitution(item):
                return True
    return False


def substitute(value: Any, values: dict[str, str], path: KeyPath = ()) -> tuple[Any, list[tuple[KeyPath, str]]]:
    """`${stage}`, `${service}` and `${region}` in string values, replaced by this stage's
    values; any other `${...}` (Serverless' `${sls:stage}`, `${self:...}`, CloudFormation's
    `${AWS::Region}`) is a problem at its place — written literally it would never work."""
    if isinstance(value, str):
        if "${" not in value:  # most values: nothing to find or replace
            return value, []
        problems = []
        for match in SUBSTITUTION.finditer(value):
            if match.group(1).strip() not in values:
                problems.append((path, f"'{match.group(0)}' is not a substitution platformc makes"))
        return SUBSTITUTION.sub(lambda m: values.get(m.group(1).strip(), m.group(0)), value), problems
    if isinstance(value, dict):
        out, problems = {}, []
        for key, item in value.items():
            out[key], found = substitute(item, values, path + (key,))
            problems += found
        return out, problems
    if isinstance(value, list):
        items, problems = [], []
        for i, item in enumerate(value):
            new, found = substitute(item, values, path + (i,))
            items.append(new)
            problems += found
        return items, problems
    return value, []


class _Validator:
    def __init__(self, files: Iterable[SourceFile], env: CheckEnv):
        self.files = list(files)
        self.env = env
        self.service = ""
        self.region = ""
        self.platform_file = PLATFORM_FILE
        self.diags: list[Diagnostic] = []
        # (stage, kind ref, name) -> a resource that failed, validated without its failing
        # fields: declared for resolve's checks only (its errors stop the build first)
        self.partial: dict[tuple[str | None, str, str], ResourceSpec] = {}

    def platform(self) -> Platform | None:
        source = next((f for f in self.files if f.rel == PLATFORM_FILE), None)
        if source is None or not source.parsed:
            return None
        self.platform_file = source.path
        try:
            platform = Platform.model_validate(source.data)
            self.service, self.region = platform.service, platform.region
        except ValidationError as exc:
            self.diags += pydantic_diagnostics(exc, source.data, Platform, lambda p, at: Where(source.path, p, at))
            return None
        stages = list(platform.stages)
        unknown = [
            Diagnostic("E206", f"unknown stage '{stage}'", Where(source.path, ("waivers", i, "stages", j)),
                       did_you_mean(stage, stages) or f"stages of platform.yaml: {', '.join(stages)}")
            for i, waiver in enumerate(platform.waivers) for j, stage in enumerate(waiver.stages or []) if stage not in stages
        ] + [
            Diagnostic("E206", f"unknown stage '{stage}'", Where(source.path, ("accounts", stage), at="key"),
                       did_you_mean(stage, stages) or f"stages of platform.yaml: {', '.join(stages)}")
            for stage in platform.accounts if stage not in stages
        ]
        self.diags += unknown
        return platform  # an unknown waiver stage is reported; the rest still validates

    def stack_sections(self, source: SourceFile) -> dict[str, dict[str, Any]]:
        """The resource sections of a stack file, after checking its top level and names."""
        data = source.data
        if not isinstance(data, dict):
            self.diags.append(Diagnostic("E204", "a stack file is a mapping of sections", Where(source.path)))
            return {}
        sections: dict[str, dict[str, Any]] = {}
        for key, value in data.items():
            if key in STACK_KEYS:
                if key == "description" and not isinstance(value, str):
                    self.diags.append(Diagnostic("E203", "description: must be a string", Where(source.path, (key,))))
                if key == "region" and not (isinstance(value, str) and REGION.fullmatch(value)):
                    self.diags.append(
                        Diagnostic("E203", f"region: {value!r} is not an AWS region such as us-east-1", Where(source.path, (key,)))
                    )
                continue
            if key not in BY_SECTION:
                help_ = did_you_mean(key, [*BY_SECTION, *STACK_KEYS]) or f"sections: {', '.join(BY_SECTION)}"
                self.diags.append(Diagnostic("E202", f"unknown section '{key}'", Where(source.path, (key,), "key"), help_))
                continue
            if not isinstance(value, dict):
                self.diags.append(
                    Diagnostic("E204", f"'{key}' maps names to resources", Where(source.path, (key,)))
                )
                continue
            sections[key] = {}
            for name, body in value.items():
                body = {} if body is None else body  # `files:` alone means every default
                if not re.match(NAME_PATTERN, name) or len(name) > 64:
                    self.diags.append(
                        Diagnostic(
                            "E205",
                            f"'{name}' is not a resource name",
                            Where(source.path, (key, name), "key"),
                            help="lowercase letters, digits and single hyphens, starting with a letter (it becomes "
                            "part of the physical name <service>-<stage>-<name>)",
                        )
                    )
                elif not isinstance(body, dict):
                    self.diags.append(
                        Diagnostic("E204", f"{key}.{name} must be a mapping of fields", Where(source.path, (key, name)))
                    )
                else:
                    sections[key][name] = body
        return sections

    def defaults(self, source: SourceFile) -> dict[str, dict[str, Any]]:
        """`defaults: {functions: {timeout: 29s}}`: per section, fields the file's resources inherit."""
        data = source.data if isinstance(source.data, dict) else {}
        raw = data.get(DEFAULTS_KEY, {})
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.diags.append(Diagnostic("E204", "defaults: maps a section to the fields its resources inherit",
                                         Where(source.path, (DEFAULTS_KEY,))))
            return {}
        good = {}
        for section, fields in raw.items():
            where = Where(source.path, (DEFAULTS_KEY, section), "key")
            if section not in BY_SECTION:
                help_ = did_you_mean(section, BY_SECTION) or f"sections: {', '.join(BY_SECTION)}"
                self.diags.append(Diagnostic("E202", f"unknown section '{section}' in defaults", where, help_))
            elif not isinstance(fields, dict):
                self.diags.append(Diagnostic("E204", f"defaults.{section}: must be a mapping of fields", where))
            elif STAGES_KEY in fields:
                self.diags.append(Diagnostic("E204", "defaults cannot hold `stages:`: give the overrides to each resource",
                                             Where(source.path, (DEFAULTS_KEY, section, STAGES_KEY), "key")))
            else:
                good[section] = fields
        return good

    def overrides(self, source: SourceFile, path: KeyPath, body: dict[str, Any], stages: list[str]) -> dict[str, Any]:
        raw = body.get(STAGES_KEY, {})
        if not isinstance(raw, dict):
            self.diags.append(
                Diagnostic("E204", "stages: maps a stage name to overrides", Where(source.path, path + (STAGES_KEY,)))
            )
            return {}
        good = {}
        for stage, override in raw.items():
            where = Where(source.path, path + (STAGES_KEY, stage), "key")
            if stages and stage not in stages:
                help_ = did_you_mean(stage, stages) or f"stages of platform.yaml: {', '.join(stages)}"
                self.diags.append(Diagnostic("E206", f"unknown stage '{stage}'", where, help_))
            elif not isinstance(override, dict):
                self.diags.append(Diagnostic("E204", f"stages.{stage}: must be a mapping of fields", where))
            elif STAGES_KEY in override:
                self.diags.append(Diagnostic("E204", "stage overrides cannot nest `stages:`", where))
            else:
                good[stage] = override
        return good

    def resource(
        self, kind: Kind, source: SourceFile, name: str, body: dict[str, Any], stage: str | None, override: Any,
        defaults: dict[str, Any] | None = None, values: dict[str, str] | None = None,
    ) -> Any:
        """Validate one resource for one stage; every problem becomes a diagnostic.

        The fields are the file's `defaults:` for the section, then the resource's own, then
        the stage's override (mappings merge key by key); a problem points at whichever of
        the three set the value. `values` are the stage's substitutions (`${stage}`...), None
        when the data holds no `${`."""
        base_path: KeyPath = (kind.section, name)
        base = {k: v for k, v in body.items() if k != STAGES_KEY}
        data = merge(defaults, base) if defaults else base
        data = merge(data, override) if override else data
        substituted: list[tuple[KeyPath, str]] = []
        if values is not None:
            data, substituted = substitute(data, values)

        def where(loc: KeyPath, at: str = "value") -> Where:
            if override and loc and _from_override(override, loc):
                return Where(source.path, base_path + (STAGES_KEY, str(stage)) + loc, at)
            if defaults and loc and not _from_override(base, loc) and _from_override(defaults, loc):
                return Where(source.path, (DEFAULTS_KEY, kind.section) + loc, at)
            return Where(source.path, base_path + loc, at)

        known = ", ".join(f"${{{name}}}" for name in SUBSTITUTIONS)
        self.diags += [Diagnostic("E214", message, where(path), help=f"it knows {known} (this stage's values); a resource's "
                                  "name, ARN or URL is a reference `kind:name`") for path, message in substituted]
        try:
            spec: ResourceSpec = kind.spec.model_validate(data, context={"kinds": BY_REF})
        except ValidationError as exc:
            self.diags += [self._staged(d, stage) for d in pydantic_diagnostics(exc, data, kind.spec, where)]
            if (salvaged := self._salvage(kind, data, exc)) is not None:
                self.partial[(stage, kind.ref, name)] = salvaged
            return None
        if substituted:
            return None
        problems = [
            self._staged(Diagnostic("E207", found[1], where(found[0]), help=found[2] if len(found) > 2 else None), stage)
            for check in kind.checks for found in check(spec, self.env)
        ]
        problems += self.unsafe(kind, spec, where)
        problems += [
            Diagnostic(
                "E208",
                f"'{attr}' is not an attribute of a {kind.ref}",
                where(("export", i)),
                did_you_mean(attr, kind.attributes) or f"attributes: {', '.join(kind.attributes)}",
            )
            for i, attr in enumerate(spec.export)
            if attr not in kind.attributes
        ]
        problems += [
            Diagnostic(
                "E212",
                f"unknown policy rule '{rule}'",
                where(("suppress", rule), "key"),
                did_you_mean(rule, RULE_IDS) or f"rules: {', '.join(sorted(RULE_IDS))}",
            )
            for rule in spec.suppress
            if rule.startswith("P") and rule not in RULE_IDS  # checkov ids: `platformc security` finds stale ones
        ]
        self.diags += problems
        return None if problems else spec

    @staticmethod
    def _salvage(kind: Kind, data: Any, exc: ValidationError) -> ResourceSpec | None:
        """The resource without the fields that failed, when it validates so: its names and
        references are then still checked in the same run (it is never synthesized: its own
        errors stop the build)."""
        bad = {error["loc"][0] for error in exc.errors() if error["loc"]}
        if not bad or not isinstance(data, dict) or len(bad) == len(data):
            return None
        try:
            return kind.spec.model_validate({k: v for k, v in data.items() if k not in bad}, context={"kinds": BY_REF})
        except ValidationError:
            return None

    @staticmethod
    def _staged(diag: Diagnostic, stage: str | None) -> Diagnostic:
        """A problem found in a stage's override says which stage it breaks."""
        path = diag.where.path if diag.where is not None else ()
        if stage is not None and path and STAGES_KEY in path and stage in path:
            return replace(diag, message=f"{diag.message} (in stage {stage})")
        return diag

    @staticmethod
    def unsafe(kind: Kind, spec: ResourceSpec, where: Callable[..., Where]) -> list[Diagnostic]:
        """An unsafe choice must carry a reason; a reason must name a field that can be unsafe."""
        diags = [
            Diagnostic(
                "E209",
                f"'{field}: {_shown(getattr(spec, field))}' turns off a safe default",
                where((field,)),
                help=f"say why in `reasons: {{{field}: ...}}` next to it; the reason is kept in the template",
            )
            for field in spec.unsafe_fields()
            if field not in spec.reasons
        ]
        diags += [
            Diagnostic(
                "E210",
                f"reason given for '{field}', which is not a safety setting of a {kind.ref}",
                where(("reasons", field), "key"),
                did_you_mean(field, spec.UNSAFE) or f"safety settings: {', '.join(spec.UNSAFE) or 'none'}",
            )
            for field in spec.reasons
            if field not in spec.UNSAFE
        ]
        return diags


def validate(
    files: Iterable[SourceFile], env: CheckEnv | None = None
) -> tuple[dict[str, StageSpec], list[Diagnostic]]:
    """Validate every stack file for every stage declared in platform.yaml."""
    v = _Validator(files, replace(env or CheckEnv(), kinds=BY_REF))  # checks see other kinds through env
    for source in v.files:
        v.diags += credentials.find(source.path, source.data)
    platform = v.platform()
    stages = list(platform.stages) if platform else []
    per_stage: dict[str, list[StackSpec]] = {stage: [] for stage in stages}
    invalid: dict[str, set[Ref]] = {stage: set() for stage in stages}
    for source in v.files:
        if source.rel != PLATFORM_FILE and not source.parsed:
            for unparsed_in in stages:  # its names, as far as they show: not judged dangling where referred to
                invalid[unparsed_in].update(Ref(BY_SECTION[section].ref, name) for section, name in declared_names(source.text)
                                      if section in BY_SECTION)
        if source.rel == PLATFORM_FILE or not source.parsed:
            continue
        sections = v.stack_sections(source)
        defaults = v.defaults(source)
        data = source.data if isinstance(source.data, dict) else {}
        description = data.get("description") if isinstance(data.get("description"), str) else None
        region = data.get("region") if isinstance(data.get("region"), str) else None
        values = {stage: {"stage": stage, "service": v.service, "region": region or v.region} for stage in stages}
        declared: dict[str, list[Declared]] = {stage: [] for stage in stages}
        failed: set[str] = set()  # stages in which a resource of this file did not validate
        plain_defaults = {section: not mentions_substitution(fields) for section, fields in defaults.items()}
        for kind in (BY_SECTION[section] for section in BY_SECTION if section in sections):  # only the kinds used load
            for name, body in sections[kind.section].items():
                overrides = v.overrides(source, (kind.section, name), body, stages)
                each: list[str | None] = [*stages] or [None]  # no valid platform: validate shape once
                # Without `${...}` (in the resource, its overrides or the file's defaults) the
                # substitutions change nothing and are not walked. Without overrides either,
                # every stage validates the same data to an equal (frozen) model: the first
                # stage's is shared when it passed without a problem. Anything else (a
                # problem, an override, a substitution) validates per stage.
                plain = plain_defaults.get(kind.section, True) and not mentions_substitution(body)
                neutral = len(each) > 1 and STAGES_KEY not in body and plain
                shared: ResourceSpec | None = None
                for stage in each:
                    if shared is not None:
                        spec = shared
                    else:
                        before = len(v.diags)
                        spec = v.resource(kind, source, name, body, stage, overrides.get(stage or ""), defaults.get(kind.section),
                                          None if plain else values.get(stage or ""))
                        if neutral and spec is not None and len(v.diags) == before:
                            shared = spec
                    if spec is not None and stage is not None:
                        declared[stage].append(Declared(kind, name, spec, source.path))
                    elif stage is not None and v.diags and (salvaged := v.partial.get((stage, kind.ref, name))) is not None:
                        declared[stage].append(Declared(kind, name, salvaged, source.path))  # its references checked
                        failed.add(stage)
                    elif stage is not None:
                        invalid[stage].add(Ref(kind.ref, name))
                        failed.add(stage)
        for stage in stages:
            per_stage[stage].append(
                StackSpec(stack_id(source.rel), source.path, description, tuple(declared[stage]), region, stage in failed)
            )
    if platform is None:
        return {}, v.diags
    result = {
        stage: StageSpec(platform, stage, platform.stages[stage], tuple(per_stage[stage]), v.env, v.platform_file,
                         frozenset(invalid[stage]), {f.path: f.modified for f in v.files})
        for stage in stages
    }
    return result, v.diags


_SECTION = re.compile(r"^([a-z_]+):\s*(#.*)?$")
_NAME = re.compile(r"^  ([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:")


def declared_names(text: str) -> list[tuple[str, str]]:
    """(section, name) of what a file that does not parse as YAML appears to declare: keys
    two spaces in, under a top-level key that opens a block (the layout every spec uses)."""
    found, section = [], None
    for line in text.splitlines():
        if match := _SECTION.match(line):
            section = match.group(1)
        elif line[:1] not in ("", " ", "#"):
            section = None  # another top-level key, on one line
        elif section and (match := _NAME.match(line)):
            found.append((section, match.group(1)))
    return found


def _shown(value: Any) -> str:
    """A field's value as the spec would write it (a section: only what differs from its defaults)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_defaults=True)
    return json.dumps(value)
