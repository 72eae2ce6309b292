"""Offline search evaluation on judged queries (ESCI format), two protocols.

- ``rerank``: each query's judged products are ranked (ESCI task 1);
- ``retrieval``: the whole catalog is searched; unjudged products count as irrelevant.

Methods: ``random``, ``bm25_plain`` (tantivy BM25 over the query as typed: the baseline),
``bm25`` (the same after query understanding: price phrases and negated words such as
"without mugs" leave the text), ``semantic`` (MiniLM cosine), ``hybrid``
(weighted fusion, its weight tuned on the training queries), ``hybrid_z`` (the same with
both scores z-scored per query), ``hybrid_rrf``, and
``hybrid_ltr`` (LightGBM lambdarank over the hybrid candidates). Without a training set,
the fusion weight and the ranker (hyper-parameters picked by an inner cross-validation)
are learned by k-fold cross-validation over queries: a query is never scored by a model
that saw it. Score ties are broken at random (judgment files list Exact products first).

NDCG@10 uses ESCI gains (E=1, S=0.1, C=0.01, I=0); Recall@50 and MRR count Exact products.

Example::

    >>> from shopsense.search.judgments import read_judgments
    >>> folder = Path("../shared/datasets/esci-sample")
    >>> engine = esci_engine(folder)                                          # doctest: +SKIP
    >>> report = evaluate(engine, read_judgments(folder))                     # doctest: +SKIP
    >>> report["rerank"]["hybrid_ltr"]["NDCG@10"]                             # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from shopsense import progress
from shopsense.features.embedding_store import encoder_id
from shopsense.features.text import TextEncoder
from shopsense.metrics import ndcg_at_k, recall_at_k, reciprocal_rank
from shopsense.ranking.search_ranker import SearchRanker
from shopsense.search.engine import SearchConfig, SearchEngine
from shopsense.search.features import FEATURES
from shopsense.search.filters import Filters
from shopsense.search.fusion import demote, weighted
from shopsense.search.judgments import ESCI_GAINS, JudgedQuery, iter_products

logger = logging.getLogger(__name__)

PROTOCOLS = ("rerank", "retrieval")
METHODS = (
    "random",
    "bm25_plain",
    "bm25",
    "semantic",
    "hybrid",
    "hybrid_z",
    "hybrid_rrf",
    "hybrid_ltr",
)
TIE_DRAWS = 10
WEIGHTS: tuple[float, ...] = tuple(round(float(w), 2) for w in np.linspace(0.0, 1.0, 11))
#: Small trees: a few dozen training queries overfit anything larger (esci-sample: 15 leaves
#: x 300 trees scored 0.685, 3 leaves x 200 trees 0.737 NDCG@10 in cross-validation).
RANKER_GRID = (
    {"num_leaves": 3, "n_estimators": 200, "min_child_samples": 30},
    {"num_leaves": 7, "n_estimators": 150, "min_child_samples": 20},
)


@dataclass
class QueryRun:
    """One query's candidates under one protocol; arrays have shape ``(n,)`` or ``(n, F)``."""

    query: JudgedQuery
    ids: list[str]
    bm25: npt.NDArray[np.float32]
    cosine: npt.NDArray[np.float32]
    rrf: npt.NDArray[np.float32]
    features: npt.NDArray[np.float32]  # of the first ``len(features)`` candidates by ``head``
    head: npt.NDArray[np.intp]
    grades: npt.NDArray[np.int32]
    bm25_list: list[str]
    semantic_list: list[str]
    bm25_plain: npt.NDArray[np.float32]  # aligned with ``ids``; BM25 of the raw query
    bm25_plain_list: list[str]
    excluded: npt.NDArray[np.float32] | None  # share of excluded words per title
    penalty: float


#: Products encoded per progress step (the encoder batches within it).
ENCODE_CHUNK = 1024


def esci_engine(
    folder: Path, encoder: TextEncoder | None = None, cache: Path | None = None
) -> SearchEngine:
    """A search engine over a judgments folder's products; embeddings cached in ``cache``."""
    products = list(iter_products(folder))
    engine = SearchEngine(SearchConfig(), encoder)
    texts = [engine.encoder.product_text(p) for p in products]
    vectors = None
    path = None
    if cache is not None:
        key = "\n".join([encoder_id(engine.encoder), *texts])
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        path = cache / f"embeddings-{digest}.npy"
        if path.is_file():
            vectors = np.load(path)
    if vectors is None:
        vectors = _encode(engine.encoder, texts)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, vectors)
    for start in range(0, len(products), 4096):
        engine.upsert(products[start : start + 4096], vectors[start : start + 4096])
    return engine


def _encode(encoder: TextEncoder, texts: list[str]) -> npt.NDArray[np.float32]:
    """``(len(texts), dim)`` vectors, encoded a chunk at a time to show progress."""
    parts = [np.zeros((0, encoder.dimension), np.float32)]
    with progress.task("encoding products", total=len(texts), unit="products") as advance:
        for start in range(0, len(texts), ENCODE_CHUNK):
            parts.append(encoder.encode(texts[start : start + ENCODE_CHUNK]))
            advance(len(parts[-1]))
    return np.concatenate(parts).astype(np.float32, copy=False)


def _order(scores: npt.NDArray[np.floating], rng: np.random.Generator) -> npt.NDArray[np.intp]:
    """Descending order with ties broken at random."""
    return np.lexsort((rng.random(len(scores)), -np.asarray(scores, np.float64)))


def collect(engine: SearchEngine, queries: Sequence[JudgedQuery], protocol: str) -> list[QueryRun]:
    """Evidence and features of every query's candidates under ``protocol``."""
    retriever = engine.retriever
    config = engine.config
    runs = []
    for query in progress.track(queries, f"{protocol}: candidates per query", unit="queries"):
        if protocol == "rerank":
            known = [pid for pid in query.grades if pid in engine.rows.row_of]
            rows = np.asarray([engine.rows.row_of[pid] for pid in known], np.int64)
            found = retriever.judge(query.text, rows, understand=config.understand)
        else:
            found = retriever.retrieve(query.text, Filters(), config)
        ev = found.evidence
        ids = [engine.rows.product(int(r)).id for r in found.rows]
        rrf = retriever.fuse(ev, replace(config, fusion="rrf"))
        fused = retriever.fuse(ev, config)
        head = np.argsort(-fused, kind="stable")[: config.rerank_depth]
        if protocol == "rerank":
            head = np.arange(len(ids))
        features = retriever.features(found, head)
        bm25_rows, _ = engine.lexical.search(found.evidence.parsed.text, 100)
        vector = engine.encoder.encode_query(found.evidence.parsed.text or query.text)
        semantic_rows, _ = engine.vectors.search(vector, 100)
        plain_rows, plain_scores = engine.lexical.search(query.text, 100)
        if protocol == "rerank":
            plain = retriever.judge(query.text, found.rows, understand=False).evidence.bm25
        else:
            score_of = dict(zip(plain_rows.tolist(), plain_scores.tolist(), strict=True))
            plain = np.asarray([score_of.get(int(r), 0.0) for r in found.rows], np.float32)
        runs.append(
            QueryRun(
                query=query,
                ids=ids,
                bm25=ev.bm25,
                cosine=ev.cosine,
                rrf=rrf,
                features=features,
                head=head,
                grades=np.asarray([query.grades.get(i, 0) for i in ids], np.int32),
                bm25_list=[engine.rows.product(int(r)).id for r in bm25_rows],
                semantic_list=[engine.rows.product(int(r)).id for r in semantic_rows],
                bm25_plain=plain,
                bm25_plain_list=[engine.rows.product(int(r)).id for r in plain_rows],
                excluded=ev.excluded,
                penalty=config.exclusion_penalty,
            )
        )
    return runs


def metrics(ranked: Sequence[str], query: JudgedQuery) -> dict[str, float]:
    gains = query.gains(ESCI_GAINS)
    exact = {pid: 1.0 for pid, grade in query.grades.items() if grade == 3}
    return {
        "NDCG@10": ndcg_at_k(list(ranked), gains, 10),
        "Recall@50": recall_at_k(list(ranked), exact, 50),
        "MRR": reciprocal_rank(list(ranked), exact),
    }


def _ranking(
    run: QueryRun,
    method: str,
    protocol: str,
    rng: np.random.Generator,
    weight: float,
    ranker: SearchRanker | None,
) -> list[str]:
    ids = run.ids
    if method == "random":
        return [ids[i] for i in rng.permutation(len(ids))]
    if protocol == "retrieval" and method in ("bm25_plain", "bm25", "semantic"):
        lists = {"bm25_plain": run.bm25_plain_list, "bm25": run.bm25_list}
        return lists.get(method, run.semantic_list)
    if method == "bm25_plain":
        scores = run.bm25_plain
    elif method == "bm25":
        scores = run.bm25
    elif method == "semantic":
        scores = run.cosine
    elif method == "hybrid_rrf":
        scores = run.rrf
    elif method == "hybrid_z":
        scores = demote(weighted(run.bm25, run.cosine, weight, "z"), run.excluded, run.penalty)
    else:
        scores = demote(weighted(run.bm25, run.cosine, weight), run.excluded, run.penalty)
        if method == "hybrid_ltr" and ranker is not None:
            scores = _with_ranker(run, scores, ranker)
    return [ids[i] for i in _order(scores, rng)]


def _with_ranker(
    run: QueryRun, fused: npt.NDArray[np.float32], ranker: SearchRanker
) -> npt.NDArray[np.float32]:
    learned = ranker.predict(run.features)
    result = np.full(len(fused), -np.inf, np.float32)
    head_mask = np.zeros(len(fused), bool)
    head_mask[run.head] = True
    result[run.head] = learned
    rest = np.flatnonzero(~head_mask)
    if len(rest):
        floor = float(learned.min()) - 1.0 if len(learned) else 0.0
        result[rest] = floor - 1e-3 * (1.0 + np.argsort(np.argsort(-fused[rest])))
    return result


def _mean_ndcg(
    runs: Sequence[QueryRun],
    protocol: str,
    weight: float,
    ranker: SearchRanker | None,
    method: str,
) -> float:
    rng = np.random.default_rng(0)
    values = [
        metrics(_ranking(r, method, protocol, rng, weight, ranker), r.query)["NDCG@10"]
        for r in runs
    ]
    return float(np.mean(values)) if values else 0.0


def tune_weight(runs: Sequence[QueryRun], protocol: str, method: str = "hybrid") -> float:
    """The fusion weight of ``method`` with the best mean NDCG@10 on ``runs``."""
    return float(max(WEIGHTS, key=lambda w: _mean_ndcg(runs, protocol, w, None, method)))


def train_ranker(
    runs: Sequence[QueryRun], protocol: str, folds: int = 3, seed: int = 0
) -> SearchRanker:
    """A lambdarank model on ``runs``, hyper-parameters picked by ``folds``-fold CV."""
    usable = [r for r in runs if len(r.head)]

    def fit(train: Sequence[QueryRun], params: dict[str, int]) -> SearchRanker:
        ranker = SearchRanker(label_gain=ESCI_GAINS, seed=seed, **params)
        return ranker.fit([r.features for r in train], [r.grades[r.head] for r in train], FEATURES)

    best, best_score = RANKER_GRID[0], -1.0
    if len(usable) >= 2 * folds:
        for params in progress.track(RANKER_GRID, "ranker settings", unit="settings"):
            scores = []
            for train, test in _folds(usable, folds, seed):
                weight = tune_weight(train, protocol)
                scores.append(_mean_ndcg(test, protocol, weight, fit(train, params), "hybrid_ltr"))
            if np.mean(scores) > best_score:
                best, best_score = params, float(np.mean(scores))
    return fit(usable, best)


def _folds(
    runs: Sequence[QueryRun], k: int, seed: int
) -> list[tuple[list[QueryRun], list[QueryRun]]]:
    order = np.random.default_rng(seed).permutation(len(runs))
    parts = np.array_split(order, k)
    out = []
    for _i, part in enumerate(parts):
        test = set(part.tolist())
        out.append(([runs[j] for j in range(len(runs)) if j not in test], [runs[j] for j in part]))
    return out


def _score(
    test: Sequence[QueryRun], protocol: str, weights: dict[str, float], ranker: SearchRanker
) -> dict[str, list[dict[str, float]]]:
    per_method: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
    for run, method in itertools.product(test, METHODS):
        # Each method draws its own tie-breaks, averaged over TIE_DRAWS orders: the expected
        # metric under random tie-breaking, not one lucky (or unlucky) draw.
        rng = np.random.default_rng([1, METHODS.index(method)])
        weight = weights.get(method, weights["hybrid"])
        draws = [
            metrics(_ranking(run, method, protocol, rng, weight, ranker), run.query)
            for _ in range(TIE_DRAWS)
        ]
        per_method[method].append({k: float(np.mean([d[k] for d in draws])) for k in draws[0]})
    return per_method


def evaluate(
    engine: SearchEngine,
    queries: Sequence[JudgedQuery],
    train: tuple[SearchEngine, Sequence[JudgedQuery]] | None = None,
    folds: int = 5,
    seed: int = 0,
    protocols: Sequence[str] = PROTOCOLS,
    per_query: list[dict[str, object]] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Mean metrics per protocol and method (see the module docstring); with ``per_query``,
    each test query's metrics are appended to it too (``protocol``, ``method``, ``query``)."""
    report: dict[str, dict[str, dict[str, float]]] = {}
    for protocol in protocols:
        runs = collect(engine, queries, protocol)
        per_method: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
        if train is not None:
            train_runs = collect(train[0], train[1], protocol)
            splits = [(train_runs, runs)]
        else:
            splits = _folds(runs, folds, seed)
        chosen: dict[str, list[float]] = {"hybrid": [], "hybrid_z": []}
        for train_part, test_part in progress.track(splits, f"{protocol} folds", unit="folds"):
            weights = {m: tune_weight(train_part, protocol, m) for m in chosen}
            for m, w in weights.items():
                chosen[m].append(w)
            ranker = train_ranker(train_part, protocol, seed=seed)
            for method, values in _score(test_part, protocol, weights, ranker).items():
                per_method[method] += values
                if per_query is not None:
                    per_query += [
                        {"protocol": protocol, "method": method, "query": run.query.text, **v}
                        for run, v in zip(test_part, values, strict=True)
                    ]
            logger.info("%s fold: weights %s, %d test queries", protocol, weights, len(test_part))
        report[protocol] = {
            method: {k: float(np.mean([v[k] for v in values])) for k in values[0]}
            for method, values in per_method.items()
            if values
        }
        for m, ws in chosen.items():
            report[protocol][m]["lexical_weight"] = float(np.mean(ws))
    return report
