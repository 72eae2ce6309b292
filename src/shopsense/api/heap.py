"""Keeping full garbage collections short on a server with a large long-lived heap."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect, then move every object alive now out of the garbage collector's sight.

    Called once the long-lived state (modules, catalog, models, search index) is loaded:
    later full collections then walk only what requests created since, instead of
    stalling every request for the whole heap. Frozen objects are still freed by
    reference counting when they go away.
    """
    gc.collect()
    gc.freeze()
