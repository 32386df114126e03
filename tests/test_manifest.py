"""manifest.json as a typed contract: what emit writes, every reader reads back unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from compiler.manifest import FILE, DEFAULT_REGION, Manifest, path_of
from tests.conftest import REPO


def test_every_committed_manifest_round_trips_exactly() -> None:
    for path in sorted((REPO / "generated").glob(f"*/{FILE}")):
        data = json.loads(path.read_text())
        manifest = Manifest.from_dict(data)
        assert manifest.to_dict() == data, path
        assert Manifest.read(REPO / "generated", path.parent.name) == manifest
        for stack in manifest.stacks:  # the layout is the manifest's to know
            assert manifest.template_path(REPO / "generated", stack).is_file()


def test_a_partial_manifest_reads_with_empty_defaults() -> None:
    only_importers = Manifest.from_dict({"exports": {"x-dev-table-a:arn": {"importers": ["api"]}}})
    assert only_importers.importers("x-dev-table-a:arn") == ("api",) and only_importers.importers("other") == ()
    assert only_importers.region == DEFAULT_REGION and only_importers.levels == () and only_importers.level_of("api") is None
    levels = Manifest.from_dict({"region": "eu-west-1", "levels": [["a"], ["b", "c"]], "stacks": {"c": {}}})
    assert levels.level_of("c") == 1 and levels.region_of("c") == "eu-west-1" and levels.stacks["c"].name == "c"


def test_a_stage_without_a_manifest_reads_as_none(tmp_path: Path) -> None:
    assert Manifest.read(tmp_path, "dev") is None and path_of(tmp_path, "dev") == tmp_path / "dev" / FILE
