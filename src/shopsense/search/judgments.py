"""Judged search queries: the ESCI format, shops' own judgments, and their gains.

A judgments folder holds ``qrels.tsv`` (``query_id, query, product_id, grade`` columns,
ESCI's ``rating_raw`` / ``esci_label_inferred`` understood too) and optionally the
products (``products.jsonl[.gz]`` in ESCI's fields or ShopSense's catalog fields).

Grades are integers ``0..3``; ESCI's labels map I=0, C=1, S=2, E=3 and its published
gains are ``ESCI_GAINS`` (E=1, S=0.1, C=0.01, I=0).

Example::

    >>> queries = read_judgments(Path("../shared/datasets/esci-sample"))  # doctest: +SKIP
    >>> products = read_products(Path("../shared/datasets/esci-sample"))  # doctest: +SKIP
    >>> queries[0].text, len(queries[0].grades)                           # doctest: +SKIP
    ('%100 silicone not clear', 57)
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from shopsense.domain import Product
from shopsense.errors import UnknownFormatError, ValidationError

#: NDCG gain of each grade in ESCI's published evaluation (I, C, S, E).
ESCI_GAINS = (0.0, 0.01, 0.1, 1.0)
_LABELS = {"I": 0, "C": 1, "S": 2, "E": 3}
_RAW = {0.0: 0, 1.0: 1, 10.0: 2, 100.0: 3}


@dataclass
class JudgedQuery:
    """One query and its judged products (product id -> grade)."""

    query_id: str
    text: str
    grades: dict[str, int] = field(default_factory=dict)

    def gains(self, table: tuple[float, ...] = ESCI_GAINS) -> dict[str, float]:
        return {pid: table[grade] for pid, grade in self.grades.items()}


def _grade(row: dict[str, str], source: str, line: int) -> int:
    if row.get("grade") not in (None, ""):
        return int(float(row["grade"]))
    if row.get("esci_label_inferred") in _LABELS:
        return _LABELS[row["esci_label_inferred"]]
    if row.get("esci_label") in _LABELS:
        return _LABELS[row["esci_label"]]
    raw = row.get("rating_raw")
    if raw not in (None, "") and float(raw) in _RAW:
        return _RAW[float(raw)]
    raise ValidationError(source, line, "grade", "needs a grade (0-3), an ESCI label or rating_raw")


def read_judgments(folder: Path) -> list[JudgedQuery]:
    """The judged queries in ``folder/qrels.tsv``, in file order."""
    path = folder / "qrels.tsv"
    if not path.is_file():
        raise UnknownFormatError(f"no qrels.tsv in {folder}; a judgments folder needs one")
    queries: dict[str, JudgedQuery] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        for line, row in enumerate(reader, start=1):
            query_id = row.get("esci_query_id") or row.get("query_id")
            if not query_id or not row.get("query") or not row.get("product_id"):
                raise ValidationError(
                    str(path), line, "query_id", "needs query_id, query, product_id"
                )
            judged = queries.setdefault(query_id, JudgedQuery(query_id, row["query"]))
            judged.grades[row["product_id"]] = _grade(row, str(path), line)
    return list(queries.values())


def _product(data: dict[str, Any]) -> Product:
    """A catalog product from an ESCI product record (or a ShopSense catalog row)."""
    if "asin" not in data:
        return Product.model_validate(data)
    text = " ".join(
        part for part in (data.get("description") or "", data.get("bullet_points") or "") if part
    )
    attributes = {
        key: data[key]
        for key in ("color", "rating", "rating_count", "is_book")
        if data.get(key) not in (None, "")
    }
    return Product(
        id=data["asin"],
        title=(data.get("title") or "").strip() or data["asin"],
        description=text,
        brand=data.get("brand") or None,
        category=list(data.get("category") or []),
        price=data.get("price"),
        attributes=attributes,
    )


def iter_products(folder: Path) -> Iterator[Product]:
    """Products of a judgments folder (``products.jsonl.gz`` or ``products.jsonl``)."""
    for name in ("products.jsonl.gz", "products.jsonl"):
        path = folder / name
        if path.is_file():
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as lines:
                for number, line in enumerate(lines, start=1):
                    if not line.strip():
                        continue
                    try:
                        yield _product(json.loads(line))
                    except (PydanticValidationError, ValueError) as exc:
                        raise ValidationError(str(path), number, "product", str(exc)) from exc
            return
    raise UnknownFormatError(f"no products.jsonl[.gz] in {folder}")
