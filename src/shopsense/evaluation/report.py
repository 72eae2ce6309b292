"""Text tables and an HTML report with plots for an :class:`EvaluationReport`.

``write_html_report(report, directory)`` writes ``index.html``, ``results.json`` and three
PNG plots: metric by model and K, training time, popularity bias; and, for each model that
embeds items when the report was asked with maps, its item-embedding map (PCA and t-SNE,
coloured by top category or popularity, with the nearest-neighbour agreement figure:
:mod:`shopsense.evaluation.embedding_map`).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from shopsense.errors import ConfigError
from shopsense.evaluation.embedding_map import EmbeddingMap, view_box
from shopsense.evaluation.runner import EvaluationReport

TABLE_COLUMNS = ("HR@10", "NDCG@10", "HR@20", "NDCG@20", "MRR@10", "Coverage@10", "train_seconds")


def text_table(report: EvaluationReport, columns: tuple[str, ...] = TABLE_COLUMNS) -> str:
    """A plain-text table, one row per model."""
    width = max([len(n) for n in report.results] + [5]) + 2
    header = f"{'model':<{width}}" + "".join(f"{c:>14}" for c in columns)
    lines = [
        f"{report.dataset} ({report.stats['users']:,} users, {report.stats['items']:,} items, "
        f"{report.stats['interactions']:,} interactions) - {report.protocol}, {report.stage}, "
        "full ranking",
        header,
        "-" * len(header),
    ]
    for name, metrics in report.results.items():
        cells = "".join(f"{metrics.get(c, float('nan')):>14.4f}" for c in columns)
        lines.append(f"{name:<{width}}{cells}")
    for name, tuned in report.tuning.items():
        settings = ", ".join(f"{k}={_short(v)}" for k, v in sorted(tuned["params"].items()))
        lines.append(
            f"tuned {name} on validation ({len(tuned['trials'])} trials, {tuned['seconds']:.0f} "
            f"s): NDCG@10 {tuned['valid_ndcg@10']:.4f} with {settings or 'its defaults'}"
        )
    return "\n".join(lines)


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def require_plotting(option: str, maps: bool = False) -> None:
    """Raise a one-line :class:`ConfigError` naming the extra when ``option`` (``--report``,
    ``--plot``) cannot draw (``maps``: nor compute t-SNE maps): the CLI calls it before any
    work starts."""
    needed = [("matplotlib", "matplotlib")] + ([("sklearn", "scikit-learn")] if maps else [])
    for module, package in needed:
        try:
            __import__(module)
        except ImportError as exc:
            raise ConfigError(
                f"{option} needs {package}, which is not installed: "
                "pip install 'shopsense[report]' (or drop the option)"
            ) from exc


def _plots(report: EvaluationReport, directory: Path) -> list[tuple[str, str]]:
    require_plotting("the HTML report")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report.results)
    made: list[tuple[str, str]] = []
    ks = sorted(
        {int(k.split("@")[1]) for m in report.results.values() for k in m if k.startswith("NDCG@")}
    )
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("NDCG", "HR"), strict=True):
        width = 0.8 / max(len(names), 1)
        for i, name in enumerate(names):
            values = [report.results[name].get(f"{metric}@{k}", 0.0) for k in ks]
            ax.bar([j + i * width for j in range(len(ks))], values, width, label=name)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(ks))], [f"@{k}" for k in ks])
        ax.set_title(f"{metric} by K")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(directory / "metric_by_k.png", dpi=110)
    made.append(("metric_by_k.png", "NDCG and HR at each cut-off K"))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.barh(names, [report.results[n].get("train_seconds", 0.0) for n in names])
    ax.set_xscale("log")
    ax.set_xlabel("training time, seconds (log scale)")
    fig.tight_layout()
    fig.savefig(directory / "train_time.png", dpi=110)
    made.append(("train_time.png", "Training wall time"))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.scatter(
        [report.results[n].get("PopularityPercentile@10", 0.0) for n in names],
        [report.results[n].get("NDCG@10", 0.0) for n in names],
    )
    for n in names:
        ax.annotate(
            n,
            (
                report.results[n].get("PopularityPercentile@10", 0.0),
                report.results[n].get("NDCG@10", 0.0),
            ),
            fontsize=8,
        )
    ax.set_xlabel("mean popularity percentile of recommended items (1 = most popular)")
    ax.set_ylabel("NDCG@10")
    fig.tight_layout()
    fig.savefig(directory / "popularity_bias.png", dpi=110)
    made.append(("popularity_bias.png", "Popularity bias against accuracy"))
    plt.close(fig)
    made += [_map_plot(plt, drawn, directory) for drawn in report.maps.values()]
    return made


#: Colours of a map's commonest labels (the rest: grey "other").
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _map_plot(plt: Any, drawn: EmbeddingMap, directory: Path) -> tuple[str, str]:
    """One model's map: PCA beside t-SNE, one colour per common label."""
    import numpy as np

    panels = [("PCA", drawn.pca)] + ([("t-SNE", drawn.tsne)] if drawn.tsne is not None else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5), squeeze=False)
    labels = np.array(drawn.labels)
    top = drawn.top_labels(len(_PALETTE))
    for ax, (method, coords) in zip(axes[0], panels, strict=True):
        other = ~np.isin(labels, top)
        if other.any():
            ax.scatter(*coords[other].T, s=6, c="#bbbbbb", label="other", alpha=0.6)
        for colour, label in zip(_PALETTE, top, strict=False):
            chosen = labels == label
            ax.scatter(*coords[chosen].T, s=6, c=colour, label=label, alpha=0.8)
        low, high = view_box(coords)  # outliers beyond the middle 96% are left out
        pad = 0.05 * (high - low)
        ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
        ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
        ax.set_xticks([])
        ax.set_yticks([])
        if method == "PCA":
            share = sum(drawn.explained)
            ax.set_title(f"PCA ({share:.0%} of the variance)", fontsize=10)
        else:
            ax.set_title("t-SNE (cosine)", fontsize=10)
    axes[0][-1].legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.suptitle(
        f"{drawn.model}: {len(drawn.item_ids):,} products by {drawn.label_kind}; nearest "
        f"neighbour shares it {drawn.neighbour_same:.0%} (chance {drawn.chance_same:.0%})",
        fontsize=10,
    )
    fig.tight_layout()
    file = f"map_{''.join(c if c.isalnum() else '_' for c in drawn.model)}.png"
    fig.savefig(directory / file, dpi=110)
    plt.close(fig)
    return file, f"Item-embedding map of {drawn.model}, coloured by {drawn.label_kind}"


def _map_table(report: EvaluationReport) -> str:
    if not report.maps:
        return ""
    rows = "".join(
        f"<tr><th>{html.escape(m.model)}</th><td>{len(m.item_ids):,} of {m.items_total:,}</td>"
        f"<td>{m.items_without_vector:,}</td><td>{html.escape(m.label_kind)}</td>"
        f"<td>{sum(m.explained):.1%}</td><td>{m.neighbour_same:.1%}</td>"
        f"<td>{m.chance_same:.1%}</td><td>{m.lift:.2f}</td></tr>"
        for m in report.maps.values()
    )
    return (
        "<h2>Item-embedding maps</h2><p>Each model's item vectors for a random sample of "
        "products, projected to 2-D. Nearest-neighbour agreement is measured in the full "
        "vectors (cosine, among every product with a vector), not on the picture: the share "
        "of the mapped products whose most similar product has the same label, against a "
        "random other product's chance of it.</p><table><tr><th>model</th><th>mapped</th>"
        "<th>no vector</th><th>coloured by</th><th>PCA variance (2 axes)</th>"
        "<th>nearest neighbour same</th><th>chance</th><th>lift</th></tr>"
        f"{rows}</table>"
    )


def write_html_report(report: EvaluationReport, directory: Path) -> Path:
    """Write the report folder; returns the path of ``index.html``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(report.to_json(), indent=2))
    plots = _plots(report, directory)
    columns = sorted({k for m in report.results.values() for k in m})
    rows = "".join(
        "<tr><th>"
        + html.escape(name)
        + "</th>"
        + "".join(f"<td>{metrics.get(c, float('nan')):.4f}</td>" for c in columns)
        + "</tr>"
        for name, metrics in report.results.items()
    )
    figures = "".join(
        f'<figure><img src="{src}" alt="{html.escape(caption)}"><figcaption>'
        f"{html.escape(caption)}</figcaption></figure>"
        for src, caption in plots
    )
    stats = ", ".join(f"{v:,} {k}" for k, v in report.stats.items())
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>ShopSense evaluation: {html.escape(report.dataset)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px}}
table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}
figure{{display:inline-block;margin:1rem}}</style></head><body>
<h1>Evaluation: {html.escape(report.dataset)}</h1>
<p>{html.escape(stats)}. Protocol: {html.escape(report.protocol)} ({html.escape(report.stage)}),
full ranking over all items, the input history's items excluded, ties broken at random.</p>
<table><tr><th>model</th>{"".join(f"<th>{html.escape(c)}</th>" for c in columns)}</tr>{rows}</table>
{_map_table(report)}
{figures}
</body></html>"""
    index = directory / "index.html"
    index.write_text(page)
    return index
