"""Your own events (and catalog) as a dataset the default stack trains on, no store needed.

Events are plain dicts (or a pandas / pyarrow table with those columns) in the shape of
:class:`shopsense.domain.Event`: ``user_id``, ``kind`` (impression, view, click,
add_to_cart, purchase, search), ``item_id``, ``timestamp`` (ISO 8601 or epoch seconds),
and optionally ``session_id``, ``request_id`` + ``position`` (which list showed an item),
``propensity`` (the probability your policy showed it there), ``quantity``, ``price``,
``query``. ``event_id`` may be left out. Impressions with their outcome are an
``impression`` and, when the shopper clicked it, a ``click`` with the same ``request_id``.

Example::

    >>> from shopsense.dataset import Dataset
    >>> data = Dataset.from_events([
    ...     {"user_id": "u1", "kind": "view", "item_id": "p1", "timestamp": 1},
    ...     {"user_id": "u1", "kind": "impression", "item_id": "p2", "request_id": "r1",
    ...      "position": 0, "propensity": 0.5, "timestamp": 2},
    ...     {"user_id": "u1", "kind": "click", "item_id": "p2", "request_id": "r1", "timestamp": 3},
    ... ])
    >>> len(data), data.item_ids()
    (3, ['p1', 'p2'])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from pydantic import ValidationError as PydanticError

from shopsense.domain import Event, Product
from shopsense.errors import ValidationError
from shopsense.store.base import EventBatch, event_row


class _Frame(Protocol):
    """A pandas DataFrame or pyarrow Table: anything with ``to_dict``/``to_pylist``."""


def _first_error(exc: PydanticError) -> tuple[str, str]:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "event"
    return field, str(error["msg"])


@dataclass(frozen=True)
class Dataset:
    """A columnar event log and, optionally, the catalog of products."""

    events: EventBatch
    products: tuple[Product, ...] = ()

    def __len__(self) -> int:
        return len(self.events)

    @classmethod
    def from_events(
        cls,
        events: Iterable[Mapping[str, Any] | Event],
        products: Iterable[Mapping[str, Any] | Product] = (),
    ) -> Dataset:
        """Validate every event (and product); an invalid one raises
        :class:`~shopsense.errors.ValidationError` naming its index and field."""
        rows = []
        for i, record in enumerate(events):
            if isinstance(record, Event):
                event = record
            else:
                data = dict(record)
                data.setdefault("event_id", f"e{i}")
                try:
                    event = Event.model_validate(data)
                except PydanticError as exc:
                    field, message = _first_error(exc)
                    raise ValidationError("events", i + 1, field, message) from exc
            rows.append(event_row(event))
        catalog = []
        for i, item in enumerate(products):
            try:
                catalog.append(item if isinstance(item, Product) else Product.model_validate(item))
            except PydanticError as exc:
                field, message = _first_error(exc)
                raise ValidationError("products", i + 1, field, message) from exc
        return cls(EventBatch.from_rows(rows), tuple(catalog))

    @classmethod
    def from_frame(
        cls, frame: Any, products: Iterable[Mapping[str, Any] | Product] = ()
    ) -> Dataset:
        """Events from a pandas DataFrame or a pyarrow Table (one row per event; missing
        values as NaN / None)."""
        if hasattr(frame, "to_pylist"):
            records = frame.to_pylist()
        elif hasattr(frame, "to_dict"):
            records = frame.to_dict(orient="records")
        else:
            raise ValidationError(
                "events", 0, "frame", "expected a pandas DataFrame or pyarrow Table"
            )
        cleaned = [
            {
                k: v
                for k, v in r.items()
                if v is not None and not (isinstance(v, float) and np.isnan(v))
            }
            for r in records
        ]
        return cls.from_events(cleaned, products)

    @classmethod
    def from_store(cls, store: Any) -> Dataset:
        """Everything a :mod:`shopsense.store` holds (events and catalog)."""
        products = tuple(p for batch in store.catalog.iter_products() for p in batch)
        return cls(EventBatch.concat(store.events.iter_batches()), products)

    def item_ids(self) -> list[str]:
        """The catalog's ids, or else every item id in the events in order of appearance."""
        if self.products:
            return [p.id for p in self.products]
        return list(dict.fromkeys(i for i in self.events.item_id if i is not None))
