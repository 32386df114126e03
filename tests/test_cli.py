"""Everyday command-line behaviour: version, colour rules, help texts that stay true."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from click.testing import CliRunner

from compiler.cli import main, use_colour


def test_version_names_the_installed_package() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert (result.exit_code, result.output) == (0, f"platformc {version('listbackup-platformc')}\n")


@pytest.mark.parametrize(("asked", "terminal", "environ", "expected"), [
    (None, True, {}, True),                       # a terminal: colour
    (None, False, {}, False),                     # a pipe or a file: none
    (None, True, {"NO_COLOR": "1"}, False),       # NO_COLOR wins over the terminal
    (None, True, {"NO_COLOR": ""}, True),         # ...when it is set to something (no-color.org)
    (True, False, {"NO_COLOR": "1"}, True),       # an explicit --color wins over both
    (False, True, {}, False),                     # --no-color
])
def test_colour_follows_the_terminal_no_color_and_the_flags(asked: bool | None, terminal: bool, environ: dict[str, str],
                                                             expected: bool) -> None:
    assert use_colour(asked, terminal, environ) is expected


def test_every_command_has_a_one_line_summary_that_fits() -> None:
    listing = CliRunner().invoke(main, ["--help"]).output
    commands = listing.split("Commands:")[1].strip().splitlines()
    assert commands and all(len(line) <= 100 and not line.rstrip().endswith("...") for line in commands), commands
