"""Experiment configuration: variants (a policy / model and its ranking settings) and a split.

An experiment file is JSON or TOML::

    # experiments.toml
    [[experiments]]
    name = "ranker-vs-als"
    [[experiments.variants]]
    name = "control"
    policy = "als"
    weight = 50
    [[experiments.variants]]
    name = "treatment"
    policy = "stack"
    weight = 50
    params = { objective = "conversion" }

The first variant is the control. ``salt`` (default: the name) seeds the user hash, so
renaming an experiment reshuffles its users; keep the salt to keep assignments.
``start`` (a TOML date-time such as ``2026-12-01T09:00:00Z``, or a date: midnight UTC) is
when the experiment began: live results count only events from then on. Without it, a
server takes the moment it first served the experiment (kept in the data directory, see
:mod:`shopsense.api.experiments`).

Example::

    >>> experiments = load_experiments(Path("experiments.toml"))   # doctest: +SKIP
    >>> experiments = parse_experiments({"experiments": [{         # the same, already parsed
    ...     "name": "ranker-vs-als",
    ...     "variants": [{"name": "control", "policy": "als", "weight": 50},
    ...                  {"name": "treatment", "policy": "stack", "weight": 50,
    ...                   "params": {"objective": "conversion"}}],
    ... }]})
    >>> experiments[0].variant_names
    ['control', 'treatment']
"""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from shopsense.errors import ConfigError


class Variant(BaseModel):
    """One arm: a name, the policy that serves it (``stack`` or a model name), its
    settings (e.g. ``{"objective": "revenue"}``) and its share of traffic (relative)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    policy: str = "popularity"
    params: dict[str, Any] = Field(default_factory=dict)
    weight: float = Field(default=1.0, gt=0)


class Experiment(BaseModel):
    """Variants (at least two, unique names; the first is the control) and a hash salt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128)
    variants: list[Variant] = Field(min_length=2)
    salt: str | None = None
    #: When it began (UTC when no zone is given); results count events from then on.
    start: datetime | None = None

    @field_validator("start", mode="before")
    @classmethod
    def _midnight_utc(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime.combine(value, time(), UTC)
        return value

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> Experiment:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        return self

    @property
    def variant_names(self) -> list[str]:
        return [v.name for v in self.variants]

    @property
    def total_weight(self) -> float:
        return float(sum(v.weight for v in self.variants))

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise ConfigError(f"experiment {self.name!r} has no variant {name!r}")


class ExperimentFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiments: list[Experiment] = Field(min_length=1)


def parse_experiments(data: Any, source: str = "experiments") -> list[Experiment]:
    """Validate already-parsed JSON / TOML (``{"experiments": [...]}``)."""
    try:
        return ExperimentFile.model_validate(data).experiments
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            f"{source}: {where}: {first['msg']}; see docs/conversion.md for the format"
        ) from exc


def load_experiments(path: Path) -> list[Experiment]:
    """Read experiments from a ``.json`` or ``.toml`` file."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read experiments file {path}: {exc}") from exc
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not valid {path.suffix.lstrip('.')}: {exc}") from exc
    return parse_experiments(data, str(path))
