"""``--help``: every option explained, with its default and choices; no raw markup;
examples for the main commands."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from shopsense.cli import build_parser

#: Commands a new user runs first: their help ends with examples.
MAIN_COMMANDS = (
    "demo",
    "ingest",
    "train",
    "evaluate",
    "recommend",
    "search",
    "evaluate-search",
    "serve",
    "simulate",
)


def parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from parsers(sub)


ALL = {p.prog: p for p in parsers(build_parser())}


def own_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    skip = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)
    return [a for a in parser._actions if not isinstance(a, skip)]


@pytest.mark.parametrize("prog", sorted(ALL))
def test_every_option_has_help_with_its_default_and_choices(prog: str) -> None:
    parser = ALL[prog]
    text = parser.format_help()
    for action in own_actions(parser):
        name = "/".join(action.option_strings) or action.dest
        assert action.help, f"{prog} {name} has no help"
        default = action.default
        if action.option_strings and not any(
            default is nothing for nothing in (None, False, argparse.SUPPRESS)
        ):
            shown = parser._get_formatter()._expand_help(action)  # as --help prints it
            spelled = {str(default), f"{default:g}" if isinstance(default, float) else ""}
            assert any(s and s in shown for s in spelled), f"{prog} {name}: {default!r} not shown"
        for choice in action.choices or ():
            assert str(choice) in text, f"{prog} {name}: choice {choice!r} not shown"


@pytest.mark.parametrize("prog", sorted(ALL))
def test_help_shows_no_raw_markup(prog: str) -> None:
    text = ALL[prog].format_help()
    for markup in ("`", "**", "::", ":class:", ":mod:"):
        assert markup not in text, f"{prog} --help shows {markup!r}"


@pytest.mark.parametrize("command", MAIN_COMMANDS)
def test_main_commands_show_examples(command: str) -> None:
    text = ALL[f"shopsense {command}"].format_help()
    assert "\nexamples:\n" in text
    examples = text.split("\nexamples:\n", 1)[1].strip().splitlines()
    assert examples and all(f"shopsense {command}" in line for line in examples), examples


def test_search_sort_choices_are_the_engines() -> None:
    pytest.importorskip("tantivy")
    from shopsense.search.engine import SORTS

    (sort,) = [a for a in own_actions(ALL["shopsense search"]) if a.dest == "sort"]
    assert sorted(sort.choices or ()) == sorted(SORTS)


def test_quiet_works_before_and_after_the_command() -> None:
    parser = build_parser()
    assert parser.parse_args(["--quiet", "stats"]).quiet is True
    assert parser.parse_args(["stats", "-q"]).quiet is True
    assert not hasattr(parser.parse_args(["stats"]), "quiet")
