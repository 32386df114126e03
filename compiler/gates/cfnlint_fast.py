"""Exact shortcuts inside cfn-lint's JSON-schema validator, for the pinned cfn-lint only.

Why: profiling `platformc lint` over a stage (cProfile, cfn-lint 1.58.0) put over a third of
its CPU in bookkeeping around the validation rather than in it. Nine places, each exact:

- Classes by their arguments (~11%). `cfnlint.jsonschema.validators.create` builds a new
  `@dataclass` class on every call, and `Validator.extend` calls it for every keyword rule that
  descends (2,222 classes for the prod stage's 17 templates, 2,187 of them alike in all but
  identity). A class depends only on its arguments, so one class per distinct (validators,
  function filter, fn resolvers) is kept. The keyword functions are compared by identity
  (bound methods by their rule object), the function filter by its fields (a plain value
  object nothing in cfn-lint mutates, made afresh for every extend).
- `dataclasses.fields` per class (~8%): `evolve` on validators, contexts, paths and function
  filters asks it for the same class 300,000 times.
- Validators evolved directly (`_evolve_validators_directly`, ~4%): their fields set as the
  dataclass `__init__` would, without reading them through `fields()` and keywords.
- Paths descended directly (`_descend_paths_directly`, ~2%), the same way.
- Contexts made directly (`_evolve_contexts_directly`, ~6%): a `Context` is frozen and has
  no `__post_init__`, so a new one is its class with the same field values.
- `$ref`s resolved once per schema (`_resolve_urls_once`, ~5%) instead of once per resolver.
- Validators extended in one step (`_extend_directly`, ~4%): not made first with an empty
  template that is thrown away.
- Patterns compiled once (`_patterns_compiled_once`, ~5%): regex's own cache is slow to ask.
- Rules by keyword (`index_keywords`, ~9%): E1101 finds the child rules of each `cfnLint`
  keyword through an index instead of walking every child rule's keywords; same rules, same
  order.

The findings are cfn-lint's own, rule, position and message alike: tests/gates/test_lint.py
compares them with an unpatched cfn-lint's on templates full of errors. Nothing is applied
to any version but the one read (`PINNED`); another cfn-lint runs as shipped.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

PINNED = "1.58.0"
_applied = False


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def apply() -> bool:
    """Install the caches (once per process); False when cfn-lint is not the pinned version."""
    global _applied
    if _applied:
        return True
    import cfnlint.context.context as context_mod
    import cfnlint.jsonschema._filter as filter_mod
    import cfnlint.jsonschema.validators as validators_mod
    import cfnlint.rules.jsonschema.Base as base_mod
    import cfnlint.schema.resolver._resolver as resolver_mod
    from cfnlint.version import __version__

    if __version__ != PINNED:
        return False
    fields_of: dict[type, tuple[dataclasses.Field[Any], ...]] = {}

    def fields(obj: Any) -> tuple[dataclasses.Field[Any], ...]:
        if not isinstance(obj, type):
            return dataclasses.fields(obj)
        got = fields_of.get(obj)
        if got is None:
            got = fields_of[obj] = dataclasses.fields(obj)
        return got

    for module in (context_mod, filter_mod, validators_mod):
        assert module.fields is dataclasses.fields, module.__name__  # what the caches were read against
        module.fields = fields

    create = validators_mod.create
    classes: dict[tuple[Any, ...], Any] = {}

    def cached_create(validators: Any = None, function_filter: Any = None, fn_resolvers: Any = None) -> Any:
        try:
            key = (
                tuple((validators or {}).items()),
                None if function_filter is None else (type(function_filter), *(
                    _frozen(getattr(function_filter, f.name)) for f in fields(type(function_filter))
                )),
                tuple((fn_resolvers or {}).items()),
            )
            hash(key)
        except TypeError:  # an argument cfn-lint 1.58 never passes: no cache
            return create(validators, function_filter, fn_resolvers)
        got = classes.get(key)
        if got is None:
            got = classes[key] = _evolve_validators_directly(create(validators, function_filter, fn_resolvers))
        return got

    validators_mod.create = cached_create
    for made in (validators_mod.CfnTemplateValidator, validators_mod.StandardValidator):
        _evolve_validators_directly(made)  # made at import, before the cache
    _evolve_contexts_directly(context_mod.Context)
    _descend_paths_directly(context_mod)
    _resolve_urls_once(resolver_mod.RefResolver)
    _extend_directly(base_mod.BaseJsonSchema, resolver_mod.RefResolver)
    _patterns_compiled_once()
    _applied = True
    return True


def index_keywords(rules: Any) -> None:
    """E1101 (`CfnLint.cfnLint`) hands each `cfnLint` keyword of the schema to the child rules
    that declare it, by walking every child rule's keywords for every keyword (9% of the CPU).
    The same rules in the same order come from an index by keyword, rebuilt whenever the
    children change (cfn-lint rewires them at the start of every run). Patched on the class of
    the loaded rule: cfn-lint loads its rules from their files as modules of their own. Only
    after `apply()` took (the pinned cfn-lint)."""
    from cfnlint.jsonschema._utils import Unset

    if not _applied or "E1101" not in rules:
        return
    CfnLint = type(rules["E1101"])
    if getattr(CfnLint.cfnLint, "__qualname__", "") != "CfnLint.cfnLint":
        return  # already indexed

    def cfnLint(self: Any, validator: Any, keywords: Any, instance: Any, schema: Any) -> Any:
        validator = validator.evolve(function_filter=validator.function_filter.evolve(add_cfn_lint_keyword=False))
        children = tuple(self.child_rules.values())
        signature = tuple(map(id, children))
        known = self.__dict__.get("_keyword_index")
        if known is None or known[0] != signature:
            index: dict[str, list[Any]] = {}
            for rule in children:
                if rule is not None and rule.id:
                    for rule_keyword in rule.keywords:
                        index.setdefault(rule_keyword, []).append(rule)
            known = self.__dict__["_keyword_index"] = (signature, index)
        for keyword in keywords:
            for rule in known[1].get(keyword, ()):
                for err in rule.validate(validator, keyword, instance, schema):
                    if err.rule is None:
                        if isinstance(err.validator, Unset):
                            err.rule = rule
                    yield err

    CfnLint.cfnLint = cfnLint


def _evolve_validators_directly(validator: Any) -> Any:
    """`Validator.evolve` (130,000 calls a stage, ~13% of the CPU) reads every field through
    `fields()` and `getattr` into keyword arguments for the dataclass `__init__`, which sets
    the init fields from them, the others from their default factories, and runs
    `__post_init__`. The same, done directly (`_copy_directly`): the init fields are the
    arguments or this validator's values, the other fields come from the factories (not from
    this validator: GetAtt's rule replaces `validators` on one it evolved, and an evolve does
    not carry that over), then the same `__post_init__`. Only for the class `create` made.
    Returns the class, patched when it is the one this was read against."""
    original: Any = getattr(validator, "evolve", None)
    if getattr(original, "__qualname__", "") != "create.<locals>.Validator.evolve" or "evolve" not in vars(validator):
        return validator
    layout = tuple((f.name, f.init, f.default_factory) for f in dataclasses.fields(validator))
    if any(not init and factory is dataclasses.MISSING for _, init, factory in layout):
        return validator  # a field this does not know how to fill
    later: tuple[tuple[str, Any], ...] = tuple((name, factory) for name, init, factory in layout if not init)

    def state_of(self: Any, kwargs: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any] | None:
        state: dict[str, Any] = self.__dict__.copy()
        if len(state) != len(layout):  # a name set beside the fields: the original leaves it behind
            return None
        state.update(kwargs)
        for name, factory in later:
            state[name] = factory()
        return state

    names = tuple(name for name, init, _ in layout if init)
    _copy_directly(validator, "evolve", names, state_of, finish=validator.__post_init__)
    return validator


def _init_fields_only(cls: Any) -> tuple[str, ...] | None:
    """The field names of a dataclass whose `__init__` sets every field and nothing more (no
    `__post_init__`), so that an object of it is its field values in `__dict__`; else None."""
    fields = dataclasses.fields(cls)
    if any(not f.init for f in fields) or hasattr(cls, "__post_init__"):
        return None
    return tuple(f.name for f in fields)


StateOf = Callable[[Any, dict[str, Any], tuple[str, ...]], "dict[str, Any] | None"]


def _copy_directly(cls: Any, method: str, names: tuple[str, ...], state_of: StateOf,
                   finish: Callable[[Any], None] | None = None) -> None:
    """Replace `cls.<method>(**changes)`, which returns a copy of a dataclass object with some
    of its init fields (`names`) changed through the dataclass `__init__`, by one that builds
    the copy's `__dict__` directly: `state_of(self, changes, names)`, then `finish(copy)` (a
    `__post_init__`). The original takes every call this cannot answer the same way: another
    class, a name that is not a field, or `state_of` returning None."""
    known = frozenset(names)
    original = getattr(cls, method)

    def copy(self: Any, **kwargs: Any) -> Any:
        if type(self) is cls and known.issuperset(kwargs):
            state = state_of(self, kwargs, names)
            if state is not None:
                new = object.__new__(cls)
                object.__setattr__(new, "__dict__", state)
                if finish is not None:
                    finish(new)
                return new
        return original(self, **kwargs)

    copy.__qualname__ = state_of.__qualname__.replace("state_of", method)  # where it comes from, e.g. in a profile
    setattr(cls, method, copy)


def _evolve_contexts_directly(context: Any) -> None:
    """`Context.evolve` (98,614 calls a stage) copies every init field into `cls(**kwargs)`,
    whose frozen `__init__` sets them one `object.__setattr__` at a time (14% of the CPU, about
    two thirds of it saved here). A Context has no `__post_init__` and no field outside
    `__init__`, so a new one is its class with those values in its `__dict__`: a copy of this
    one's with the changes, less what a cached property such as `module_names` added to it."""

    def state_of(self: Any, kwargs: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
        if "ref_values" in kwargs:
            new_ref_values = self.ref_values.copy()
            new_ref_values.update(kwargs["ref_values"])
            kwargs["ref_values"] = new_ref_values
        values: dict[str, Any] = self.__dict__
        if len(values) == len(names):  # the fields alone: a copy with the changes
            state = values.copy()
            state.update(kwargs)
            return state
        # also a cached property (module_names): left behind, as a new object would
        return {name: kwargs[name] if name in kwargs else values[name] for name in names}

    if (names := _init_fields_only(context)) is not None:  # else not the class this was read against
        _copy_directly(context, "evolve", names, state_of)


def _descend_paths_directly(module: Any) -> None:
    """`Path.descend` (49,000 calls a stage, ~3% of the CPU) reads its three fields through
    `fields()` into keywords for the frozen `__init__`. The same, done directly: each field is
    this path's deque, or a new deque with the argument appended. A function name or an
    integer as `cfn_path` goes to the original, which raises as it always did."""
    from collections import deque

    def state_of(self: Any, kwargs: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any] | None:
        cfn_path = kwargs.get("cfn_path")
        values = self.__dict__
        if isinstance(cfn_path, int) or cfn_path in module.FUNCTIONS or len(values) != len(names):
            return None
        state = {}
        for name in names:
            value = kwargs.get(name)
            state[name] = values[name] if value is None else values[name] + deque((value,))
        return state

    if (names := _init_fields_only(module.Path)) is not None:  # else not the class this was read against
        _copy_directly(module.Path, "descend", names, state_of)


def _resolve_urls_once(resolver: Any) -> None:
    """A `RefResolver` is made for every validator cfn-lint extends (6,712 a stage), each with
    its own cache of `resolve_from_url`, so every `$ref` into a schema is searched for again
    by a walk of the whole schema (~5% of the CPU). What it finds depends only on the schema
    it resolves in and the URL when the resolver has no store of other schemas (as every one
    `from_schema` makes): kept across resolvers by (schema, URL), the schema held so that its
    identity stays its own. A failed resolution is not kept: it raises again, as before."""
    original = resolver.resolve_from_url
    found: dict[tuple[int, str], tuple[Any, Any]] = {}

    def resolve_from_url(self: Any, url: str) -> Any:
        if self.store or not isinstance(url, str):
            return original(self, url)
        key = (id(self.referrer), url)
        known = found.get(key)
        if known is None or known[0] is not self.referrer:
            known = found[key] = (self.referrer, original(self, url))
        return known[1]

    resolver.resolve_from_url = resolve_from_url


def _extend_directly(base: Any, resolver: Any) -> None:
    """`BaseJsonSchema.extend_validator` (1,700 calls a stage) made each new validator twice:
    `cls(schema=...)` with default fields (an empty `Template`, its context and a resolver,
    thrown away at once: ~4% of the CPU), then `.evolve(cfn=..., context=..., resolver=...)`.
    The second is `cls(schema, resolver, function_filter, cfn, context)` with the first's schema
    and function filter, which are the argument and the class default: made once, directly,
    with the same fields and the same `__post_init__`."""

    def extend_validator(self: Any, validator: Any, schema: Any, context: Any, validators: Any = None) -> Any:
        all_validators = self._get_validators()
        if validators:
            all_validators.update(validators)
        made = validator.extend(validators=all_validators)
        return made(schema=schema, cfn=validator.cfn, context=context, resolver=resolver.from_schema(schema))

    base.extend_validator = extend_validator


def _patterns_compiled_once() -> None:
    """cfn-lint calls `regex.search(pattern, text)` and its kin (match, fullmatch, findall)
    40,000 times a stage, and each call asks regex's own cache for the compiled pattern, a
    lookup that builds its key from the pattern, the flags, the locale and the version (~5% of
    the CPU). A plain call (a pattern and the text, nothing else) is the compiled pattern's
    method with the same defaults: a str pattern is compiled once and kept, a compiled one is
    used as it is (regex returns it unchanged when no flags are given); any other call goes to
    regex as before. Applied to the regex module itself: cfn-lint's modules, its rules
    included, look these functions up on it at every call."""
    import regex

    compiled: dict[str, Any] = {}
    compile_ = regex.compile
    pattern_type = type(compile_(""))

    def plain(name: str) -> Any:
        original = getattr(regex, name)

        def call(pattern: Any, string: Any, *args: Any, **kwargs: Any) -> Any:
            if args or kwargs:
                return original(pattern, string, *args, **kwargs)
            if type(pattern) is str:
                found = compiled.get(pattern)
                if found is None:
                    found = compiled[pattern] = compile_(pattern)
            elif type(pattern) is pattern_type:  # regex hands a compiled pattern back as it is
                found = pattern
            else:
                return original(pattern, string)
            return getattr(found, name)(string)

        call.__qualname__ = f"_patterns_compiled_once.{name}"
        return call

    for name in ("match", "fullmatch", "search", "findall"):
        setattr(regex, name, plain(name))
