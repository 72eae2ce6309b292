"""Sub-commands of the ``shopsense`` CLI that live beside their feature.

Each module here defines ``register(add)``: ``add(name, handler, help)`` creates a
sub-command parser (with the global options) and returns it for its own arguments;
``handler(args, settings) -> exit status``. :mod:`shopsense.cli` calls them in order.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from shopsense.config import Settings

Handler = Callable[[argparse.Namespace, Settings], int]
AddCommand = Callable[[str, Handler, str], argparse.ArgumentParser]

#: Modules whose ``register`` adds commands, in help order.
MODULES = (
    "shopsense.commands.search",
    "shopsense.commands.serve",
    "shopsense.commands.simulate",
    "shopsense.commands.policy",
)


def register_all(add: AddCommand) -> None:
    import importlib

    for name in MODULES:
        importlib.import_module(name).register(add)
