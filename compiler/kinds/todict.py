"""todict: a template's plain-dict form, as troposphere's `Template.to_dict()` makes it, faster.

troposphere's `encode_to_dict` asks every value, leaves included, `hasattr(obj,
"to_dict")` and then each `isinstance` in turn: a third of a compile at 100x. This walk
dispatches on the exact type first (strings, numbers, dicts and lists are most of a
template) and treats troposphere's own classes as `to_dict` does: a resource or property
is validated (required properties, its `validate()`) unless built with validation off, a
helper function is its `data`, tags are their list, an awacs object its `JSONrepr()`.
Anything else goes through its own `to_dict()`. The result equals troposphere's, value for
value (tests/test_emit.py compares both over every template of the repository).

`shallow` is one level of the same walk, for orjson's `default`: emit encodes a template in
one pass where orjson walks the plain containers in C and asks `shallow` only about
troposphere's and awacs' objects (how to treat a class is decided once per class).
"""

from __future__ import annotations

from operator import attrgetter, methodcaller
from typing import Any, Callable

from troposphere import AWSHelperFn, BaseAWSObject, Tags, Template

_PLAIN = (str, int, float, bool, type(None))


def encode(obj: Any) -> Any:
    kind = type(obj)
    if kind in _PLAIN:
        return obj
    if kind is dict:
        return {name: encode(value) for name, value in obj.items()}
    if kind is list or kind is tuple:
        return [encode(value) for value in obj]
    way = _WAYS.get(kind) or _learn(kind)
    return obj if way is _refuse else encode(way(obj))


def _aws_object(obj: BaseAWSObject) -> Any:
    """A resource or property: validated unless built with validation off, then its dict."""
    if obj.do_validation:
        obj._validate_props()
        obj.validate()
    if obj.properties:
        return obj.resource
    if hasattr(obj, "resource_type"):
        return {k: v for k, v in obj.resource.items() if k != "Properties"}
    return {}


def _refuse(obj: Any) -> Any:
    raise TypeError(f"not serializable: {type(obj).__name__}")


def _way(kind: type) -> Callable[[Any], Any]:
    """How objects of `kind` become plain containers, one level deep, in troposphere's
    `encode_to_dict` order; decided once per class (each test asks only the class)."""
    if issubclass(kind, BaseAWSObject):
        return _aws_object
    if issubclass(kind, AWSHelperFn) and kind.to_dict is AWSHelperFn.to_dict:  # type: ignore[attr-defined]
        return attrgetter("data")
    if issubclass(kind, Tags):
        return attrgetter("tags")
    if hasattr(kind, "to_dict"):
        return methodcaller("to_dict")
    if issubclass(kind, dict):  # subclasses of the plain containers
        return dict
    if issubclass(kind, (list, tuple)):
        return list
    if hasattr(kind, "JSONrepr"):
        return methodcaller("JSONrepr")
    return _refuse  # `encode` keeps such a value as it is; orjson's `default` must refuse it


_WAYS: dict[type, Callable[[Any], Any]] = {}


def _learn(kind: type) -> Callable[[Any], Any]:
    way = _WAYS[kind] = _way(kind)
    return way


def shallow(obj: Any) -> Any:
    """One level of `encode`, for a serializer that walks plain containers itself (orjson's
    `default`): a troposphere or awacs object becomes the containers it holds, validated as
    `encode` validates it; anything else is refused with TypeError, as `default` must."""
    kind = type(obj)
    return (_WAYS.get(kind) or _learn(kind))(obj)


def template_sections(template: Template) -> dict[str, Any]:
    """The top level of `template.to_dict()`: its non-empty sections, objects unencoded."""
    t: dict[str, Any] = {}
    for key, value in (
        ("Description", template.description), ("Metadata", template.metadata), ("Conditions", template.conditions),
        ("Mappings", template.mappings), ("Outputs", template.outputs), ("Parameters", template.parameters),
        ("AWSTemplateFormatVersion", template.version), ("Transform", template.transform), ("Rules", template.rules),
        ("Globals", template.globals),
    ):
        if value:
            t[key] = value
    t["Resources"] = template.resources
    return t


def template_dict(template: Template) -> dict[str, Any]:
    """`template.to_dict()`, section for section."""
    encoded: dict[str, Any] = encode(template_sections(template))
    return encoded
