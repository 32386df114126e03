"""platformc: a declarative platform-spec compiler (YAML specs -> CloudFormation).

Stages: load -> validate -> resolve -> synth -> emit (see pipeline.py); `build()` is the
public entry point.
"""

from __future__ import annotations

from typing import Any

from . import codecache

codecache.install()  # before pydantic and the rest define their dataclasses (codecache.py)

__all__ = ["Build", "BuildError", "build"]


def __getattr__(name: str) -> Any:
    """The pipeline is imported on first use: commands that never compile (a warm `lint`,
    `down`, `--version`) do not pay for the models and troposphere."""
    if name in __all__:
        from .build import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
