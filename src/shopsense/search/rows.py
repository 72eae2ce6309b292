"""The engine's product table: stable integer rows for product ids, shared by both indexes.

Rows are never reused while the engine lives, so a row number in the lexical index and
in the vector index always means the same product; removing a product frees nothing but
its slot. Popularity (for sorting and ranking) is a float per row.

Example::

    >>> table = ProductRows()
    >>> table.assign([Product(id="P1", title="Blue mug")])
    array([0])
    >>> table.row_of["P1"], table.products[0].title
    (0, 'Blue mug')
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from shopsense.domain import Product
from shopsense.search.query import COLOURS


class ProductRows:
    """Products by row, with the brand vocabulary that query understanding needs."""

    def __init__(self) -> None:
        self.products: list[Product | None] = []
        self.row_of: dict[str, int] = {}
        self.popularity: npt.NDArray[np.float32] = np.zeros(0, np.float32)
        self._brand_count: Counter[str] = Counter()
        self._brand_names: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.row_of)

    def assign(self, products: Sequence[Product]) -> npt.NDArray[np.int64]:
        """Rows for ``products`` (existing rows for known ids, new rows otherwise); stores them."""
        rows = np.empty(len(products), np.int64)
        for i, product in enumerate(products):
            row = self.row_of.get(product.id)
            if row is None:
                row = len(self.products)
                self.products.append(None)
                self.row_of[product.id] = row
            old = self.products[row]
            if old is not None and old.brand:
                self._brand_count[old.brand.lower()] -= 1
            self.products[row] = product
            if product.brand:
                self._brand_count[product.brand.lower()] += 1
                self._brand_names[product.brand.lower()] = product.brand
            rows[i] = row
        if len(self.products) > len(self.popularity):
            grown = np.zeros(max(len(self.products), 2 * len(self.popularity)), np.float32)
            grown[: len(self.popularity)] = self.popularity
            self.popularity = grown
        return rows

    def release(self, product_ids: Sequence[str]) -> npt.NDArray[np.int64]:
        """Forget ``product_ids``; returns the rows they had (unknown ids are skipped)."""
        rows = []
        for product_id in product_ids:
            row = self.row_of.pop(product_id, None)
            if row is None:
                continue
            product = self.products[row]
            if product is not None and product.brand:
                self._brand_count[product.brand.lower()] -= 1
            self.products[row] = None
            self.popularity[row] = 0.0
            rows.append(row)
        return np.asarray(rows, np.int64)

    def product(self, row: int) -> Product:
        product = self.products[row]
        if product is None:
            raise KeyError(f"row {row} holds no product")
        return product

    def brands(self) -> dict[str, str]:
        """Lower-case brand name -> catalog spelling, for brands still in the catalog
        (colour words and one-letter names are left out: they are not evidence of a brand)."""
        return {
            name: self._brand_names[name]
            for name, count in self._brand_count.items()
            if count > 0 and len(name) > 1 and name not in COLOURS
        }

    def set_popularity(self, popularity: Mapping[str, float]) -> None:
        """Popularity per product id (e.g. recent purchases); unknown ids are ignored."""
        self.popularity[:] = 0.0
        for product_id, value in popularity.items():
            row = self.row_of.get(product_id)
            if row is not None:
                self.popularity[row] = value

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "products.jsonl").open("w", encoding="utf-8") as out:
            for product in self.products:
                out.write("null\n" if product is None else product.model_dump_json() + "\n")
        np.save(directory / "popularity.npy", self.popularity[: len(self.products)])

    @classmethod
    def load(cls, directory: Path) -> ProductRows:
        table = cls()
        with (directory / "products.jsonl").open(encoding="utf-8") as lines:
            for line in lines:
                data = json.loads(line)
                if data is None:
                    table.products.append(None)
                else:
                    table.assign([Product.model_validate(data)])
        popularity = np.load(directory / "popularity.npy")
        table.popularity = np.zeros(len(table.products), np.float32)
        table.popularity[: len(popularity)] = popularity
        return table
