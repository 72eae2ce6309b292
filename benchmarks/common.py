"""Dataset locations and loaders shared by the benchmark scripts."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from shopsense.evaluation.runner import load_interactions
from shopsense.features.interactions import InteractionData

#: ``../shared/datasets`` beside the checkout, or the folder named by SHOPSENSE_DATASETS.
SHARED = Path(
    os.environ.get("SHOPSENSE_DATASETS")
    or Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
)

#: name -> (reader format, path)
DATASETS: dict[str, tuple[str, Path]] = {
    "beauty": ("s3rec", SHARED / "amazon-s3rec" / "Beauty.txt"),
    "sports": ("s3rec", SHARED / "amazon-s3rec" / "Sports_and_Outdoors.txt"),
    "scientific": ("unisrec", SHARED / "amazon-scientific"),
    "video": ("sasrec", SHARED / "amazon-video" / "Video.txt"),
}

#: Published full-ranking figures (PROVENANCE.md): dataset -> model -> metric -> value.
PUBLISHED: dict[str, dict[str, dict[str, float]]] = {
    "beauty": {
        "PopRec": {"HR@10": 0.0152, "NDCG@10": 0.0068, "HR@20": 0.0217, "NDCG@20": 0.0084},
        "SASRec": {"HR@10": 0.0605, "NDCG@10": 0.0318, "HR@20": 0.0902, "NDCG@20": 0.0394},
        "S3-Rec": {"HR@10": 0.0647, "NDCG@10": 0.0327, "HR@20": 0.0994, "NDCG@20": 0.0414},
    },
    "sports": {
        "PopRec": {"HR@10": 0.0094, "NDCG@10": 0.0053, "HR@20": 0.0192, "NDCG@20": 0.0078},
        "SASRec": {"HR@10": 0.0350, "NDCG@10": 0.0192, "HR@20": 0.0507, "NDCG@20": 0.0231},
        "S3-Rec": {"HR@10": 0.0385, "NDCG@10": 0.0204, "HR@20": 0.0607, "NDCG@20": 0.0260},
    },
}


def load(name: str) -> InteractionData:
    fmt, path = DATASETS[name]
    return load_interactions(fmt, path)[1]


def provenance() -> dict[str, str]:
    """What a results file records about the run: the checkout's commit and the machine."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent,
    ).stdout.strip()
    return {"commit": commit, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs"}
