"""Progress of long work: library code marks its loops, a front end decides what to show.

Library code never imports tqdm or looks for a terminal; it marks its long loops::

    from shopsense import progress

    for name in progress.track(models, "evaluating models", unit="model"):
        ...
    with progress.task("ingesting events.csv", unit="row") as advance:
        ingest_events_file(..., progress=advance)           # advance(rows) per batch
    progress.note("reading the events and the catalog")     # one step of a longer job

Without a reporter (a library call, the server's background retraining) ``track`` hands
the iterable back untouched, ``task`` gives a no-op and ``note`` logs at INFO. The CLI
installs a :class:`TerminalReporter` (tqdm bars on stderr, with an ETA where the total is
known) for the length of one command, unless ``--quiet``::

    >>> import io
    >>> with reporting(TerminalReporter(io.StringIO(), bars=False)):
    ...     sum(track(range(3), "counting"))
    3
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol, TextIO, TypeVar

from tqdm import tqdm

log = logging.getLogger(__name__)
T = TypeVar("T")
#: Called with the amount of work just done (rows, items, batches).
Advance = Callable[[int], object]


class Bar(Protocol):
    """One running task (a tqdm bar has this shape)."""

    def update(self, n: int = 1) -> object: ...

    def close(self) -> None: ...


class Reporter(Protocol):
    """What shows progress: bars for tasks, lines for one-off steps."""

    def start(self, description: str, total: int | None, unit: str) -> Bar: ...

    def note(self, message: str) -> None: ...


_reporter: ContextVar[Reporter | None] = ContextVar("shopsense_progress", default=None)


@contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Show the progress of the work inside the block with ``reporter`` (``None``: hide)."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


def track(
    items: Iterable[T], description: str, total: int | None = None, unit: str = "it"
) -> Iterator[T]:
    """``items``, advancing a task per item (``total``: ``len(items)`` when it has one)."""
    reporter = _reporter.get()
    if reporter is None:
        return iter(items)
    if total is None and isinstance(items, Sized):
        total = len(items)
    return _tracked(reporter.start(description, total, unit), items)


def _tracked(bar: Bar, items: Iterable[T]) -> Iterator[T]:
    try:
        for item in items:
            yield item
            bar.update(1)
    finally:
        bar.close()


@contextmanager
def task(description: str, total: int | None = None, unit: str = "it") -> Iterator[Advance]:
    """A task advanced by hand: ``advance(n)`` after each ``n`` units of work. For loops that
    may stop early (early stopping), and callbacks such as the ingester's ``progress``."""
    reporter = _reporter.get()
    if reporter is None:
        yield _ignore
        return
    bar = reporter.start(description, total, unit)
    try:
        yield bar.update
    finally:
        bar.close()


def note(message: str) -> None:
    """One step of a longer job ("reading the events"), shown above any running bars."""
    reporter = _reporter.get()
    if reporter is None:
        log.info(message)
    else:
        reporter.note(message)


def _ignore(n: int) -> None:
    del n


class TerminalReporter:
    """tqdm bars and ``- step`` lines on ``stream`` (stderr by default).

    ``bars=None`` draws bars only when ``stream`` is a terminal (redrawn lines would fill a
    log file); steps are always written.
    """

    def __init__(self, stream: TextIO | None = None, bars: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.bars = bars

    def start(self, description: str, total: int | None, unit: str) -> Bar:
        # a terminal that reports no width (a bare pty, some CI runners) would get bars of
        # width 0, that is nothing at all: 80 columns then
        sized = _columns(self.stream) > 0
        return tqdm(
            total=total,
            desc=description,
            unit=f" {unit}",
            unit_scale=total is None,  # counts of rows: 1.2M rows; epochs: 3/40 epochs
            file=self.stream,
            disable=None if self.bars is None else not self.bars,
            leave=False,
            dynamic_ncols=sized,
            ncols=None if sized else 80,
        )

    def note(self, message: str) -> None:
        tqdm.write(f"- {message}", file=self.stream)


def _columns(stream: TextIO) -> int:
    """The width of the terminal behind ``stream`` (0: none, or one that reports none)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0
