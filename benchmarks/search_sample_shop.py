"""Search quality on the sample shop, judged by its hidden ground truth.

    python benchmarks/search_sample_shop.py [--products 1500] [--users 400] [--queries 300]

Shoppers type queries for leaf categories they like (synonyms, dropped words, typos);
products of that leaf are graded 3 / 2 / 1 by the shopper's own hidden utility. Prints
NDCG@10, Recall@50 and MRR (grade-3 products) for BM25, semantic, hybrid and hybrid with
ALS personalization, plus how many typo queries still find a relevant product in the top
10. Accuracy figures, not timings: safe to run on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from shopsense.search.sampleshop import evaluate_sample_shop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=1500)
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = evaluate_sample_shop(args.products, args.users, args.queries, args.seed)
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(f"{'method':<16} {'NDCG@10':>8} {'Recall@50':>10} {'MRR':>7}")
    for method, values in report.items():
        if method == "typo_queries":
            continue
        print(
            f"{method:<16} {values['NDCG@10']:8.4f} {values['Recall@50']:10.4f}"
            f" {values['MRR']:7.4f}"
        )
    typos = report["typo_queries"]
    print(
        f"typo queries: {int(typos['count'])}, with a relevant product in the top 10: "
        f"{typos['share_with_a_relevant_top10_result']:.1%}"
    )


if __name__ == "__main__":
    main()
