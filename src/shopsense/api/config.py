"""Serving settings: ``SHOPSENSE_*`` environment variables, read when the server starts.

Example::

    >>> config = ServeConfig(api_key="s3cret", public_reads=False)
    >>> config.max_batch
    1000
"""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shopsense.errors import ConfigError


class ServeConfig(BaseSettings):
    """How the API behaves; every field has a ``SHOPSENSE_`` variable (``SHOPSENSE_API_KEY``)."""

    model_config = SettingsConfigDict(env_prefix="SHOPSENSE_", extra="ignore")

    #: Key for write and admin endpoints, sent as ``X-API-Key``. ``None``: a random key is
    #: made at start-up (printed once), and only loopback addresses may be served.
    api_key: SecretStr | None = None
    #: Read endpoints (search, recommendations, similar, health) without a key.
    public_reads: bool = True
    #: Largest request body accepted, in bytes (413 above it).
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    #: Most events or products in one POST / PUT.
    max_batch: int = Field(default=1000, ge=1, le=10_000)
    #: Recent relevant events kept in memory per shopper.
    history_per_user: int = Field(default=50, ge=1, le=1000)
    #: Retrain in the background every this many seconds (0: only on POST /admin/train).
    retrain_every_s: float = Field(default=0.0, ge=0.0)
    #: Retrieval models the server's training tries on validation (comma-separated registry
    #: names; empty: the default stack's candidates).
    train_models: str = ""
    #: Share of the slots of a "for you" list filled by exploration (a random candidate from
    #: below the list, its propensity logged); 0 serves the greedy ranking.
    exploration: float = Field(default=0.02, ge=0.0, le=1.0)
    #: Candidates below the list that exploration draws from.
    exploration_pool: int = Field(default=40, ge=1, le=500)
    #: Seed of exploration's draws, for reproducible simulations and tests (unset: fresh
    #: at every start; with the seed, the same requests in the same order explore alike).
    exploration_seed: int | None = Field(default=None, ge=0)
    #: Log an impression (with position and propensity) for every item of every served list.
    log_impressions: bool = True
    #: Recent impressions kept in memory per shopper (shown and not clicked counts at once).
    impressions_per_user: int = Field(default=50, ge=0, le=1000)
    #: Quality gate: the relative drop a new bundle may have against the served one (like
    #: with like: see ``shopsense.pipeline.QualityGate``).
    gate_tolerance: float = Field(default=0.05, ge=0.0, le=1.0)
    #: Answers kept for repeated identical requests (0 disables; a new event, product or
    #: model changes the key, so cached answers are never stale). With impressions logged,
    #: only anonymous answers repeat: a shopper's list joins their history as impressions.
    result_cache: int = Field(default=20_000, ge=0)
    #: A/B experiments (TOML or JSON); default ``<data dir>/experiments.toml`` if present.
    experiments_file: Path | None = None
    #: Events on products outside the catalog are refused unless this is set.
    allow_unknown_items: bool = False
    #: Seconds between looks at the store for catalog changes made by other processes
    #: (``shopsense ingest catalog``, another server); 0: never (only this server's writes).
    follow_changes_s: float = Field(default=2.0, ge=0.0)
    #: Serving processes sharing this store (``shopsense serve --workers N``).
    workers: int = Field(default=1, ge=1, le=64)
    #: Seconds between looks at the store for events other processes stored (another
    #: worker, another server on the same PostgreSQL, ``shopsense ingest``), so they change
    #: this process's next answers; 0: never. Unset: 0.25 with several workers or on
    #: PostgreSQL, else never (one process on SQLite stores every served event itself, and
    #: reading its own impressions back would only cost CPU).
    follow_events_s: float | None = Field(default=None, ge=0.0)
    #: Storefront: ``/?as=SHOPPER`` browses as any shopper (the sample shop's demo only;
    #: never on a real shop: anybody could act for anybody).
    demo_shoppers: bool = False
    #: Storefront writes (page events, add to cart, checkout) per client address, in the
    #: ``limits`` notation (``"120/minute"``, ``"5/second"``); empty: no limit.
    shop_write_limit: str = "120/minute"

    @field_validator("shop_write_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        if value:
            from limits import parse

            parse(value)  # ValueError names what is wrong
        return value

    def events_period_s(self, database_url: str) -> float:
        """How often this server reads back events other processes stored (0: never)."""
        if self.follow_events_s is not None:
            return self.follow_events_s
        shared = self.workers > 1 or database_url.startswith("postgresql")
        return 0.25 if shared else 0.0

    def key(self) -> str:
        """The API key, making a random one when none is configured."""
        if self.api_key is None:
            self.api_key = SecretStr(secrets.token_urlsafe(24))
        return self.api_key.get_secret_value()


def is_loopback(host: str) -> bool:
    """``True`` for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, config: ServeConfig) -> None:
    """Refuse to serve a non-loopback address without a configured API key."""
    if not is_loopback(host) and config.api_key is None:
        raise ConfigError(
            f"refusing to listen on {host} without an API key: set SHOPSENSE_API_KEY "
            "(write and admin endpoints check it), or serve on 127.0.0.1"
        )
