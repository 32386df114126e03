"""construct: troposphere's object constructor, the same steps without their overhead.

A compile builds ~950 troposphere objects per 1x platform (95,000 at 100x) and
`BaseAWSObject.__init__` was a sixth of synthesis: each object copies its class's property
names into a set, routes its seven bookkeeping fields through the validating
`__setattr__`, and probes the class for a default of every property it declares (a Lambda
function declares 25) before the first keyword is set.

`install()` replaces it with `_init`, which does the same steps in the same order: the same
fields with the same values, the title checked by the object's own `validate_title` (some
classes override it), class-level defaults (looked up once per class: classes are not
changed after import) then every keyword set through troposphere's own validating
`__setattr__`, then the object's own `add_to_template`. Values are validated exactly as
before; only bookkeeping is cheaper.

It is installed only over the constructor it was written against, troposphere 4.11.1
(pinned in pyproject.toml): any other version keeps its own constructor, and a test that
compares the sha256 of troposphere's constructor source with `MIRRORED` fails until this
module is checked against the new one.
tests/test_emit.py compiles every stage of the repository and of the full golden with
both constructors and compares the bytes.
"""

from __future__ import annotations

from typing import Any

import troposphere
from troposphere import BaseAWSObject, Template

VERSION = "4.11.1"
# sha256 of troposphere 4.11.1's `BaseAWSObject.__init__` source, which `_init` mirrors.
MIRRORED = "6379cf3f0ca263097f9e7741a50516794a9ce2bf5a07e413613176517f3fefb7"
ORIGINAL = BaseAWSObject.__init__
_ATTRIBUTES = ("Condition", "CreationPolicy", "DeletionPolicy", "DependsOn", "Metadata", "UpdatePolicy", "UpdateReplacePolicy")
_classes: dict[type, tuple[dict[str, Any], frozenset[str], tuple[tuple[str, Any], ...]]] = {}


def _class_facts(cls: type, props: dict[str, Any]) -> tuple[frozenset[str], tuple[tuple[str, Any], ...]]:
    """The property names of `props` and the class-level defaults among them, computed once
    per class (and again if an object brings props of its own)."""
    facts = _classes.get(cls)
    if facts is None or facts[0] is not props:
        defaults = tuple((name, value) for name in props if (value := getattr(cls, name, None)) is not None)
        facts = _classes[cls] = (props, frozenset(props), defaults)
    return facts[1], facts[2]


def _init(self: Any, title: str | None, template: Template | None = None, validation: bool = True, **kwargs: Any) -> None:
    names, defaults = _class_facts(type(self), self.props)
    fields = self.__dict__  # troposphere's __setattr__ stores these plainly before initialisation
    fields["title"] = title
    fields["template"] = template
    fields["do_validation"] = validation
    fields["propnames"] = names  # read only, by troposphere and by us: one set per class
    fields["attributes"] = list(_ATTRIBUTES)
    if title:
        self.validate_title()
    properties: dict[str, Any] = {}
    fields["properties"] = properties
    dictname = getattr(self, "dictname", None)
    fields["resource"] = {dictname: properties} if dictname else properties
    if getattr(self, "resource_type", None) is not None:
        fields["resource"]["Type"] = self.resource_type
    fields["_BaseAWSObject__initialized"] = True
    for name, value in defaults:
        if name not in kwargs:
            self.__setattr__(name, value)
    for name, value in kwargs.items():
        self.__setattr__(name, value)
    self.add_to_template()


def install() -> None:
    if troposphere.__version__ == VERSION:
        BaseAWSObject.__init__ = _init


def uninstall() -> None:
    BaseAWSObject.__init__ = ORIGINAL
