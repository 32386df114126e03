"""manifest: the contract between compile and every reader of generated/<stage>/.

emit writes it; deploy, lint, diff and the CLI read it, all through these types. This module
is the only one that knows the file's name, where a stage's templates lie and the JSON
layout; a reader gets frozen values with their types, never a dict read by string keys.

`from_dict` accepts a partial manifest (missing parts get empty defaults): the review gate
compares against what a commit holds, and deploy against the importers AWS reports now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

FILE = "manifest.json"
DEFAULT_REGION = "us-east-1"  # what AWS assumes, and what a manifest without a region meant


@dataclass(frozen=True)
class Parameter:
    """A cross-region value: a consumer's parameter filled from a producer's output at deploy."""

    from_stack: str
    output: str
    region: str


@dataclass(frozen=True)
class StackEntry:
    name: str  # the CloudFormation stack name
    spec: str  # the spec file it comes from
    template: str  # file name inside the stage folder
    sha256: str
    bytes: int
    upload_required: bool  # over the inline limit: deploy passes it by URL
    resources: int
    depends_on: tuple[str, ...]
    region: str
    parameters: Mapping[str, Parameter]
    termination_protection: bool
    bootstrap: bool = False  # deployed by `platformc bootstrap` (an administrator), never by `deploy`

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], stack: str, region: str) -> StackEntry:
        return cls(
            name=str(data.get("name", stack)),
            spec=str(data.get("spec", "")),
            template=str(data.get("template", template_file(stack))),
            sha256=str(data.get("sha256", "")),
            bytes=int(data.get("bytes", 0)),
            upload_required=bool(data.get("upload_required", False)),
            resources=int(data.get("resources", 0)),
            depends_on=tuple(data.get("depends_on", ())),
            region=str(data.get("region") or region),
            parameters={k: Parameter(str(v["from_stack"]), str(v["output"]), str(v["region"]))
                        for k, v in (data.get("parameters") or {}).items()},
            termination_protection=bool(data.get("termination_protection", False)),
            bootstrap=bool(data.get("bootstrap", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec,
            "template": self.template,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "upload_required": self.upload_required,
            "resources": self.resources,
            "depends_on": list(self.depends_on),
            "region": self.region,
            "parameters": {k: {"from_stack": p.from_stack, "output": p.output, "region": p.region}
                           for k, p in self.parameters.items()},
            "termination_protection": self.termination_protection,
            **({"bootstrap": True} if self.bootstrap else {}),
        }


@dataclass(frozen=True)
class ExportEntry:
    producer: str = ""
    output: str = ""
    resource: str = ""  # kind:name
    attribute: str = ""
    importers: tuple[str, ...] = ()  # stack ids

    def to_dict(self) -> dict[str, Any]:
        return {"producer": self.producer, "output": self.output, "resource": self.resource,
                "attribute": self.attribute, "importers": list(self.importers)}


@dataclass(frozen=True)
class Manifest:
    service: str = ""
    stage: str = ""
    region: str = DEFAULT_REGION
    protect: bool = False
    levels: tuple[tuple[str, ...], ...] = ()  # deploy order: stacks of one level in parallel
    stacks: Mapping[str, StackEntry] = field(default_factory=dict)
    exports: Mapping[str, ExportEntry] = field(default_factory=dict)
    domain: str | None = None  # the stage's API domain (the deploy workflow's environment URL)
    account: str | None = None  # the stage's AWS account (platform.yaml `accounts:`): deploy refuses any other

    # ---------------------------------------------------------------- reading and writing
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        region = str(data.get("region") or DEFAULT_REGION)
        return cls(
            service=str(data.get("service", "")),
            stage=str(data.get("stage", "")),
            region=region,
            protect=bool(data.get("protect", False)),
            levels=tuple(tuple(level) for level in data.get("levels") or ()),
            stacks={k: StackEntry.from_dict(v, k, region) for k, v in (data.get("stacks") or {}).items()},
            exports={k: ExportEntry(str(v.get("producer", "")), str(v.get("output", "")), str(v.get("resource", "")),
                                    str(v.get("attribute", "")), tuple(v.get("importers", ())))
                     for k, v in (data.get("exports") or {}).items()},
            domain=str(data["domain"]) if data.get("domain") else None,
            account=str(data["account"]) if data.get("account") else None,
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls.from_dict(json.loads(text))

    @classmethod
    def read(cls, out_dir: Path, stage: str) -> Manifest | None:
        """The manifest of OUT/<stage>, or None when that folder has none."""
        path = path_of(out_dir, stage)
        return cls.from_json(path.read_text()) if path.exists() else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "stage": self.stage,
            "region": self.region,
            "protect": self.protect,
            **({"domain": self.domain} if self.domain else {}),
            **({"account": self.account} if self.account else {}),
            "levels": [list(level) for level in self.levels],
            "stacks": {k: v.to_dict() for k, v in self.stacks.items()},
            "exports": {k: v.to_dict() for k, v in self.exports.items()},
        }

    # ---------------------------------------------------------------- questions
    def template_path(self, out_dir: Path, stack: str) -> Path:
        return out_dir / self.stage / self.stacks[stack].template

    def importers(self, export: str) -> tuple[str, ...]:
        entry = self.exports.get(export)
        return entry.importers if entry else ()

    def level_of(self, stack: str) -> int | None:
        return next((i for i, level in enumerate(self.levels) if stack in level), None)

    def region_of(self, stack: str) -> str:
        entry = self.stacks.get(stack)
        return entry.region if entry else self.region

    @property
    def bootstrap_stacks(self) -> list[str]:
        """The stacks `platformc bootstrap` deploys (in deploy order), never `deploy`."""
        return [stack for level in self.levels for stack in level if self.stacks[stack].bootstrap]


def path_of(out_dir: Path, stage: str) -> Path:
    return out_dir / stage / FILE


def template_file(stack: str) -> str:
    """The file a stack's template is written to, inside its stage folder."""
    return f"{stack}.json"


def of_type(templates: Mapping[str, dict[str, Any]], kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(stack, logical id, resource) of every resource of `kind` in a stage's templates
    (stack -> template), by stack then logical id."""
    return [(stack, logical, resource) for stack, template in sorted(templates.items())
            for logical, resource in sorted((template.get("Resources") or {}).items()) if resource.get("Type") == kind]
