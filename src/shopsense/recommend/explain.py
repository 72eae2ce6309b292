"""Why an item is shown, in words a shopper understands.

- personal lists: the history item most similar to the recommendation,
  "because you viewed X" / "because you bought X" / "because you added X to your cart";
- item pages: "similar to X", "often bought with X";
- popularity: "popular in Y" (the product's top-level category);
- search: "matches 'query'".

Example::

    >>> from shopsense.domain import EventKind
    >>> because(EventKind.PURCHASE, "Chef's Knife")
    "because you bought Chef's Knife"
    >>> popular_in("Kitchen")
    'popular in Kitchen'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from shopsense.domain import EventKind
from shopsense.models.base import Recommender
from shopsense.recommend.models import pair_similarity

_VERBS = {
    EventKind.PURCHASE: "because you bought {}",
    EventKind.ADD_TO_CART: "because you added {} to your cart",
    EventKind.CLICK: "because you viewed {}",
    EventKind.VIEW: "because you viewed {}",
}
#: Titles longer than this are cut in explanations.
TITLE_CHARS = 60


def short(title: str) -> str:
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1].rstrip() + "…"


def because(kind: EventKind, title: str) -> str:
    return _VERBS.get(kind, "because you viewed {}").format(short(title))


def popular_in(category: str) -> str:
    return f"popular in {category}" if category else "popular right now"


def similar_to(title: str) -> str:
    return f"similar to {short(title)}"


def bought_with(title: str) -> str:
    return f"often bought with {short(title)}"


def matches(query: str) -> str:
    return f"matches '{query.strip()[:80]}'"


def closest_history_items(
    model: Recommender, history: Sequence[str], recommended: Sequence[str]
) -> list[str | None]:
    """For each recommended item, the most similar item of ``history`` (``None`` if none is).

    ``history`` is item ids, oldest first; only the last 20 distinct are compared, and a
    later item wins ties, so the explanation points at what the shopper did most recently.
    """
    recent = list(dict.fromkeys(reversed(history)))[:20]
    anchors = model.items_.indices(recent)
    targets = model.items_.indices(list(recommended))
    known_a = anchors >= 0
    known_t = targets >= 0
    found: list[str | None] = [None] * len(recommended)
    if not known_a.any() or not known_t.any():
        return found
    similarity = pair_similarity(model, anchors[known_a], targets[known_t])
    if similarity is None:
        return found
    anchor_ids = [r for r, k in zip(recent, known_a, strict=True) if k]
    best = np.argmax(similarity, axis=0)  # first max = most recent anchor
    best_value = similarity[best, np.arange(similarity.shape[1])]
    slots = np.flatnonzero(known_t)
    for slot, index, value in zip(slots, best, best_value, strict=True):
        if value > 0:
            found[int(slot)] = anchor_ids[int(index)]
    return found


def closest_by_any(
    models: Sequence[Recommender], history: Sequence[str], recommended: Sequence[str]
) -> list[str | None]:
    """:func:`closest_history_items` by the first of ``models`` with a positive similarity
    for each recommended item: a stack's candidates come from several models, and one
    model's item vectors may know nothing of an item another retrieved it by (the item
    tower, by content)."""
    found: list[str | None] = [None] * len(recommended)
    for model in models:
        open_slots = [i for i, anchor in enumerate(found) if anchor is None]
        if not open_slots:
            break
        more = closest_history_items(model, history, [recommended[i] for i in open_slots])
        for slot, anchor in zip(open_slots, more, strict=True):
            found[slot] = anchor
    return found


def last_kind(kinds: Mapping[str, EventKind], item_id: str) -> EventKind:
    return kinds.get(item_id, EventKind.VIEW)
