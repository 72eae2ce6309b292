"""Ingest a public dataset (see :mod:`shopsense.ingest.datasets`) into the store.

Products are upserted, then events appended, each in one transaction; event ids are
deterministic, so ingesting a dataset twice stores nothing new.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from shopsense.domain import Event, Product
from shopsense.ingest.datasets import read_dataset
from shopsense.ingest.ingester import IngestReport
from shopsense.store.sql import SqlStore

T = TypeVar("T", Product, Event)
ProgressFactory = Callable[[str], Any]


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def ingest_dataset(
    store: SqlStore,
    format: str,
    path: Path,
    *,
    batch_size: int = 20_000,
    progress: ProgressFactory | None = None,
) -> list[IngestReport]:
    """Read a dataset and store its products and events; one report for each."""
    dataset = read_dataset(format, path)
    reports = []
    started = time.perf_counter()
    products = IngestReport(f"{dataset.name} products")
    bar = progress(f"{dataset.name} products") if progress else None
    with store.catalog.writer() as catalog:
        for chunk in _chunks(dataset.products, batch_size):
            catalog.upsert(chunk)
            products.rows += len(chunk)
            products.written += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    products.seconds = time.perf_counter() - started
    reports.append(products)
    started = time.perf_counter()
    events = IngestReport(f"{dataset.name} events")
    bar = progress(f"{dataset.name} events") if progress else None
    with store.events.writer() as writer:
        for event_chunk in _chunks(dataset.events, batch_size):
            new = writer.append(event_chunk)
            events.rows += len(event_chunk)
            events.written += new
            events.duplicates += len(event_chunk) - new
            if bar is not None:
                bar.update(len(event_chunk))
    if bar is not None:
        bar.close()
    events.seconds = time.perf_counter() - started
    reports.append(events)
    return reports
