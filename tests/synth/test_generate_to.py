"""The streaming generator (``shopsense generate``) writes the very shop the in-memory one
makes, a chunk of events at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from shopsense.synth import ShopConfig, generate_shop, generate_to, write_shop


@pytest.mark.parametrize("chunk_rows", [97, 0])
def test_streamed_shop_equals_the_in_memory_one(tmp_path: Path, chunk_rows: int) -> None:
    config = ShopConfig(n_products=120, n_users=60, seed=5)
    whole = write_shop(generate_shop(config), tmp_path / "whole")
    files, products, events = generate_to(config, tmp_path / "streamed", chunk_rows=chunk_rows)
    expected = pq.read_table(whole.events)
    streamed = pq.read_table(files.events)
    assert (products, events) == (120, expected.num_rows)
    if chunk_rows:
        assert pq.ParquetFile(files.events).num_row_groups > 1  # written in pieces
    assert streamed.to_pylist() == expected.to_pylist()
    assert files.catalog.read_text() == whole.catalog.read_text()
    assert json.loads((files.truth / "truth.json").read_text()) == json.loads(
        (whole.truth / "truth.json").read_text()
    )
    times = streamed.column("timestamp").to_pylist()
    assert times == sorted(times)
    assert not list(files.events.parent.glob("*.writing"))
