from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from search_helpers import HashingEncoder
from shopsense.errors import UnknownFormatError, ValidationError
from shopsense.evaluation.search import METHODS, _order, esci_engine, evaluate, metrics
from shopsense.search.judgments import JudgedQuery, read_judgments

NOUNS = ("kettle", "mug", "lamp", "sofa", "rug", "towel", "pillow", "blanket", "chair", "desk")
COLOURS = ("red", "blue", "green")


def write_folder(folder: Path) -> None:
    """10 queries ("<colour> <noun>"), 30 products; Exact = the noun in that colour."""
    folder.mkdir()
    products, qrels = [], ["esci_query_id\tquery\tproduct_id\trating_raw\tesci_label_inferred"]
    for n, noun in enumerate(NOUNS):
        for colour in COLOURS:
            asin = f"B{n}{colour}"
            products.append(
                {
                    "asin": asin,
                    "title": f"{colour} {noun} deluxe",
                    "description": "",
                    "bullet_points": f"A {noun}.",
                    "brand": "Acme",
                    "color": colour,
                    "price": 10.0 + n,
                    "category": ["Home"],
                    "rating": 4.0,
                    "rating_count": 10,
                }
            )
        for colour in COLOURS:
            label = "E" if colour == "red" else "S"
            raw = "100.0" if label == "E" else "10.0"
            qrels.append(f"q{n}\tred {noun}\tB{n}{colour}\t{raw}\t{label}")
        qrels.append(f"q{n}\tred {noun}\tB{(n + 1) % 10}red\t0.0\tI")
    with gzip.open(folder / "products.jsonl.gz", "wt") as out:
        out.writelines(json.dumps(p) + "\n" for p in products)
    (folder / "qrels.tsv").write_text("\n".join(qrels) + "\n")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("esci") / "judged"
    write_folder(path)
    return path


def test_read_judgments(folder: Path) -> None:
    queries = read_judgments(folder)
    assert len(queries) == 10
    assert queries[0].grades == {"B0red": 3, "B0blue": 2, "B0green": 2, "B1red": 0}
    assert queries[0].gains()["B0blue"] == 0.1


def test_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match=r"qrels\.tsv"):
        read_judgments(tmp_path)
    (tmp_path / "qrels.tsv").write_text("query_id\tquery\tproduct_id\nq\tx\tp\n")
    with pytest.raises(ValidationError, match="grade"):
        read_judgments(tmp_path)


def test_metrics_known_answer() -> None:
    query = JudgedQuery("q", "x", {"a": 3, "b": 2, "c": 0})
    # DCG = 0.1 + 1/log2(3); ideal = 1 + 0.1/log2(3)
    expected = (0.1 + 1 / np.log2(3)) / (1 + 0.1 / np.log2(3))
    result = metrics(["b", "a", "c"], query)
    assert result["NDCG@10"] == pytest.approx(expected)
    assert result["MRR"] == 0.5 and result["Recall@50"] == 1.0


def test_ties_are_broken_at_random() -> None:
    rng = np.random.default_rng(0)
    firsts = {int(_order(np.zeros(5), rng)[0]) for _ in range(50)}
    assert len(firsts) > 2


def test_evaluate_both_protocols(folder: Path, tmp_path: Path) -> None:
    engine = esci_engine(folder, HashingEncoder(), cache=tmp_path / "cache")
    assert list((tmp_path / "cache").glob("embeddings-*.npy"))
    details: list[dict[str, object]] = []
    queries = read_judgments(folder)
    report = evaluate(engine, queries, folds=2, per_query=details)
    assert set(report) == {"rerank", "retrieval"}
    assert len(details) == 2 * len(METHODS) * len(queries)  # every query scored once a method
    for results in report.values():
        assert set(METHODS) <= set(results)
        for values in results.values():
            assert 0.0 <= values["NDCG@10"] <= 1.0
    # The queries say the colour, so matching words beats a coin toss.
    assert report["rerank"]["bm25"]["NDCG@10"] > report["rerank"]["random"]["NDCG@10"]
    trained = evaluate(engine, read_judgments(folder), train=(engine, read_judgments(folder)))
    assert trained["rerank"]["hybrid_ltr"]["NDCG@10"] > 0.5
