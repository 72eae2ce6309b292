"""``shopsense search``, ``shopsense evaluate-search`` and ``shopsense train-search``.

Example::

    $ shopsense search "waterproof running shoes under 80" --user U0042 -n 5
    $ shopsense evaluate-search --format esci --path ../shared/datasets/esci-sample --json
    $ shopsense train-search --judgments my-judgments/     # qrels.tsv over your catalog
    $ shopsense train-search --from-events                 # judgments from search logs

The engine is built from the store's catalog on first use and kept under
``DATA_DIR/search`` (rebuilt when the catalog's size changes); the newest trained bundle's
ALS model personalizes results for ``--user``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from shopsense import progress
from shopsense.commands import AddCommand, examples
from shopsense.config import Settings
from shopsense.errors import ConfigError, ModelError, UnknownFormatError

if TYPE_CHECKING:
    from shopsense.search import SearchEngine, SearchRanker

logger = logging.getLogger(__name__)


def out(line: str) -> None:
    """Command output goes to stdout (logging is for diagnostics)."""
    sys.stdout.write(line + "\n")


def engine_for_store(settings: Settings, rebuild: bool = False) -> SearchEngine:
    """The search engine over the store's catalog (loaded from ``DATA_DIR/search`` when it
    is current), personalized by the newest bundle's ALS model when there is one."""
    from shopsense.features.embedding_store import embedding_store
    from shopsense.features.text import default_encoder
    from shopsense.pipeline import latest_bundle
    from shopsense.recommend.models import ModelSet
    from shopsense.search import ModelAffinity, SearchEngine
    from shopsense.store import open_store

    directory = settings.data_dir / "search"
    store = open_store(settings)
    try:
        count = store.catalog.count()
        if count == 0:
            raise ConfigError(
                f"the catalog in {settings.data_dir} is empty; run `shopsense ingest catalog "
                "FILE` or `shopsense demo` first"
            )
        engine = None
        if not rebuild and (directory / "search.json").is_file():
            try:
                engine = SearchEngine.load(directory, default_encoder(settings.search_encoder))
            except ModelError as exc:
                logger.info("rebuilding the search engine: %s", exc)
                engine = None
            if engine is not None and len(engine) != count:
                engine = None
        if engine is None:
            catalog = (p for batch in store.catalog.iter_products() for p in batch)
            products = progress.track(
                catalog, "building the search index", total=count, unit="products"
            )
            ranker = engine_ranker(directory)
            encoder = default_encoder(settings.search_encoder)
            vectors = embedding_store(directory / "embeddings", encoder)
            engine = SearchEngine.build(products, encoder=encoder, embeddings=vectors)
            engine.ranker = ranker
            engine.save(directory)
    finally:
        store.close()
    with contextlib.suppress(ModelError):  # no bundle yet: unpersonalized search
        engine.personalizer = ModelAffinity(ModelSet.load(latest_bundle(settings)).personal)
    return engine


def engine_ranker(directory: Path) -> SearchRanker | None:
    """The ranker trained by ``train-search`` for this data dir, if any."""
    from shopsense.search import SearchRanker

    if (directory / "ranker").is_dir():
        return SearchRanker.load(directory / "ranker")
    return None


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.search import Filters

    engine = engine_for_store(settings)
    filters = Filters(
        categories=tuple(args.category or ()),
        brands=tuple(args.brand or ()),
        price_min=args.price_min,
        price_max=args.price_max,
        in_stock=True if args.in_stock else None,
    )
    result = engine.search(
        args.query,
        user_id=args.user,
        filters=filters,
        sort=args.sort,
        page=args.page,
        page_size=args.n,
        facets=args.json,
    )
    if args.json:
        out(json.dumps(result.to_dict(), indent=1))
        return 0
    personal = ", personalized" if result.personalized else ""
    out(f"{result.total} results for {args.query!r} in {result.took_ms:.1f} ms{personal}")
    if result.understood:
        out(f"understood: {', '.join(result.understood)}")
    for rank, hit in enumerate(result.items, start=(args.page - 1) * args.n + 1):
        price = f"{hit.price:.2f}" if hit.price is not None else "-"
        out(f"{rank:3d}. {hit.id}  {hit.title}  [{price}]  {hit.score:.3f}")
        out(f"     {hit.explanation}")
    return 0


def cmd_evaluate_search(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.evaluation.search import PROTOCOLS, esci_engine, evaluate
    from shopsense.search.judgments import read_judgments

    if args.format != "esci":
        raise UnknownFormatError(f"unknown judgments format {args.format!r}; use esci")
    from shopsense.features.text import default_encoder

    cache = settings.data_dir / "cache"
    engine = esci_engine(args.path, default_encoder(args.encoder or settings.search_encoder), cache)
    queries = read_judgments(args.path)
    train = None
    if args.train_path is not None:
        has_products = any(
            (args.train_path / n).is_file() for n in ("products.jsonl.gz", "products.jsonl")
        )
        train_engine = (
            esci_engine(args.train_path, engine.encoder, cache) if has_products else engine
        )
        train = (train_engine, read_judgments(args.train_path))
    protocols = PROTOCOLS if args.protocol == "both" else (args.protocol,)
    report = evaluate(engine, queries, train, folds=args.folds, protocols=protocols)
    how = "train-path" if train else f"{args.folds}-fold cross-validation over queries"
    if args.json:
        document = [{"protocol": p, "training": how, "results": r} for p, r in report.items()]
        out(json.dumps(document, indent=1))
        return 0
    for protocol, results in report.items():
        out(f"\n{protocol} ({len(queries)} queries; fusion weight and ranker by {how})")
        out(f"{'method':<12} {'NDCG@10':>8} {'Recall@50':>10} {'MRR':>7}")
        for method, values in results.items():
            ndcg, recall, mrr = values["NDCG@10"], values["Recall@50"], values["MRR"]
            out(f"{method:<12} {ndcg:8.4f} {recall:10.4f} {mrr:7.4f}")
    return 0


def cmd_train_search(args: argparse.Namespace, settings: Settings) -> int:
    """Train the search ranker on the shop's own judgments and keep it with the engine."""
    from shopsense.evaluation.search import collect, train_ranker, tune_weight
    from shopsense.search.judgments import read_judgments

    engine = engine_for_store(settings)
    if args.judgments is not None:
        queries = read_judgments(args.judgments)
    elif args.from_events:
        from shopsense.search.clicklog import judgments_from_events
        from shopsense.store import open_store

        store = open_store(settings)
        try:
            queries = judgments_from_events(store.events.iter_batches(), args.min_requests)
        finally:
            store.close()
    else:
        raise ConfigError("train-search needs --judgments DIR or --from-events")
    runs = collect(engine, queries, "retrieval")
    judged = sum(1 for r in runs if r.grades.any())
    if judged < 5:
        raise ConfigError(
            f"only {judged} judged queries found a judged product in the catalog; "
            "the ranker needs at least 5 (check the product ids in qrels.tsv)"
        )
    weight = tune_weight(runs, "retrieval")
    engine.ranker = train_ranker(runs, "retrieval")
    engine.config = dataclasses.replace(engine.config, lexical_weight=weight)
    engine.save(settings.data_dir / "search")
    out(f"trained the search ranker on {len(queries)} queries; fusion weight {weight:.1f}")
    return 0


def register(add: AddCommand) -> None:
    """Add ``search``, ``evaluate-search`` and ``train-search``."""
    p = add(
        "search",
        cmd_search,
        "search the catalog (hybrid, personalized with --user)",
        examples(
            'shopsense search "waterproof running shoes under 80" --user U0042 -n 5',
            'shopsense search mug --category "Home > Kitchen" --price-max 20 --json',
        ),
    )
    p.add_argument("query", help="what the shopper typed")
    p.add_argument("--user", default=None, help="shopper id for personalized ranking")
    p.add_argument("-n", type=int, default=10, help="results per page")
    p.add_argument("--page", type=int, default=1, help="which page of results")
    p.add_argument(
        "--sort",
        default="relevance",
        choices=["relevance", "price_asc", "price_desc", "newest", "popularity"],
        help="the order of the results",
    )
    p.add_argument("--category", action="append", help="category path (repeatable)")
    p.add_argument("--brand", action="append", help="brand (repeatable)")
    p.add_argument("--price-min", type=float, default=None, help="lowest price")
    p.add_argument("--price-max", type=float, default=None, help="highest price")
    p.add_argument("--in-stock", action="store_true", help="only products in stock")
    p.add_argument("--json", action="store_true", help="print the result (with facets) as JSON")

    p = add(
        "evaluate-search",
        cmd_evaluate_search,
        "NDCG/Recall/MRR of search on judgments",
        examples(
            "shopsense evaluate-search --path ../shared/datasets/esci-sample",
            "shopsense evaluate-search --path esci/ --encoder static --protocol retrieval --json",
        ),
    )
    p.add_argument("--format", default="esci", choices=["esci"], help="judgments format")
    p.add_argument("--path", type=Path, required=True, help="folder with qrels.tsv + products")
    p.add_argument(
        "--train-path",
        type=Path,
        default=None,
        help="judgments to train LTR on (default: cross-validation over --path's queries)",
    )
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds over queries")
    p.add_argument(
        "--protocol",
        choices=("rerank", "retrieval", "both"),
        default="both",
        help="re-rank the judged products, retrieve from the whole catalog, or both",
    )
    p.add_argument(
        "--encoder",
        choices=("minilm", "minilm-int8", "static"),
        default=None,
        help="text encoder (default: SHOPSENSE_SEARCH_ENCODER, minilm)",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")

    p = add(
        "train-search",
        cmd_train_search,
        "train the search ranker on your judgments",
        examples(
            "shopsense train-search --judgments my-judgments/",
            "shopsense train-search --from-events --min-requests 3",
        ),
    )
    p.add_argument("--judgments", type=Path, default=None, help="folder with qrels.tsv")
    p.add_argument(
        "--from-events", action="store_true", help="judgments from the search logs in the store"
    )
    p.add_argument(
        "--min-requests",
        type=int,
        default=1,
        help="with --from-events: searches a query needs to be judged",
    )
