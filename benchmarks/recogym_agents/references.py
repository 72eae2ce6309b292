"""A reference policy the RecoGym benchmark adds to RecoGym's own: the most-viewed product."""

import numpy as np
from oracle_agents import FixedItemAgent


class MostViewedAgent(FixedItemAgent):
    """Always the product viewed most in the training logs (popularity)."""

    def fit_events(self, events):
        views = [e["item"] for e in events if e["kind"] == "view"]
        self.item = int(np.bincount(views, minlength=int(self.config.num_products)).argmax())
