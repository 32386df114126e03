"""platformc: a declarative platform-spec compiler (YAML specs -> CloudFormation).

Stages: load -> validate -> resolve -> synth -> emit (see pipeline.py); `build()` is the
public entry point.
"""

from .pipeline import Build, BuildError, build

__all__ = ["Build", "BuildError", "build"]
