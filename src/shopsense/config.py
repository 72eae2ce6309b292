"""Settings: one pydantic object, read from ``SHOPSENSE_*`` environment variables.

Settings are built once (by the CLI or the API factory) and passed in; nothing reads the
environment at import time.

Example::

    >>> from shopsense.config import Settings
    >>> s = Settings(data_dir="/tmp/shop")
    >>> s.database_url.startswith("sqlite:///")
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shopsense.domain import DEFAULT_EVENT_WEIGHTS, EventKind
from shopsense.limits import DEFAULT_MAX_CLOCK_SKEW_S


class EventWeights(BaseModel):
    """Confidence weight of each event kind when events become an interaction matrix."""

    weights: dict[EventKind, float] = Field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))
    #: Half-life of the time decay in days; ``None`` disables decay.
    half_life_days: float | None = None

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, value: dict[EventKind, float]) -> dict[EventKind, float]:
        for kind, weight in value.items():
            if weight < 0:
                raise ValueError(f"weight of {kind.value} must be >= 0, got {weight}")
        merged = dict(DEFAULT_EVENT_WEIGHTS)
        merged.update(value)
        return merged


class IngestConfig(BaseModel):
    """How files are written into the store."""

    batch_size: int = Field(default=10_000, ge=1)
    #: How many failure reasons an ingest report keeps.
    max_reported_failures: int = Field(default=10, ge=1)


class Settings(BaseSettings):
    """Everything configurable, with ``SHOPSENSE_`` environment variables as overrides."""

    model_config = SettingsConfigDict(env_prefix="SHOPSENSE_", env_nested_delimiter="__")

    data_dir: Path = Path("shopsense-data")
    #: SQLAlchemy URL; empty means an SQLite file inside ``data_dir``.
    database_url: str = ""
    event_weights: EventWeights = Field(default_factory=EventWeights)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    seed: int = 42
    #: How far ahead of this machine's clock an event's timestamp may be (seconds); later
    #: ones are refused, naming the row or JSON path (see docs/limits.md).
    max_clock_skew_s: float = Field(default=DEFAULT_MAX_CLOCK_SKEW_S, ge=0)
    #: Text encoder of product search: ``minilm`` (all-MiniLM-L6-v2, best quality, ~80-190
    #: products/s to index on two cores), ``minilm-int8`` (the same with int8 weights through
    #: onnxruntime: 1.4-2.3x faster, slightly different vectors; see BENCHMARKS.md) or ``static``
    #: (Model2Vec distilled from it, ~100x faster to index, lower quality; see docs/search.md).
    search_encoder: Literal["minilm", "minilm-int8", "static"] = "minilm"
    #: How bundles store learned float arrays (factors, item vectors, similarity matrices):
    #: ``float16`` halves them on disk, read back as float32 (the NDCG it costs is measured
    #: by ``benchmarks/factor_precision.py``; see BENCHMARKS.md).
    bundle_precision: Literal["float32", "float16"] = "float32"

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'shopsense.db').resolve()}"
        return self

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def search_embeddings_dir(self) -> Path:
        """Where the search index keeps its product vectors (one file per encoder)."""
        return self.data_dir / "search" / "embeddings"
