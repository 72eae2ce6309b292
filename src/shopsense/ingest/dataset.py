"""Ingest a public dataset (see :mod:`shopsense.ingest.datasets`) into the store.

Products are upserted, then events appended, each in one transaction; event ids are
deterministic, so ingesting a dataset twice stores nothing new.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TypeVar

from shopsense.domain import Event, Product
from shopsense.ingest.datasets import read_dataset
from shopsense.ingest.ingester import IngestReport
from shopsense.progress import task
from shopsense.store.sql import SqlStore

T = TypeVar("T", Product, Event)


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
) -> list[IngestReport]:
    """Read a dataset and store its products and events; one report for each (progress in
    rows through :mod:`shopsense.progress`)."""
    dataset = read_dataset(format, path)
    reports = []
    started = time.perf_counter()
    products = IngestReport(f"{dataset.name} products")
    with (
        task(f"{dataset.name} products", unit="rows") as advance,
        store.catalog.writer() as catalog,
    ):
        for chunk in _chunks(dataset.products, batch_size):
            catalog.upsert(chunk)
            products.rows += len(chunk)
            products.written += len(chunk)
            advance(len(chunk))
    products.seconds = time.perf_counter() - started
    reports.append(products)
    started = time.perf_counter()
    events = IngestReport(f"{dataset.name} events")
    with (
        task(f"{dataset.name} events", unit="rows") as advance,
        store.events.writer() as writer,
    ):
        for event_chunk in _chunks(dataset.events, batch_size):
            new = writer.append(event_chunk)
            events.rows += len(event_chunk)
            events.written += new
            events.duplicates += len(event_chunk) - new
            advance(len(event_chunk))
    events.seconds = time.perf_counter() - started
    reports.append(events)
    return reports
