"""The floor of `platformc compile --stage S`: only the work no compiler of these specs can skip.

Start Python, import yaml and troposphere (what a troposphere-based compiler must load),
parse every spec file with libyaml's C loader, hold each of the stage's templates as plain
dicts (read back from generated/: the cheapest way to have them, cheaper than building them)
and write them as the same canonical JSON. `make bench` divides the compile's whole-process
time by this script's, measured in the same run, so the ratio holds on a noisy machine.

    python -m tests.bench.floor SPEC_DIR GENERATED_STAGE_DIR OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import troposphere  # noqa: F401 - the import any troposphere-based compiler pays for
import yaml


def main(spec: Path, stage: Path, out: Path) -> None:
    for path in sorted(spec.rglob("*.yaml")):
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(stage.glob("*.json")):
        template = json.loads(path.read_text())
        (out / path.name).write_text(json.dumps(template, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(*(Path(arg) for arg in sys.argv[1:4]))
