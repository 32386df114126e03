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
    if isinstance(obj, BaseAWSObject):
        if obj.do_validation:
            obj._validate_props()
            obj.validate()
        if obj.properties:
            return encode(obj.resource)
        if hasattr(obj, "resource_type"):
            return {k: encode(v) for k, v in obj.resource.items() if k != "Properties"}
        return {}
    if isinstance(obj, AWSHelperFn) and type(obj).to_dict is AWSHelperFn.to_dict:
        return encode(obj.data)
    if isinstance(obj, Tags):
        return [encode(tag) for tag in obj.tags]
    if hasattr(obj, "to_dict"):
        return encode(obj.to_dict())
    if isinstance(obj, (dict, list, tuple)):  # subclasses of the plain containers
        return [encode(o) for o in obj] if not isinstance(obj, dict) else {k: encode(v) for k, v in obj.items()}
    if hasattr(obj, "JSONrepr"):
        return encode(obj.JSONrepr())
    return obj


def _aws_object(obj: BaseAWSObject) -> Any:
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
    """How `shallow` turns objects of `kind` into containers: `encode`'s branches, in its
    order, decided once per class (each test asks only the class)."""
    if issubclass(kind, BaseAWSObject):
        return _aws_object
    if issubclass(kind, AWSHelperFn) and kind.to_dict is AWSHelperFn.to_dict:  # type: ignore[attr-defined]
        return attrgetter("data")
    if issubclass(kind, Tags):
        return attrgetter("tags")
    if hasattr(kind, "to_dict"):
        return methodcaller("to_dict")
    if hasattr(kind, "JSONrepr"):
        return methodcaller("JSONrepr")
    return _refuse


_WAYS: dict[type, Callable[[Any], Any]] = {}


def shallow(obj: Any) -> Any:
    """One level of `encode`, for a serializer that walks plain containers itself (orjson's
    `default`): a troposphere or awacs object becomes the containers it holds, validated as
    `encode` validates it; anything else is refused with TypeError, as `default` must."""
    kind = type(obj)
    way = _WAYS.get(kind)
    if way is None:
        way = _WAYS[kind] = _way(kind)
    return way(obj)


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
