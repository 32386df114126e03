"""Three caches for cfn-lint's JSON-schema validator, for the pinned cfn-lint only.

Why: profiling `platformc lint` over a stage (cProfile, cfn-lint 1.58.0) puts ~11% of its CPU
in making new classes, ~8% in `dataclasses.fields` and ~9% in finding which rules a keyword
goes to, none of which is linting:

- `cfnlint.jsonschema.validators.create` builds a new `@dataclass` class on every call, and
  `Validator.extend` calls it for every keyword rule that descends (2,222 classes for the prod
  stage's 17 templates, 2,187 of them alike in everything but identity). A class depends only on
  its arguments, so one class per distinct (validators, function filter, fn resolvers) is kept.
  The arguments are compared by value: the keyword functions by identity (bound methods by
  their rule object), the function filter by its fields (a plain value object that nothing in
  cfn-lint mutates; a fresh one is made for every extend, so identity would never hit).
- `evolve` on validators, contexts, paths and function filters asks `dataclasses.fields` for the
  same class 300,000 times; the answer depends only on the class, so it is kept per class.
- E1101 looks up the rules of each `cfnLint` keyword by walking all of its child rules' keywords;
  an index by keyword gives the same rules in the same order (`index_keywords`).

All three are caches of pure functions: the findings are cfn-lint's own, byte for byte
(tests/gates/test_lint.py compares them with an unpatched cfn-lint on templates full of
errors). They are applied only to the version they were read against (`PINNED`); any other
cfn-lint runs as shipped.
"""

from __future__ import annotations

import dataclasses
from typing import Any

PINNED = "1.58.0"
_applied = False


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def apply() -> bool:
    """Install the caches (once per process); False when cfn-lint is not the pinned version."""
    global _applied
    import cfnlint.context.context as context_mod
    import cfnlint.jsonschema._filter as filter_mod
    import cfnlint.jsonschema.validators as validators_mod
    from cfnlint.version import __version__

    if _applied:
        return True
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
            got = classes[key] = create(validators, function_filter, fn_resolvers)
        return got

    validators_mod.create = cached_create
    _applied = True
    return True


def index_keywords(rules: Any) -> None:
    """E1101 (`CfnLint.cfnLint`) hands each `cfnLint` keyword of the schema to the child rules
    that declare it, by walking every child rule's keywords for every keyword (9% of the CPU).
    The same rules in the same order come from an index by keyword, rebuilt whenever the
    children change (cfn-lint rewires them at the start of every run). Patched on the class of
    the loaded rule: cfn-lint loads its rules from their files as modules of their own."""
    from cfnlint.jsonschema._utils import Unset
    from cfnlint.version import __version__

    if __version__ != PINNED or "E1101" not in rules:
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
