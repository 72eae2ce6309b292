"""Search logs turned into graded judgments for the ranker.

A served search is a ``search`` event (the query) and ``impression`` events sharing its
``request_id``. Per (query, product), the best thing the shopper did after seeing it gives
the grade: shown only 0, clicked 1, added to cart 2, bought 3 (carts and purchases count
when they follow a click on that product in the same session). Queries are normalised
(lower case, single spaces) so repeated searches pool their evidence.

This is the plain "best action" reading of clicks; it does not correct position bias, so
prefer judgments from enough varied traffic (or a share of randomised result lists).

Example::

    >>> queries = judgments_from_events(store.events.iter_batches())   # doctest: +SKIP
    >>> ranker = train_ranker(collect(engine, queries, "retrieval"), "retrieval")  # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from shopsense.domain import EventKind
from shopsense.search.judgments import JudgedQuery
from shopsense.store.base import EventBatch

_GRADE = {EventKind.CLICK.value: 1, EventKind.ADD_TO_CART.value: 2, EventKind.PURCHASE.value: 3}


def judgments_from_events(
    batches: Iterable[EventBatch], min_requests: int = 1
) -> list[JudgedQuery]:
    """Judged queries from search logs; queries seen in fewer than ``min_requests`` served
    searches, or where nothing was ever clicked, are left out."""
    query_of: dict[str, str] = {}
    shown: dict[str, set[str]] = defaultdict(set)
    clicked: dict[tuple[str, str], str] = {}  # (session or user, item) -> request
    grades: dict[str, dict[str, int]] = defaultdict(dict)  # request -> item -> grade
    for batch in batches:
        for i in range(len(batch)):
            kind, request, item = batch.kind[i], batch.request_id[i], batch.item_id[i]
            if kind == EventKind.SEARCH.value and request is not None and batch.query[i]:
                query_of[request] = " ".join(str(batch.query[i]).lower().split())
            elif kind == EventKind.IMPRESSION.value and request is not None and item:
                shown[request].add(item)
            elif kind in _GRADE and item:
                visit = batch.session_id[i] or batch.user_id[i]
                if kind == EventKind.CLICK.value and request is not None:
                    clicked[(visit, item)] = request
                    target = request
                else:
                    target = clicked.get((visit, item), "")
                if target:
                    old = grades[target].get(item, 0)
                    grades[target][item] = max(old, _GRADE[kind])
    pooled: dict[str, JudgedQuery] = {}
    requests: dict[str, int] = defaultdict(int)
    for request, query in query_of.items():
        judged = pooled.setdefault(query, JudgedQuery(f"log:{len(pooled)}", query))
        requests[query] += 1
        for item in shown.get(request, ()):
            judged.grades.setdefault(item, 0)
        for item, grade in grades.get(request, {}).items():
            judged.grades[item] = max(judged.grades.get(item, 0), grade)
    return [
        q
        for text, q in pooled.items()
        if requests[text] >= min_requests and any(g > 0 for g in q.grades.values())
    ]
