"""graph: a Mermaid diagram of stacks, levels and import edges, kept with the templates."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from tests.conftest import compile_spec, write_spec

FILES = {
    "sqs.yaml": "queues:\n  alert: {}\n",
    "events.yaml": "buses:\n  events:\n    rules:\n      r: {pattern: {source: [x]}, targets: [queue:alert]}\n",
    "tables.yaml": "tables:\n  t: {hash_key: id:S}\n",
}


def test_levels_and_edges(tmp_path: Path) -> None:
    text = compile_spec(tmp_path, FILES).outputs["dev/graph.md"]
    assert "```mermaid\nflowchart TB\n" in text
    level1 = text.index('subgraph level1["level 1"]')
    level2 = text.index('subgraph level2["level 2"]')
    assert level1 < text.index('s_sqs["listbackup-dev-sqs<br/>3 resources"]') < level2
    assert level1 < text.index("s_tables[") < level2
    assert text.index('s_events["listbackup-dev-events<br/>') > level2
    assert '  s_events -->|"2 exports"| s_sqs' in text  # the queue's arn and url
    assert "s_tables -->" not in text and "--> s_tables" not in text


def test_graph_command_writes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_spec(tmp_path, FILES)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["graph", "--stage", "prod"])
    assert result.exit_code == 0
    written = (tmp_path / "generated" / "prod" / "graph.md").read_text()
    assert written == result.output and "listbackup prod: stacks and deploy order" in written
