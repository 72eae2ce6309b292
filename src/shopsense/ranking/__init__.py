"""Features and training data for the multi-task re-ranker (:mod:`shopsense.models.ranker`).

- :mod:`.features`: the catalog's item table, item statistics learned from the event log,
  a shopper's running state, and the :class:`~.features.FeatureBuilder` that turns
  ``(shopper, candidates, retrieval scores)`` into feature rows;
- :mod:`.logged`: replays an event log, rebuilds what was known at each logged request
  and labels every impression with *clicked* and *purchased*;
- :mod:`.stack`: the full stack: candidates from several retrieval models, re-ranked.
"""
