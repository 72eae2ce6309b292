"""A small shop with logged feedback whose right answer is known.

Shoppers browse (view) the products by popularity, ``P0`` most. Recommendations were logged
by a uniformly random policy (propensity 1/20): ``P0`` is never clicked when shown, ``P19``
(rarely browsed) is clicked 40% of the time, the rest 3%; every time a shopper was shown a
product and did not click it, their chance of clicking it later falls to a third. A ranker
that learns from what shoppers were shown puts ``P19`` first for clicks and lowers a
product shown and not clicked; browsing alone puts ``P0`` first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

N_ITEMS = 20
CLICK_RATE = {"P0": 0.0, "P19": 0.4}


def feedback_events(
    n_users: int = 300, seed: int = 0, impressions: bool = True
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    popularity = np.exp(-0.3 * np.arange(N_ITEMS))
    popularity /= popularity.sum()
    events: list[dict[str, Any]] = []
    for u in range(n_users):
        t = float(u * 1000)
        assortment = rng.choice(N_ITEMS, size=6, replace=False)  # what this shopper is shown
        skips: dict[str, int] = {}
        for step in range(12):
            t += 1.0
            item = f"P{rng.choice(N_ITEMS, p=popularity)}"
            events.append({"user_id": f"U{u}", "item_id": item, "kind": "view", "timestamp": t})
            if not impressions or step % 2:
                continue
            t += 1.0
            shown = f"P{rng.choice(assortment)}"
            request = f"R{u}-{step}"
            events.append(
                {
                    "user_id": f"U{u}",
                    "item_id": shown,
                    "kind": "impression",
                    "request_id": request,
                    "position": 0,
                    "propensity": 1.0 / 6,
                    "timestamp": t,
                }
            )
            fatigue = (1.0 / 3.0) ** skips.get(shown, 0)
            if rng.random() >= CLICK_RATE.get(shown, 0.03) * fatigue:
                skips[shown] = skips.get(shown, 0) + 1
            else:
                t += 1.0
                events.append(
                    {
                        "user_id": f"U{u}",
                        "item_id": shown,
                        "kind": "click",
                        "request_id": request,
                        "timestamp": t,
                    }
                )
    return events
