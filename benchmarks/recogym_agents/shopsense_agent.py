"""ShopSense's default stack as a RecoGym agent, through the public Python API only.

Loaded by ``../shared/recogym/harness.py`` (``--agent shopsense_agent:ShopSenseAgent``) with
this folder on ``PYTHONPATH``. RecoGym's events become ShopSense events: an organic ``view``
is a view; a recommendation shown is an ``impression`` (with the logging policy's
propensity) and, when clicked, a ``click`` on the same request.
"""

import numpy as np
from example_agents import EventsAdapter

import shopsense


def as_events(events):
    out = []
    for k, e in enumerate(events):
        event = {"user_id": str(e["user"]), "item_id": str(e["item"]), "timestamp": e["t"]}
        if e["kind"] == "view":
            out.append({**event, "kind": "view"})
            continue
        shown = {**event, "request_id": f"{e['user']}-{k}", "position": 0}
        out.append({**shown, "kind": "impression", "propensity": e.get("ps") or None})
        if e["kind"] == "click":
            out.append({**shown, "kind": "click"})
    return out


class ShopSenseAgent(EventsAdapter):
    """Trains ``shopsense.train`` on the logs; recommends the stack's top item for clicks."""

    def fit(self, events):
        config = shopsense.StackConfig(objective="click")
        self.stack = shopsense.train(shopsense.Dataset.from_events(as_events(events)), config)

    def score(self, history):
        top = self.stack.recommend(as_events(history), n=1, objective="click").item_ids
        scores = np.zeros(self.num_products)
        scores[int(top[0])] = 1.0
        return scores
