"""`shopsense` sub-commands for simulate (filled in by its feature)."""

from __future__ import annotations

from shopsense.commands import AddCommand


def register(add: AddCommand) -> None:
    """Add this feature's sub-commands (none yet)."""
