"""ShopSense: self-hosted AI search and recommendations for online shops.

The public Python API fits the default stack to your own events, no store needed::

    >>> import shopsense                                                  # doctest: +SKIP
    >>> data = shopsense.Dataset.from_events(events)                      # doctest: +SKIP
    >>> stack = shopsense.train(data)                                     # doctest: +SKIP
    >>> stack.recommend([{"item_id": "p1", "kind": "view"}], n=5).item_ids  # doctest: +SKIP
    >>> stack.save("my-stack"); stack = shopsense.load("my-stack")        # doctest: +SKIP

(Names are imported on first use, so ``import shopsense`` stays light.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Dataset", "Stack", "StackConfig", "load", "train"]

if TYPE_CHECKING:
    from shopsense.dataset import Dataset
    from shopsense.ranking.stack import Stack, StackConfig


def train(dataset: Dataset, config: StackConfig | None = None, **options: Any) -> Stack:
    """The default stack for ``dataset``: retrieval models chosen on validation, the
    feedback ranker once there are enough logged impressions
    (:func:`shopsense.training.train_stack`)."""
    from shopsense.training import train_stack

    return train_stack(dataset, config, **options)


def load(path: str | Path) -> Stack:
    """A stack saved with ``stack.save(path)``."""
    from shopsense.ranking.stack import Stack

    return Stack.load(Path(path))


def __getattr__(name: str) -> Any:
    if name == "Dataset":
        from shopsense.dataset import Dataset

        return Dataset
    if name in ("Stack", "StackConfig"):
        from shopsense.ranking import stack

        return getattr(stack, name)
    raise AttributeError(f"module 'shopsense' has no attribute {name!r}")
