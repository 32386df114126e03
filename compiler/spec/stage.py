"""stage: the contract between validate and resolve — one stage's validated spec.

validate produces a `StageSpec` per stage (every spec file's resources, validated with the
stage's overrides applied); resolve consumes it. Both import it from here, so resolve
depends only on the floors below it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..kinds.base import CheckEnv, Kind
from ..model import Platform, Ref, StageSettings


@dataclass(frozen=True)
class Declared:
    kind: Kind
    name: str
    spec: Any  # the kind's Spec for this stage
    file: str  # display path of the spec file


@dataclass(frozen=True)
class StackSpec:
    id: str
    file: str
    description: str | None
    resources: tuple[Declared, ...]
    region: str | None = None  # None: the platform's region
    incomplete: bool = False  # some declared resources did not validate (their errors are reported)


@dataclass(frozen=True)
class StageSpec:
    platform: Platform
    stage: str
    settings: StageSettings
    stacks: tuple[StackSpec, ...]
    facts: CheckEnv = field(default_factory=CheckEnv)
    platform_file: str = "spec/platform.yaml"
    # declared in this stage but not valid (their errors are reported): references to them are
    # not dangling, and resolve runs only to report what else is wrong
    invalid: frozenset[Ref] = frozenset()
    modified: Mapping[str, float] = field(default_factory=dict)  # spec file (as shown) -> its mtime
