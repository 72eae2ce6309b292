"""Sub-commands of the ``shopsense`` CLI that live beside their feature.

Each module here defines ``register(add)``: ``add(name, handler, help, examples=...)``
creates a sub-command parser (with the global options, each option's default shown in its
help, the examples as the help's epilog) and returns it for its own arguments;
``handler(args, settings) -> exit status``. :mod:`shopsense.cli` calls them in order.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Protocol

from shopsense.config import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


class AddCommand(Protocol):
    def __call__(
        self, name: str, handler: Handler, help_text: str, examples: str = ""
    ) -> argparse.ArgumentParser: ...


#: Modules whose ``register`` adds commands, in help order.
MODULES = (
    "shopsense.commands.train",
    "shopsense.commands.evaluate",
    "shopsense.commands.shoppers",
    "shopsense.commands.search",
    "shopsense.commands.serve",
    "shopsense.commands.simulate",
    "shopsense.commands.policy",
    "shopsense.commands.export",
)


class HelpFormatter(argparse.HelpFormatter):
    """Every option's default in its help (unless the help gives it already, or there is
    none to show: flags, ``None``); description paragraphs filled to the terminal, the
    indented lines of the examples kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            not any(default is nothing for nothing in (None, False, argparse.SUPPRESS))
            and "(default" not in text
            and (action.option_strings or action.nargs in ("?", "*"))
        ):
            text += " (default: %(default)s)"
        return text

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        fill = super()._fill_text
        lines = text.splitlines()
        return "\n".join(
            indent + line if line.startswith("  ") else fill(line, width, indent) for line in lines
        )


def examples(*lines: str) -> str:
    """An ``examples:`` epilog, one command per line."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def register_all(add: AddCommand) -> None:
    import importlib

    for name in MODULES:
        importlib.import_module(name).register(add)
